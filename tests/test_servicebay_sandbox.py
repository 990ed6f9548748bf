"""Servicebay end to end against the in-process sandbox: every resource's CRUD, lookups, filters,
numbering, envelopes, isolation, and one budget per key that keeps a 10,000-item picklist clear of 429s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from component.auth import TokenCache
from component.errors import BadRequestError, NotFoundError, RateLimitedError
from component.models import RateLimit
from component.policy import SYSTEM_CLOCK, BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox, doc_id
from component.sandbox.servicebay import ORG
from tests.conftest import FakeClock

CONNECTION: dict[str, str] = {}


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    """Rate limits off here: these tests are about behaviour; the budget tests below set a short window."""
    return Sandbox(rate_limits={"servicebay": None})


@pytest.fixture
def rt(sandbox: Sandbox) -> Iterator[Runtime]:
    yield sandbox.runtime(tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock())


@pytest.fixture
def sb(sandbox: Sandbox) -> dict[str, str]:
    return sandbox.connection("servicebay")


def run(rt: Runtime, key: str, inputs: dict[str, Any], connection: dict[str, str]) -> Any:
    return rt.run_sync(f"servicebay.{key}", inputs, connection)["data"]


def cid(n: int) -> str:
    return doc_id("customers", n)


# --- resources ------------------------------------------------------------------------------------


LINE = {"title": "Boiler", "price": 1000, "quantity": 1}
CASES = [
    # (noun, plural, id input, list key, create inputs, update inputs, list inputs that find the new record)
    (
        "Customer", "Customers", "customerId", "customers",
        {"firstName": "Ada", "lastName": "Byron", "email": "ada@example.com"},
        {"phone": "+13035550999"}, {"search": "ada@example.com"},
    ),
    (
        "Job", "Jobs", "ticketId", "tickets",
        {"customerId": cid(5), "serviceTime": "2026-12-01T15:00:00Z", "endTime": "2026-12-01T16:00:00Z",
         "serviceLocation": "offsite"},
        {"status": "Closed"}, {"customerId": cid(5)},
    ),
    (
        "Service", "Services", "serviceId", "services",
        {"title": "Boiler service", "priceType": "rate", "price": 95, "priceTimeRate": "hour"},
        {"price": 99}, {"search": "Boiler service"},
    ),
    (
        "InventoryItem", "InventoryItems", "itemId", "items",
        {"itemName": "Pressure valve", "sku": "PV-NEW-1", "stockCount": 4, "tracksStock": True},
        {"stockCount": 3}, {"sku": "PV-NEW-1"},
    ),
    (
        "Quote", "Quotes", "quoteId", "quotes",
        {"customerId": cid(6), "services": [LINE]}, {"accepted": True}, {"customerId": cid(6)},
    ),
    (
        "Invoice", "Invoices", "invoiceId", "invoices",
        {"customerId": cid(7), "services": [LINE]}, {"paid": True, "paidDate": "2026-04-20T00:00:00Z"},
        {"customerId": cid(7)},
    ),
    (
        "CalendarEvent", "CalendarEvents", "eventId", "events",
        {"title": "Van MOT", "startTime": "2026-12-02T09:00:00Z", "endTime": "2026-12-02T10:00:00Z"},
        {"title": "Van test"}, {"from": "2026-12-02T00:00:00Z", "to": "2026-12-03T00:00:00Z"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("noun", "plural", "id_field", "list_key", "create", "update", "listed"), CASES)
def test_crud_round_trip(
    rt: Runtime,
    sb: dict[str, str],
    noun: str,
    plural: str,
    id_field: str,
    list_key: str,
    create: dict[str, Any],
    update: dict[str, Any],
    listed: dict[str, Any],
) -> None:
    made = run(rt, f"create{noun}", create, sb)
    assert made["id"] and len(made["id"]) == 20
    for name, value in create.items():
        if name not in ("services",):
            assert made[name] == value, name
    key = {id_field: made["id"]}
    before = run(rt, f"get{noun}", key, sb)
    assert before == made
    after = run(rt, f"update{noun}", {**key, **update}, sb)
    assert {k: after[k] for k in update} == update
    untouched = {k: v for k, v in before.items() if k not in update and k not in ("updatedAt", "totalPrice")}
    assert {k: after[k] for k in untouched} == untouched  # PUT is partial: the rest keeps its values
    page = run(rt, f"list{plural}", {**listed, "fetchAll": True}, sb)
    assert made["id"] in {r["id"] for r in page[list_key]}
    assert run(rt, f"delete{noun}", key, sb) == {"message": "Operation completed successfully"}
    with pytest.raises(NotFoundError) as caught:
        run(rt, f"get{noun}", key, sb)
    assert caught.value.status == 404


def test_lookup_customer_exact_phone_or_email(rt: Runtime, sb: dict[str, str]) -> None:
    caller = run(rt, "getCustomer", {"customerId": cid(0)}, sb)
    assert (caller["phone"], caller["email"]) == ("+13038286690", "jane.doe@example.com")  # documented
    assert run(rt, "lookupCustomer", {"phone": "+13038286690"}, sb) == caller
    assert run(rt, "lookupCustomer", {"email": "JANE.DOE@example.com"}, sb) == caller
    other = run(rt, "getCustomer", {"customerId": cid(40)}, sb)
    either = {"phone": other["phone"], "email": "nobody@nowhere.example"}
    assert run(rt, "lookupCustomer", either, sb) == other
    assert run(rt, "lookupCustomer", {"phone": "+1303828669"}, sb) is None  # exact, not a prefix
    assert run(rt, "lookupCustomer", {"email": "nobody@nowhere.example"}, sb) is None


def test_lookup_inventory_by_exact_sku(rt: Runtime, sb: dict[str, str]) -> None:
    item = run(rt, "lookupInventoryBySku", {"sku": "SB-00001"}, sb)
    assert item["sku"] == "SB-00001" and item["id"] == doc_id("inventory", 0)
    assert run(rt, "lookupInventoryBySku", {"sku": "SB-0000"}, sb) is None


def test_list_filters(rt: Runtime, sb: dict[str, str]) -> None:
    jobs = run(rt, "listJobs", {"customerId": cid(3)}, sb)["tickets"]
    assert jobs and {j["customerId"] for j in jobs} == {cid(3)}
    open_jobs = run(rt, "listJobs", {"status": "Open", "fetchAll": True}, sb)["tickets"]
    assert open_jobs and {j["status"] for j in open_jobs} == {"Open"}
    accepted = run(rt, "listQuotes", {"accepted": True, "fetchAll": True}, sb)["quotes"]
    unaccepted = run(rt, "listQuotes", {"accepted": False, "fetchAll": True}, sb)["quotes"]
    assert (
        accepted
        and unaccepted
        and all(q["accepted"] for q in accepted)
        and not any(q["accepted"] for q in unaccepted)
    )
    paid = run(rt, "listInvoices", {"paid": True, "fetchAll": True}, sb)["invoices"]
    assert paid and all(i["paid"] for i in paid)
    by_ticket = run(rt, "listInvoices", {"ticketId": doc_id("tickets", 4)}, sb)["invoices"]
    assert [i["ticketId"] for i in by_ticket] == [doc_id("tickets", 4)]
    window = {"from": "2020-01-01T00:00:00Z", "to": "2040-01-01T00:00:00Z", "assignedToId": "user-tech-02"}
    events = run(rt, "listCalendarEvents", {**window, "fetchAll": True}, sb)["events"]
    assert events and {e["assignedToId"] for e in events} == {"user-tech-02"}
    none = run(rt, "listCalendarEvents", {"from": "2040-01-01T00:00:00Z", "to": "2041-01-01T00:00:00Z"}, sb)
    assert none["events"] == []
    found = run(rt, "listCustomers", {"search": "smith", "limit": 5}, sb)["customers"]
    assert found and all("smith" in f"{c['firstName']} {c['lastName']} {c['email']}".lower() for c in found)
    parts = run(rt, "listInventoryItems", {"search": "capacitor", "fetchAll": True}, sb)["items"]
    assert parts and all("Capacitor" in p["itemName"] for p in parts)


def test_cursor_pages_are_stable_and_limited(rt: Runtime, sb: dict[str, str]) -> None:
    first = run(rt, "listCustomers", {"limit": 100}, sb)
    assert len(first["customers"]) == 100 and first["pagination"]["hasMore"] is True
    second = run(rt, "listCustomers", {"limit": 100, "startAfter": first["pagination"]["nextCursor"]}, sb)
    ids = [c["id"] for c in first["customers"] + second["customers"]]
    assert len(set(ids)) == 200 and ids[0] == cid(0) and ids[100] == cid(100)
    with pytest.raises(BadRequestError, match="limit"):
        rt.run_sync(
            "servicebay.rawRequest", {"path": f"/organisations/{ORG}/customers", "query": {"limit": 101}}, sb
        )


def test_quote_and_invoice_numbers_are_assigned_in_sequence(rt: Runtime, sb: dict[str, str]) -> None:
    for noun, plural, key in (("Quote", "Quotes", "quotes"), ("Invoice", "Invoices", "invoices")):
        top = max(r["index"] for r in run(rt, f"list{plural}", {"fetchAll": True}, sb)[key])
        body = {"customerId": cid(9), "services": [{"title": "Fix", "price": 100, "quantity": 2}],
                "discount": {"type": "percentage", "value": 10}}  # fmt: skip
        one, two = run(rt, f"create{noun}", body, sb), run(rt, f"create{noun}", body, sb)
        assert (one["index"], two["index"]) == (top + 1, top + 2)
        assert one["totalPrice"] == 180 and one["customerName"]
        forced = run(rt, f"create{noun}", {**body, "index": 9000}, sb)
        assert forced["index"] == 9000


def test_invoice_marked_paid(rt: Runtime, sb: dict[str, str]) -> None:
    unpaid = run(rt, "listInvoices", {"paid": False, "limit": 1}, sb)["invoices"][0]
    done = run(
        rt, "updateInvoice", {"invoiceId": unpaid["id"], "paid": True, "paidDate": "2026-04-20T00:00:00Z"}, sb
    )
    assert done["paid"] is True and done["paidDate"] == "2026-04-20T00:00:00Z"
    assert done["services"] == unpaid["services"]


def test_organisation_get_and_update(rt: Runtime, sb: dict[str, str]) -> None:
    org = run(rt, "getOrganisation", {}, sb)
    assert org["id"] == ORG and org["name"]
    changed = run(rt, "updateOrganisation", {"website": "https://example.com/new"}, sb)
    assert changed == {**org, "website": "https://example.com/new"}


def test_vendor_side_checks_answer_400(rt: Runtime, sb: dict[str, str]) -> None:
    """What the client's own checks would stop, sent raw: the sandbox refuses it as Servicebay would."""
    times = {"serviceTime": "2026-01-01T10:00:00Z", "endTime": "2026-01-01T09:00:00Z"}
    raw = {"path": f"/organisations/{ORG}/tickets", "method": "POST", "json": {"customerId": cid(1), **times}}
    with pytest.raises(BadRequestError) as caught:
        rt.run_sync("servicebay.rawRequest", raw, sb)
    assert caught.value.status == 400 and caught.value.message == "endTime must be after serviceTime"
    times["endTime"] = "2026-01-01T11:00:00Z"
    with pytest.raises(NotFoundError, match="Customer"):
        rt.run_sync("servicebay.createJob", {"customerId": "nope", **times}, sb)


