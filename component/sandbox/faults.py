"""Switches that make the sandbox behave like a vendor on a bad day, and its rate limiter.

All randomness comes from one generator seeded per vendor, so a run with the same seed and the same
request order sees the same faults. A dropped connection happens after the handler ran (the write is
applied, the answer is lost): the hard case for a client that must not repeat a write.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger("component.sandbox.faults")


class DroppedConnection(Exception):
    """The sandbox closed the connection mid-response (the client sees a protocol error)."""


class _Dropped(Response):
    """Starts a response, sends part of it and drops the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"data": [', "more_body": True})
        raise DroppedConnection("connection dropped by the sandbox")


MALFORMED = (
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (b'{"success": true, "data": {"id": ', "application/json"),
)


@dataclass
class Faults:
    """Per-vendor fault and latency switches. Rates are probabilities per request (0 to 1)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0  # a 500/502/503 instead of handling the request
    burst_rate: float = 0.0  # a request that starts a burst of 429s
    burst_length: int = 3
    drop_rate: float = 0.0  # handled, then the connection drops
    malformed_rate: float = 0.0  # handled, then a 200 with an HTML or truncated JSON body
    token_lifetime: int = 900  # ServiceTitan access token lifetime, seconds
    seed: int = 0
    injected: deque[tuple[int, str]] = field(
        default_factory=deque
    )  # (status, message) for the next API calls
    injected_public: deque[tuple[int, str]] = field(default_factory=deque)  # the same for a token endpoint
    counts: dict[str, int] = field(default_factory=dict)  # faults injected, by kind
    _burst: int = 0
    _random: random.Random | None = None

    @property
    def random(self) -> random.Random:
        if self._random is None:
            self._random = random.Random(self.seed)
        return self._random

    def inject(
        self, status: int, message: str = "injected failure", times: int = 1, public: bool = False
    ) -> None:
        """Answer the next ``times`` API requests (with ``public``: token requests) with ``status``."""
        (self.injected_public if public else self.injected).extend([(status, message)] * times)

    def _count(self, kind: str, vendor: str = "") -> None:
        """Counts a fault and logs it as one line (``component.sandbox.faults``)."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        log.info("fault: %s%s", kind, f" ({vendor})" if vendor else "")

    async def delay(self) -> None:
        seconds = (self.latency_ms + (self.random.uniform(0, self.jitter_ms) if self.jitter_ms else 0)) / 1000
        if seconds > 0:
            await asyncio.sleep(seconds)

    def before(self, vendor: str, public: bool = False) -> None:
        """Raise the failure this request gets before it is handled, if any."""
        from .engine import SandboxError

        scripted = self.injected_public if public else self.injected
        if scripted:
            status, message = scripted.popleft()
            self._count(f"injected {status}", vendor)
            raise SandboxError(status, message, headers={"Retry-After": "1"} if status == 429 else None)
        if self._burst > 0 or (self.burst_rate and self.random.random() < self.burst_rate):
            self._burst = self._burst - 1 if self._burst > 0 else self.burst_length - 1
            self._count("429", vendor)
            raise SandboxError(429, f"{vendor} sandbox: rate limit burst", headers={"Retry-After": "1"})
        if self.error_rate and self.random.random() < self.error_rate:
            status = self.random.choice((500, 502, 503))
            self._count(str(status), vendor)
            raise SandboxError(status, f"{vendor} sandbox: injected server error")

    def after(self, response: Response) -> Response:
        """The response as sent: dropped or malformed sometimes."""
        if self.drop_rate and self.random.random() < self.drop_rate:
            self._count("dropped")
            return _Dropped()
        if self.malformed_rate and response.status_code < 400 and self.random.random() < self.malformed_rate:
            self._count("malformed")
            body, media_type = self.random.choice(MALFORMED)
            return Response(body, status_code=200, media_type=media_type)
        return response


class RateLimiter:
    """At most ``requests`` per ``per`` seconds per key (a sliding log), as the vendor enforces it."""

    def __init__(self, requests: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.requests = requests
        self.per = per
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}

    def wall(self) -> float:
        return time.time()

    def take(self, key: str) -> tuple[bool, int, float]:
        """``(allowed, remaining, reset)``; ``reset`` is the Unix time a slot frees."""
        now = self.clock()
        log = self._sent.setdefault(key, deque())
        while log and log[0] <= now - self.per:
            log.popleft()
        allowed = len(log) < self.requests
        if allowed:
            log.append(now)
        reset_in = (log[0] + self.per - now) if log else self.per
        return allowed, max(0, self.requests - len(log)), self.wall() + reset_in

    def reset(self) -> None:
        self._sent.clear()
