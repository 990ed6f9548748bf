"""Homebase360 definitions: the requests they send, the vendor's rules, the updateJob prefetch, picklists."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx2
import pytest

from component.errors import InputValidationError, NotFoundError
from component.runtime import Runtime
from tests.conftest import HB_API, HB_CONNECTION, HB_KEY, FakeVendor, json_body

CUSTOMER = {
    "firstName": "Jane",
    "lastName": "Doe",
    "phone": {"mobile": "+13035550101", "home": ""},
    "email": ["jane@example.com"],
}
LINE = {
    "name": "Window Cleaning",
    "quantity": 1,
    "unitPrice": "150.00",
    "taxRate": {"name": "Std", "rate": "7.00"},
}
JOB = {
    "customerId": "cust-1",
    "start": "2026-03-02T14:00:00Z",
    "end": "2026-03-02T16:00:00Z",
    "lineItems": [LINE],
}


def ok(data: Any) -> httpx2.Response:
    return httpx2.Response(200, json={"success": True, "data": data})


def dry(runtime: Runtime, ref: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return runtime.run_sync(f"homebase360.{ref}", inputs, HB_CONNECTION, dry_run=True)


# --- the requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "inputs", "method", "path", "query", "body"),
    [
        ("ping", {}, "GET", "/ping", {}, None),
        (
            "searchCustomers",
            {"customerId": "c1"},
            "GET",
            "/customers",
            {"customerId": "c1", "limit": 25},
            None,
        ),
        (
            "searchCustomers",
            {"email": "a@b.co", "phone": "+13038286690", "limit": 100},
            "GET",
            "/customers",
            {"email": "a@b.co", "phone": "+13038286690", "limit": 100},
            None,
        ),
        ("createCustomer", CUSTOMER, "POST", "/customers", {}, CUSTOMER),
        (
            "updateCustomer",
            {"customerId": "c 1", "notes": "gate 12", "tags": []},  # an empty list is a form's untouched list
            "PATCH",
            "/customers/c%201",
            {},
            {"notes": "gate 12"},
        ),
        ("getJobs", {}, "GET", "/jobs", {"limit": 50}, None),
        ("getJobs", {"jobId": "j1"}, "GET", "/jobs", {"jobId": "j1", "limit": 50}, None),
        (
            "getJobs",
            {"startDate": "2026-03-01T00:00:00Z", "endDate": "2026-03-01T23:59:59Z", "limit": 10},
            "GET",
            "/jobs",
            {"startDate": "2026-03-01T00:00:00Z", "endDate": "2026-03-01T23:59:59Z", "limit": 10},
            None,
        ),
        ("createJob", {**JOB, "note": "call first"}, "POST", "/jobs", {}, {**JOB, "note": "call first"}),
        ("updateJob", {"jobId": "j1", "note": "later"}, "PATCH", "/jobs/j1", {}, {"note": "later"}),
        (
            "updateJob",
            {"jobId": "j1", "start": JOB["start"], "end": JOB["end"]},
            "PATCH",
            "/jobs/j1",
            {},
            {"start": JOB["start"], "end": JOB["end"]},
        ),
        ("rawRequest", {"path": "/ping"}, "GET", "/ping", {}, None),
    ],
)
def test_dry_run_shows_the_request(
    runtime: Runtime,
    vendor: FakeVendor,
    ref: str,
    inputs: dict[str, Any],
    method: str,
    path: str,
    query: dict[str, Any],
    body: Any,
) -> None:
    preview = dry(runtime, ref, inputs)
    assert (preview["method"], preview["url"], preview["query"]) == (method, HB_API + path, query)
    assert preview.get("json") == body
    assert preview["headers"]["x-api-key"] == "***"
    assert "prefetch" not in preview
    assert vendor.requests == []


def test_every_action_sends_what_its_dry_run_shows(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route("POST", f"{HB_API}/jobs", ok({"jobId": "j9"}))
    assert runtime.run_sync("homebase360.createJob", JOB, HB_CONNECTION) == {"data": {"jobId": "j9"}}
    (sent,) = vendor.requests
    assert json_body(sent) == JOB and sent.headers["x-api-key"] == HB_KEY


# --- the vendor's rules ---------------------------------------------------------------------------


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``base`` with ``path`` (dotted, list indexes as digits) set to ``value``, or removed for ...."""
    out = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is ...:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


