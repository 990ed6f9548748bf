"""Reliability under load and faults: the retry policy, tokens under concurrency, rate budgets
against the sandbox's own limits, and the fault matrix (no unhandled exception, typed errors only,
no duplicate record).

The retry policy runs on the fake vendor and fake clock. Budgets and the fault matrix run against
the in-process sandbox in real time, with windows shortened. CI runs a small fault matrix; set
``COMPONENT_SLOW_TESTS=1`` for the full one (1,000 actions per connector, 50-200 ms latency).
``COMPONENT_RELIABILITY_REPORT=FILE`` writes the figures of the runs as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import msgspec
import pytest

from component import catalog as catalog_module
from component.auth import TokenCache
from component.errors import AuthError, ComponentError, ServerError, TransportError, VendorError
from component.models import RateLimit
from component.policy import BudgetRegistry, backoff_delay
from component.runtime import Runtime
from component.sandbox import Faults, Sandbox
from component.sandbox.servicebay import ORG
from component.sandbox.servicetitan import TENANT
from tests.conftest import ST_API, ST_CONNECTION, FakeClock, FakeVendor, make_runtime
from tests.servers import sandbox_process, served
from tests.virtual_clock import VirtualClock

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
REPORT = os.environ.get("COMPONENT_RELIABILITY_REPORT")
CATALOG = catalog_module.load()
TECHNICIANS = f"{ST_API}/settings/v2/tenant/{ST_CONNECTION['tenant']}/technicians"
PING = f"{ST_API}/jpm/v2/tenant/{ST_CONNECTION['tenant']}/ping"
FIGURES: dict[str, Any] = {}


def record_figures(name: str, figures: dict[str, Any]) -> None:
    FIGURES[name] = figures
    if REPORT:
        with open(REPORT, "w", encoding="utf-8") as out:
            json.dump(FIGURES, out, indent=2, sort_keys=True)


class Counting(httpx2.AsyncBaseTransport):
    """Counts what reaches the vendor: requests by path kind and answers by status."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_process = getattr(inner, "in_process", False)  # the sandbox answers in process
        self.tokens = 0
        self.api = 0
        self.statuses: Counter[int] = Counter()
        self.dropped = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/connect/token"):
            self.tokens += 1
        else:
            self.api += 1
        try:
            response = await self.inner.handle_async_request(request)
        except httpx2.TransportError:
            self.dropped += 1
            raise
        self.statuses[response.status_code] += 1
        return response


def sandbox_runtime(sandbox: Sandbox | None, counting: Counting, **options: Any) -> Runtime:
    options.setdefault("tokens", TokenCache())
    options.setdefault("budgets", BudgetRegistry())
    return Runtime(CATALOG, transport=counting, **options)


# --- 1. the retry policy ---------------------------------------------------------------------------


def raw(runtime: Runtime, method: str = "GET", **inputs: Any) -> Any:
    return runtime.run_sync(
        "servicetitan.rawRequest",
        {"urlType": "jpm", "path": "/ping", "method": method, **inputs},
        ST_CONNECTION,
    )


def test_backoff_jitter_comes_from_the_injected_random_and_stays_in_its_band(catalog, vendor):
    clock = FakeClock()
    vendor.route("GET", PING, httpx2.Response(503))
    runtime = make_runtime(catalog, vendor, clock, env={})
    runtime.random = random.Random(7).random

    with pytest.raises(ServerError):
        raw(runtime)

    policy = catalog.connector("servicetitan").model.http
    draws = random.Random(7)
    expected = [backoff_delay(n, policy, draws.random()) for n in range(1, policy.retry.maxAttempts)]
    assert clock.sleeps == expected
    for n, slept in enumerate(clock.sleeps, start=1):
        step = backoff_delay(n, policy)
        assert step * (1 - policy.retry.jitter) <= slept <= step
    assert len(set(clock.sleeps)) == len(clock.sleeps)  # jittered, not the plain steps


@pytest.mark.parametrize(
    ("method", "status", "attempts"),
    [
        ("GET", 503, 4),
        ("PUT", 502, 4),
        ("DELETE", 500, 4),
        ("POST", 503, 1),
        ("PATCH", 500, 1),
        ("POST", 429, 300),  # a 429 is waited out on any method until the 300 s deadline, 1 s at a time
        ("PATCH", 429, 300),
    ],
)
def test_which_failures_are_sent_again(runtime, vendor, clock, method, status, attempts):
    vendor.route(method, PING, httpx2.Response(status, headers={"Retry-After": "1"}))

    with pytest.raises(VendorError) as caught:
        raw(runtime, method, json={})

    assert len(vendor.api_requests) == attempts
    assert caught.value.to_dict()["error"]["maybeApplied"] is (status >= 500)


