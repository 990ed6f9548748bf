"""Every answer of the ServiceTitan sandbox follows the official spec.

For each operation the sandbox routes, a case calls it (a list page with records, a get, a create,
an update, a delete, an action) and validates the answer against the operation's response schema in
ServiceTitan's OpenAPI specs (``../shared/reference/servicetitan/*.subset.json``), closed: a field
the spec does not name fails, as does a missing required one or a null where the spec has no
``nullable``. Operations answering without a body must send none. A few cases check the error bodies
(400, 404, 409) against the spec's ``ApiErrorResponse``. Coverage is checked both ways: every routed
operation has a case and is a spec operation (same method and path), and every operation the
ServiceTitan definitions name is routed.

Lists are read on the second tenant (a hundredth of the data: the same factories, quick to build);
gets and writes on the first.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from jsonschema import Draft202012Validator

from component.formats import format_checker
from component.sandbox import CREDENTIALS, Sandbox
from component.sandbox.servicetitan import CLIENTS, OTHER_TENANT, TENANT
from tests.conftest import REFERENCE, ROOT
from tests.vendor_spec import Operation, operations

pytestmark = pytest.mark.skipif(
    not (REFERENCE / "servicetitan").is_dir(), reason="ServiceTitan reference specs are not available"
)
API = "http://api.servicetitan.sandbox"
TOKEN_URL = "http://auth.servicetitan.sandbox/connect/token"
START, END = "2026-12-01T15:00:00Z", "2026-12-01T17:00:00Z"
ADDRESS = {"street": "12 Elm St", "city": "Denver", "state": "CO", "zip": "80202", "country": "USA"}
UPLOADED = b"%PDF-1.4 sandbox warranty card"


@dataclass(frozen=True)
class Case:
    operation_id: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    tenant: str = TENANT
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.operation_id}{'-' + self.name if self.name else ''}"


def listing(operation_id: str, **params: Any) -> Case:
    return Case(operation_id, params, query={"pageSize": 3, "includeTotal": "true"}, tenant=OTHER_TENANT)


CASES = [
    # settings
    listing("Technicians_GetList"),
    Case("Technicians_Get", {"id": 4001}),
    Case(
        "Technicians_Create",
        body={
            "name": "Avery Stone",
            "accountCreationMethod": "CreateLater",
            "roleId": 5001,
            "positions": ["Service"],
            "licenseType": "NonManagedTech",
            "email": "avery.stone@example.com",
        },
    ),
    Case("Technicians_Update", {"id": 4002}, {"team": "North", "dailyGoal": 1800, "roleId": 5002}),
    listing("BusinessUnits_GetList"),
    listing("UserRoles_GetList"),
    # jpm
    listing("JobCancelReasons_GetList"),
    listing("Jobs_GetList"),
    Case("Jobs_Get", {"id": 400002}),
    Case(
        "Jobs_Create",
        body={
            "customerId": 100003,
            "locationId": 200003,
            "businessUnitId": 1001,
            "jobTypeId": 2001,
            "priority": "High",
            "campaignId": 3001,
            "summary": "No heat upstairs",
            "customFields": [{"typeId": 8101, "value": "Gate code 1234"}],
            "appointments": [{"start": START, "end": END, "technicianIds": [4003]}],
        },
    ),
    Case(
        "Jobs_Update",
        {"id": 400007},
        {
            "summary": "Bring a ladder",
            "customerPo": "PO-991",
            "customFields": [{"typeId": 8102, "value": "x"}],
        },
    ),
    Case("Jobs_Cancel", {"id": 400013}, {"reasonId": 6001, "memo": "Customer called to cancel"}),
    Case("Jobs_Get", {"id": 987654321}, status=404, name="missing"),
    Case("Jobs_Create", body={"summary": "no ids"}, status=400, name="invalid"),
    listing("Appointments_GetList"),
    Case("Appointments_Get", {"id": 500002}),
    Case("Appointments_Add", body={"jobId": 400019, "start": START, "end": END, "technicianIds": [4005]}),
    Case("Appointments_Delete", {"id": 512002}),
    Case("Appointments_Delete", {"id": 502001}, status=409, name="only-appointment"),
    listing("Projects_GetList"),
    Case("Projects_Get", {"id": 600001}),
    Case("Projects_Create", body={"locationId": 200005, "name": "Basement remodel", "statusId": 1}),
    Case("Projects_Update", {"id": 600002}, {"name": "Whole-home repipe", "statusId": 2, "jobIds": [400003]}),
    # dispatch
    listing("AppointmentAssignments_GetList"),
    Case(
        "AppointmentAssignments_AssignTechnicians",
        body={"jobAppointmentId": 500025, "technicianIds": [4006, 4007]},
    ),
    Case(
        "AppointmentAssignments_UnassignTechnicians",
        body={"jobAppointmentId": 500025, "technicianIds": [4006]},
    ),
    # crm
    listing("Bookings_GetList"),
    Case("Bookings_Get", {"id": 1100001}),
    listing("Bookings_GetList2", booking_provider=7001),
    Case("Bookings_GetForProvider", {"booking_provider": 7001, "id": 1100001}),
    Case(
        "Bookings_Create",
        {"booking_provider": 7002},
        {
            "source": "Website",
            "name": "Jordan Lee",
            "summary": "Water heater leaking",
            "isFirstTimeClient": True,
            "externalId": "WEB-777",
            "address": ADDRESS,
            "contacts": [{"type": "Email", "value": "jordan@example.com"}],
            "priority": "Urgent",
        },
    ),
    Case("Bookings_Update", {"booking_provider": 7002, "id": 1100002}, {"summary": "Leak got worse"}),
    listing("Customers_GetList"),
    Case("Customers_Get", {"id": 100001}),
    Case(
        "Customers_Create",
        body={
            "name": "Harper Quinn",
            "type": "Residential",
            "address": ADDRESS,
            "locations": [
                {"name": "Home", "address": ADDRESS, "contacts": [{"type": "Phone", "value": "3035550199"}]}
            ],
            "contacts": [{"type": "Email", "value": "harper@example.com", "memo": "prefers email"}],
        },
    ),
    Case(
        "Customers_Update",
        {"id": 100002},
        {
            "name": "Updated Name",
            "address": {**ADDRESS, "city": "Boulder", "unit": "", "latitude": 40.01, "longitude": -105.27},
        },
    ),
    listing("Customers_GetContactList", id=100001),
    Case("Customers_CreateContact", {"id": 100004}, {"type": "MobilePhone", "value": "7205550123"}),
    Case("Customers_UpdateContact", {"id": 100005, "contactId": 300009}, {"memo": "Evenings only"}),
    Case("Customers_DeleteContact", {"id": 100006, "contactId": 300012}),
    listing("Customers_GetModifiedContactsList"),
    listing("Locations_GetList"),
    Case("Locations_Get", {"id": 200001}),
    Case(
        "Locations_Create",
        body={
            "customerId": 100001,
            "name": "Rental unit",
            "address": ADDRESS,
            "contacts": [{"type": "Phone", "value": "1"}],
        },
    ),
    Case("Locations_Update", {"id": 200002}, {"name": "Main house", "address": {**ADDRESS, "unit": "B"}}),
    # equipment systems
    listing("InstalledEquipment_GetList"),
    Case("InstalledEquipment_Get", {"id": 1000001}),
    Case(
        "InstalledEquipment_Create",
        body={
            "locationId": 200001,
            "name": "Attic furnace",
            "equipmentTypeId": 1,
            "manufacturer": "Carrier",
            "cost": 2450.5,
            "customFields": [{"typeId": 8101, "value": "R-410A"}],
            "attachments": [
                {"type": "Document", "url": "installed-equipment/manual.pdf", "fileName": "manual.pdf"}
            ],
        },
    ),
    Case("InstalledEquipment_Update", {"id": 1000002}, {"memo": "Filter replaced", "status": "Replaced"}),
    Case("InstalledEquipment_PostAttachment"),
    Case("InstalledEquipment_Get2"),
    # accounting
    listing("Invoices_GetList"),
    Case(
        "Invoices_CreateAdjustmentInvoice",
        body={
            "adjustmentToId": 700001,
            "items": [{"description": "Goodwill credit", "quantity": 1, "unitPrice": -25}],
        },
    ),
    Case(
        "Invoices_UpdateInvoice",
        {"id": 700002},
        {"summary": "Reviewed", "items": [{"description": "Filter", "quantity": 2, "unitPrice": 20}]},
    ),
    Case(
        "Invoices_UpdateInvoiceItems",
        {"invoiceId": 700003},
        {"id": 800007, "description": "Labor", "quantity": 2},
    ),
    Case("Invoices_DeleteInvoiceItem", {"invoiceId": 700004, "itemId": 800010}),
    Case(
        "Invoices_UpdateCustomFields",
        body={"operations": [{"objectId": 700005, "customFields": [{"name": "PO", "value": "77"}]}]},
    ),
    listing("Payments_GetList"),
    Case(
        "Payments_Create",
        body={
            "typeId": 9001,
            "customerId": 100001,
            "amount": 50,
            "splits": [{"invoiceId": 700001, "amount": 50}],
        },
    ),
    Case(
        "Payments_Update",
        {"id": 900002},
        {"typeId": 9002, "memo": "Corrected", "splits": [{"invoiceId": 700002, "amount": 10}]},
    ),
    Case(
        "Payments_UpdateCustomFields",
        body={"operations": [{"objectId": 900003, "customFields": [{"name": "Batch", "value": "B7"}]}]},
    ),
]


@pytest.fixture(scope="module")
def spec() -> dict[str, Operation]:
    return operations(REFERENCE)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(rate_limits={"servicetitan": None})  # the rate limit has its own tests


@pytest.fixture(scope="module")
def tokens(sandbox: Sandbox) -> dict[str, str]:
    async def fetch(client_id: str) -> str:
        async with httpx2.AsyncClient(transport=sandbox.transport()) as client:
            form = {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": CLIENTS[client_id][0],
            }
            return str((await client.post(TOKEN_URL, data=form)).json()["access_token"])

    return {tenant: asyncio.run(fetch(client_id)) for client_id, (_, tenant) in CLIENTS.items()}


UPLOADS: dict[str, str] = {}  # the path the upload answered, for the download case


def call(sandbox: Sandbox, token: str, op: Operation, case: Case) -> httpx2.Response:
    path = op.path.format(tenant=case.tenant, **case.params)
    headers = {
        "Authorization": f"Bearer {token}",
        "ST-App-Key": CREDENTIALS["servicetitan"]["applicationKey"],
    }
    options: dict[str, Any] = {"params": case.query, "headers": headers}
    if case.operation_id == "InstalledEquipment_PostAttachment":
        options["files"] = {"file": ("warranty.pdf", UPLOADED, "application/pdf")}
    elif case.operation_id == "InstalledEquipment_Get2":
        options["params"] = {"path": UPLOADS["path"]}
    elif case.body is not None:
        options["json"] = case.body

    async def send() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=sandbox.transport()) as client:
            return await client.request(op.method, API + path, **options)

    return asyncio.run(send())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_answers_follow_the_spec(
    sandbox: Sandbox, tokens: dict[str, str], spec: dict[str, Operation], case: Case
) -> None:
    op = spec[case.operation_id]
    response = call(sandbox, tokens[case.tenant], op, case)
    assert response.status_code == case.status, response.text
    assert case.status in op.responses, f"{case.operation_id} does not declare {case.status}"
    schema = op.responses[case.status]
    if schema is None:
        if case.operation_id == "InstalledEquipment_Get2":
            assert response.content == UPLOADED and response.headers["content-type"] == "application/pdf"
        else:
            assert response.content == b"", f"{case.operation_id} answers without a body"
        return
    body = response.json()
    errors = sorted(Draft202012Validator(schema, format_checker=format_checker()).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    if isinstance(body, dict) and "data" in body and "hasMore" in body:
        assert body["data"], f"{case.id}: the sample page is empty"
    if case.operation_id == "InstalledEquipment_PostAttachment":
        UPLOADS["path"] = body["path"]


# --- coverage -----------------------------------------------------------------------------------------------


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def routed(sandbox: Sandbox) -> set[tuple[str, str]]:
    """Every (method, path) the ServiceTitan sandbox serves, the token endpoint aside."""
    return {
        (method, _shape(path))
        for path, methods in sandbox["servicetitan"].served.items()
        for method in methods
        if path != "/connect/token"
    }


def test_every_routed_operation_is_in_the_spec_and_has_a_case(spec: dict[str, Operation]) -> None:
    by_route = {(op.method, _shape(op.path)): op.operation_id for op in spec.values()}
    served = routed(Sandbox())
    unknown = sorted(route for route in served if route not in by_route)
    assert unknown == [], "routes that are not ServiceTitan operations"
    cased = {case.operation_id for case in CASES if case.status == 200}
    missing = sorted(by_route[route] for route in served if by_route[route] not in cased)
    assert missing == [], "routed operations without a conformance case"


def _operation_ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "operationId" and isinstance(value, str):
                yield value
            else:
                yield from _operation_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _operation_ids(item)


def definition_operations() -> set[str]:
    files: list[Path] = []
    for kind in ("actions", "datasources", "triggers"):
        files += sorted((ROOT / kind / "servicetitan").glob("*.json"))
    return {name for path in files for name in _operation_ids(json.loads(path.read_text()))}


def test_every_operation_the_definitions_name_is_served(spec: dict[str, Operation]) -> None:
    served = routed(Sandbox())
    named = definition_operations()
    assert named, "no ServiceTitan definitions found"
    unknown = sorted(name for name in named if name not in spec)
    assert unknown == [], "definitions name operations that are not in the spec"
    missing = sorted(name for name in named if (spec[name].method, _shape(spec[name].path)) not in served)
    assert missing == [], "operations the definitions use that the sandbox does not serve"
