"""Where a poll's events go before its state commits: a webhook or a Celery task.

A sink's ``deliver(batch)`` returns once the batch is accepted and raises :class:`SinkError`
otherwise; the poll commits its state only after it returned, so a batch that was not accepted is
delivered again by the next poll (at least once; consumers drop repeats by ``eventId``).

A batch is ``{"instance", "trigger", "events": [...]}``. The webhook sink POSTs it as JSON with
``X-Component-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body under the sink secret,
and retries a failure that may pass (no answer, 408, 429, 5xx) with a jittered back-off; any other
answer is a refusal and is not retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from typing import Any, Protocol

import httpx2

from ..errors import SinkError, UsageError
from ..policy import exponential_backoff

SIGNATURE_HEADER = "X-Component-Signature"
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
QUEUE = "component"  # the component's workers consume it and the queues named component.*


def own_queue(queue: str) -> bool:
    """Whether ``queue`` is one the component's own workers consume (component/worker/app.py)."""
    return queue == QUEUE or queue.startswith(QUEUE + ".")


RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})


class Sink(Protocol):
    async def deliver(self, batch: dict[str, Any]) -> None: ...

    async def aclose(self) -> None: ...


def signature(secret: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant time): for consumers."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


def shown_url(url: str) -> str:
    """``url`` as ``scheme://host[:port]/path``, for reprs and messages: without the user, password,
    query or fragment, which may hold credentials (``user:password@``, ``?token=``)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{url.split(':', 1)[0]}://?"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def backoff(attempt: int, draw: float) -> float:
    """Seconds before retry ``attempt`` (1, 2, …): 0.5 s doubling to 10 s, less up to half at random."""
    return exponential_backoff(attempt, FIRST_BACKOFF, MAX_BACKOFF, 0.5, draw)


class WebhookSink:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        attempts: int = 5,
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        draw: Callable[[], float] = random.random,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._url = url
        self.url = shown_url(url)  # what reprs and messages show
        self._secret = secret
        self.attempts = attempts
        self.draw = draw
        self.sleep = sleep
        self._client = httpx2.AsyncClient(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"WebhookSink({self.url!r})"

    async def deliver(self, batch: dict[str, Any]) -> None:
        body = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self._secret, body)}
        problem = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                await self.sleep(backoff(attempt - 1, self.draw()))
            try:
                response = await self._client.post(self._url, content=body, headers=headers)
            except httpx2.HTTPError as exc:
                problem = f"no answer ({type(exc).__name__})"
                continue
            if response.is_success:
                return
            problem = f"status {response.status_code}"
            if response.status_code not in RETRIED:
                raise SinkError(
                    f"the webhook {self.url} refused a batch of {len(batch['events'])} events of "
                    f"trigger instance {batch['instance']!r} ({problem}); the state was not committed"
                )
        raise SinkError(
            f"the webhook {self.url} did not accept a batch of {len(batch['events'])} events of trigger "
            f"instance {batch['instance']!r} after {self.attempts} attempts (last: {problem}); "
            "the state was not committed"
        )

    async def aclose(self) -> None:
        await self._client.aclose()


Send = Callable[[str, str, dict[str, Any]], Any]  # send(task name, queue, batch)


class TaskSink:
    """Sends each batch to the Celery task ``name`` on the queue ``queue`` (by default the task's
    name, never the queues the component's own workers consume, which would discard it as an
    unregistered task): ``send(name, queue, batch)``. Accepted once the broker took the message."""

    def __init__(self, name: str, send: Send, queue: str | None = None) -> None:
        self.name = name
        self.queue = queue or name
        self.send = send

    def __repr__(self) -> str:
        return f"TaskSink({self.name!r}, queue={self.queue!r})"

    async def deliver(self, batch: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self.send, self.name, self.queue, batch)
        except Exception as exc:  # the broker's client raises its own kinds
            raise SinkError(
                f"cannot send a batch of trigger instance {batch['instance']!r} to task {self.name!r}: "
                f"{type(exc).__name__}; the state was not committed"
            ) from None

    async def aclose(self) -> None:
        return None


def open_sink(where: str | None, secret: str | None, send: Send, attempts: int = 5) -> Sink:
    """The sink ``COMPONENT_SINK`` names: ``https://…`` (or ``http://``) or ``task:NAME[@QUEUE]``."""
    if check_sink(where, secret) == "task":
        name, _, queue = str(where)[5:].partition("@")
        return TaskSink(name, send, queue or None)
    return WebhookSink(str(where), str(secret), attempts=attempts)


def check_sink(where: str | None, secret: str | None) -> str:
    """``task`` or ``webhook``; settings that name no sink are refused, naming the variable."""
    if not where:
        raise UsageError("COMPONENT_SINK is not set: give a webhook URL (https://…) or task:NAME[@QUEUE]")
    if where.startswith("task:"):
        name, at, queue = where[5:].partition("@")
        if not name or (at and not queue) or own_queue(queue or name):
            raise UsageError(
                f"COMPONENT_SINK must be task:NAME or task:NAME@QUEUE, on a queue of its own (not "
                f"{QUEUE!r} or {QUEUE + '.*'!r}, which the component's workers consume): {where!r}"
            )
        return "task"
    if where.startswith(("https://", "http://")):
        if not secret:
            raise UsageError("COMPONENT_SINK_SECRET is not set: the webhook sink signs every batch with it")
        return "webhook"
    raise UsageError(f"COMPONENT_SINK must be an http(s) URL or task:NAME[@QUEUE], not {where!r}")