def _raise(kind: type[httpx2.TransportError]) -> Callable[[httpx2.Request], httpx2.Response]:
    def fail(request: httpx2.Request) -> httpx2.Response:
        raise kind("simulated", request=request)

    return fail


@pytest.mark.parametrize(
    ("kind", "method", "attempts", "maybe_applied"),
    [
        (httpx2.ConnectError, "POST", 4, False),
        (httpx2.ConnectTimeout, "PATCH", 4, False),
        (httpx2.ReadTimeout, "GET", 4, True),
        (httpx2.ReadTimeout, "POST", 1, True),
        (httpx2.RemoteProtocolError, "PUT", 4, True),
        (httpx2.RemoteProtocolError, "PATCH", 1, True),
        (httpx2.ReadError, "DELETE", 4, True),
        (httpx2.WriteError, "POST", 1, True),
    ],
)
def test_connection_failures_are_retried_only_when_nothing_can_happen_twice(
    runtime, vendor, kind, method, attempts, maybe_applied
):
    vendor.route(method, PING, _raise(kind))

    with pytest.raises(TransportError) as caught:
        raw(runtime, method, json={})

    assert len(vendor.api_requests) == attempts
    assert caught.value.to_dict()["error"]["maybeApplied"] is maybe_applied
    assert kind.__name__ in caught.value.message


@pytest.mark.parametrize("deadline", [0.4, 1.0, 1.6, 3.0, 7.5])
def test_total_deadline_is_honoured_exactly(catalog, vendor, deadline):
    """No sleep takes the request past the deadline; every attempt that fits is made."""
    clock = FakeClock()
    vendor.route("GET", PING, httpx2.Response(503))
    connector = catalog.connector("servicetitan")
    http = msgspec.structs.replace(
        connector.model.http,
        deadline=deadline,
        retry=msgspec.structs.replace(connector.model.http.retry, maxAttempts=10),
    )
    patched = replace(catalog, connectors=dict(catalog.connectors))
    patched.connectors["servicetitan"] = replace(
        connector, model=msgspec.structs.replace(connector.model, http=http)
    )
    runtime = make_runtime(patched, vendor, clock, env={})
    start = clock.now()

    with pytest.raises(ServerError):
        raw(runtime)

    elapsed = clock.now() - start
    assert elapsed < deadline
    steps = [backoff_delay(n, http) for n in range(1, 10)]
    fitting = next(n for n in range(1, 10) if sum(steps[:n]) >= deadline)  # sleeps before the one refused
    assert len(vendor.api_requests) == fitting
    assert clock.sleeps == steps[: fitting - 1]


def test_max_attempts_is_honoured_exactly(runtime, vendor, clock, catalog):
    vendor.route("GET", PING, httpx2.Response(500))

    with pytest.raises(ServerError):
        raw(runtime)

    assert len(vendor.api_requests) == catalog.connector("servicetitan").model.http.retry.maxAttempts


# --- 2. tokens under concurrency -------------------------------------------------------------------


def _gather(
    runtime: Runtime, count: int, connection: dict[str, Any], ref: str = "servicetitan.listTechnicians"
) -> Any:
    async def scenario() -> list[Any]:
        async with runtime:
            return await asyncio.gather(
                *(runtime.run(ref, {}, connection) for _ in range(count)), return_exceptions=True
            )

    return asyncio.run(scenario())


def test_200_concurrent_actions_with_a_cold_token_make_one_token_request():
    sandbox = Sandbox(rate_limits={"servicetitan": None})
    counting = Counting(sandbox.transport())
    runtime = sandbox_runtime(sandbox, counting)

    results = _gather(runtime, 200, sandbox.connection("servicetitan"))

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert counting.tokens == 1
    assert counting.api == 200
    record_figures("tokens_cold", {"actions": 200, "token_requests": counting.tokens})


def test_tokens_revoked_mid_run_are_renewed_once_for_everyone():
    sandbox = Sandbox(rate_limits={"servicetitan": None})
    counting = Counting(sandbox.transport())
    runtime = sandbox_runtime(sandbox, counting)
    connection = sandbox.connection("servicetitan")

    async def scenario() -> list[Any]:
        async with runtime:
            await asyncio.gather(
                *(runtime.run("servicetitan.listTechnicians", {}, connection) for _ in range(20))
            )
            sandbox["servicetitan"].state.extra["tokens"].clear()  # every issued token now answers 401
            return await asyncio.gather(
                *(runtime.run("servicetitan.listTechnicians", {}, connection) for _ in range(200)),
                return_exceptions=True,
            )

    results = asyncio.run(scenario())

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert counting.tokens == 2  # the first, and one renewal however many requests saw the 401
    assert counting.statuses[401] >= 1
    record_figures(
        "tokens_revoked", {"actions": 220, "token_requests": counting.tokens, "401s": counting.statuses[401]}
    )


