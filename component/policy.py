"""HTTP policy pieces: an injectable clock, client-side rate budgets and retry decisions."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol

import httpx2

from .models import HttpPolicy, RateLimit

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
log = logging.getLogger("component.policy")
Random = Callable[[], float]
Priority = Literal["interactive", "background"]
_PRIORITY: ContextVar[Priority] = ContextVar("component_budget_priority", default="interactive")


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Requests sent inside this block (a poll's pages) take rate-budget slots as background calls:
    they leave the budget's reserve to interactive calls (actions, picklists) and let them go first."""
    token = _PRIORITY.set("background")
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def priority() -> Priority:
    """The class of the requests sent from here: ``background`` inside :func:`background`."""
    return _PRIORITY.get()


def default_reserve(requests: int) -> int:
    """Slots kept for interactive calls: a tenth of the budget, at least one when there are two."""
    return min(requests - 1, max(1, requests // 10)) if requests > 1 else 0


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    def wall(self) -> float:
        """Unix time in seconds."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class Budget(Protocol):
    """A rate budget: in process (:class:`RateBudget`) or shared through Redis (component/redis_budget.py)."""

    requests: int
    window: float

    async def acquire(self, on_wait: Callable[[float], None] | None = None) -> float:
        """Take a slot; returns the seconds waited."""

    async def give_back(self) -> None:
        """Give back a slot taken with ``acquire`` once its response (or failure) is in."""


class RateBudget:
    """At most ``requests`` requests in any ``per`` seconds, however late each reaches the vendor.

    A vendor counts a request when it arrives, which is some time after the send and before the
    response. So a request holds its slot from the send until ``per`` seconds after its response
    (``release``): at most ``requests`` slots are held or cooling down at once, and no delay on the
    way (a slow network, a busy event loop, a paused process) can put one request too many in the
    vendor's window. ``margin`` seconds are added to the cool-down for vendors that count coarsely.

    Callers that find every slot taken wait in order: each takes the slot that frees first, or, when
    every slot is in flight, the next one a response gives back.

    Two classes share it. Interactive calls (the default) may take every slot. Background calls
    (:func:`background`: poll pages) never take the last ``reserve`` free slots and never go
    ahead of a waiting interactive call: they wait until more than ``reserve`` slots are free, so
    an action or picklist on a key a long poll is using finds a slot at once.
    """

    def __init__(self, limit: RateLimit, clock: Clock, reserve: int | None = None) -> None:
        self.requests = limit.requests
        self.reserve = (
            default_reserve(limit.requests) if reserve is None else min(reserve, limit.requests - 1)
        )
        self.background_waiting: list[asyncio.Future[None]] = []  # background callers waiting to look again
        self.window = limit.per  # as the vendor states it
        self.per = limit.per + limit.margin  # the cool-down after each response
        self.clock = clock
        self.free = limit.requests  # slots to take at once
        self.cooling: deque[float] = deque()  # when given-back slots are free again, ascending
        self.waiting: deque[asyncio.Future[float]] = deque()  # callers waiting for a slot in flight
        self._guard = threading.Lock()  # sessions on other threads' event loops share the budget

    async def acquire(
        self, on_wait: Callable[[float], None] | None = None, *, priority: Priority | None = None
    ) -> float:
        """Take a slot; returns the seconds waited. ``on_wait(seconds)`` is called before a timed wait.

        ``priority`` is the caller's class (by default the one :func:`background` sets, else
        interactive). Every slot taken must be given back with ``release`` once its response (or
        failure) is in.
        """
        if (priority or _PRIORITY.get()) == "background":
            return await self._acquire_background(on_wait)
        started = now = self.clock.now()
        turn: asyncio.Future[float] | None = None
        with self._guard:
            while self.cooling and self.cooling[0] <= now:
                self.cooling.popleft()
                self.free += 1
            if self.free:
                self.free -= 1
                return 0.0
            if self.cooling:
                slot = self.cooling.popleft()
            else:
                turn = asyncio.get_running_loop().create_future()
                self.waiting.append(turn)
        if turn is not None:
            try:
                slot = await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # handed a slot as the wait was cancelled
                    self._give_back(turn.result())
                raise
            now = self.clock.now()
        if slot > now:
            if on_wait is not None:
                on_wait(slot - now)
            try:
                await self.clock.sleep(slot - now)
            except BaseException:
                self._give_back(slot)
                raise
        return self.clock.now() - started

    async def _acquire_background(self, on_wait: Callable[[float], None] | None) -> float:
        """Take a slot only while more than ``reserve`` are free and no interactive call waits."""
        started = self.clock.now()
        loop = asyncio.get_running_loop()
        while True:
            now = self.clock.now()
            turn: asyncio.Future[None] | None = None
            with self._guard:
                while self.cooling and self.cooling[0] <= now:
                    self.cooling.popleft()
                    self.free += 1
                if self.free > self.reserve and not self.waiting:
                    self.free -= 1
                    return self.clock.now() - started
                need = self.reserve + 1 - self.free  # more slots that must come free first
                if self.waiting or len(self.cooling) < need:
                    turn = loop.create_future()
                    self.background_waiting.append(turn)
                    wake = now
                else:
                    wake = self.cooling[need - 1]
            if turn is not None:
                await turn  # a response gave a slot back: look again
                continue
            if on_wait is not None:
                on_wait(wake - now)
            await self.clock.sleep(wake - now)

    def _wake_background(self) -> None:
        """Let every waiting background caller look again (called with the guard held)."""
        waiting, self.background_waiting = self.background_waiting, []
        for turn in waiting:
            with contextlib.suppress(RuntimeError):  # its loop is closed
                turn.get_loop().call_soon_threadsafe(_settle, turn)

    def release(self) -> None:
        """Give back a slot: it is free again ``per`` seconds from now."""
        self._give_back(self.clock.now() + self.per)

    async def give_back(self) -> None:
        """:meth:`release`, as :class:`Budget` has it."""
        self.release()

    def _give_back(self, free_at: float) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        with self._guard:
            while self.waiting:
                turn = self.waiting.popleft()
                if turn.done():  # a cancelled wait
                    continue
                if turn.get_loop() is running:
                    turn.set_result(free_at)
                    return
                try:  # a caller on another thread's event loop
                    turn.get_loop().call_soon_threadsafe(self._hand, turn, free_at)
                    return
                except RuntimeError:  # that loop is closed
                    continue
            if self.cooling and free_at < self.cooling[-1]:  # a slot a cancelled caller had reserved
                bisect.insort(self.cooling, free_at)
            else:
                self.cooling.append(free_at)
            self._wake_background()

    def _hand(self, turn: asyncio.Future[float], free_at: float) -> None:
        """On the waiting caller's loop: give it the slot, or back if it stopped waiting meanwhile."""
        if turn.done():
            self._give_back(free_at)
        else:
            turn.set_result(free_at)


def _settle(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)


class BudgetRegistry:
    """Budgets shared by key (for Servicebay: one 100 req/min budget per API key) within a process.

    ``limits`` replaces a vendor's declared limit (a plan with another limit, a test's short window);
    keys are ``"vendor|…"``, so an entry named by vendor applies to every budget of that vendor.
    """

    def __init__(self, limits: Mapping[str, RateLimit] | None = None) -> None:
        self._budgets: dict[str, RateBudget] = {}
        self.limits = dict(limits or {})

    def get(self, key: str, limit: RateLimit, clock: Clock) -> Budget:
        if key not in self._budgets:
            self._budgets[key] = RateBudget(self.limits.get(key.split("|", 1)[0], limit), clock)
        return self._budgets[key]

    def clear(self) -> None:
        self._budgets.clear()


BUDGETS = BudgetRegistry()


def may_retry(method: str, status: int | None, policy: HttpPolicy, *, sent: bool = True) -> bool:
    """Whether a failed attempt may be repeated. ``status`` is None for a connection error.

    429 means the vendor did not act on the request, and a connect error (``sent=False``) that it
    never got it: both are retried on any method. 5xx, resets and read timeouts only on idempotent
    methods, where a repeat cannot do the work twice.
    """
    if status == 429:
        return 429 in policy.retry.statuses
    if status is None and not sent:
        return True
    if method.upper() not in IDEMPOTENT_METHODS:
        return False
    return status is None or status in policy.retry.statuses


def header_delay(response: httpx2.Response, policy: HttpPolicy, clock: Clock) -> float | None:
    """Seconds the vendor asked us to wait: ``Retry-After`` (seconds or HTTP date) or a reset header."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - clock.wall())
            except (TypeError, ValueError, IndexError):
                pass
    reset = response.headers.get(policy.resetHeader) if policy.resetHeader else None
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        # A Unix timestamp (as Servicebay documents) or, from some servers, seconds to wait.
        return max(0.0, value - clock.wall()) if value > 1_000_000_000 else max(0.0, value)
    return None


def exponential_backoff(attempt: int, first: float, most: float, jitter: float, draw: float) -> float:
    """Seconds to wait after ``attempt`` (1-based) failures in a row: ``first`` doubling up to
    ``most``, less up to ``jitter`` of it by ``draw`` in [0, 1), so callers failing together do not
    retry together (a ``draw`` of 0 gives the plain exponential step)."""
    step = min(most, first * 2 ** min(attempt - 1, 64))
    return float(step * (1 - jitter * draw))


def backoff_delay(attempt: int, policy: HttpPolicy, draw: float = 0.0) -> float:
    """The vendor policy's back-off after ``attempt`` failed attempts (its ``retry`` settings)."""
    retry = policy.retry
    return exponential_backoff(attempt, retry.backoff, retry.maxBackoff, retry.jitter, draw)


class Attempts:
    """The attempts of one request, all inside one total deadline.

    ``retry.maxAttempts`` caps the attempts that failed for any reason but a 429: a 429 says the
    vendor did not act and when to ask again, so a burst of them is waited out however long it is,
    as long as the wait ends before the deadline. Where the vendor names no wait (or zero), the
    back-off step of the attempt count is waited instead, so a vendor answering 429 without end is
    asked less and less often, never in a tight loop.
    """

    def __init__(self, policy: HttpPolicy, clock: Clock, random: Random) -> None:
        self.policy = policy
        self.clock = clock
        self.random = random
        self.deadline = clock.now() + policy.deadline
        self.count = 0
        self.rate_limited = 0  # attempts answered 429

    def remaining(self) -> float:
        return self.deadline - self.clock.now()

    async def retry(
        self, method: str, status: int | None, response: httpx2.Response | None, *, sent: bool = True
    ) -> bool:
        """Wait before the next attempt and return True, or return False when this failure is final."""
        if status == 429:
            self.rate_limited += 1
        elif self.count - self.rate_limited >= self.policy.retry.maxAttempts:
            return False
        if not may_retry(method, status, self.policy, sent=sent):
            return False
        delay = header_delay(response, self.policy, self.clock) if response is not None else None
        beyond = self.rate_limited >= self.policy.retry.maxAttempts  # a 429 burst past maxAttempts
        if delay is None or (beyond and delay <= 0):
            delay = backoff_delay(self.count, self.policy, self.random())
        if self.clock.now() + delay >= self.deadline:
            return False
        log.debug("retrying %s after %s in %.2f s", method, status or "a connection error", delay)
        await self.clock.sleep(delay)
        return True


class Deadlines:
    """Cancels a send still running at its deadline: one timer on the event loop for all of a
    session's sends rather than one per send (``asyncio.timeout`` arms, and cancels, a timer each).

    :meth:`watch` registers the running task until ``deadline`` (the loop's clock); :meth:`done`
    ends the watch. The timer stays armed for the earliest deadline still watched; when it fires,
    each task past its deadline is cancelled and its watch marked expired, which
    :meth:`expired` tells apart from any other cancellation (as ``asyncio.timeout`` does).
    """

    __slots__ = ("_armed", "_count", "_handle", "_heap", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # entries [deadline, sequence, task or None once done, the task's cancelling() count, expired]
        self._heap: list[list[Any]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._armed = math.inf
        self._count = 0

    def watch(self, deadline: float) -> list[Any]:
        task = asyncio.current_task(self.loop)
        assert task is not None, "Deadlines.watch runs inside a task"
        self._count += 1
        entry = [deadline, self._count, task, task.cancelling(), False]
        heapq.heappush(self._heap, entry)
        if deadline < self._armed:
            self._arm(deadline)
        return entry

    def done(self, entry: list[Any]) -> None:
        entry[2] = None
        heap = self._heap
        while heap and heap[0][2] is None:  # finished sends leave the heap as they reach its top
            heapq.heappop(heap)

    @staticmethod
    def expired(entry: list[Any]) -> bool:
        """After a ``CancelledError`` in the watched code: whether it was this watch's deadline alone
        (the cancellation is then taken back: the caller raises its own error instead)."""
        if not entry[4]:
            return False
        task = asyncio.current_task()
        return task is not None and task.uncancel() <= entry[3]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed = math.inf

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self.loop.call_at(deadline, self._fire)
        self._armed = deadline

    def _fire(self) -> None:
        self._handle, self._armed = None, math.inf
        heap, now = self._heap, self.loop.time()
        while heap and (heap[0][2] is None or heap[0][0] <= now):
            entry = heapq.heappop(heap)
            task = entry[2]
            if task is not None:
                entry[2], entry[4] = None, True
                task.cancel()
        if heap:
            self._arm(heap[0][0])
