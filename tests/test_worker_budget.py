"""The shared rate budget across a Redis restart with requests in flight, as the workers meet it
(``python -m benchmarks worker`` restarts Redis under 1,000 polling instances): a request sent
before the restart and still in flight after the lost window stays counted, so no process is
granted a slot the vendor would answer with a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from component.shared import RedisConnections, SharedStateError
from tests.servers import RedisServer
from tests.test_redis_shared import budget

pytest.importorskip("redis", reason="the redis client is not installed (pip install redis)")


async def bounded(scenario: Any, seconds: float = 60.0) -> None:
    """``scenario`` (a few seconds' work) failed with its stack after ``seconds`` rather than left to
    hang the suite: the traceback then shows the await that never returned."""
    async with asyncio.timeout(seconds):
        await scenario


async def acquire_after_restart(shared: Any, within: float = 10.0) -> None:
    """``shared.acquire()`` once Redis is back: the first calls may meet the connection the restart
    broke (SharedStateError). Bounded, so a Redis that does not come back, or a slot never granted,
    fails the test instead of hanging it."""
    async with asyncio.timeout(within):
        while True:
            try:
                await shared.acquire()
                return
            except SharedStateError:
                await asyncio.sleep(0.01)


def test_a_request_in_flight_across_a_redis_restart_stays_counted(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        slow = budget(redis_server.url, 2, 0.6, name="k")  # one process, its request still in flight
        other = budget(redis_server.url, 2, 0.6, name="k")  # another process on the same key
        assert await slow.acquire() == 0  # sent; its response has not come back
        assert await other.acquire() == 0
        await other.give_back()
        redis_server.restart()  # every slot is lost
        await acquire_after_restart(other)  # finds the budget lost: a full window of cooling slots
        await other.give_back()
        # the lost window (0.6 s, wide for a loaded machine) is over; the slow request is still in flight
        await asyncio.sleep(0.75)
        assert await slow.acquire() == 0  # counts its request in flight again, and takes the other slot
        with pytest.raises(TimeoutError):  # both slots held: nothing for the other process
            await asyncio.wait_for(other.acquire(), 0.3)
        await slow.give_back()  # the slow response is in: a slot cools for the window, then is free
        assert await asyncio.wait_for(other.acquire(), 3.0) >= 0

    asyncio.run(bounded(scenario()))


def test_requests_in_flight_are_counted_again_before_their_process_is_granted_a_slot(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        slow = budget(redis_server.url, 2, 0.2, name="k")  # its request stays in flight throughout
        other = budget(redis_server.url, 2, 0.2, name="k")
        assert await slow.acquire() == 0
        assert await other.acquire() == 0
        await other.give_back()
        redis_server.restart()
        await acquire_after_restart(other)  # after the lost window: one slot held by other
        await asyncio.sleep(0.25)
        # slow's old request and other's take both slots: slow is not granted a third
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(slow.acquire(), 0.3)
        held = await RedisConnections(redis_server.url).client().zrange(slow._keys[0], 0, -1)
        in_flight = [slot for slot in held if slot.startswith(b"f:")]
        assert len(in_flight) <= 2, held
        await other.give_back()
        assert await asyncio.wait_for(slow.acquire(), 1.0) >= 0

    asyncio.run(bounded(scenario()))


def test_a_cancellation_the_redis_client_swallows_still_ends_a_waiting_acquire(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis.asyncio can return a command's result after its task was cancelled; an acquire waiting
    for a slot must still end when ``wait_for`` cancels it, not wait on for the grant."""

    async def scenario() -> None:
        shared = budget(redis_server.url, 1, 30.0, name="k")
        assert await shared.acquire() == 0  # the only slot: the next acquire waits
        client = shared.connections.client()
        running = client.register_script

        swallowed: list[bool] = []

        def swallowing(script: str) -> Any:
            call = running(script)

            async def swallow(**kwargs: Any) -> Any:
                if not swallowed:  # once, as the client can: the result returned, the cancel lost
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.sleep(0.3)  # the command is out when wait_for cancels
                        return await call(**kwargs)
                    swallowed.append(True)
                return await call(**kwargs)

            return swallow

        monkeypatch.setattr(client, "register_script", swallowing)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(shared.acquire(), 0.2)
        assert swallowed  # the cancel did land inside the command

    asyncio.run(bounded(scenario(), 10.0))