def test_200_concurrent_actions_with_an_expired_token_make_one_token_request(catalog):
    clock = VirtualClock()
    vendor = FakeVendor()
    vendor.route("GET", TECHNICIANS, httpx2.Response(200, json={"page": 1, "data": [], "hasMore": False}))
    runtime = make_runtime(catalog, vendor, clock, env={})

    _gather(runtime, 1, ST_CONNECTION)
    clock.t += 1000  # past the 900 s lifetime
    results = _gather(runtime, 200, ST_CONNECTION)

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert vendor.tokens_issued == 2


def test_a_second_401_is_a_clear_auth_error(runtime, vendor):
    vendor.route("GET", TECHNICIANS, httpx2.Response(401, json={"title": "Unauthorized"}))

    with pytest.raises(AuthError) as caught:
        runtime.run_sync("servicetitan.listTechnicians", {}, ST_CONNECTION)

    assert (caught.value.status, caught.value.message) == (401, "Unauthorized")
    assert len(vendor.token_requests) == 2 and len(vendor.api_requests) == 2


def test_a_token_shorter_than_the_refresh_margin_is_still_reused(catalog):
    clock = FakeClock()
    vendor = FakeVendor(token_lifetime=30)  # under the 60 s refresh margin
    vendor.route("GET", TECHNICIANS, httpx2.Response(200, json={"page": 1, "data": [], "hasMore": False}))
    runtime = make_runtime(catalog, vendor, clock, env={})

    for _ in range(5):
        runtime.run_sync("servicetitan.listTechnicians", {}, ST_CONNECTION)
    clock.t += 16  # past half its life
    runtime.run_sync("servicetitan.listTechnicians", {}, ST_CONNECTION)

    assert vendor.tokens_issued == 2


# --- 3. budgets under load -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor_name", "ref", "inputs", "requests", "window", "jitter"),
    [
        ("servicebay", "servicebay.lookupCustomer", {"phone": "+13035550123"}, 100, 0.5, 0),
        ("servicetitan", "servicetitan.listTechnicians", {}, 60, 0.3, 0),
        # each request reaches the vendor 0-250 ms after its send: nearly the whole window
        ("servicetitan", "servicetitan.listTechnicians", {}, 60, 0.3, 250),
    ],
)
def test_1000_concurrent_actions_stay_inside_the_vendor_limit(
    vendor_name, ref, inputs, requests, window, jitter
):
    count = 1000 if SLOW else 300
    faults = {vendor_name: Faults(jitter_ms=jitter)}
    sandbox = Sandbox(rate_limits={vendor_name: (requests, window)}, faults=faults)
    counting = Counting(sandbox.transport())
    declared = CATALOG.connector(vendor_name).model.http.rateLimit
    assert declared is not None and declared.requests == requests
    # No margin: a slot is held until the window has passed after its response, so however late a
    # request reaches the sandbox (it shares one event loop with 300 callers on a busy machine), the
    # vendor never counts one too many.
    limits = {vendor_name: RateLimit(requests=requests, per=window)}
    runtime = sandbox_runtime(sandbox, counting, budgets=BudgetRegistry(limits))
    connection = sandbox.connection(vendor_name)

    async def scenario() -> list[Any]:
        async with runtime:
            return await asyncio.gather(
                *(runtime.run(ref, inputs, connection) for _ in range(count)), return_exceptions=True
            )

    started = time.monotonic()
    results = asyncio.run(scenario())
    elapsed = time.monotonic() - started

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []  # no 429 (nor anything else) reached a caller
    assert counting.statuses[429] == 0  # and the vendor never had to answer one
    assert counting.api == count
    record_figures(
        f"budget_{vendor_name}" + (f"_jitter{jitter}" if jitter else ""),
        {
            "actions": count,
            "limit": f"{requests} per {window} s",
            "latency": f"0-{jitter} ms" if jitter else "none",
            "429s": 0,
            "seconds": round(elapsed, 2),
        },
    )


# --- 4. the fault matrix ---------------------------------------------------------------------------


