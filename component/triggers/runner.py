"""One durable poll: lease the instance, poll, hand the events on, commit, release.

The new state is written only after ``deliver`` returned, and only while the lease is still
held, so events are neither lost (a failed delivery commits nothing; the next poll repeats it)
nor emitted by two pollers at once (the second finds the lease taken). A poller that dies keeps
nothing: its lease runs out after ``ttl`` seconds. While a poll runs longer than that, the lease
is renewed every third of ``ttl`` until the commit (through a slow delivery too).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import StateStoreError
from .store import Lease, LeaseLostError, StateStore, check_instance, new_owner

if TYPE_CHECKING:
    from ..connection import Connection
    from ..runtime import Runtime

Deliver = Callable[[list[dict[str, Any]]], Awaitable[None] | None]
DEFAULT_TTL = 300.0
LOG = logging.getLogger("component.triggers")


@dataclass
class PollOutcome:
    """``polled`` (state committed), ``dry-run`` (nothing committed) or ``busy`` (another poller holds it).

    ``incomplete`` lists the parts of a capped list that came back full and could not be split
    (see :class:`component.triggers.core.PollResult`).
    """

    status: Literal["polled", "dry-run", "busy"]
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    incomplete: list[dict[str, Any]] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.status == "polled"


async def poll_once(
    runtime: Runtime,
    ref: str,
    inputs: Any,
    connection: Connection | Mapping[str, Any] | None,
    store: StateStore,
    instance: str,
    *,
    deliver: Deliver | None = None,
    dry_run: bool = False,
    owner: str | None = None,
    ttl: float = DEFAULT_TTL,
) -> PollOutcome:
    """Poll ``ref`` for trigger instance ``instance`` once, durably.

    An instance id that cannot name an instance (empty, blank, control characters) is refused
    before the store or the vendor is touched.
    """
    check_instance(instance)
    lease: Lease | None = store.lease(instance, owner or new_owner(), ttl)
    if lease is None:
        return PollOutcome("busy")
    heartbeat = asyncio.create_task(_keep_alive(store, lease, ttl))
    try:
        result = await runtime.poll(ref, inputs, connection, store.load(instance), instance=instance)
        if dry_run:
            return PollOutcome("dry-run", result.events, result.requests, result.incomplete)
        store.renew(lease, ttl)  # still ours, so no other poller has emitted these
        if deliver is not None and result.events:
            outcome = deliver(result.events)
            if inspect.isawaitable(outcome):
                await outcome
        heartbeat.cancel()
        store.commit(lease, result.state)
        return PollOutcome("polled", result.events, result.requests, result.incomplete)
    finally:
        heartbeat.cancel()
        try:
            store.release(lease)
        except StateStoreError as error:  # logged, not raised over the poll's own outcome
            LOG.warning(
                "cannot release the lease on trigger instance %r (it runs out in %g s): %s",
                instance,
                ttl,
                error.message,
            )


async def _keep_alive(store: StateStore, lease: Lease, ttl: float) -> None:
    """Renew the lease every third of its time while a long poll runs (a big list at 100 a minute).

    A renewal that fails for a while (the store is away) is logged and tried again at the next
    third; a lease lost stops it. A poller that dies stops renewing, so its lease still runs out.
    """
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            lease = store.renew(lease, ttl)
        except LeaseLostError:
            return
        except StateStoreError as error:
            LOG.warning("cannot renew the lease on trigger instance %r: %s", lease.instance, error.message)
