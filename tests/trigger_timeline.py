"""A deterministic timeline simulator for polling triggers.

A fake ServiceTitan list endpoint (``modifiedOnOrAfter``, ``sort=+ModifiedOn``, ``page``/``pageSize``,
``hasMore``) serves records from a scripted timeline on a fake clock: inserts, updates, bursts that
share one timestamp, late arrivals stamped in the past, records stamped in the future (up to the year
9999), a vendor clock ahead of or behind the poller's, changes that land between two page requests.
A fake Homebase360 jobs endpoint (``startDate``/``endDate`` by start time, at most ``limit`` jobs an
answer, no paging) serves the same timeline to the capped triggers, with more jobs a day than the cap.
Pollers run the real pipeline (Runtime.poll through a Session, SQLite store, poll_once) against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import pytest

from component import catalog as catalog_module
from component.auth import TokenCache
from component.errors import VendorError
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.triggers import open_state_store, poll_once
from component.triggers.markers import NS, to_ns
from tests.conftest import HB_API, HB_CONNECTION, ROOT, ST_CONNECTION, ST_TOKEN_URL, FakeClock

TRIGGER = "servicetitan.pollChangesTrigger"
HB_TRIGGER = "homebase360.newJob"


def stamp(ns: int, style: int = 0) -> str:
    """An ISO time as ServiceTitan might spell it: seven fraction digits, or none when whole."""
    seconds, fraction = divmod(ns, NS)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction == 0 and style % 2 == 0:
        return base + "Z"
    return f"{base}.{fraction // 100:07d}Z"


@dataclass
class Version:
    created_ns: int
    modified_ns: int
    style: int
    history: list[int] = field(default_factory=list)  # every modified_ns this record has had, in order
    start_ns: int = 0  # a Homebase360 job's start time (what its list is windowed by)

    def __post_init__(self) -> None:
        self.history.append(self.modified_ns)


@dataclass
class FakeServiceTitan:
    """The list endpoint over a timeline. ``between_pages`` runs before each list request is answered.

    ``offset`` is how far the vendor's clock runs ahead of the poller's (seconds; negative: behind).
    """

    clock: FakeClock
    offset: float = 0.0
    records: dict[int, Version] = field(default_factory=dict)
    next_id: int = 400_001
    list_requests: int = 0
    between_pages: list[Callable[[], None]] = field(default_factory=list)

    def now_ns(self) -> int:
        return round((self.clock.wall() + self.offset) * 10_000) * 100_000  # 100 microsecond resolution

    def tick(self) -> None:
        """Move the vendor's clock one tenth of a millisecond (so an update gets a new timestamp)."""
        self.clock.t += 0.0001

    def insert(self, count: int = 1, *, late_by: float = 0.0, at_ns: int | None = None) -> list[int]:
        """``count`` records sharing one timestamp; ``late_by`` stamps them that many seconds in the past
        (negative: in the future), ``at_ns`` at that very time."""
        at = self.now_ns() - int(late_by * NS) if at_ns is None else at_ns
        ids = []
        for _ in range(count):
            self.records[self.next_id] = Version(at, at, self.next_id)
            ids.append(self.next_id)
            self.next_id += 1
        return ids

    def update(self, record_id: int) -> None:
        version = self.records[record_id]
        if self.now_ns() <= version.modified_ns:
            self.tick()
        version.modified_ns = self.now_ns()  # earlier than before when it was stamped in the future
        version.history.append(version.modified_ns)
        version.style += 1

    def _json(self, record_id: int, version: Version) -> dict[str, Any]:
        return {
            "id": record_id,
            "createdOn": stamp(version.created_ns, version.style),
            "modifiedOn": stamp(version.modified_ns, version.style),
            "jobStatus": "Scheduled",
        }

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(0)  # let a concurrent poller run, as a real network wait would
        if str(request.url) == ST_TOKEN_URL:
            return httpx2.Response(200, json={"access_token": "tok", "expires_in": 900})
        self.list_requests += 1
        if self.between_pages:
            self.between_pages.pop(0)()
        params = request.url.params
        since = to_ns(params.get("modifiedOnOrAfter")) if params.get("modifiedOnOrAfter") else None
        rows = [(rid, v) for rid, v in self.records.items() if since is None or v.modified_ns >= since]
        if params.get("sort") == "+ModifiedOn":
            rows.sort(key=lambda row: (row[1].modified_ns, row[0]))
        else:
            rows.sort(key=lambda row: row[0])
        page, size = int(params.get("page", 1)), int(params.get("pageSize", 50))
        chunk = rows[(page - 1) * size : page * size]
        return httpx2.Response(
            200,
            json={
                "page": page,
                "pageSize": size,
                "hasMore": page * size < len(rows),
                "totalCount": None,
                "data": [self._json(rid, v) for rid, v in chunk],
            },
        )


