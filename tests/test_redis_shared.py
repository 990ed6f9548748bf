"""Rate budgets and OAuth tokens shared through a real Redis, by real processes, against the served
sandbox: one budget never overrun by two processes (the sandbox answers no 429), one token request
for N processes, the budget kept across a Redis restart, a typed error while Redis is down.

Each test starts its own redis-server (Debian's ``redis-server``) and skips, saying so, without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from component.auth import TOKENS, TokenCache
from component.models import RateLimit
from component.policy import BUDGETS, BudgetRegistry, SystemClock
from component.redis_budget import RedisBudgets, RedisRateBudget
from component.redis_tokens import RedisTokenCache
from component.runtime import Runtime
from component.sandbox import Sandbox
from component.shared import RedisConnections, SharedStateError, key_name
from tests.conftest import ROOT
from tests.servers import Counting, RedisServer, free_port, served

pytest.importorskip("redis", reason="the redis client is not installed (pip install redis)")

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
LOOKUP = ("servicebay.lookupCustomer", {"phone": "+13035550123"})
TECHNICIANS = ("servicetitan.listTechnicians", {})
TOKEN_PATH = "/servicetitan/connect/token"


def start_children(
    number: int,
    redis: str | None,
    connection: dict[str, str],
    action: tuple[str, dict[str, Any]],
    **options: Any,
) -> list[subprocess.Popen[str]]:
    config = {
        "redis": redis,
        "connection": connection,
        "ref": action[0],
        "inputs": action[1],
        "count": options.get("count", 1),
        "concurrency": options.get("concurrency", 1),
        "limit": options.get("limit"),
        "start_at": time.time() + 2.0,  # all processes loaded and ready: they start together
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.shared_child", json.dumps(config)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(number)
    ]


def summaries(children: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    found = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        found.append(json.loads(out.strip().splitlines()[-1]))
    return found


def redis_dump(url: str) -> bytes:
    """Every key name and value Redis holds, as bytes (names checked to be the component's)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = client.keys("*")
    assert keys and all(key.startswith(b"fsc:") for key in keys)
    readers = {
        b"string": client.get,
        b"hash": client.hgetall,
        b"zset": lambda key: client.zrange(key, 0, -1, withscores=True),
    }
    return b"".join(key + b"=" + repr(readers[client.type(key)](key)).encode() + b"\n" for key in keys)


# --- one budget, two processes ---------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_two_processes_on_one_redis_budget_never_overrun_the_window(
    redis_server: RedisServer, shared: bool
) -> None:
    """Each process alone keeps the limit; only the Redis budget keeps it for both together. The
    in-process run is the control: it shows the sandbox does count an overrun."""
    limit = [5, 0.4]
    count = (120 if SLOW else 30) if shared else 20
    sandbox = Sandbox(rate_limits={"servicebay": (limit[0], limit[1])})
    counting = Counting(sandbox.app)
    with served(counting) as url:
        connection = sandbox.connection("servicebay", url)
        children = start_children(
            2,
            redis_server.url if shared else None,
            connection,
            LOOKUP,
            count=count,
            concurrency=8,
            limit=limit,
        )
        results = summaries(children)
    assert [r["done"] for r in results] == [count, count]
    if shared:
        assert results == [{"done": count, "errors": {}}] * 2
        assert counting.statuses[429] == 0, dict(counting.statuses)
        assert sum(counting.statuses.values()) == 2 * count, dict(counting.statuses)  # one request each
        assert connection["apiKey"].encode() not in redis_dump(redis_server.url)  # the budget's key is hashed
    else:
        assert counting.statuses[429] > 0, dict(counting.statuses)


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-process"])
def test_n_processes_make_one_token_request(redis_server: RedisServer, shared: bool) -> None:
    processes = 4
    sandbox = Sandbox()
    counting = Counting(sandbox.app)
    with served(counting) as url:
        connection = sandbox.connection("servicetitan", url)
        children = start_children(
            processes, redis_server.url if shared else None, connection, TECHNICIANS, count=3, concurrency=3
        )
        results = summaries(children)
    assert results == [{"done": 3, "errors": {}}] * processes
    assert counting.paths[TOKEN_PATH] == (1 if shared else processes)
    if shared:  # what Redis holds: hashed key names; the token, never the client id or secret
        everything = redis_dump(redis_server.url)
        assert connection["clientSecret"].encode() not in everything
        assert connection["clientId"].encode() not in everything
        assert b"fsc:token:{" in everything and b"b'value'" in everything  # the token was read too


