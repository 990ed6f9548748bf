"""The ServiceTitan sandbox behaves like the vendor: pages and filters, validation and not-found errors,
and the side effects of writes (a job's appointments, assignments and invoice; cancellation; invoice
items and totals; contacts; attachments)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from component.sandbox import CREDENTIALS, Sandbox
from component.sandbox.servicetitan import CLIENTS, OTHER_TENANT, TENANT

API = "http://api.servicetitan.sandbox"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START, END = "2026-12-01T15:00:00Z", "2026-12-01T17:00:00Z"
JOB = {
    "customerId": 100011,
    "locationId": 200011,
    "businessUnitId": 1002,
    "jobTypeId": 2002,
    "priority": "Normal",
    "campaignId": 3002,
    "appointments": [
        {"start": START, "end": END, "technicianIds": [4001, 4002]},
        {"start": "2026-12-02T15:00:00Z", "end": "2026-12-02T17:00:00Z"},
    ],
}


class Client:
    """Plain HTTP calls to the in-process sandbox as one tenant."""

    def __init__(self, sandbox: Sandbox, tenant: str = TENANT) -> None:
        self.sandbox = sandbox
        self.tenant = tenant
        client_id = next(key for key, (_, owner) in CLIENTS.items() if owner == tenant)
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": CLIENTS[client_id][0],
        }
        token = self._send("POST", "http://auth.servicetitan.sandbox/connect/token", data=form).json()
        self.headers = {
            "Authorization": f"Bearer {token['access_token']}",
            "ST-App-Key": CREDENTIALS["servicetitan"]["applicationKey"],
        }

    def _send(self, method: str, url: str, **options: Any) -> httpx2.Response:
        async def send() -> httpx2.Response:
            async with httpx2.AsyncClient(transport=self.sandbox.transport()) as client:
                return await client.request(method, url, **options)

        return asyncio.run(send())

    def __call__(self, method: str, module: str, path: str, status: int = 200, **options: Any) -> Any:
        url = f"{API}/{module}/v2/tenant/{self.tenant}{path}"
        response = self._send(method, url, headers=self.headers, **options)
        assert response.status_code == status, response.text
        return (
            response.json() if response.content and "json" in response.headers["content-type"] else response
        )

    def page(self, module: str, path: str, **query: Any) -> list[dict[str, Any]]:
        return list(self("GET", module, path, params=query)["data"])


@pytest.fixture(scope="module")
def st() -> Client:
    """The first tenant, shared by the tests below (each writes to records of its own)."""
    return Client(Sandbox(clock=lambda: NOW, rate_limits={"servicetitan": None}))


@pytest.fixture(scope="module")
def small() -> Client:
    """The second tenant: a hundredth of the data, quick to list in full."""
    return Client(Sandbox(rate_limits={"servicetitan": None}), OTHER_TENANT)


# --- lists ----------------------------------------------------------------------------------------------


def test_pages_totals_and_limits(small: Client) -> None:
    first = small("GET", "jpm", "/jobs", params={"pageSize": 50, "includeTotal": "true"})
    assert first["totalCount"] == 120 and first["hasMore"] is True and len(first["data"]) == 50
    last = small("GET", "jpm", "/jobs", params={"pageSize": 50, "page": 3})
    assert last["totalCount"] is None and last["hasMore"] is False and len(last["data"]) == 20
    assert small("GET", "jpm", "/jobs", params={"page": 9})["data"] == []
    error = small("GET", "jpm", "/jobs", 400, params={"pageSize": 5001})
    assert (
        set(error) == {"type", "title", "status", "traceId", "errors", "data"}
        and "pageSize" in error["errors"]
    )
    too_many = ",".join(str(400001 + n) for n in range(51))
    assert "ids" in small("GET", "jpm", "/jobs", 400, params={"ids": too_many})["errors"]


@pytest.mark.parametrize(
    ("module", "path"),
    [
        ("jpm", "/jobs"),
        ("jpm", "/appointments"),
        ("jpm", "/projects"),
        ("accounting", "/invoices"),
        ("accounting", "/payments"),
        ("crm", "/customers"),
        ("crm", "/locations"),
        ("equipmentsystems", "/installed-equipment"),
    ],
)
def test_changes_since_a_moment_oldest_first(small: Client, module: str, path: str) -> None:
    """What the New and Updated Records trigger asks: modifiedOnOrAfter with sort=+ModifiedOn."""
    everything = small.page(module, path, pageSize=5000)
    stamps = sorted(record["modifiedOn"] for record in everything)
    since = stamps[len(stamps) // 2]
    changed = small.page(module, path, modifiedOnOrAfter=since, sort="+ModifiedOn", pageSize=5000)
    assert [r["modifiedOn"] for r in changed] == sorted(s for s in stamps if s >= since)
    newest = small.page(module, path, sort="-ModifiedOn", pageSize=1)[0]
    assert newest["modifiedOn"] == stamps[-1]


def test_sort_fields_are_those_the_spec_lists(small: Client) -> None:
    ids = [job["id"] for job in small.page("jpm", "/jobs", sort="-Id", pageSize=3)]
    assert ids == [400120, 400119, 400118]
    assert small.page("jpm", "/projects", sort="+Name", pageSize=1)
    error = small("GET", "jpm", "/appointments", 400, params={"sort": "+Priority"})
    assert "sort" in error["errors"] and "ModifiedOn" in error["title"]


def test_active_filters_and_their_defaults(small: Client) -> None:
    technicians = small.page("settings", "/technicians", active="Any", pageSize=100)
    assert small.page("settings", "/technicians") == [t for t in technicians if t["active"]]
    reasons = small.page("jpm", "/job-cancel-reasons")  # active and inactive by default
    assert reasons == small.page("jpm", "/job-cancel-reasons", active="Any")
    assert small.page("accounting", "/payments", activeState="InactiveOnly") == []
    assert (
        "activeState" in small("GET", "accounting", "/payments", 400, params={"activeState": "Yes"})["errors"]
    )
    assert "active" in small("GET", "settings", "/technicians", 400, params={"active": "maybe"})["errors"]
    late = small("GET", "jpm", "/jobs", 400, params={"modifiedOnOrAfter": "last tuesday"})
    assert late["errors"] == {"modifiedOnOrAfter": ["The value 'last tuesday' is not valid."]}


def test_list_filters_on_lists_and_amounts(small: Client) -> None:
    paying = small.page("accounting", "/payments", appliedToInvoiceIds="700002,700004")
    assert [p["id"] for p in paying] == [900002, 900004]
    managed = small.page("jpm", "/projects", projectManagerIds="4002", pageSize=200)
    assert managed and all(4002 in p["projectManagerIds"] for p in managed)
    big = small.page("accounting", "/invoices", totalGreater="1000", pageSize=200)
    assert big and all(float(i["total"]) > 1000 for i in big)
    assert "totalLess" in small("GET", "accounting", "/invoices", 400, params={"totalLess": "lots"})["errors"]


def test_related_seeded_records_agree(st: Client) -> None:
    job = st("GET", "jpm", "/jobs/400002")
    assert (job["customerId"], job["locationId"], job["invoiceId"]) == (100002, 200002, 700002)
    assert job["appointmentCount"] == 2 and (job["firstAppointmentId"], job["lastAppointmentId"]) == (
        500002,
        512002,
    )
    invoice = st.page("accounting", "/invoices", ids="700002")[0]
    assert invoice["job"] == {"id": 400002, "number": job["jobNumber"], "type": None}
    assert invoice["referenceNumber"] == job["jobNumber"] and float(invoice["total"]) == job["total"]
    assert invoice["items"][0]["id"] == 800004
    customer = st("GET", "crm", "/customers/100002")
    assert invoice["customer"] == {"id": 100002, "name": customer["name"]}
    assignments = st.page("dispatch", "/appointment-assignments", appointmentIds="500002,512002")
    assert [a["id"] for a in assignments] == [1200002, 1212002]
    contacts = st.page("crm", "/customers/100002/contacts")
    assert [c["id"] for c in contacts] == [300003, 300004] and "customerId" not in contacts[0]


# --- errors ------------------------------------------------------------------------------------------------


def test_missing_required_fields_are_named(st: Client) -> None:
    error = st("POST", "jpm", "/jobs", 400, json={"customerId": 100001, "appointments": []})
    assert {"locationId", "businessUnitId", "jobTypeId", "priority", "campaignId"} <= set(error["errors"])
    error = st("POST", "crm", "/customers", 400, json={"name": "No address"})
    assert "locations" in error["errors"]
    error = st("POST", "settings", "/technicians", 400, json={"name": "Nobody"})
    assert {"accountCreationMethod", "roleId", "positions", "licenseType"} <= set(error["errors"])
    error = st("PUT", "jpm", "/jobs/400001/cancel", 400, json={"memo": "x"})
    assert set(error["errors"]) == {"reasonId"}


def test_unknown_ids_are_not_found(st: Client) -> None:
    for module, path in [
        ("jpm", "/jobs/987654321"),
        ("jpm", "/appointments/987654321"),
        ("crm", "/customers/987654321/contacts"),
        ("crm", "/booking-provider/7001/bookings/987654321"),
        ("equipmentsystems", "/installed-equipment/987654321"),
    ]:
        assert st("GET", module, path, 404)["status"] == 404
    st("PATCH", "accounting", "/invoices/987654321", 404, json={"summary": "x"})
    st("DELETE", "accounting", "/invoices/700001/items/987654321", 404)
    st("GET", "crm", "/booking-provider/7002/bookings/1100001", 404)  # a booking of provider 7001


# --- side effects --------------------------------------------------------------------------------------


def test_a_new_job_has_its_appointments_assignments_and_invoice(st: Client) -> None:
    job = st("POST", "jpm", "/jobs", json=JOB)
    assert job["id"] == 412001 and job["createdOn"] == job["modifiedOn"] == "2026-11-20T12:00:00.000000Z"
    appointments = st.page(
        "jpm", "/appointments", ids=f"{job['firstAppointmentId']},{job['lastAppointmentId']}"
    )
    assert [a["id"] for a in appointments] == [job["firstAppointmentId"], job["lastAppointmentId"]]
    assert [a["appointmentNumber"] for a in appointments] == [
        f"{job['jobNumber']}-1",
        f"{job['jobNumber']}-2",
    ]
    assigned = st.page("dispatch", "/appointment-assignments", jobId=job["id"])
    assert sorted(a["technicianId"] for a in assigned) == [4001, 4002]
    invoice = st.page("accounting", "/invoices", ids=str(job["invoiceId"]))[0]
    assert invoice["job"]["id"] == job["id"] and invoice["customer"]["id"] == JOB["customerId"]


def test_cancel_cancels_the_job_and_its_appointments(st: Client) -> None:
    before = st("GET", "jpm", "/jobs/400007")
    assert (
        st("PUT", "jpm", "/jobs/400007/cancel", json={"reasonId": 6002, "memo": "Went elsewhere"}).content
        == b""
    )
    job = st("GET", "jpm", "/jobs/400007")
    assert job["jobStatus"] == "Canceled" and job["modifiedOn"] > before["modifiedOn"]
    statuses = {a["status"] for a in st.page("jpm", "/appointments", ids="500007,512007", active="Any")}
    assert statuses == {"Canceled"}
    st(
        "POST",
        "dispatch",
        "/appointment-assignments/assign-technicians",
        409,
        json={"jobAppointmentId": 500007, "technicianIds": [4003]},
    )
    st("POST", "jpm", "/appointments", 409, json={"jobId": 400007, "start": START, "end": END})


def test_assign_and_unassign_change_the_assignments(st: Client) -> None:
    body = {"jobAppointmentId": 500013, "technicianIds": [4010, 4011]}
    answer = st("POST", "dispatch", "/appointment-assignments/assign-technicians", json=body)
    assert answer["id"] == 500013 and answer["modifiedOn"] == "2026-11-20T12:00:00.000000Z"
    active = st.page("dispatch", "/appointment-assignments", appointmentIds="500013")
    assert {a["technicianId"] for a in active} >= {4010, 4011}
    st(
        "POST",
        "dispatch",
        "/appointment-assignments/unassign-technicians",
        json={**body, "technicianIds": [4010]},
    )
    after = st.page("dispatch", "/appointment-assignments", appointmentIds="500013")
    assert 4010 not in {a["technicianId"] for a in after} and 4011 in {a["technicianId"] for a in after}
    every = st.page("dispatch", "/appointment-assignments", appointmentIds="500013", active="Any")
    assert any(a["technicianId"] == 4010 and not a["active"] for a in every)


def test_a_job_keeps_at_least_one_appointment(st: Client) -> None:
    error = st("DELETE", "jpm", "/appointments/502001", 409)
    assert error["status"] == 409 and "only appointment" in error["title"]
    st("DELETE", "jpm", "/appointments/512001")
    job = st("GET", "jpm", "/jobs/400001")
    assert job["appointmentCount"] == 1 and job["lastAppointmentId"] == 500001
    st("GET", "jpm", "/appointments/512001", 404)
    added = st(
        "POST",
        "jpm",
        "/appointments",
        json={"jobId": 400001, "start": START, "end": END, "technicianIds": [4004]},
    )
    assert st("GET", "jpm", "/jobs/400001")["lastAppointmentId"] == added["id"]
    assert [
        a["technicianId"]
        for a in st.page("dispatch", "/appointment-assignments", appointmentIds=str(added["id"]))
    ] == [4004]


def test_invoice_items_and_custom_fields_change_the_invoice(st: Client) -> None:
    def invoice() -> dict[str, Any]:
        return st.page("accounting", "/invoices", ids="700003")[0]

    before = invoice()
    assert [i["id"] for i in before["items"]] == [800007, 800008, 800009]
    st("DELETE", "accounting", "/invoices/700003/items/800008")
    after = invoice()
    removed = next(i for i in before["items"] if i["id"] == 800008)
    assert [i["id"] for i in after["items"]] == [800007, 800009]
    assert float(after["subTotal"]) == pytest.approx(float(before["subTotal"]) - float(removed["total"]))
    assert after["modifiedOn"] == "2026-11-20T12:00:00.000000Z"
    item = {"description": "Filter", "quantity": 2, "unitPrice": 12.5}
    st("PATCH", "accounting", "/invoices/700003/items", json=item)
    added = invoice()
    assert added["items"][-1]["total"] == "25.00" and float(added["total"]) == pytest.approx(
        float(after["total"]) + 25
    )
    st("PATCH", "accounting", "/invoices/700003/items", json={**item, "id": 800007, "quantity": 1})
    assert invoice()["items"][0]["quantity"] == "1.00"
    fields = {"operations": [{"objectId": 700003, "customFields": [{"name": "PO", "value": "A-1"}]}]}
    st("PATCH", "accounting", "/invoices/custom-fields", json=fields)
    assert invoice()["customFields"] == [{"name": "PO", "value": "A-1"}]
    adjustment = st("POST", "accounting", "/invoices", json={"adjustmentToId": 700003})
    assert st.page("accounting", "/invoices", ids=str(adjustment))[0]["adjustmentToId"] == 700003


def test_payments_apply_to_invoices(st: Client) -> None:
    created = st(
        "POST",
        "accounting",
        "/payments",
        json={"typeId": 9001, "customerId": 100601, "splits": [{"invoiceId": 700601, "amount": 40}]},
    )
    assert created["splits"] == [{"amount": 40.0, "invoiceId": 700601, "invoiceNumber": None}]
    invoice = st.page("accounting", "/invoices", ids="700601")[0]
    assert float(invoice["balance"]) == pytest.approx(float(invoice["total"]) - 40)
    listed = st.page("accounting", "/payments", ids=str(created["id"]))[0]
    assert listed["total"] == "40.00" and listed["appliedTo"][0]["appliedTo"] == 700601


def test_customer_contacts(st: Client) -> None:
    created = st(
        "POST", "crm", "/customers/100031/contacts", json={"type": "Email", "value": "a@example.com"}
    )
    st("PATCH", "crm", f"/customers/100031/contacts/{created['id']}", json={"memo": "billing"})
    listed = st.page("crm", "/customers/100031/contacts")
    assert [c["id"] for c in listed] == [300061, 300062, created["id"]] and listed[-1]["memo"] == "billing"
    st("DELETE", "crm", "/customers/100031/contacts/300061")
    assert [c["id"] for c in st.page("crm", "/customers/100031/contacts")] == [300062, created["id"]]
    st("DELETE", "crm", "/customers/100032/contacts/300062", 404)  # another customer's contact
    modified = st.page(
        "crm", "/customers/contacts", customerIds="100031", modifiedOnOrAfter="2026-11-20T00:00:00Z"
    )
    assert [(c["id"], c["customerId"]) for c in modified] == [(created["id"], 100031)]


def test_a_new_customer_brings_its_locations_and_contacts(st: Client) -> None:
    address = {"street": "1 Main St", "city": "Austin", "state": "TX", "zip": "78701", "country": "USA"}
    body = {"name": "Riley Park", "address": address, "locations": [{"name": "Home", "address": address}]}
    created = st(
        "POST", "crm", "/customers", json={**body, "contacts": [{"type": "Phone", "value": "5125550100"}]}
    )
    location = created["locations"][0]
    assert (
        location["customerId"] == created["id"]
        and st("GET", "crm", f"/locations/{location['id']}")["name"] == "Home"
    )
    assert [c["value"] for c in st.page("crm", f"/customers/{created['id']}/contacts")] == ["5125550100"]
    assert "locations" not in st("GET", "crm", f"/customers/{created['id']}")


def test_attachments_round_trip(st: Client) -> None:
    files = {"file": ("photo.jpg", b"\xff\xd8jpeg bytes", "image/jpeg")}
    path = st("POST", "equipmentsystems", "/installed-equipment/attachments", files=files)["path"]
    download = st("GET", "equipmentsystems", "/installed-equipment/attachments", params={"path": path})
    assert download.content == b"\xff\xd8jpeg bytes" and download.headers["content-type"] == "image/jpeg"
    st("GET", "equipmentsystems", "/installed-equipment/attachments", 404, params={"path": "nope"})
    sample = st("GET", "equipmentsystems", "/installed-equipment/1000001")["attachments"][0]["url"]
    seeded = st("GET", "equipmentsystems", "/installed-equipment/attachments", params={"path": sample})
    assert seeded.content.startswith(b"Carrier") and seeded.headers["content-type"].startswith("text/plain")
    error = st("POST", "equipmentsystems", "/installed-equipment/attachments", 400, json={"file": "x"})
    assert "file" in error["errors"]


def test_writes_move_modified_on_and_keep_tenants_apart(st: Client) -> None:
    updated = st("PATCH", "crm", "/locations/200005", json={"name": "Lake house"})
    assert updated["modifiedOn"] == "2026-11-20T12:00:00.000000Z" and updated["name"] == "Lake house"
    other = Client(st.sandbox, OTHER_TENANT)
    assert other("GET", "crm", "/locations/200005")["name"] != "Lake house"
    assert st("PATCH", "settings", "/technicians/4001", json={"team": "East"}) == {"id": 4001}
    assert st("GET", "settings", "/technicians/4001")["team"] == "East"
