"""Polling on a schedule: one durable poll every N seconds until asked to stop.

A stop request (Ctrl-C) never cuts a poll in half: the poll in progress finishes, its events are
handed on and its state committed, then the loop ends. A second Ctrl-C interrupts at once (the
state of that poll is then not committed, and the next poll repeats it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .runner import Deliver, PollOutcome, poll_once
from .store import StateStore, new_owner

if TYPE_CHECKING:
    from ..connection import Connection
    from ..runtime import Runtime


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
) -> int:
    """Poll once, or every ``every`` seconds until ``stop`` is set (or SIGINT); returns polls made."""
    stop = stop or asyncio.Event()
    owner = new_owner()
    loop = asyncio.get_running_loop()
    handled = False
    if every is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, _first_stop(loop, stop))
            handled = True
    polls = 0
    try:
        async with runtime:
            while True:
                outcome = await poll_once(
                    runtime, ref, inputs, connection, store, instance,
                    deliver=deliver, dry_run=dry_run, owner=owner, ttl=ttl,
                )  # fmt: skip
                polls += 1
                if on_poll:
                    on_poll(polls, outcome)
                if every is None or stop.is_set():
                    return polls
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=every)
                if stop.is_set():
                    return polls
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


def _first_stop(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Callable[[], None]:
    """The first Ctrl-C asks the loop to stop after the current poll; the next one interrupts."""

    def handler() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    return handler