class ScaledClock:
    """Real monotonic time, but back-off and Retry-After sleeps are 100 times shorter (CI runs)."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / 100)


@dataclass
class Mix:
    """What a connector's share of the matrix runs: reads, and writes that carry a unique marker."""

    reads: list[tuple[str, dict[str, Any]]]
    writes: list[
        tuple[str, Callable[[str], dict[str, Any]], str, str]
    ]  # ref, inputs(marker), resource, field
    partition: str = ""
    counts: Counter[str] = field(default_factory=Counter)


def _st_job(marker: str) -> dict[str, Any]:
    return {
        "customerId": 100001,
        "locationId": 200001,
        "businessUnitId": 1001,
        "jobTypeId": 2001,
        "priority": "Normal",
        "campaignId": 3001,
        "summary": marker,
        "appointments": [{"start": "2026-12-01T15:00:00Z", "end": "2026-12-01T17:00:00Z"}],
    }


def _hb_customer(marker: str) -> dict[str, Any]:
    example = CATALOG.find("actions", "homebase360.createCustomer").model.examples[0]
    return {**example, "lastName": marker}


MIXES: dict[str, Callable[[], Mix]] = {
    "servicetitan": lambda: Mix(
        reads=[
            ("servicetitan.listTechnicians", {}),
            ("servicetitan.rawRequest", {"urlType": "jpm", "path": "/jobs", "query": {"pageSize": 5}}),
        ],
        writes=[("servicetitan.createJob", _st_job, "jobs", "summary")],
        partition=TENANT,
    ),
    "servicebay": lambda: Mix(
        reads=[
            ("servicebay.listCustomers", {}),
            ("servicebay.lookupCustomer", {"phone": "+13035550123"}),
            ("servicebay.listJobs", {}),
        ],
        writes=[
            (
                "servicebay.createCustomer",
                lambda marker: {"firstName": "Fault", "lastName": marker, "email": "f@example.com"},
                "customers",
                "lastName",
            ),
        ],
        partition=ORG,
    ),
    "homebase360": lambda: Mix(
        reads=[
            ("homebase360.ping", {}),
            ("homebase360.searchCustomers", {"phone": "+13038286690"}),
            ("homebase360.getJobs", {}),
        ],
        writes=[("homebase360.createCustomer", _hb_customer, "customers", "lastName")],
        partition="sandbox-business",
    ),
}


def _faults(seed: int, vendor_name: str) -> Faults:
    """The matrix's faults; each 429 burst is two longer than the connector's ``retry.maxAttempts``."""
    latency, jitter = (50.0, 150.0) if SLOW else (1.0, 4.0)
    return Faults(
        latency_ms=latency,
        jitter_ms=jitter,
        error_rate=0.05,
        burst_rate=0.01,
        burst_length=BURSTS[vendor_name],
        drop_rate=0.02,
        malformed_rate=0.02,
        seed=seed,
    )


BURSTS = {name: CATALOG.connector(name).model.http.retry.maxAttempts + 2 for name in MIXES}


def _matrix(
    vendor_name: str, sandbox: Sandbox, runtime: Runtime, connection: dict[str, Any], counting: Counting
) -> dict[str, Any]:
    """Run the mix ``actions`` times, 25 at a time; the figures, with the records checked per marker."""
    actions = 1000 if SLOW else 100
    mix = MIXES[vendor_name]()
    plan = random.Random(3)
    failures: Counter[str] = Counter()
    unhandled: list[BaseException] = []
    writes: dict[str, tuple[str, str, ComponentError | None]] = {}  # marker -> (resource, field, error)
    gate = asyncio.Semaphore(25)

    async def one(n: int) -> None:
        write = mix.writes and plan.random() < 0.3
        if write:
            ref, make, resource, marker_field = plan.choice(mix.writes)
            marker = f"fault-matrix-{vendor_name}-{n}"
            inputs = make(marker)
        else:
            ref, inputs = plan.choice(mix.reads)
        async with gate:
            try:
                await runtime.run(ref, inputs, connection)
                error = None
            except ComponentError as caught:
                error = caught
                failures[caught.kind] += 1
            except BaseException as other:  # the point is that none happens
                unhandled.append(other)
                return
        if write:
            writes[marker] = (resource, marker_field, error)

    async def scenario() -> None:
        async with runtime:
            # first, one caller alone meets a whole burst (longer than its attempts) and waits it out
            sandbox.faults(vendor_name).inject(429, "rate limit burst", times=BURSTS[vendor_name])
            await runtime.run(*mix.reads[0], connection)
            await asyncio.gather(*(one(n) for n in range(actions)))

    asyncio.run(scenario())

    duplicates = 0
    lost = 0
    partition = sandbox[vendor_name].state.partition(mix.partition) if mix.writes else None
    for marker, (resource, marker_field, error) in writes.items():
        assert partition is not None
        found = sum(1 for record in partition[resource].loaded() if record.get(marker_field) == marker)
        duplicates += max(0, found - 1)
        if error is None:
            lost += found != 1  # an acknowledged write exists exactly once
        elif not error.to_dict()["error"].get("maybeApplied", True):
            lost += found != 0  # "not applied" must be true
    return {
        "actions": actions,
        "writes": len(writes),
        "requests": counting.api + counting.tokens,
        "burst_length": BURSTS[vendor_name],
        "faults_injected": dict(sandbox.faults(vendor_name).counts),
        "429s_answered": counting.statuses[429],
        "failures_by_type": dict(failures),
        "unhandled": [repr(error) for error in unhandled],
        "duplicates": duplicates,
        "write_outcome_mismatches": lost,
    }


