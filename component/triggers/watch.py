"""Polling on a schedule: one durable poll every N seconds until asked to stop.

A stop request (the first Ctrl-C) is acknowledged at once (``on_stop``) and ends the loop after the
request in progress: a poll still reading stops before its next request and commits nothing (the
next run repeats it); a poll handing its events on finishes, so what was delivered is committed.
A second Ctrl-C interrupts at once and commits nothing.

A failure that may pass (the network, the vendor's 5xx or 429, a list that broke mid-poll) is
reported (``on_retry``) and the loop carries on after a jittered back-off (5 s doubling to 5
minutes, less up to half of it at random); a failure that will not (credentials, the definition,
the inputs, the state store) ends the loop with its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ComponentError, TransportError, VendorError
from ..policy import exponential_backoff
from .core import STOP, PollStoppedError, TriggerError
from .runner import Deliver, PollOutcome, poll_once
from .store import LeaseLostError, StateStore, new_owner

if TYPE_CHECKING:
    from ..connection import Connection
    from ..runtime import Runtime

LOG = logging.getLogger("component.triggers")
FIRST_BACKOFF = 5.0
MAX_BACKOFF = 300.0
STOP_MESSAGE = "stopping after the current request; Ctrl-C again to abort"


def transient(error: BaseException) -> bool:
    """Whether a failed poll may succeed if tried again: the network, the vendor's 5xx or 429, a
    list that changed under the poll, a lease lost to a pause; not credentials, the definition, the
    inputs or the state store."""
    if isinstance(error, TransportError | TriggerError | LeaseLostError):
        return True
    if isinstance(error, VendorError):
        return error.kind in ("rate_limited", "server", "vendor", "unexpected_body")
    return False


def backoff(failures: int, draw: float) -> float:
    """Seconds to wait after ``failures`` failed polls in a row: 5 s doubling to 5 minutes, less up
    to half of it by ``draw`` in [0, 1), so pollers failing together do not retry together."""
    return exponential_backoff(failures, FIRST_BACKOFF, MAX_BACKOFF, 0.5, draw)


async def watch(
    runtime: Runtime,
    ref: str,
    inputs: Any,
    connection: Connection | Mapping[str, Any] | None,
    store: StateStore,
    instance: str,
    *,
    deliver: Deliver,
    every: float | None = None,
    dry_run: bool = False,
    ttl: float = 300.0,
    on_poll: Callable[[int, PollOutcome], None] | None = None,
    stop: asyncio.Event | None = None,
    on_stop: Callable[[str], None] | None = None,
    on_retry: Callable[[ComponentError, float], None] | None = None,
    draw: Callable[[], float] = random.random,
) -> int:
    """Poll once, or every ``every`` seconds until ``stop`` is set (or SIGINT); returns polls made.

    With ``every``, a transient failure is reported to ``on_retry(error, seconds)`` (and logged)
    and polling carries on after a jittered back-off; any other failure is raised.
    """
    stop = stop or asyncio.Event()
    owner = new_owner()
    loop = asyncio.get_running_loop()
    handled = False
    if every is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, _first_stop(loop, stop, on_stop))
            handled = True
    polls = failures = 0
    token = STOP.set(stop)
    try:
        async with runtime:
            while True:
                try:
                    outcome = await poll_once(
                        runtime, ref, inputs, connection, store, instance,
                        deliver=deliver, dry_run=dry_run, owner=owner, ttl=ttl,
                    )  # fmt: skip
                except PollStoppedError:
                    return polls
                except ComponentError as error:
                    if every is None or not transient(error):
                        raise
                    failures += 1
                    wait = backoff(failures, draw())
                    LOG.warning(
                        "poll failed (%s): %s; trying again in %.0f s", error.kind, error.message, wait
                    )
                    if on_retry:
                        on_retry(error, wait)
                    if await _stopped(stop, wait):
                        return polls
                    continue
                failures = 0
                polls += 1
                if on_poll:
                    on_poll(polls, outcome)
                if every is None or stop.is_set() or await _stopped(stop, every):
                    return polls
    finally:
        STOP.reset(token)
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; whether it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


def _first_stop(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, on_stop: Callable[[str], None] | None
) -> Callable[[], None]:
    """The first Ctrl-C is acknowledged at once and asks the loop to stop after the current
    request; the next one interrupts (the default handler)."""

    def handler() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)
        if on_stop is not None:
            on_stop(STOP_MESSAGE)

    return handler
