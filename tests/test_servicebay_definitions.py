"""Servicebay definitions: the requests they would send (dry run) and the inputs they refuse."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from component.catalog import Catalog
from component.errors import InputValidationError
from component.models import Action, CursorPagination, DataSource
from component.runtime import Runtime
from tests.conftest import SB_API, SB_CONNECTION, SB_KEY, FakeVendor, json_body

ORG = f"{SB_API}/organisations/{SB_CONNECTION['orgId']}"
RESOURCES = {
    "Customer": ("customers", "customerId", "customers"),
    "Job": ("tickets", "ticketId", "tickets"),
    "Service": ("services", "serviceId", "services"),
    "InventoryItem": ("inventory", "itemId", "items"),
    "Quote": ("quotes", "quoteId", "quotes"),
    "Invoice": ("invoices", "invoiceId", "invoices"),
    "CalendarEvent": ("calendar-events", "eventId", "events"),
}
PLURALS = {"Customer": "Customers", "Job": "Jobs", "Service": "Services", "InventoryItem": "InventoryItems"}
PLURALS |= {"Quote": "Quotes", "Invoice": "Invoices", "CalendarEvent": "CalendarEvents"}
CRUD = [(f"{verb}{noun}", noun) for noun in RESOURCES for verb in ("get", "create", "update", "delete")]
CRUD += [(f"list{PLURALS[noun]}", noun) for noun in RESOURCES]
PICKLISTS = {
    "selectCustomer": "customers",
    "selectJob": "tickets",
    "selectService": "services",
    "selectInventoryItem": "inventory",
    "selectQuote": "quotes",
    "selectInvoice": "invoices",
    "selectCalendarEvent": "calendar-events",
}


def servicebay(catalog: Catalog, kind: str = "actions") -> dict[str, Any]:
    return {key: d.model for key, d in catalog.connector("servicebay").definitions[kind].items()}  # type: ignore[index]


def first_example(catalog: Catalog, key: str) -> dict[str, Any]:
    return dict(servicebay(catalog)[key].examples[0])


def refused(runtime: Runtime, ref: str, inputs: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_sync(ref, inputs, SB_CONNECTION)
    return caught.value.problems


# --- the catalog ---------------------------------------------------------------------------------


def test_the_issue_s_action_set(catalog: Catalog) -> None:
    actions = servicebay(catalog)
    crud = {key for key, _ in CRUD}
    assert len(crud) == 35 and crud <= set(actions)
    extra = {"lookupCustomer", "lookupInventoryBySku", "getOrganisation", "updateOrganisation", "rawRequest"}
    assert set(actions) == crud | extra
    assert set(servicebay(catalog, "dataSources")) == set(PICKLISTS)


def test_every_action_has_an_output_schema_and_a_resource(catalog: Catalog) -> None:
    for key, model in servicebay(catalog).items():
        assert isinstance(model, Action)
        assert model.output is not None, key
        assert model.resource or key == "rawRequest", key


def test_picklists_share_the_cap_and_page_100(catalog: Catalog) -> None:
    for key, model in servicebay(catalog, "dataSources").items():
        assert isinstance(model, DataSource)
        assert model.cap == 10_000
        assert model.resource == PICKLISTS[key]
        assert isinstance(model.pagination, CursorPagination)
        assert model.pagination.limit == 100  # type: ignore[union-attr]


def test_quote_and_invoice_output_follow_the_full_schemas(catalog: Catalog) -> None:
    quote = servicebay(catalog)["getQuote"].output
    invoice = servicebay(catalog)["getInvoice"].output
    assert quote is not None and invoice is not None
    for name in (
        "index",
        "totalPrice",
        "depositRequest",
        "neverExpires",
        "invoiced",
        "viewedDate",
        "createdOn",
    ):
        assert name in quote["properties"], name
    for name in ("paymentAdvice", "depositRequested", "depositPaid", "balancePaid", "paid", "paidDate"):
        assert name in invoice["properties"], name
    line = quote["properties"]["services"]["items"]["properties"]
    assert set(line) == {"id", "title", "description", "price", "quantity", "taxRateId"}
    assert quote["properties"]["discount"]["properties"]["type"]["enum"] == ["percentage", "fixed"]
    listed = servicebay(catalog)["listInvoices"].output
    assert listed is not None and set(listed["properties"]) == {"invoices", "pagination"}


def test_index_override_says_why_not(catalog: Catalog) -> None:
    for key in ("createQuote", "updateQuote", "createInvoice", "updateInvoice"):
        description = servicebay(catalog)[key].inputs["properties"]["index"]["description"]
        assert "assigns" in description and "contiguous" in description


# --- dry runs: every action ---------------------------------------------------------------------


@pytest.mark.parametrize(("key", "noun"), CRUD)
def test_crud_dry_run(runtime: Runtime, catalog: Catalog, vendor: FakeVendor, key: str, noun: str) -> None:
    path, id_field, _ = RESOURCES[noun]
    inputs = first_example(catalog, key)
    preview = runtime.run_sync(f"servicebay.{key}", inputs, SB_CONNECTION, dry_run=True)
    verb = key[: next(i for i, c in enumerate(key) if c.isupper())]
    method = {"list": "GET", "get": "GET", "create": "POST", "update": "PUT", "delete": "DELETE"}[verb]
    url = f"{ORG}/{path}" if verb in ("list", "create") else f"{ORG}/{path}/{inputs[id_field]}"
    assert (preview["method"], preview["url"]) == (method, url)
    assert preview["headers"]["X-API-Key"] == "***"
    assert SB_KEY not in str(preview)
    if verb in ("create", "update"):
        body = {k: v for k, v in inputs.items() if k != id_field}
        assert preview["json"] == body  # only the fields given; the path id never goes in the body
    else:
        assert "json" not in preview
    if verb == "list":
        assert preview["query"] == {
            k: v if not isinstance(v, bool) else str(v).lower() for k, v in inputs.items()
        }
    assert not vendor.requests


def test_fetch_all_reads_100_a_page(runtime: Runtime) -> None:
    preview = runtime.run_sync(
        "servicebay.listQuotes",
        {"customerId": "c1", "limit": 5, "fetchAll": True},
        SB_CONNECTION,
        dry_run=True,
    )
    assert preview["query"] == {"customerId": "c1", "limit": 100}


def test_list_filters_go_in_the_query(runtime: Runtime) -> None:
    cases: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("listCustomers", {"search": "Smith"}, {"search": "Smith"}),
        (
            "listJobs",
            {"status": "In Progress", "customerId": "c1", "assignedTechnician": "u1"},
            {"status": "In Progress", "customerId": "c1", "assignedTechnician": "u1"},
        ),
        ("listInventoryItems", {"sku": "AB-1", "categoryId": "k"}, {"sku": "AB-1", "categoryId": "k"}),
        ("listQuotes", {"ticketId": "t1", "accepted": True}, {"ticketId": "t1", "accepted": "true"}),
        ("listInvoices", {"paid": False, "startAfter": "cur"}, {"paid": "false", "startAfter": "cur"}),
        (
            "listCalendarEvents",
            {
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-02-01T00:00:00Z",
                "assignedToId": "u1",
                "ticketId": "t1",
            },
            {
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-02-01T00:00:00Z",
                "assignedToId": "u1",
                "ticketId": "t1",
            },
        ),
    ]
    for key, inputs, query in cases:
        assert runtime.run_sync(f"servicebay.{key}", inputs, SB_CONNECTION, dry_run=True)["query"] == query


@pytest.mark.parametrize(
    ("key", "inputs", "method", "url", "query"),
    [
        (
            "lookupCustomer",
            {"phone": "+1555", "email": "a@b.co"},
            "GET",
            f"{ORG}/customers/lookup",
            {"phone": "+1555", "email": "a@b.co"},
        ),
        (
            "lookupInventoryBySku",
            {"sku": "TC 24/A"},
            "GET",
            f"{ORG}/inventory",
            {"sku": "TC 24/A", "limit": 1},
        ),
        ("getOrganisation", {}, "GET", ORG, {}),
        ("updateOrganisation", {"name": "Acme"}, "PUT", ORG, {}),
    ],
)
def test_other_actions_dry_run(
    runtime: Runtime, key: str, inputs: dict[str, Any], method: str, url: str, query: dict[str, Any]
) -> None:
    preview = runtime.run_sync(f"servicebay.{key}", inputs, SB_CONNECTION, dry_run=True)
    assert (preview["method"], preview["url"], preview["query"]) == (method, url, query)
    if method == "PUT":
        assert preview["json"] == inputs


@pytest.mark.parametrize("key", sorted(PICKLISTS))
def test_picklist_dry_run(runtime: Runtime, key: str) -> None:
    preview = runtime.picklist_sync(f"servicebay.{key}", {}, SB_CONNECTION, dry_run=True)
    assert (preview["method"], preview["url"]) == ("GET", f"{ORG}/{PICKLISTS[key]}")
    assert preview["query"] == {"limit": 100}


def test_picklist_search_input(runtime: Runtime) -> None:
    for key in ("selectCustomer", "selectService", "selectInventoryItem"):
        preview = runtime.picklist_sync(f"servicebay.{key}", {"search": "pump"}, SB_CONNECTION, dry_run=True)
        assert preview["query"] == {"search": "pump", "limit": 100}


# --- validation: nothing is sent ----------------------------------------------------------------


JOB = {"customerId": "c1", "serviceTime": "2026-12-10T14:00:00Z", "endTime": "2026-12-10T15:00:00Z"}
LINE = {"title": "Pump", "price": 10, "quantity": 1}


@pytest.mark.parametrize(
    ("key", "inputs", "path", "fragment"),
    [
        ("createJob", {**JOB, "serviceLocation": "home"}, "$.serviceLocation", "is not one of"),
        ("createJob", {**JOB, "endTime": "2026-12-10T13:00:00Z"}, "$.endTime", "must be after serviceTime"),
        ("createJob", {**JOB, "endTime": JOB["serviceTime"]}, "$.endTime", "must be after serviceTime"),
        ("createJob", {**JOB, "serviceTime": "tomorrow"}, "$.serviceTime", "date-time"),
        (
            "createJob",
            {"serviceTime": JOB["serviceTime"], "endTime": JOB["endTime"]},
            "$.customerId",
            "required",
        ),
        (
            "updateJob",
            {"ticketId": "t1", "serviceTime": "2026-12-10T16:00:00Z", "endTime": "2026-12-10T15:00:00Z"},
            "$.endTime",
            "must be after serviceTime",
        ),
        ("updateJob", {"ticketId": "t1"}, "$", "give at least one field to change"),
        ("updateCustomer", {"customerId": "c1", "nickname": "J"}, "$.nickname", "is not a known field"),
        ("createCustomer", {"firstName": "J", "lastName": "D"}, "$.email", "is required"),
        ("createCustomer", {"firstName": "J", "lastName": "D", "email": "nope"}, "$.email", "email"),
        (
            "createQuote",
            {"customerId": "c1", "services": [{"title": "Pump", "quantity": 1}]},
            "$.services[0].price",
            "is required",
        ),
        (
            "createQuote",
            {"customerId": "c1", "inventoryItems": [{**LINE, "price": -1}]},
            "$.inventoryItems[0].price",
            "minimum",
        ),
        (
            "createQuote",
            {"customerId": "c1", "discount": {"type": "percentage", "value": 120}},
            "$.discount.value",
            "120",
        ),
        (
            "createQuote",
            {"customerId": "c1", "discount": {"type": "coupon", "value": 5}},
            "$.discount.type",
            "is not one of",
        ),
        ("createInvoice", {"customerId": "c1", "index": -3}, "$.index", "minimum"),
        ("updateInvoice", {"invoiceId": "i1", "paid": "yes"}, "$.paid", "boolean"),
        ("updateInvoice", {"invoiceId": "i1", "paidDate": "20 April"}, "$.paidDate", "date-time"),
        ("createService", {"title": "Flush", "priceType": "hourly"}, "$.priceType", "is not one of"),
        (
            "createService",
            {"title": "Flush", "priceType": "rate", "priceTimeRate": "minute"},
            "$.priceTimeRate",
            "is not one of",
        ),
        ("createInventoryItem", {"itemName": "Valve", "gtin": "12ab"}, "$.gtin", "does not match"),
        ("createInventoryItem", {"itemName": "Valve", "stockCount": -1}, "$.stockCount", "minimum"),
        (
            "createCalendarEvent",
            {"title": "x", "startTime": "2026-12-10T09:00:00Z", "endTime": "2026-12-10T08:00:00Z"},
            "$.endTime",
            "must be after startTime",
        ),
        (
            "listCalendarEvents",
            {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "$.to",
            "must be after from",
        ),
        ("listCustomers", {"limit": 101}, "$.limit", "maximum"),
        ("listCustomers", {"limit": 0}, "$.limit", "minimum"),
        ("getQuote", {}, "$.quoteId", "is required"),
        ("deleteInvoice", {"invoiceId": ""}, "$.invoiceId", "non-empty"),
        ("lookupCustomer", {}, "$", "give phone or email (or both)"),
        ("lookupInventoryBySku", {}, "$.sku", "is required"),
        ("updateOrganisation", {}, "$", "give at least one field to change"),
        ("updateOrganisation", {"currency": "usd"}, "$.currency", "does not match"),
    ],
)
def test_bad_inputs_are_refused_before_sending(
    runtime: Runtime, vendor: FakeVendor, key: str, inputs: dict[str, Any], path: str, fragment: str
) -> None:
    problems = refused(runtime, f"servicebay.{key}", inputs)
    assert any(p["path"] == path and fragment in p["message"] for p in problems), problems
    assert not vendor.requests


def test_update_checks_order_only_when_both_times_are_given(runtime: Runtime) -> None:
    for inputs in (
        {"ticketId": "t1", "endTime": "2020-01-01T00:00:00Z"},
        {"ticketId": "t1", "serviceTime": "2030-01-01T00:00:00Z"},
    ):
        preview = runtime.run_sync("servicebay.updateJob", inputs, SB_CONNECTION, dry_run=True)
        assert preview["json"] == {k: v for k, v in inputs.items() if k != "ticketId"}


# --- responses through the pipeline -------------------------------------------------------------


def ok(data: Any, status: int = 200) -> httpx2.Response:
    return httpx2.Response(
        status, json={"success": True, "data": data}, headers={"X-RateLimit-Remaining": "99"}
    )


def test_lookup_inventory_by_sku_returns_the_item_or_null(runtime: Runtime, vendor: FakeVendor) -> None:
    item = {"id": "i1", "itemName": "Valve", "sku": "V-1"}
    page = {"items": [item], "pagination": {"limit": 1, "hasMore": False, "nextCursor": None}}
    empty = {"items": [], "pagination": {"limit": 1, "hasMore": False, "nextCursor": None}}
    vendor.route("GET", f"{ORG}/inventory", ok(page), ok(empty))
    assert runtime.run_sync("servicebay.lookupInventoryBySku", {"sku": "V-1"}, SB_CONNECTION) == {
        "data": item
    }
    assert runtime.run_sync("servicebay.lookupInventoryBySku", {"sku": "V-2"}, SB_CONNECTION) == {
        "data": None
    }


def test_fetch_all_follows_the_cursor(runtime: Runtime, vendor: FakeVendor) -> None:
    pages = [
        ok(
            {
                "tickets": [{"id": "a"}, {"id": "b"}],
                "pagination": {"limit": 100, "hasMore": True, "nextCursor": "b"},
            }
        ),
        ok({"tickets": [{"id": "c"}], "pagination": {"limit": 100, "hasMore": False, "nextCursor": None}}),
    ]
    vendor.route("GET", f"{ORG}/tickets", *pages)
    result = runtime.run_sync("servicebay.listJobs", {"status": "Open", "fetchAll": True}, SB_CONNECTION)
    assert [t["id"] for t in result["data"]["tickets"]] == ["a", "b", "c"]
    assert result["data"]["pagination"] == {"limit": 100, "hasMore": False, "nextCursor": None}
    first, second = vendor.requests
    assert dict(first.url.params) == {"status": "Open", "limit": "100"}
    assert dict(second.url.params) == {"status": "Open", "limit": "100", "startAfter": "b"}


def test_vendor_error_keeps_status_and_message(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route(
        "PUT",
        f"{ORG}/invoices/i9",
        httpx2.Response(
            404, json={"success": False, "error": "Invoice not found"}, headers={"x-request-id": "r-1"}
        ),
    )
    with pytest.raises(Exception) as caught:
        runtime.run_sync("servicebay.updateInvoice", {"invoiceId": "i9", "paid": True}, SB_CONNECTION)
    error = caught.value
    assert (getattr(error, "status", None), getattr(error, "message", None)) == (404, "Invoice not found")
    assert getattr(error, "trace_id", None) == "r-1"
    assert json_body(vendor.requests[0]) == {"paid": True}