def _check(figures: dict[str, Any]) -> None:
    assert figures["unhandled"] == [], figures  # every failure is a typed error
    assert figures["duplicates"] == 0, figures
    assert figures["write_outcome_mismatches"] == 0, figures
    assert figures["faults_injected"]["injected 429"] == figures["burst_length"], figures  # the whole burst
    assert figures["429s_answered"] >= figures["burst_length"], figures
    assert sum(figures["faults_injected"].values()) > 0, figures  # the matrix really injected faults
    assert "rate_limited" not in figures["failures_by_type"], figures  # every burst was waited out
    assert sum(figures["failures_by_type"].values()) < figures["actions"] / 2, figures  # retries absorb most


def _matrix_sandbox(vendor_name: str) -> Sandbox:
    return Sandbox(seed=11, faults={vendor_name: _faults(11, vendor_name)}, rate_limits=dict.fromkeys(MIXES))


def _matrix_runtime(vendor_name: str, counting: Counting) -> Runtime:
    budgets = BudgetRegistry({vendor_name: RateLimit(requests=10_000, per=1)})
    if SLOW:  # real back-off and Retry-After waits
        return sandbox_runtime(None, counting, random=random.Random(5).random, budgets=budgets)
    return sandbox_runtime(
        None, counting, clock=ScaledClock(), random=random.Random(5).random, budgets=budgets
    )


@pytest.mark.parametrize("vendor_name", list(MIXES))
def test_fault_matrix(vendor_name):
    sandbox = _matrix_sandbox(vendor_name)
    counting = Counting(sandbox.transport())
    runtime = _matrix_runtime(vendor_name, counting)

    figures = _matrix(vendor_name, sandbox, runtime, sandbox.connection(vendor_name), counting)

    record_figures(f"fault_matrix_{vendor_name}", figures)
    _check(figures)


@pytest.mark.parametrize("vendor_name", list(MIXES))
def test_fault_matrix_against_the_served_sandbox(vendor_name):
    """The same matrix over real HTTP: uvicorn, loopback TCP, connections really dropped mid-body."""
    sandbox = _matrix_sandbox(vendor_name)
    counting = Counting(httpx2.AsyncHTTPTransport())
    runtime = _matrix_runtime(vendor_name, counting)

    with served(sandbox.app) as url:  # a thread of this process, so its records can be counted
        figures = _matrix(vendor_name, sandbox, runtime, sandbox.connection(vendor_name, url), counting)

    record_figures(f"fault_matrix_served_{vendor_name}", figures)
    _check(figures)


def test_the_served_sandbox_process_bursts_are_waited_out():
    """``component sandbox serve --burst-length`` as a real process: bursts longer than every
    connector's attempts, and not one 429 reaches a caller."""
    length = max(BURSTS.values())
    switches = ["--no-rate-limits", "--burst-rate", "0.2", "--burst-length", str(length), "--seed", "3"]
    with sandbox_process(*switches) as announced:
        connections = announced["connections"]
        counting = Counting(httpx2.AsyncHTTPTransport())
        runtime = sandbox_runtime(None, counting, clock=ScaledClock(), random=random.Random(5).random)
        reads = {name: MIXES[name]().reads[0] for name in MIXES}

        async def scenario() -> None:
            async with runtime:
                for n in range(60):  # one at a time: each burst falls whole on one caller
                    name = list(reads)[n % len(reads)]
                    ref, inputs = reads[name]
                    await runtime.run(ref, inputs, connections[name])

        asyncio.run(scenario())  # any 429 reaching the caller would raise rate_limited here
    assert counting.statuses[429] >= length, dict(counting.statuses)  # at least one whole burst was sent
    record_figures("served_process_bursts", {"burst_length": length, "statuses": dict(counting.statuses)})
