"""Virtual time for many concurrent tasks: each sleep wakes at its own due time, in order.

Unlike conftest's FakeClock (where every sleep moves time for everyone), time here jumps to the
next due wake-up only once every task has run as far as it can: what a real clock would show if
the work between sleeps took no time. Good for rate budgets and token races under load.
"""

from __future__ import annotations

import asyncio
import heapq

from tests.conftest import FakeClock

_IDLE_ROUNDS = 64  # event-loop passes without progress before time may jump


class VirtualClock(FakeClock):
    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        super().__init__(start, wall)
        self._due: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._driver: asyncio.Task[None] | None = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        self._seq += 1
        heapq.heappush(self._due, (self.t + seconds, self._seq, wake))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await wake

    async def _drive(self) -> None:
        while self._due:
            for _ in range(_IDLE_ROUNDS):
                await asyncio.sleep(0)
            if not self._due:
                break
            due = self._due[0][0]
            self.t = max(self.t, due)
            while self._due and self._due[0][0] <= self.t:
                _, _, wake = heapq.heappop(self._due)
                if not wake.done():
                    wake.set_result(None)
