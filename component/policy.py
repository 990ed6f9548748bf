"""HTTP policy pieces: an injectable clock, client-side rate budgets and retry decisions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx2

from .models import HttpPolicy, RateLimit

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
log = logging.getLogger("component.policy")
Random = Callable[[], float]


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


def backoff_delay(attempt: int, policy: HttpPolicy, draw: float = 0.0) -> float:
    """Exponential back-off after ``attempt`` (1-based) failed attempts, with jitter.

    ``draw`` in [0, 1) takes up to ``retry.jitter`` of the step away, so callers failing together
    do not retry together; 0 gives the plain exponential step.
    """
    step = min(policy.retry.maxBackoff, policy.retry.backoff * 2 ** (attempt - 1))
    return float(step * (1 - policy.retry.jitter * draw))


class Attempts:
    """The attempts of one request: at most ``retry.maxAttempts``, all inside one total deadline."""

    def __init__(self, policy: HttpPolicy, clock: Clock, random: Random) -> None:
        self.policy = policy
        self.clock = clock
        self.random = random
        self.deadline = clock.now() + policy.deadline
        self.count = 0

    def remaining(self) -> float:
        return self.deadline - self.clock.now()

    async def retry(
        self, method: str, status: int | None, response: httpx2.Response | None, *, sent: bool = True
    ) -> bool:
        """Wait before the next attempt and return True, or return False when this failure is final."""
        if self.count >= self.policy.retry.maxAttempts:
            return False
        if not may_retry(method, status, self.policy, sent=sent):
            return False
        delay = header_delay(response, self.policy, self.clock) if response is not None else None
        if delay is None:
            delay = backoff_delay(self.count, self.policy, self.random())
        if self.clock.now() + delay >= self.deadline:
            return False
        log.debug("retrying %s after %s in %.2f s", method, status or "a connection error", delay)
        await self.clock.sleep(delay)
        return True
