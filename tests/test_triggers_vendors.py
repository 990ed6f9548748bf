"""Servicebay and Homebase360 triggers against fake vendors: what is sent, what fires, what it costs."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from component.auth import TokenCache
from component.catalog import Catalog
from component.models import RateLimit
from component.policy import BudgetRegistry
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
    small = msgspec.structs.replace(
        definition.model, seen=msgspec.structs.replace(definition.model.seen, max=2)
    )

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
    assert len(requests) == 6  # one request a poll (the first poll of each checks the connection)


# --- a full scan spread over polls: at most budgetSeconds of the key's budget each ---------------


def limited_runtime(catalog: Catalog, clock: FakeClock, fake: FakeList, requests: int) -> Runtime:
    """A Servicebay runtime whose key allows ``requests`` a minute: a poll reads requests / 2 pages."""
    vendor = FakeVendor()
    vendor.route("GET", f"{SB_API}/organisations/{ORG}/customers", fake)
    return Runtime(
        catalog,
        transport=httpx2.MockTransport(vendor),
        clock=clock,
        tokens=TokenCache(),
        budgets=BudgetRegistry({"servicebay": RateLimit(requests=requests, per=60)}),
        env={},
        random=lambda: 0.0,
    )


def customer(n: int, created: str) -> dict[str, Any]:
    return {"id": f"c{n:05d}", "createdAt": created}


def test_a_scan_longer_than_the_poll_budget_spans_polls_and_fires_each_new_id_once(
    catalog: Catalog, clock: FakeClock, store: SQLiteStateStore
) -> None:
    fake = FakeList("customers")
    old = to_iso(int(clock.wall() - 86_400) * NS)
    fake.rows = [customer(n * 10, old) for n in range(1000)]  # 10 pages of 100
    runtime = limited_runtime(catalog, clock, fake, requests=8)  # 4 pages a poll
    counts = []
    for _ in range(3):  # the first pass: 4 + 4 + 2 pages, nothing fires
        before = len(fake.requests)
        assert poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION) == []
        counts.append(len(fake.requests) - before)
        clock.t += 60
    assert counts == [4, 4, 2]
    state = store.load("i-1")
    assert state is not None and "pass" not in state and len(state["seen"]) == 1000
    now = to_iso(int(clock.wall()) * NS)
    fake.rows += [customer(5, now), customer(9995, now)]  # one on the first page, one on the last
    first = poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION)
    assert [e["id"] for e in first] == ["c00005"]  # the last page is not read yet
    state = store.load("i-1")
    assert state is not None and state["pass"]["cursor"] == "c03980"  # 400 read, one of them new
    restarted = limited_runtime(catalog, clock, fake, requests=8)  # the cursor is in the state
    clock.t += 60
    assert poll(restarted, "servicebay.newCustomer", store, SB_CONNECTION) == []
    clock.t += 60
    assert [e["id"] for e in poll(restarted, "servicebay.newCustomer", store, SB_CONNECTION)] == ["c09995"]
    for _ in range(6):  # two more passes: nothing fires again
        clock.t += 60
        assert poll(restarted, "servicebay.newCustomer", store, SB_CONNECTION) == []


def test_a_record_created_during_the_first_pass_still_fires(
    catalog: Catalog, clock: FakeClock, store: SQLiteStateStore
) -> None:
    fake = FakeList("customers")
    old = to_iso(int(clock.wall() - 86_400) * NS)
    fake.rows = [customer(n * 10, old) for n in range(300)]
    runtime = limited_runtime(catalog, clock, fake, requests=2)  # one page a poll
    assert poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION) == []
    clock.t += 60
    fake.rows.append(customer(2505, to_iso(int(clock.wall()) * NS)))  # on a page not read yet
    fake.rows.append(customer(5, to_iso(int(clock.wall()) * NS)))  # on a page already read
    fired = [e["id"] for _ in range(8) for e in poll(runtime, "servicebay.newCustomer", store, SB_CONNECTION)]
    assert sorted(fired) == ["c00005", "c02505"]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    size=st.integers(0, 450),
    pages_a_poll=st.integers(1, 3),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(0, 99_999)),
            st.tuples(st.just("remove"), st.integers(0, 10_000)),
            st.tuples(st.just("poll"), st.just(0)),
            st.tuples(st.just("crash"), st.just(0)),
            st.tuples(st.just("restart"), st.just(0)),
        ),
        max_size=30,
    ),
)
def test_a_pass_interrupted_at_any_page_fires_each_new_record_once(
    catalog: Catalog, tmp_path_factory: pytest.TempPathFactory, size: int, pages_a_poll: int, steps: Any
) -> None:
    """Records added anywhere in the list (before or after the cursor), removed, polls that fail to
    deliver, restarts: after the final passes every record added since the start fired exactly once."""
    clock = FakeClock()
    fake = FakeList("customers")
    old = to_iso(int(clock.wall() - 86_400) * NS)
    fake.rows = [customer(n * 20, old) for n in range(size)]
    added: set[str] = set()
    fired: list[str] = []
    with SQLiteStateStore(tmp_path_factory.mktemp("scan") / "t.db", clock=clock.wall) as store:
        runtime = limited_runtime(catalog, clock, fake, requests=2 * pages_a_poll)

        def once(fail: bool = False) -> None:
            def deliver(events: list[dict[str, Any]]) -> None:
                if fail:
                    raise RuntimeError("the consumer crashed")
                fired.extend(e["id"] for e in events)

            with contextlib.suppress(RuntimeError):
                asyncio.run(
                    poll_once(
                        runtime, "servicebay.newCustomer", {}, SB_CONNECTION, store, "i", deliver=deliver
                    )
                )
            clock.t += 60

        once()
        for action, value in steps:
            if action == "add":
                rid = f"c{value:05d}x"
                if rid not in added:
                    fake.rows.append({"id": rid, "createdAt": to_iso(int(clock.wall()) * NS)})
                    added.add(rid)
            elif action == "remove" and fake.rows:
                fake.rows.pop(value % len(fake.rows))
            elif action == "poll":
                once()
            elif action == "crash":
                once(fail=True)
            elif action == "restart":
                runtime = limited_runtime(catalog, clock, fake, requests=2 * pages_a_poll)
        for _ in range(2 * (len(fake.rows) // 100 + 1) // pages_a_poll + 2):  # two more full passes
            once()
    listed = {r["id"] for r in fake.rows}
    assert sorted(fired) == sorted(added & listed | set(fired) & added)  # nothing old, nothing twice
    assert len(fired) == len(set(fired))
    assert added & listed <= set(fired)  # every new record still listed fired