def test_redis_restarted_mid_run_keeps_the_budget(redis_server: RedisServer) -> None:
    """Redis dies (losing every slot it held) while two processes send, and comes back: while it
    is down their calls fail with a typed ``shared_state`` error (nothing sent; the test's worker
    retries them); once back, the budget still holds the vendor's window: not one 429."""
    limit = [10, 1.5]  # a window longer than Redis is down: the vendor still counts what came before
    count = 60 if SLOW else 20
    sandbox = Sandbox(rate_limits={"servicebay": (limit[0], limit[1])})
    counting = Counting(sandbox.app)
    with served(counting) as url:
        children = start_children(
            2,
            redis_server.url,
            sandbox.connection("servicebay", url),
            LOOKUP,
            count=count,
            concurrency=8,
            limit=limit,
        )
        while sum(counting.statuses.values()) < count:  # mid-run: half the requests answered
            assert all(child.poll() is None for child in children)
            time.sleep(0.02)
        redis_server.kill()
        time.sleep(0.2)
        redis_server.start()
        results = summaries(children)
    assert [r["done"] for r in results] == [count, count]
    assert sum(r["errors"].get("shared_state", 0) for r in results) > 0  # it was down while they ran
    assert all(set(r["errors"]) <= {"shared_state"} for r in results)
    assert counting.statuses[429] == 0, dict(counting.statuses)


# --- the budget's rule, in one process against the real server ---------------------------------------


def budget(url: str, requests: int, per: float, name: str = "b") -> RedisRateBudget:
    connections = RedisConnections(url)
    made = RedisBudgets(connections).get(name, RateLimit(requests=requests, per=per), SystemClock())
    assert isinstance(made, RedisRateBudget)
    return made