RULES = [
    # createCustomer: a name, a contact method, phones, emails
    (
        "createCustomer",
        _with(_with(CUSTOMER, "firstName", ...), "lastName", ""),
        "$",
        "give a firstName or a lastName",
    ),
    ("createCustomer", {"firstName": "Jane"}, "$", "and a contact method"),
    ("createCustomer", {**CUSTOMER, "phone": {"mobile": ""}, "email": [""]}, "$", "and a contact method"),
    ("createCustomer", {"lastName": "Doe", "phone": {"home": "", "work": ""}}, "$", "and a contact method"),
    ("createCustomer", _with(CUSTOMER, "phone.mobile", "3035550101"), "$.phone.mobile", "+1 and a ten-digit"),
    ("createCustomer", _with(CUSTOMER, "phone.work", "+4420794600"), "$.phone.work", "(E.164)"),
    (
        "createCustomer",
        _with(CUSTOMER, "phone.fax", "+13035550101"),
        "$.phone.fax",
        "only mobile, home, work",
    ),
    ("createCustomer", _with(CUSTOMER, "email", ["jane@"]), "$.email[0]", "valid email address"),
    ("createCustomer", _with(CUSTOMER, "email", ["jane example.com"]), "$.email[0]", "valid email address"),
    ("updateCustomer", {"customerId": "c1"}, "$", "at least one field to change"),
    ("updateCustomer", {"customerId": "c1", "phone": {"pager": ""}}, "$.phone.pager", "only mobile, home"),
    ("updateCustomer", {"customerId": "c1", "email": ["x@y"]}, "$.email[0]", "valid email address"),
    ("searchCustomers", {}, "$", "without criteria Homebase360 returns nothing"),
    ("searchCustomers", {"phone": "+1303828669"}, "$.phone", "+1 and a ten-digit"),
    ("searchCustomers", {"email": "nobody"}, "$.email", "valid email address"),
    (
        "searchCustomers",
        {"customerId": "c", "limit": 101},
        "$.limit",
        "101 is greater than the maximum of 100",
    ),
    # jobs: end after start, line items, prices, tax rates, lead source
    ("createJob", _with(JOB, "end", JOB["start"]), "$.end", "must be after start"),
    ("createJob", _with(JOB, "end", "2026-03-02T08:00:00-05:00"), "$.end", "must be after start"),
    ("createJob", _with(JOB, "lineItems", []), "$.lineItems", "give at least one line item"),
    ("createJob", _with(JOB, "lineItems.0.name", ...), "$.lineItems[0].name", "is required"),
    ("createJob", _with(JOB, "lineItems.0.quantity", ...), "$.lineItems[0].quantity", "is required"),
    (
        "createJob",
        _with(JOB, "lineItems.0.unitPrice", 150),
        "$.lineItems[0].unitPrice",
        "is not of type 'string'",
    ),
    ("createJob", _with(JOB, "lineItems.0.unitPrice", "150"), "$.lineItems[0].unitPrice", '"150.00"'),
    ("createJob", _with(JOB, "lineItems.0.unitPrice", "1.5"), "$.lineItems[0].unitPrice", '"150.00"'),
    ("createJob", _with(JOB, "lineItems.0.taxRate.rate", "7%"), "$.lineItems[0].taxRate.rate", '"7.00"'),
    ("createJob", _with(JOB, "lineItems.0.taxRate.name", ...), "$.lineItems[0].taxRate.name", "is required"),
    ("createJob", {**JOB, "leadSource": {"online": True, "other": True}}, "$.leadSource", "at most one of"),
    ("createJob", {**JOB, "leadSource": {"referral": True}}, "$.leadSource.referral", "is not a known field"),
    ("createJob", _with(JOB, "customerId", ...), "$.customerId", "is required"),
    ("createJob", _with(JOB, "start", "2026-03-02 14:00"), "$.start", "is not a 'date-time'"),
    ("updateJob", {"jobId": "j1"}, "$", "give start, end or note"),
    ("updateJob", {"jobId": "j1", "start": JOB["end"], "end": JOB["start"]}, "$.end", "must be after start"),
    ("getJobs", {"limit": 500}, "$.limit", "greater than the maximum of 100"),
    ("getJobs", {"startDate": "today"}, "$.startDate", "is not a 'date-time'"),
]