def test_auth_and_isolation(rt: Runtime, sb: dict[str, str], sandbox: Sandbox) -> None:
    other = {**sb, "apiKey": "sandbox-servicebay-key-other", "orgId": "other-org"}
    theirs = run(rt, "listCustomers", {"fetchAll": True}, other)["customers"]
    ours = run(rt, "getCustomer", {"customerId": cid(0)}, sb)
    assert len(theirs) == 120 and theirs[0]["id"] == ours["id"] and theirs[0] != ours  # same ids, other data
    mine = run(
        rt, "createCustomer", {"firstName": "Only", "lastName": "Ours", "email": "only@example.com"}, sb
    )
    with pytest.raises(NotFoundError):
        run(rt, "getCustomer", {"customerId": mine["id"]}, other)
    with pytest.raises(Exception) as caught:
        run(rt, "getOrganisation", {}, {**sb, "orgId": "other-org"})
    assert getattr(caught.value, "status", None) == 403
    with pytest.raises(Exception) as caught:
        run(rt, "getOrganisation", {}, {**sb, "apiKey": "sk_live_wrong"})
    assert getattr(caught.value, "status", None) == 401


def test_seeded_data_is_deterministic() -> None:
    a, b = Sandbox(rate_limits={"servicebay": None}), Sandbox(rate_limits={"servicebay": None})

    async def read(box: Sandbox) -> Any:
        async with box.runtime(budgets=BudgetRegistry(), clock=FakeClock()) as rt:
            sb = box.connection("servicebay")
            return [
                await rt.run("servicebay.getCustomer", {"customerId": cid(11_999)}, sb),
                await rt.run("servicebay.getQuote", {"quoteId": doc_id("quotes", 5)}, sb),
                await rt.run("servicebay.listCalendarEvents", {"limit": 20}, sb),
            ]

    assert asyncio.run(read(a)) == asyncio.run(read(b))