@dataclass
class FakeHomebase360(FakeServiceTitan):
    """``GET /jobs``: the jobs starting in ``[startDate, endDate]``, in start order, cut at ``limit``
    with nothing to say the answer was cut (the vendor's way). ``starts`` places new jobs' starts."""

    starts: list[int] = field(default_factory=list)
    unsorted: bool = False  # answer in id order instead of start order: the cut falls anywhere

    def insert(self, count: int = 1, *, late_by: float = 0.0, at_ns: int | None = None) -> list[int]:
        ids = super().insert(count, late_by=late_by, at_ns=at_ns)
        day = self.now_ns() - self.now_ns() % (86_400 * NS)
        for rid in ids:
            self.records[rid].start_ns = self.starts.pop(0) if self.starts else day + 12 * 3600 * NS
        return ids

    def _json(self, record_id: int, version: Version) -> dict[str, Any]:
        return {
            "jobId": str(record_id),
            "start": stamp(version.start_ns),
            "dateAdded": stamp(version.created_ns, version.style),
            "lastUpdated": stamp(version.modified_ns, version.style),
        }

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(0)
        assert str(request.url).startswith(f"{HB_API}/jobs")
        self.list_requests += 1
        if self.between_pages:
            self.between_pages.pop(0)()
        params = request.url.params
        low, high = to_ns(params["startDate"]), to_ns(params["endDate"])
        assert low is not None and high is not None
        rows = [(rid, v) for rid, v in self.records.items() if low <= v.start_ns <= high]
        rows.sort(key=lambda row: row[0] if self.unsorted else (row[1].start_ns, row[0]))
        chunk = rows[: int(params.get("limit", 50))]
        return httpx2.Response(200, json={"success": True, "data": [self._json(r, v) for r, v in chunk]})


def capped_catalog(limit: int) -> catalog_module.Catalog:
    """The real catalog with the Homebase360 job triggers' cap (and the limit they ask for) shrunk."""
    shared = catalog_module.load(ROOT)
    connectors = {
        name: dataclasses.replace(c, definitions={kind: dict(table) for kind, table in c.definitions.items()})
        for name, c in shared.connectors.items()
    }
    loaded = dataclasses.replace(shared, connectors=connectors)
    triggers = loaded.connectors["homebase360"].definitions["triggers"]
    for key in ("newJob", "updatedJob"):
        definition = triggers[key]
        model = definition.model
        assert model.capped is not None and isinstance(model.request.query, dict)
        request = msgspec.structs.replace(model.request, query={**model.request.query, "limit": limit})
        capped = msgspec.structs.replace(model.capped, limit=limit)
        model = msgspec.structs.replace(model, capped=capped, request=request)
        triggers[key] = dataclasses.replace(definition, model=model)
    return loaded


def small_page_catalog(page_size: int) -> catalog_module.Catalog:
    """The real catalog with the trigger's page size shrunk, so page boundaries come often."""
    shared = catalog_module.load(ROOT)  # shared and cached: change a copy of its tables only
    connectors = {
        name: dataclasses.replace(c, definitions={kind: dict(table) for kind, table in c.definitions.items()})
        for name, c in shared.connectors.items()
    }
    loaded = dataclasses.replace(shared, connectors=connectors)
    triggers = loaded.connectors["servicetitan"].definitions["triggers"]
    definition = triggers["pollChangesTrigger"]
    model = definition.model
    assert model.pagination is not None
    pagination = msgspec.structs.replace(model.pagination, pageSize=page_size)
    triggers["pollChangesTrigger"] = dataclasses.replace(
        definition, model=msgspec.structs.replace(model, pagination=pagination)
    )
    return loaded


