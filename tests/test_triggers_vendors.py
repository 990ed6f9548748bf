"""Servicebay and Homebase360 triggers against fake vendors: what is sent, what fires, what it costs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest

from component.catalog import Catalog
from component.runtime import Runtime, build_request
from component.triggers import SQLiteStateStore, poll_once
from component.triggers.core import TriggerError
from component.triggers.markers import NS, to_iso
from tests.conftest import (
    CANARIES,
    HB_API,
    HB_CONNECTION,
    SB_API,
    SB_CONNECTION,
    FakeClock,
    FakeVendor,
    make_runtime,
)

ORG = SB_CONNECTION["orgId"]


class FakeList:
    """A Servicebay-style list: cursor pages of ``limit`` by document id, filters by exact query value."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.rows: list[dict[str, Any]] = []
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        params = request.url.params
        rows = sorted(self.rows, key=lambda r: r["id"])
        for name in ("accepted", "paid"):
            if name in params:
                rows = [r for r in rows if str(r.get(name)).lower() == params[name]]
        after = params.get("startAfter")
        if after:
            rows = [r for r in rows if r["id"] > after]
        limit = int(params.get("limit", 50))
        page = rows[:limit]
        more = len(rows) > limit
        return httpx2.Response(
            200,
            json={
                "success": True,
                "data": {
                    self.key: page,
                    "pagination": {
                        "limit": limit,
                        "hasMore": more,
                        "nextCursor": page[-1]["id"] if more else None,
                    },
                },
            },
        )


def poll(
    runtime: Runtime, ref: str, store: SQLiteStateStore, connection: Any, inputs: Any = None
) -> list[dict[str, Any]]:
    delivered: list[dict[str, Any]] = []
    outcome = asyncio.run(
        poll_once(runtime, ref, inputs or {}, connection, store, "i-1", deliver=delivered.extend)
    )
    assert outcome.status == "polled"
    return delivered


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> SQLiteStateStore:
    return SQLiteStateStore(tmp_path / "t.db", clock=clock.wall)


def sb_runtime(catalog: Catalog, clock: FakeClock, path: str, fake: FakeList) -> Runtime:
    vendor = FakeVendor()
    vendor.route("GET", f"{SB_API}/organisations/{ORG}{path}", fake)
    return make_runtime(catalog, vendor, clock, env={})


def test_new_customer_scans_the_list_and_fires_each_new_id_once(
    catalog: Catalog, clock: FakeClock, store: SQLiteStateStore
) -> None:
    fake = FakeList("customers")
    old = to_iso(int(clock.wall() - 86_400) * NS)
    fake.rows = [{"id": f"c{n:04d}", "firstName": "Old", "createdAt": old} for n in range(250)]
    runtime = sb_runtime(catalog, clock, "/customers", fake)
    assert poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION) == []
    assert len(fake.requests) == 3  # ceil(250 / 100): the cost the description states
    assert fake.requests[0].headers["X-API-Key"] == SB_CONNECTION["apiKey"]
    assert [r.url.params.get("startAfter") for r in fake.requests] == [None, "c0099", "c0199"]
    clock.t += 60
    now = to_iso(int(clock.wall()) * NS)
    fake.rows.append({"id": "c0100x", "firstName": "New", "createdAt": now})  # lands mid-list
    fake.rows.append({"id": "c9999", "firstName": "Imported", "createdAt": old})  # old, just listed now
    events = poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION)
    assert [(e["type"], e["id"]) for e in events] == [("created", "c0100x")]
    assert poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION) == []
    state = store.load("i-1")
    assert state is not None and len(state["seen"]) == 252
    stored = (store.path.read_bytes() + Path(f"{store.path}-wal").read_bytes()).decode("latin-1")
    assert not any(canary in stored for canary in CANARIES)


def test_quote_accepted_asks_only_for_accepted_quotes(
    catalog: Catalog, clock: FakeClock, store: SQLiteStateStore
) -> None:
    fake = FakeList("quotes")
    fake.rows = [{"id": "q1", "accepted": True}, {"id": "q2", "accepted": False}]
    runtime = sb_runtime(catalog, clock, "/quotes", fake)
    assert poll(runtime, "servicebay.quoteAccepted", store, SB_CONNECTION) == []
    assert fake.requests[0].url.params["accepted"] == "true"
    fake.rows[1]["accepted"] = True
    assert [e["id"] for e in poll(runtime, "servicebay.quoteAccepted", store, SB_CONNECTION)] == ["q2"]
    assert poll(runtime, "servicebay.quoteAccepted", store, SB_CONNECTION) == []


