"""The Homebase360 sandbox: the vendor's rules on the server, search and job-window semantics, seeded
data, timestamps on writes, and every Homebase360 definition end to end with its output schema."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2
import pytest

from component import catalog as catalog_module
from component.auth import TokenCache
from component.errors import BadRequestError, InputValidationError, NotFoundError
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox, doc_id
from component.sandbox.data import iso
from component.schemas import validator_for
from tests.conftest import FakeClock

TODAY = date(2026, 3, 2)
CATALOG = catalog_module.load()
CUSTOMER_0, JOB_0 = doc_id("customers", 0), doc_id("jobs", 0)
LINE = {"name": "Window Cleaning", "quantity": 1, "unitPrice": "150.00"}


class Clock:
    """The sandbox's wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def sandbox(clock: Clock) -> Sandbox:
    return Sandbox(today=TODAY, clock=clock)


@pytest.fixture
def runtime(sandbox: Sandbox) -> Runtime:
    return sandbox.runtime(catalog=CATALOG, tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock())


def raw(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> httpx2.Response:
    """One request straight to the sandbox, past every client-side check."""
    headers = {"x-api-key": sandbox.connection("homebase360")["apiKey"], **kwargs.pop("headers", {})}

    async def send() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=sandbox.transport()) as client:
            return await client.request(
                method, f"http://homebase360.sandbox/api/v1{path}", headers=headers, **kwargs
            )

    return asyncio.run(send())


def run(runtime: Runtime, sandbox: Sandbox, action: str, inputs: dict[str, Any]) -> Any:
    return runtime.run_sync(f"homebase360.{action}", inputs, sandbox.connection("homebase360"))["data"]


def picklist(runtime: Runtime, sandbox: Sandbox, source: str, inputs: dict[str, Any]) -> Any:
    return runtime.picklist_sync(f"homebase360.{source}", inputs, sandbox.connection("homebase360"))


# --- the server enforces the vendor's rules --------------------------------------------------------

GOOD_CUSTOMER = {"firstName": "Ann", "phone": {"mobile": "+13035550101"}}
GOOD_JOB = {"customerId": CUSTOMER_0, "start": "2026-03-03T15:00:00Z", "end": "2026-03-03T17:00:00Z"}
SERVER_RULES = [
    ("POST", "/customers", {"phone": {"mobile": "+13035550101"}}, 400, "firstName or lastName is required"),
    ("POST", "/customers", {"lastName": "Lee", "phone": {"home": ""}, "email": [""]}, 400, "contact method"),
    ("POST", "/customers", {**GOOD_CUSTOMER, "phone": {"mobile": "3035550101"}}, 400, "phone.mobile"),
    ("POST", "/customers", {**GOOD_CUSTOMER, "phone": {"fax": "+13035550101"}}, 400, "phone key: fax"),
    ("POST", "/customers", {**GOOD_CUSTOMER, "email": ["ann@"]}, 400, "Invalid email format: ann@"),
    ("POST", "/customers", {**GOOD_CUSTOMER, "nickname": "A"}, 400, "Unknown field: nickname"),
    ("PATCH", f"/customers/{CUSTOMER_0}", {"phone": {"work": "+4420"}}, 400, "phone.work"),
    ("PATCH", "/customers/nobody", {"notes": "x"}, 404, "not found"),
    ("POST", "/jobs", {**GOOD_JOB, "lineItems": []}, 400, "lineItems must be a non-empty array"),
    (
        "POST",
        "/jobs",
        {**GOOD_JOB, "lineItems": [{**LINE, "name": ""}]},
        400,
        "lineItems[0].name is required",
    ),
    ("POST", "/jobs", {**GOOD_JOB, "lineItems": [{**LINE, "quantity": 0}]}, 400, "lineItems[0].quantity"),
    ("POST", "/jobs", {**GOOD_JOB, "lineItems": [{**LINE, "unitPrice": 150}]}, 400, "lineItems[0].unitPrice"),
    (
        "POST",
        "/jobs",
        {**GOOD_JOB, "lineItems": [{**LINE, "taxRate": {"name": "Std", "rate": "7"}}]},
        400,
        "lineItems[0].taxRate.rate",
    ),
    (
        "POST",
        "/jobs",
        {**GOOD_JOB, "end": GOOD_JOB["start"], "lineItems": [LINE]},
        400,
        "end must be after start",
    ),
    (
        "POST",
        "/jobs",
        {**GOOD_JOB, "start": "2026-03-03", "lineItems": [LINE]},
        400,
        "start must be an ISO 8601",
    ),
    (
        "POST",
        "/jobs",
        {**GOOD_JOB, "lineItems": [LINE], "leadSource": {"online": True, "direct": True}},
        400,
        "only one of online, direct, or other",
    ),
    ("POST", "/jobs", {**GOOD_JOB, "customerId": "nobody", "lineItems": [LINE]}, 404, "Customer not found"),
    ("PATCH", f"/jobs/{JOB_0}", {"lineItems": [LINE]}, 400, "Unknown field: lineItems"),
    ("PATCH", f"/jobs/{JOB_0}", {"start": "2099-01-01T00:00:00Z"}, 400, "end must be after start"),
    ("PATCH", "/jobs/nobody", {"note": "x"}, 404, "not found"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), SERVER_RULES)