@dataclass
class Harness:
    """Pollers of one trigger instance over one fake vendor; records every delivered event."""

    catalog: catalog_module.Catalog
    db: Path
    inputs: dict[str, Any]
    clock: FakeClock = field(default_factory=FakeClock)
    delivered: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    instance: str = "flow-1/trigger"
    ttl: float = 120.0
    store_url: str | None = None  # a postgresql:// URL instead of the SQLite file ``db``
    trigger: str = TRIGGER
    incomplete: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        capped = self.trigger.startswith("homebase360.")
        self.vendor = FakeHomebase360(self.clock) if capped else FakeServiceTitan(self.clock)
        self.connection = HB_CONNECTION if capped else ST_CONNECTION
        self._stores: dict[str, Any] = {}

    def runtime(self) -> Runtime:
        """A fresh runtime, as after a restart: nothing carried over but the store file."""
        return Runtime(
            self.catalog,
            transport=httpx2.MockTransport(self.vendor),
            clock=self.clock,
            tokens=TokenCache(),
            budgets=BudgetRegistry(),
            env={},
        )

    def store(self, owner: str = "poller-a") -> Any:
        """The poller's open store (each poller process has its own connection to the file)."""
        if owner not in self._stores:
            self._stores[owner] = open_state_store(self.store_url or self.db, clock=self.clock.wall)
        return self._stores[owner]

    def restart(self) -> None:
        """Every poller process stops; only the store file survives."""
        for store in self._stores.values():
            store.close()
        self._stores.clear()

    async def _poll(self, owner: str, fail: bool = False) -> str:
        def deliver(events: list[dict[str, Any]]) -> None:
            if fail:
                raise RuntimeError("the consumer crashed before accepting the events")
            self.delivered.extend(events)

        try:
            outcome = await poll_once(
                self.runtime(),
                self.trigger,
                self.inputs,
                self.connection,
                self.store(owner),
                self.instance,
                deliver=deliver,
                owner=owner,
                ttl=self.ttl,
            )
        except RuntimeError:
            self.restart()
            return "crashed"
        except VendorError as error:  # the list changed under the pages so that one repeated the last
            return f"failed: {error.message}"  # nothing committed: the next poll repeats this one
        self.incomplete.extend(outcome.incomplete)
        return outcome.status

    def poll(self, *, fail: bool = False) -> str:
        status = asyncio.run(self._poll("poller-a", fail))
        self.outcomes.append(status)
        return status

    def race(self) -> list[str]:
        """Two pollers of the same instance at once: one polls, the other finds it busy."""

        async def both() -> list[str]:
            return list(await asyncio.gather(self._poll("poller-a"), self._poll("poller-b")))

        statuses = asyncio.run(both())
        self.outcomes.extend(statuses)
        return statuses

    def abandon_lease(self) -> None:
        """A poller that took the lease and died without releasing it."""
        self.store("crashed-poller").lease(self.instance, "crashed-poller", self.ttl)
        self.restart()

    def advance(self, seconds: float) -> None:
        self.clock.t += seconds

    # --- what must hold ---------------------------------------------------------------------------

    def floor_ns(self) -> int:
        state = self.store().load(self.instance)
        assert state is not None, "the instance was never polled"
        return to_ns(state["floor"]) or 0

    def problems(self) -> list[str]:
        """Every change emitted, none twice, created exactly once, in order (after a final poll)."""
        floor_ns = self.floor_ns()
        out = []
        seen: set[tuple[str, int]] = set()
        by_id: dict[str, list[dict[str, Any]]] = {}
        identities: dict[str, tuple[str, int]] = {}
        for event in self.delivered:
            key = (event["id"], to_ns(event["changedAt"]) or -1)
            if key in seen:
                out.append(f"emitted twice: {key}")
            seen.add(key)
            if identities.setdefault(event["eventId"], key) != key:
                out.append(f"one eventId for two changes: {identities[event['eventId']]} and {key}")
            by_id.setdefault(event["id"], []).append(event)
        for rid, version in self.vendor.records.items():
            events = by_id.get(str(rid), [])
            if version.modified_ns >= floor_ns and (str(rid), version.modified_ns) not in seen:
                out.append(f"missed: record {rid} at {stamp(version.modified_ns)}")
            created = [e for e in events if e["type"] == "created"]
            expected = 1 if version.created_ns >= floor_ns else 0
            if version.created_ns > version.modified_ns < floor_ns:
                expected = len(created[:1])  # stamped in the future, then corrected to before the start
            if len(created) != expected:
                out.append(f"record {rid}: {len(created)} created events, expected {expected}")
            if created and events[0]["type"] != "created":
                out.append(f"record {rid}: created after updated")
            markers = [to_ns(e["changedAt"]) or 0 for e in events]
            if not _in_order(markers, version.history):
                out.append(f"record {rid}: events out of order")
        return out

    def created_problems(self) -> list[str]:
        """For a trigger firing new records only (Homebase360 newJob): each record added since the start
        fired once, as created, unless its start fell in a part the poll reported incomplete."""
        floor_ns = self.floor_ns()
        cut = [(to_ns(p["window"]["from"]) or 0, to_ns(p["window"]["to"]) or 0) for p in self.incomplete]
        out = []
        fired: dict[str, int] = {}
        if len({e["eventId"] for e in self.delivered}) != len(self.delivered):
            out.append("an eventId delivered twice")
        for event in self.delivered:
            if event["type"] != "created":
                out.append(f"record {event['id']}: {event['type']} fired")
            fired[event["id"]] = fired.get(event["id"], 0) + 1
        for rid, version in self.vendor.records.items():
            count = fired.get(str(rid), 0)
            if count > 1:
                out.append(f"record {rid}: fired {count} times")
            reported = any(low <= version.start_ns <= high for low, high in cut)
            if version.created_ns >= floor_ns and count == 0 and not reported:
                out.append(f"missed: record {rid} added at {stamp(version.created_ns)}")
        return out


def _in_order(markers: list[int], history: list[int]) -> bool:
    """Whether ``markers`` are versions of ``history`` in the order the record had them."""
    versions = iter(history)
    return all(any(marker == version for version in versions) for marker in markers)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or a folder) unwritable for the block: by its mode, and for root (whom modes do
    not stop) by the immutable attribute; the test is skipped where neither can be had."""
    mode = path.stat().st_mode
    immutable = False
    path.chmod(mode & ~0o222)
    try:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            done = (
                subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
                if chattr
                else None
            )
            if done is None or done.returncode != 0:
                pytest.skip("running as root, and chattr cannot make the file immutable here")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run([str(shutil.which("chattr")), "-i", str(path)], check=False)
        path.chmod(mode)