def test_waiters_go_in_order_and_a_slot_cools_for_the_window_after_its_response(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> tuple[list[int], list[float]]:
        shared = budget(redis_server.url, 2, 0.3)
        assert await shared.acquire() == 0 and await shared.acquire() == 0
        order: list[int] = []
        granted: list[float] = []

        async def wait(number: int) -> None:
            await shared.acquire()
            order.append(number)
            granted.append(time.monotonic())

        waiters = []
        for number in range(3):
            waiters.append(asyncio.create_task(wait(number)))
            await asyncio.sleep(0.05)  # each is queued before the next
        assert order == []  # both slots in flight: nobody gets in, however long the requests take
        given_back = time.monotonic()
        await shared.give_back()
        await asyncio.sleep(0.1)  # the two slots free 0.1 s apart
        await shared.give_back()
        await asyncio.gather(*waiters[:2])
        await shared.give_back()
        await waiters[2]
        return order, [t - given_back for t in granted]

    order, after = asyncio.run(scenario())
    assert order == [0, 1, 2]
    assert min(after) >= 0.25  # the window (0.3 s, less clock granularity) after the response


def test_a_lower_class_is_served_first(redis_server: RedisServer) -> None:
    async def scenario() -> list[str]:
        shared = budget(redis_server.url, 1, 0.1)
        await shared.acquire()
        order: list[str] = []

        async def wait(name: str, priority: int) -> None:
            await shared.acquire(priority=priority)
            order.append(name)
            await shared.give_back()

        poll = asyncio.create_task(wait("poll", 1))
        await asyncio.sleep(0.05)
        interactive = asyncio.create_task(wait("interactive", 0))
        await asyncio.sleep(0.05)
        await shared.give_back()
        await asyncio.gather(poll, interactive)
        return order

    assert asyncio.run(scenario()) == ["interactive", "poll"]


def test_a_budget_redis_lost_counts_every_slot_for_one_window(redis_server: RedisServer) -> None:
    import redis

    async def first_use(shared: RedisRateBudget) -> float:
        waited = await shared.acquire()
        await shared.give_back()
        return waited

    async def scenario() -> tuple[float, float, float]:
        shared = budget(redis_server.url, 5, 0.5)
        fresh_start = await first_use(shared)
        redis.Redis.from_url(redis_server.url).flushall()  # as a restart without persistence
        started = time.monotonic()
        await shared.acquire()
        after_loss = time.monotonic() - started
        newcomer = budget(redis_server.url, 5, 0.5, name="never-seen")
        return fresh_start, after_loss, await first_use(newcomer)

    fresh_start, after_loss, newcomer = asyncio.run(scenario())
    assert fresh_start == 0 and newcomer == 0  # a budget never seen before starts free
    assert after_loss >= 0.4  # one that was lost waits out a whole window


def test_while_redis_is_down_a_call_is_a_typed_error_and_nothing_is_sent() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    sandbox = Sandbox()
    runtime = Runtime(
        transport=sandbox.transport(),
        tokens=TokenCache(),
        budgets=RedisBudgets(RedisConnections(dead)),
        env={},
    )
    with pytest.raises(SharedStateError, match="cannot be reached") as caught:
        runtime.run_sync(*LOOKUP, sandbox.connection("servicebay"))
    assert caught.value.to_dict()["error"]["type"] == "shared_state"
    assert sandbox["servicebay"].requests == 0
    # the token cache, though, fetches its own token rather than fail
    runtime = Runtime(
        transport=sandbox.transport(),
        tokens=RedisTokenCache(RedisConnections(dead)),
        budgets=BudgetRegistry(),
        env={},
    )
    assert runtime.run_sync(*TECHNICIANS, sandbox.connection("servicetitan")) is not None


def test_the_redis_url_in_the_environment_shares_both(redis_server: RedisServer) -> None:
    shared = Runtime(env={"COMPONENT_REDIS_URL": redis_server.url})
    assert isinstance(shared.budgets, RedisBudgets) and isinstance(shared.tokens, RedisTokenCache)
    again = Runtime(env={"COMPONENT_REDIS_URL": redis_server.url})
    assert again.budgets is shared.budgets and again.tokens is shared.tokens  # one per process
    alone = Runtime(env={})
    assert alone.budgets is BUDGETS and alone.tokens is TOKENS
    secret = "p4ss-w0rd-canary"
    assert secret not in repr(RedisConnections(f"redis://u:{secret}@127.0.0.1:1/0"))
    assert key_name("token", "https://auth", "client-7").startswith("fsc:token:{")
    assert "client-7" not in key_name("token", "https://auth", "client-7")


def test_the_cli_shares_through_redis_and_says_so_when_it_is_down(redis_server: RedisServer) -> None:
    """``component run`` with ``COMPONENT_REDIS_URL``: its budget slot taken from Redis; with Redis
    gone, a typed ``shared_state`` error and no traceback."""
    args = [
        sys.executable,
        "-m",
        "component",
        "run",
        LOOKUP[0],
        "--inputs",
        json.dumps(LOOKUP[1]),
        "--sandbox",
    ]

    def run(url: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COMPONENT_REDIS_URL": url}
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    live = run(redis_server.url)
    assert live.returncode == 0, live.stderr
    assert b"fsc:budget:{" in redis_dump(redis_server.url)
    dead = run(f"redis://127.0.0.1:{free_port()}/0")
    output = dead.stdout + dead.stderr
    assert dead.returncode == 1, output
    assert "shared_state" in output and "cannot be reached" in output and "Traceback" not in output


def test_a_waiter_that_gives_up_leaves_the_queue(redis_server: RedisServer) -> None:
    """Cancelled while waiting, a caller leaves the queue at once: the one behind it is not held up
    until the dead-waiter timeout (10 s)."""

    async def scenario() -> None:
        shared = budget(redis_server.url, 1, 0.1)
        await shared.acquire()
        first = asyncio.create_task(shared.acquire())
        await asyncio.sleep(0.05)
        second = asyncio.create_task(shared.acquire())
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await shared.give_back()
        await asyncio.wait_for(second, 5)

    asyncio.run(scenario())


def test_a_token_refused_with_401_is_replaced_for_every_process(redis_server: RedisServer) -> None:
    """Process A's token is answered 401: A fetches a new one and stores it; process B then takes
    that one from Redis instead of the refused one, and asks for no token of its own."""
    import httpx2

    from component.policy import SYSTEM_CLOCK
    from tests.conftest import ST_API, ST_CONNECTION, FakeVendor

    technicians = f"{ST_API}/settings/v2/tenant/{ST_CONNECTION['tenant']}/technicians"
    vendor = FakeVendor()

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.headers["Authorization"] == "Bearer tok-1":
            return httpx2.Response(401, json={"title": "token revoked", "status": 401, "traceId": "t"})
        return httpx2.Response(200, json={"page": 1, "pageSize": 50, "hasMore": False, "data": []})

    vendor.route("GET", technicians, answer)

    def process() -> Runtime:  # a runtime with its own token cache, as another process has
        return Runtime(
            transport=httpx2.MockTransport(vendor),
            clock=SYSTEM_CLOCK,
            tokens=RedisTokenCache(RedisConnections(redis_server.url)),
            budgets=BudgetRegistry(),
            env={},
        )

    process().run_sync(*TECHNICIANS, ST_CONNECTION)
    assert vendor.tokens_issued == 2  # tok-1, refused; tok-2
    process().run_sync(*TECHNICIANS, ST_CONNECTION)
    assert vendor.tokens_issued == 2
    assert [r.headers["Authorization"] for r in vendor.api_requests] == [
        "Bearer tok-1",
        *["Bearer tok-2"] * 2,
    ]