@pytest.mark.parametrize(("ref", "inputs", "path", "message"), RULES)
def test_each_rule_names_the_field_and_sends_nothing(
    runtime: Runtime, vendor: FakeVendor, ref: str, inputs: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_sync(f"homebase360.{ref}", inputs, HB_CONNECTION)
    assert any(p["path"] == path and message in p["message"] for p in caught.value.problems), (
        caught.value.problems
    )
    assert vendor.requests == []


@pytest.mark.parametrize(
    "inputs",
    [
        {"lastName": "Doe", "email": ["", "jane@example.com"]},  # empty strings are allowed beside a real one
        {"firstName": "Jane", "phone": {"mobile": "", "work": "+13035550199"}},
        {"firstName": "Jane", "phone": {"mobile": "+13035550101"}, "email": [""]},
    ],
)
def test_customers_with_a_name_and_one_contact_method_pass(runtime: Runtime, inputs: dict[str, Any]) -> None:
    assert dry(runtime, "createCustomer", inputs)["json"] == inputs


def test_a_lead_source_with_one_true_flag_passes(runtime: Runtime) -> None:
    lead = {"online": False, "direct": True, "other": False}
    assert dry(runtime, "createJob", {**JOB, "leadSource": lead})["json"]["leadSource"] == lead


# --- updateJob: the existing job completes the start/end pair ------------------------------------

EXISTING = {"jobId": "j1", "start": "2026-03-02T14:00:00Z", "end": "2026-03-02T16:00:00Z", "note": "old"}


def _existing_job(vendor: FakeVendor, jobs: list[dict[str, Any]] | None = None) -> None:
    vendor.route("GET", f"{HB_API}/jobs", ok([EXISTING] if jobs is None else jobs))
    vendor.route("PATCH", f"{HB_API}/jobs/j1", ok({"message": "Job updated"}))


def test_a_lone_end_is_checked_against_the_jobs_start_and_sent_alone(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    _existing_job(vendor)
    done = runtime.run_sync(
        "homebase360.updateJob", {"jobId": "j1", "end": "2026-03-02T18:00:00Z"}, HB_CONNECTION
    )
    assert done == {"data": {"message": "Job updated"}}
    fetch, patch = vendor.requests
    assert (fetch.method, dict(fetch.url.params)) == ("GET", {"jobId": "j1"})
    assert fetch.headers["x-api-key"] == HB_KEY
    assert (patch.method, json_body(patch)) == ("PATCH", {"end": "2026-03-02T18:00:00Z"})


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (
            {"end": "2026-03-02T13:00:00Z"},
            {"path": "$.end", "message": "must be after start (the current start is 2026-03-02T14:00:00Z)"},
        ),
        (
            {"start": "2026-03-02T16:00:00Z"},
            {"path": "$.start", "message": "must be before end (the current end is 2026-03-02T16:00:00Z)"},
        ),
    ],
)
def test_a_lone_time_on_the_wrong_side_of_the_jobs_other_is_refused_before_the_update(
    runtime: Runtime, vendor: FakeVendor, given: dict[str, str], problem: dict[str, str]
) -> None:
    _existing_job(vendor)
    with pytest.raises(InputValidationError) as caught:
        runtime.run_sync("homebase360.updateJob", {"jobId": "j1", **given}, HB_CONNECTION)
    assert caught.value.problems == [problem]
    assert [r.method for r in vendor.requests] == ["GET"]


def test_an_unknown_job_leaves_the_answer_to_the_vendor(runtime: Runtime, vendor: FakeVendor) -> None:
    _existing_job(vendor, jobs=[])
    vendor.route(
        "PATCH", f"{HB_API}/jobs/j1", httpx2.Response(404, json={"success": False, "error": "Job not found"})
    )
    with pytest.raises(NotFoundError, match="Job not found"):
        runtime.run_sync(
            "homebase360.updateJob", {"jobId": "j1", "start": "2026-03-02T15:00:00Z"}, HB_CONNECTION
        )
    assert [r.method for r in vendor.requests] == ["GET", "PATCH"]


@pytest.mark.parametrize(
    "inputs",
    [
        {"jobId": "j1", "note": "n"},
        {"jobId": "j1", "start": EXISTING["start"], "end": "2026-03-02T17:00:00Z"},
    ],
)
def test_no_fetch_when_both_or_neither_time_is_given(
    runtime: Runtime, vendor: FakeVendor, inputs: dict[str, Any]
) -> None:
    _existing_job(vendor)
    runtime.run_sync("homebase360.updateJob", inputs, HB_CONNECTION)
    assert [r.method for r in vendor.requests] == ["PATCH"]


