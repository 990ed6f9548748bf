"""poll_once when the store fails around the poll: a release that fails does not hide the outcome,
and a renewal that fails for a while does not stop the lease being kept."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from component.errors import StateStoreError
from component.triggers.core import PollResult
from component.triggers.runner import poll_once
from component.triggers.store import Lease


class Store:
    """An in-memory store whose release fails, and whose renewals fail ``failing_renewals`` times
    after the first."""

    def __init__(self, failing_renewals: int = 0) -> None:
        self.failing_renewals = failing_renewals
        self.renewals = 0
        self.committed: list[dict[str, Any]] = []

    def lease(self, instance: str, owner: str, ttl: float) -> Lease:
        return Lease(instance, owner, "token", ttl)

    def renew(self, lease: Lease, ttl: float) -> Lease:
        self.renewals += 1
        if 1 < self.renewals <= 1 + self.failing_renewals:
            raise StateStoreError("the store is away")
        return lease

    def load(self, instance: str) -> None:
        return None

    def commit(self, lease: Lease, state: dict[str, Any]) -> None:
        self.committed.append(state)

    def release(self, lease: Lease) -> None:
        raise StateStoreError("cannot release: the store is away")


class Runtime:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def poll(self, *args: Any, **kwargs: Any) -> PollResult:
        await asyncio.sleep(self.seconds)
        return PollResult([{"eventId": "e1"}], {"mode": "seen"}, 1)


def test_a_failed_release_is_logged_not_raised_over_the_outcome(caplog: pytest.LogCaptureFixture) -> None:
    store = Store()
    with caplog.at_level(logging.WARNING, logger="component.triggers"):
        outcome = asyncio.run(poll_once(Runtime(0), "a.b", {}, None, store, "flow-1"))  # type: ignore[arg-type]
    assert outcome.status == "polled" and store.committed == [{"mode": "seen"}]
    assert "cannot release the lease on trigger instance 'flow-1'" in caplog.text


def test_the_lease_is_renewed_on_after_a_renewal_failed(caplog: pytest.LogCaptureFixture) -> None:
    store = Store(failing_renewals=2)
    with caplog.at_level(logging.WARNING, logger="component.triggers"):
        outcome = asyncio.run(poll_once(Runtime(0.5), "a.b", {}, None, store, "flow-1", ttl=0.06))  # type: ignore[arg-type]
    assert outcome.status == "polled"
    assert store.renewals >= 5  # the heartbeat kept going after the two failures (and the final one)
    assert caplog.text.count("cannot renew the lease on trigger instance 'flow-1'") == 2
