"""HTTP policy pieces: an injectable clock, client-side rate budgets and retry decisions."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from .models import HttpPolicy, RateLimit

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


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


class RateBudget:
    """At most ``requests`` sends in any window of ``per`` seconds: a sliding log of send times.

    A caller that finds the window full reserves the first free slot before it sleeps, so waiting
    callers keep their order and no rounding can make a caller loop.
    """

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.requests = limit.requests
        self.window = limit.per  # as the vendor states it
        self.per = limit.per + limit.margin  # as the budget keeps it
        self.clock = clock
        self.sent: deque[float] = deque()

    async def acquire(self, on_wait: Callable[[float], None] | None = None) -> float:
        """Take a slot; returns the seconds waited. ``on_wait(seconds)`` is called before a wait."""
        now = self.clock.now()
        while self.sent and self.sent[0] <= now - self.per:
            self.sent.popleft()
        if len(self.sent) < self.requests:
            self.sent.append(now)
            return 0.0
        slot = max(now, self.sent.popleft() + self.per)
        self.sent.append(slot)
        if on_wait is not None and slot > now:
            on_wait(slot - now)
        await self.clock.sleep(slot - now)
        return slot - now


class BudgetRegistry:
    """Budgets shared by key (for Servicebay: one 100 req/min budget per API key) within a process.

    ``limits`` replaces a vendor's declared limit (a plan with another limit, a test's short window);
    keys are ``"vendor|…"``, so an entry named by vendor applies to every budget of that vendor.
    """

    def __init__(self, limits: Mapping[str, RateLimit] | None = None) -> None:
        self._budgets: dict[str, RateBudget] = {}
        self.limits = dict(limits or {})

    def get(self, key: str, limit: RateLimit, clock: Clock) -> RateBudget:
        if key not in self._budgets:
            self._budgets[key] = RateBudget(self.limits.get(key.split("|", 1)[0], limit), clock)
        return self._budgets[key]

    def clear(self) -> None:
        self._budgets.clear()


BUDGETS = BudgetRegistry()


def may_retry(method: str, status: int | None, policy: HttpPolicy) -> bool:
    """Whether a failed attempt may be repeated. ``status`` is None for a connection error.

    429 means the vendor did not act on the request, so it is retried on any method; 5xx and
    connection errors only on idempotent methods, where a repeat cannot do the work twice.
    """
    if status == 429:
        return 429 in policy.retry.statuses
    if method.upper() not in IDEMPOTENT_METHODS:
        return False
    return status is None or status in policy.retry.statuses


def header_delay(response: httpx.Response, policy: HttpPolicy, clock: Clock) -> float | None:
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


def backoff_delay(attempt: int, policy: HttpPolicy) -> float:
    """Exponential back-off after ``attempt`` (1-based) failed attempts."""
    return float(min(policy.retry.maxBackoff, policy.retry.backoff * 2 ** (attempt - 1)))