def test_dry_run_shows_the_fetch_that_would_come_first(runtime: Runtime, vendor: FakeVendor) -> None:
    preview = dry(runtime, "updateJob", {"jobId": "j 1", "start": "2026-03-02T15:00:00Z"})
    assert (preview["method"], preview["url"], preview["json"]) == (
        "PATCH",
        f"{HB_API}/jobs/j%201",
        {"start": "2026-03-02T15:00:00Z"},
    )
    assert preview["prefetch"]["method"] == "GET"
    assert preview["prefetch"]["query"] == {"jobId": "j 1"}
    assert preview["prefetch"]["headers"]["x-api-key"] == "***"
    assert HB_KEY not in json.dumps(preview) and vendor.requests == []


# --- picklists ----------------------------------------------------------------------------------


def test_select_customer_labels_name_with_phone_or_email(runtime: Runtime, vendor: FakeVendor) -> None:
    customers = [
        {
            "customerId": "c1",
            "displayName": "John Smith",
            "phone": {"mobile": "+13038286690"},
            "email": ["j@x.co"],
        },
        {"customerId": "c2", "displayName": "Ann Lee", "phone": {"mobile": ""}, "email": ["ann@x.co"]},
        {"customerId": "c1", "displayName": "John Smith (again)"},
    ]
    vendor.route("GET", f"{HB_API}/customers", ok(customers))
    got = runtime.picklist_sync("homebase360.selectCustomer", {"search": "ann@x.co"}, HB_CONNECTION)
    assert got == {
        "result": [
            {"key": "c1", "label": "John Smith (+13038286690)"},
            {"key": "c2", "label": "Ann Lee (ann@x.co)"},
        ],
        "truncated": False,
    }
    assert dict(vendor.requests[0].url.params) == {"identifiers": "ann@x.co", "limit": "100"}


def test_select_customer_needs_a_search_term(runtime: Runtime, vendor: FakeVendor) -> None:
    with pytest.raises(InputValidationError, match="search"):
        runtime.picklist_sync("homebase360.selectCustomer", {}, HB_CONNECTION)
    assert vendor.requests == []


def test_select_job_labels_customer_and_start(runtime: Runtime, vendor: FakeVendor) -> None:
    jobs = [{"jobId": "j1", "start": "2026-03-02T14:00:00Z", "customer": {"displayName": "John Smith"}}]
    vendor.route("GET", f"{HB_API}/jobs", ok(jobs))
    window = {"startDate": "2026-03-02T00:00:00Z", "endDate": "2026-03-02T23:59:59Z"}
    got = runtime.picklist_sync("homebase360.selectJob", window, HB_CONNECTION)
    assert got["result"] == [{"key": "j1", "label": "John Smith, 2026-03-02T14:00:00Z"}]
    assert dict(vendor.requests[0].url.params) == {**window, "limit": "100"}


@pytest.mark.parametrize(("count", "truncated"), [(99, False), (100, True)])
def test_a_full_answer_is_marked_truncated(
    runtime: Runtime, vendor: FakeVendor, count: int, truncated: bool
) -> None:
    jobs = [
        {"jobId": f"j{n}", "start": "2026-03-02T14:00:00Z", "customer": {"displayName": "C"}}
        for n in range(count)
    ]
    vendor.route("GET", f"{HB_API}/jobs", ok(jobs))
    got = runtime.picklist_sync("homebase360.selectJob", {}, HB_CONNECTION)
    assert (len(got["result"]), got["truncated"]) == (count, truncated)


def test_a_customer_update_drops_cached_job_and_customer_picklists(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    vendor.route("GET", f"{HB_API}/jobs", ok([{"jobId": "j1", "customer": {"displayName": "A"}}]))
    vendor.route("GET", f"{HB_API}/customers", ok([{"customerId": "c1", "displayName": "A"}]))
    vendor.route("PATCH", f"{HB_API}/customers/c1", ok({"message": "Customer updated"}))

    async def scenario() -> list[str]:
        async with runtime:
            for _ in range(2):
                await runtime.picklist("homebase360.selectJob", {}, HB_CONNECTION)
                await runtime.picklist("homebase360.selectCustomer", {"search": "c1"}, HB_CONNECTION)
            await runtime.run(
                "homebase360.updateCustomer", {"customerId": "c1", "lastName": "B"}, HB_CONNECTION
            )
            await runtime.picklist("homebase360.selectJob", {}, HB_CONNECTION)
            await runtime.picklist("homebase360.selectCustomer", {"search": "c1"}, HB_CONNECTION)
        return [f"{r.method} {r.url.path.rsplit('/', 1)[-1]}" for r in vendor.requests]

    assert asyncio.run(scenario()) == ["GET jobs", "GET customers", "PATCH c1", "GET jobs", "GET customers"]