def test_invoice_paid_fires_when_an_invoice_joins_the_paid_list(
    catalog: Catalog, clock: FakeClock, store: SQLiteStateStore
) -> None:
    fake = FakeList("invoices")
    fake.rows = [{"id": "i1", "paid": False}]
    runtime = sb_runtime(catalog, clock, "/invoices", fake)
    poll(runtime, "servicebay.invoicePaid", store, SB_CONNECTION, {"customerId": "cust-9"})
    assert fake.requests[0].url.params["paid"] == "true"
    assert fake.requests[0].url.params["customerId"] == "cust-9"
    fake.rows[0]["paid"] = True
    assert [
        e["id"]
        for e in poll(runtime, "servicebay.invoicePaid", store, SB_CONNECTION, {"customerId": "cust-9"})
    ] == ["i1"]


def test_new_calendar_event_polls_a_rolling_window(
    catalog: Catalog, clock: FakeClock, store: SQLiteStateStore
) -> None:
    fake = FakeList("events")
    runtime = sb_runtime(catalog, clock, "/calendar-events", fake)
    poll(runtime, "servicebay.newCalendarEvent", store, SB_CONNECTION, {"daysBack": 2, "daysAhead": 10})
    params = fake.requests[0].url.params
    assert params["from"] == "2027-01-13T00:00:00Z"  # the fake clock's today is 2027-01-15
    assert params["to"] == "2027-01-26T00:00:00Z"
    clock.t += 30
    fake.rows.append({"id": "e1", "createdAt": to_iso(int(clock.wall()) * NS)})
    fake.rows.append({"id": "e0", "createdAt": "2026-01-01T00:00:00Z"})  # an old event entering the window
    assert [e["id"] for e in poll(runtime, "servicebay.newCalendarEvent", store, SB_CONNECTION)] == ["e1"]


def test_a_list_longer_than_the_seen_set_is_refused(catalog: Catalog, clock: FakeClock) -> None:
    from component.triggers.core import poll as poll_core

    definition = catalog.find("triggers", "servicebay.quoteAccepted")
    assert definition.model.seen is not None
    small = definition.model.model_copy(update={"seen": definition.model.seen.model_copy(update={"max": 2})})

    async def send(request: Any) -> Any:
        return {"quotes": [{"id": str(n)} for n in range(3)], "pagination": {"hasMore": False}}

    with pytest.raises(TriggerError, match="more than this trigger remembers"):
        asyncio.run(
            poll_core(
                small,
                {},
                SB_CONNECTION,
                None,
                build=build_request,
                send=send,
                vendor="servicebay",
                now=clock.wall(),
            )
        )


def hb_runtime(
    catalog: Catalog, clock: FakeClock, jobs: list[dict[str, Any]]
) -> tuple[Runtime, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"success": True, "data": list(jobs)})

    vendor = FakeVendor()
    vendor.route("GET", f"{HB_API}/jobs", answer)
    return make_runtime(catalog, vendor, clock, env={}), seen


def test_homebase_new_and_updated_job_split_on_date_added(
    catalog: Catalog, clock: FakeClock, tmp_path: Path
) -> None:
    jobs: list[dict[str, Any]] = []
    runtime, requests = hb_runtime(catalog, clock, jobs)
    new_store = SQLiteStateStore(tmp_path / "new.db", clock=clock.wall)
    upd_store = SQLiteStateStore(tmp_path / "upd.db", clock=clock.wall)
    existing = {"jobId": "j-old", "dateAdded": "2026-12-01T00:00:00Z", "lastUpdated": "2026-12-01T00:00:00Z"}
    jobs.append(existing)
    assert poll(runtime, "homebase360.newJob", new_store, HB_CONNECTION) == []
    assert poll(runtime, "homebase360.updatedJob", upd_store, HB_CONNECTION) == []
    clock.t += 60
    now = to_iso(int(clock.wall()) * NS)
    jobs.append({"jobId": "j-new", "dateAdded": now, "lastUpdated": now})
    existing["lastUpdated"] = now
    assert [e["id"] for e in poll(runtime, "homebase360.newJob", new_store, HB_CONNECTION)] == ["j-new"]
    assert [e["id"] for e in poll(runtime, "homebase360.updatedJob", upd_store, HB_CONNECTION)] == ["j-old"]
    assert poll(runtime, "homebase360.newJob", new_store, HB_CONNECTION) == []
    assert poll(runtime, "homebase360.updatedJob", upd_store, HB_CONNECTION) == []
    params = requests[-1].url.params
    assert (params["startDate"], params["endDate"], params["limit"]) == (
        "2027-01-08T00:00:00Z",
        "2027-02-15T00:00:00Z",
        "100",
    )
    assert requests[-1].headers["x-api-key"] == HB_CONNECTION["apiKey"]
    assert len(requests) == 4  # one request a poll (the first poll of each records a start and sends nothing)