# --- one budget per key ------------------------------------------------------------------------------


class Statuses(httpx2.AsyncBaseTransport):
    """Counts responses by status on their way back from the sandbox."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_process = getattr(inner, "in_process", False)  # the sandbox answers in process
        self.counts: dict[int, int] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.counts[response.status_code] = self.counts.get(response.status_code, 0) + 1
        return response


WINDOW = 0.25  # seconds: the test's stand-in for Servicebay's minute
PER_WINDOW = 25


def test_ten_thousand_item_picklist_never_draws_a_429() -> None:
    """100 pages plus 20 concurrent reads on one key, through a 25-per-0.25 s budget and a sandbox
    enforcing the same limit in real time: every request lands, none is refused."""
    sandbox = Sandbox(rate_limits={"servicebay": (PER_WINDOW, WINDOW)})
    transport = Statuses(sandbox.transport())
    # no margin: each slot is held until a window after its response, however busy the machine
    budgets = BudgetRegistry({"servicebay": RateLimit(requests=PER_WINDOW, per=WINDOW)})
    runtime = Runtime(transport=transport, budgets=budgets, clock=SYSTEM_CLOCK)
    sb = sandbox.connection("servicebay")

    async def main() -> dict[str, Any]:
        async with runtime:
            picked, *_ = await asyncio.gather(
                runtime.picklist("servicebay.selectCustomer", {}, sb),
                *(runtime.run("servicebay.getCustomer", {"customerId": cid(n)}, sb) for n in range(20)),
            )
            again = await runtime.picklist("servicebay.selectCustomer", {}, sb)
            assert again == picked
            return picked

    picked = asyncio.run(main())
    assert len(picked["result"]) == 10_000 and picked["truncated"] is True
    assert transport.counts == {200: 120}  # 100 pages + 20 gets; the reopen came from the cache


def test_without_the_budget_the_sandbox_refuses_and_the_client_waits_for_the_reset() -> None:
    sandbox = Sandbox(rate_limits={"servicebay": (5, 1.0)})
    transport = Statuses(sandbox.transport())
    clock = FakeClock()
    budgets = BudgetRegistry(
        {"servicebay": RateLimit(requests=1000, per=1.0)}
    )  # a budget that lets all through
    runtime = Runtime(transport=transport, budgets=budgets, clock=clock)
    sb = sandbox.connection("servicebay")
    for _ in range(5):
        runtime.run_sync("servicebay.getOrganisation", {}, sb)
    with pytest.raises(RateLimitedError) as caught:
        runtime.run_sync("servicebay.getOrganisation", {}, sb)  # the fake clock's waits do not move real time
    assert caught.value.status == 429 and transport.counts[429] >= 1
    assert clock.sleeps and all(0 < s <= 2 for s in clock.sleeps)  # Retry-After / X-RateLimit-Reset: 1 s


def test_rate_limit_headers_on_every_response() -> None:
    limited = Sandbox(rate_limits={"servicebay": (2, 60.0)})
    sb = limited.connection("servicebay")
    headers = {"X-API-Key": sb["apiKey"]}

    async def main() -> list[httpx2.Response]:
        async with httpx2.AsyncClient(transport=limited.transport(), base_url=sb["baseUrl"]) as client:
            return [
                await client.get(f"/organisations/{ORG}/services", headers=headers, params={"limit": 2}),
                await client.get(f"/organisations/{ORG}/services/nope", headers=headers),
                await client.get(f"/organisations/{ORG}", headers=headers),
            ]

    ok, missing, refused = asyncio.run(main())
    assert [r.status_code for r in (ok, missing, refused)] == [200, 404, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in (ok, missing, refused)] == ["1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in (ok, missing, refused)} == {"2"}
    assert all(int(r.headers["X-RateLimit-Reset"]) > 1_700_000_000 for r in (ok, missing, refused))
    assert refused.json() == {"success": False, "error": "Too many requests; slow down."}