def test_the_server_refuses_what_the_vendor_refuses(
    sandbox: Sandbox, method: str, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    response = raw(sandbox, method, path, json=body)
    assert response.status_code == status
    assert response.json()["success"] is False and message in response.json()["error"]


def test_a_request_without_the_key_is_unauthorized(sandbox: Sandbox) -> None:
    response = raw(sandbox, "GET", "/ping", headers={"x-api-key": "wrong"})
    assert response.status_code == 401 and response.json() == {
        "success": False,
        "error": "Unauthorized: missing or invalid API key",
    }


# --- customer search -------------------------------------------------------------------------------


def test_search_ors_its_criteria_and_customer_id_overrides(runtime: Runtime, sandbox: Sandbox) -> None:
    one, two = (
        run(runtime, sandbox, "searchCustomers", {"customerId": doc_id("customers", n)}) for n in (1, 2)
    )
    assert len(one) == len(two) == 1
    both = run(
        runtime, sandbox, "searchCustomers", {"phone": one[0]["phone"]["mobile"], "email": two[0]["email"][0]}
    )
    assert {c["customerId"] for c in both} == {one[0]["customerId"], two[0]["customerId"]}
    overridden = run(
        runtime, sandbox, "searchCustomers", {"customerId": one[0]["customerId"], "email": two[0]["email"][0]}
    )
    assert [c["customerId"] for c in overridden] == [one[0]["customerId"]]
    mixed = run(
        runtime,
        sandbox,
        "searchCustomers",
        {"identifiers": [CUSTOMER_0, two[0]["email"][0].upper(), one[0]["phone"]["mobile"]]},
    )
    assert {c["customerId"] for c in mixed} == {CUSTOMER_0, one[0]["customerId"], two[0]["customerId"]}


def test_search_without_criteria_is_empty_and_limits_are_enforced(sandbox: Sandbox) -> None:
    assert raw(sandbox, "GET", "/customers").json() == {"success": True, "data": []}
    assert raw(sandbox, "GET", "/customers", params={"customerId": "nobody"}).json()["data"] == []
    assert raw(sandbox, "GET", "/customers", params={"phone": "3038286690"}).status_code == 400
    assert raw(sandbox, "GET", "/customers", params={"email": "x@y.co", "limit": 101}).status_code == 400
    many = ",".join(f"id{n}" for n in range(101))
    assert "at most 100" in raw(sandbox, "GET", "/customers", params={"identifiers": many}).json()["error"]


def test_a_few_thousand_customers_are_seeded(sandbox: Sandbox) -> None:
    customers = sandbox["homebase360"].state.partition("sandbox-business")["customers"]
    assert len(customers) == 3_000
    john = customers.get(CUSTOMER_0)
    assert john is not None and (john["displayName"], john["phone"]["mobile"]) == (
        "John Smith",
        "+13038286690",
    )


# --- jobs --------------------------------------------------------------------------------------------


def test_jobs_default_to_today_in_start_order(runtime: Runtime, sandbox: Sandbox) -> None:
    jobs = run(runtime, sandbox, "getJobs", {"limit": 100})
    starts = [job["start"] for job in jobs]
    assert len(jobs) == 100 and starts == sorted(starts)
    assert all(start.startswith(TODAY.isoformat()) for start in starts)
    assert len(run(runtime, sandbox, "getJobs", {})) == 50  # the vendor's default limit


def test_a_job_window_is_inclusive_and_a_job_id_overrides_it(runtime: Runtime, sandbox: Sandbox) -> None:
    first = run(runtime, sandbox, "getJobs", {"jobId": JOB_0})[0]
    exact = {"startDate": first["start"], "endDate": first["start"], "limit": 100}
    assert first["jobId"] in {job["jobId"] for job in run(runtime, sandbox, "getJobs", exact)}
    later = {"jobId": JOB_0, "startDate": "2099-01-01T00:00:00Z"}
    assert [job["jobId"] for job in run(runtime, sandbox, "getJobs", later)] == [JOB_0]
    assert run(runtime, sandbox, "getJobs", {"jobId": "nobody"}) == []


def test_twelve_thousand_jobs_spread_around_today(sandbox: Sandbox) -> None:
    jobs = sandbox["homebase360"].state.partition("sandbox-business")["jobs"].all()
    assert len(jobs) >= 12_000
    days = {job["start"][:10] for job in jobs[:12_000]}
    low, high = (TODAY + timedelta(days=d) for d in (-15, 15))
    assert min(days) == low.isoformat() and max(days) == high.isoformat() and len(days) == 31


# --- writes keep their timestamps ----------------------------------------------------------------------


def test_writes_keep_date_added_and_last_updated(runtime: Runtime, sandbox: Sandbox, clock: Clock) -> None:
    created_at = clock.now = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    inputs = {"firstName": "Zed", "lastName": "Quill", "email": ["zed.quill@example.com"]}
    customer_id = run(runtime, sandbox, "createCustomer", inputs)["customerId"]
    (found,) = run(runtime, sandbox, "searchCustomers", {"email": "zed.quill@example.com"})
    assert found["customerId"] == customer_id and found["displayName"] == "Zed Quill"
    assert found["dateAdded"] == found["lastUpdated"] == iso(created_at)

    updated_at = clock.now = created_at + timedelta(minutes=5)
    assert run(runtime, sandbox, "updateCustomer", {"customerId": customer_id, "lastName": "Quinn"}) == {
        "message": "Customer updated"
    }
    (found,) = run(runtime, sandbox, "searchCustomers", {"customerId": customer_id})
    assert (found["displayName"], found["dateAdded"], found["lastUpdated"]) == (
        "Zed Quinn",
        iso(created_at),
        iso(updated_at),
    )

    job = {
        "customerId": customer_id,
        "start": "2026-03-04T15:00:00Z",
        "end": "2026-03-04T16:00:00Z",
        "lineItems": [LINE],
    }
    job_id = run(runtime, sandbox, "createJob", job)["jobId"]
    moved_at = clock.now = updated_at + timedelta(minutes=5)
    run(runtime, sandbox, "updateJob", {"jobId": job_id, "end": "2026-03-04T18:00:00Z"})
    (stored,) = run(runtime, sandbox, "getJobs", {"jobId": job_id})
    assert (stored["start"], stored["end"]) == ("2026-03-04T15:00:00.000000Z", "2026-03-04T18:00:00.000000Z")
    assert (stored["dateAdded"], stored["lastUpdated"]) == (iso(updated_at), iso(moved_at))
    assert stored["customer"]["displayName"] == "Zed Quinn" and stored["createdById"]


def test_update_job_with_one_time_is_checked_against_the_stored_job(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    (job,) = run(runtime, sandbox, "getJobs", {"jobId": JOB_0})
    before = (datetime.fromisoformat(job["start"]) - timedelta(hours=1)).isoformat()
    with pytest.raises(InputValidationError) as caught:
        run(runtime, sandbox, "updateJob", {"jobId": JOB_0, "end": before})
    assert caught.value.problems == [
        {"path": "$.end", "message": f"must be after start (the current start is {job['start']})"}
    ]
    assert run(runtime, sandbox, "getJobs", {"jobId": JOB_0})[0]["end"] == job["end"]  # nothing was written


def test_vendor_refusals_keep_status_and_message(runtime: Runtime, sandbox: Sandbox) -> None:
    job = {
        "customerId": "nobody-here",
        "start": "2026-03-04T15:00:00Z",
        "end": "2026-03-04T16:00:00Z",
        "lineItems": [LINE],
    }
    with pytest.raises(NotFoundError, match="Customer not found"):
        run(runtime, sandbox, "createJob", job)
    with pytest.raises(BadRequestError, match="end must be after start") as caught:
        run(
            runtime,
            sandbox,
            "rawRequest",
            {"method": "PATCH", "path": f"/jobs/{JOB_0}", "json": {"start": "2099-01-01T00:00:00Z"}},
        )
    assert caught.value.status == 400


# --- picklists ------------------------------------------------------------------------------------------


def test_select_job_offers_todays_jobs_and_says_when_more_exist(runtime: Runtime, sandbox: Sandbox) -> None:
    today = picklist(runtime, sandbox, "selectJob", {})
    assert len(today["result"]) == 100 and today["truncated"] is True
    assert all(", 2026-03-02T" in entry["label"] for entry in today["result"])
    hour = {"startDate": "2026-03-02T13:00:00Z", "endDate": "2026-03-02T13:00:00Z"}
    narrow = picklist(runtime, sandbox, "selectJob", hour)
    assert 0 < len(narrow["result"]) < 100 and narrow["truncated"] is False


def test_select_customer_labels_with_phone_or_email(runtime: Runtime, sandbox: Sandbox) -> None:
    landline = run(runtime, sandbox, "searchCustomers", {"customerId": doc_id("customers", 9)})[0]
    found = picklist(runtime, sandbox, "selectCustomer", {"search": landline["email"][0]})
    assert found == {
        "result": [
            {"key": landline["customerId"], "label": f"{landline['displayName']} ({landline['email'][0]})"}
        ],
        "truncated": False,
    }
    john = picklist(runtime, sandbox, "selectCustomer", {"search": "+13038286690"})["result"]
    assert {"key": CUSTOMER_0, "label": "John Smith (+13038286690)"} in john


# --- every action's answer fits its output schema ------------------------------------------------------

ACTIONS = sorted(CATALOG.connectors["homebase360"].definitions["actions"].values(), key=lambda d: d.key)


@pytest.mark.parametrize("definition", ACTIONS, ids=[d.key for d in ACTIONS])
def test_answers_fit_the_output_schema(runtime: Runtime, sandbox: Sandbox, definition: Any) -> None:
    assert definition.model.output is not None
    for example in definition.model.examples:
        data = run(runtime, sandbox, definition.key, example)
        assert validator_for(definition.model.output).problems(data) == [], definition.ref
        if isinstance(data, list):
            assert data, f"{definition.ref}: the example found nothing"


def test_a_lone_start_date_runs_to_the_end_of_its_day(runtime: Runtime, sandbox: Sandbox) -> None:
    jobs = run(runtime, sandbox, "getJobs", {"startDate": "2026-03-03T20:00:00Z", "limit": 100})
    assert jobs and all(
        "2026-03-03T20:00:00" <= job["start"] <= "2026-03-03T23:59:59.999999Z" for job in jobs
    )
