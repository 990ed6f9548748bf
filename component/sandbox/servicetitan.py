"""ServiceTitan emulation: OAuth2 client credentials, ``ST-App-Key``, tenant in the path, problem JSON.

Records follow the official response schemas (``../shared/reference/servicetitan/*.subset.json``;
a test validates every response the sandbox serves against them). Lists answer
``{page, pageSize, hasMore, totalCount, data}`` with ``pageSize`` up to 5,000. 60 requests per second
per tenant and application key; beyond that a 429 with ``Retry-After``.

Seeded ids are ``base + n`` per resource (business units 1001+, technicians 4001+, customers
100001+, locations 200001+, jobs 400001+, appointments 500001+, invoices 700001+, payments 900001+,
assignments 1200001+ …): job ``400001+n`` belongs to customer ``100001+n`` at location ``200001+n``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .data import Faker, iso
from .engine import Context, Filter, Operation, Record, Reply, Resource, SandboxError, SandboxState, Vendor

TENANT = "1000001"
OTHER_TENANT = "2000002"
APP_KEY = "sandbox-app-key"
CLIENTS = {
    "sandbox-client-1000001": ("sandbox-client-secret-1000001", TENANT),
    "sandbox-client-2000002": ("sandbox-client-secret-2000002", OTHER_TENANT),
}
MAX_PAGE_SIZE = 5000
JPM = "/jpm/v2/tenant/{tenant}"
CRM = "/crm/v2/tenant/{tenant}"
DISPATCH = "/dispatch/v2/tenant/{tenant}"
ACCOUNTING = "/accounting/v2/tenant/{tenant}"
SETTINGS = "/settings/v2/tenant/{tenant}"

SEEDED = 12_000  # customers, locations, jobs: past the 10,000 picklist cap
BUSINESS_UNIT, JOB_TYPE, CAMPAIGN, TECHNICIAN = 1001, 2001, 3001, 4001
CUSTOMER, LOCATION, JOB, APPOINTMENT, INVOICE, PAYMENT, ASSIGNMENT = (
    100001,
    200001,
    400001,
    500001,
    700001,
    900001,
    1200001,
)
TECHNICIANS = 50


def _trace_id() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


class ServiceTitanDialect:
    def authenticate(self, request: Request, state: SandboxState) -> str:
        header = request.headers.get("authorization", "")
        token = state.extra.setdefault("tokens", {}).get(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or token is None or token[1] <= time.monotonic():
            raise SandboxError(401, "Unauthorized: the access token is missing, invalid or expired.")
        app_key = request.headers.get("st-app-key") or request.query_params.get("servicetitanapplicationkey")
        if app_key != APP_KEY:
            raise SandboxError(403, "Forbidden: the ST-App-Key header is missing or not valid.")
        tenant = str(request.path_params.get("tenant", ""))
        if tenant != token[0]:
            raise SandboxError(403, f"Forbidden: the application has no access to tenant {tenant}.")
        return tenant

    def rate_key(self, request: Request, partition: str) -> str:
        return f"{partition}|{APP_KEY}"

    def page(self, context: Context, resource: Resource, records: list[Record]) -> Any:
        query = context.query
        page = _int(query.get("page"), "page", 1)
        size = _int(query.get("pageSize"), "pageSize", 50)
        if page < 1:
            raise SandboxError(
                400, "One or more validation errors occurred.", {"page": ["must be 1 or more"]}
            )
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise SandboxError(
                400,
                "One or more validation errors occurred.",
                {"pageSize": [f"must be between 1 and {MAX_PAGE_SIZE}"]},
            )
        start = (page - 1) * size
        total = len(records) if query.get("includeTotal", "").lower() == "true" else None
        return {
            "page": page,
            "pageSize": size,
            "hasMore": start + size < len(records),
            "totalCount": total,
            "data": records[start : start + size],
        }

    def success(self, reply: Reply) -> Response:
        if reply.empty:
            return Response(status_code=reply.status)
        return JSONResponse(reply.payload, status_code=reply.status)

    def error(self, error: SandboxError) -> Response:
        body = {
            "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
            "title": error.message,
            "status": error.status,
            "traceId": _trace_id(),
            "errors": error.errors,
            "data": {},
        }
        return JSONResponse(body, status_code=error.status)

    def rate_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {}


def _int(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise SandboxError(
            400, "One or more validation errors occurred.", {name: [f"'{text}' is not valid"]}
        ) from None


def _require(body: Record, *names: str) -> None:
    missing = {name: [f"The {name} field is required."] for name in names if body.get(name) in (None, "")}
    if missing:
        raise SandboxError(400, "One or more validation errors occurred.", missing)


# --- auth -------------------------------------------------------------------------------------------


def token(context: Context) -> Reply:
    """``POST /connect/token``: client credentials only."""
    raw = context.body if isinstance(context.body, bytes) else b""
    form = dict(parse_qsl(raw.decode("utf-8", "replace")))
    if form.get("grant_type") != "client_credentials":
        return Reply({"error": "unsupported_grant_type"}, status=400, raw=True)
    client = CLIENTS.get(form.get("client_id", ""))
    if client is None or not secrets.compare_digest(client[0], form.get("client_secret", "")):
        return Reply({"error": "invalid_client"}, status=400, raw=True)
    state = context.partition.sandbox
    lifetime = state.vendor.faults.token_lifetime
    value = secrets.token_urlsafe(32)
    state.extra.setdefault("tokens", {})[value] = (client[1], time.monotonic() + lifetime)
    return Reply(
        {"access_token": value, "expires_in": lifetime, "token_type": "Bearer", "scope": "tn"}, raw=True
    )


# --- seeded records ----------------------------------------------------------------------------------


def _address(f: Faker) -> Record:
    p = f.person()
    return {
        "street": p.street,
        "unit": None,
        "city": p.city,
        "state": p.state,
        "zip": p.zip,
        "country": "USA",
    }


def technician(f: Faker, n: int, context: Context) -> Record:
    p = f.person()
    created = iso(f.past())
    return {
        "id": TECHNICIAN + n,
        "userId": 90001 + n,
        "name": p.name,
        "roleIds": [5001 + n % 3],
        "businessUnitId": BUSINESS_UNIT + n % 10,
        "mainZoneId": None,
        "zoneIds": [],
        "createdOn": created,
        "modifiedOn": created,
        "email": p.email,
        "phoneNumber": p.phone,
        "loginName": f"{p.first}.{p.last}{n}".lower(),
        "home": None,
        "dailyGoal": 1500.0,
        "isManagedTech": n % 5 == 0,
        "customFields": [],
        "active": n % 10 != 9,
        "aadUserId": None,
        "burdenRate": 0.0,
        "team": None,
        "jobFilter": None,
        "accountLocked": False,
        "commissionRate": 0.0,
        "firstName": p.first,
        "lastName": p.last,
        "hourlyRate": 35.0,
        "soldByRate": 0.0,
        "status": "Idle",
        "positions": ["Service"],
    }


def customer(f: Faker, n: int, context: Context) -> Record:
    p = f.person()
    created = f.past()
    business = f.chance(0.15)
    return {
        "id": CUSTOMER + n,
        "active": not f.chance(0.03),
        "name": f.company() if business else p.name,
        "type": "Commercial" if business else "Residential",
        "address": {**_address(f), "latitude": None, "longitude": None},
        "customFields": [],
        "balance": 0.0,
        "taxExempt": False,
        "tagTypeIds": [],
        "doNotMail": False,
        "doNotService": False,
        "nationalAccount": False,
        "createdOn": iso(created),
        "createdById": 1,
        "modifiedOn": iso(f.later(created)),
        "mergedToId": None,
        "paymentTermId": None,
        "creditLimit": None,
        "creditLimitBalance": None,
        "externalData": [],
    }


def location(f: Faker, n: int, context: Context) -> Record:
    created = f.past()
    address = _address(f)
    return {
        "id": LOCATION + n,
        "customerId": CUSTOMER + n,
        "active": True,
        "name": f"{address['street']}, {address['city']}",
        "address": {**address, "latitude": None, "longitude": None},
        "customFields": [],
        "createdOn": iso(created),
        "createdById": 1,
        "modifiedOn": iso(f.later(created)),
        "mergedToId": None,
        "zoneId": None,
        "taxExempt": False,
        "tagTypeIds": [],
        "externalData": [],
        "taxZoneId": None,
    }


def _job_record(
    job_id: int, number: str, body: Record, created: str, appointment: int, invoice: int
) -> Record:
    return {
        "id": job_id,
        "jobNumber": number,
        "projectId": body.get("projectId"),
        "customerId": body["customerId"],
        "locationId": body["locationId"],
        "jobStatus": "Scheduled",
        "completedOn": None,
        "businessUnitId": body["businessUnitId"],
        "jobTypeId": body["jobTypeId"],
        "priority": body.get("priority", "Normal"),
        "campaignId": body["campaignId"],
        "appointmentCount": 1,
        "firstAppointmentId": appointment,
        "lastAppointmentId": appointment,
        "recallForId": None,
        "warrantyId": None,
        "jobGeneratedLeadSource": body.get("jobGeneratedLeadSource"),
        "noCharge": False,
        "notificationsEnabled": True,
        "createdOn": created,
        "createdById": 1,
        "modifiedOn": created,
        "tagTypeIds": body.get("tagTypeIds") or [],
        "leadCallId": None,
        "partnerLeadCallId": body.get("partnerLeadCallId"),
        "bookingId": body.get("bookingId"),
        "soldById": body.get("soldById"),
        "customerPo": body.get("customerPo"),
        "invoiceId": invoice,
        "membershipId": None,
        "total": 0.0,
        "createdFromEstimateId": None,
        "estimateIds": [],
        "summary": body.get("summary"),
        "customFields": [
            {"typeId": c["typeId"], "name": f"Field {c['typeId']}", "value": c.get("value")}
            for c in body.get("customFields") or []
        ],
        "externalData": [],
    }


def job(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(365))
    body = {
        "customerId": CUSTOMER + n,
        "locationId": LOCATION + n,
        "businessUnitId": BUSINESS_UNIT + n % 10,
        "jobTypeId": JOB_TYPE + n % 10,
        "campaignId": CAMPAIGN + n % 10,
        "priority": ("Low", "Normal", "Normal", "High", "Urgent")[n % 5],
        "summary": f.service()[0],
    }
    record = _job_record(JOB + n, str(JOB + n), body, created, APPOINTMENT + n, INVOICE + n)
    record["jobStatus"] = ("Scheduled", "Dispatched", "InProgress", "Completed", "Completed", "Canceled")[
        n % 6
    ]
    return record


def _appointment_record(
    appointment_id: int, job_record: Record, body: Record, created: str, number: int
) -> Record:
    return {
        "id": appointment_id,
        "jobId": job_record["id"],
        "appointmentNumber": f"{job_record['jobNumber']}-{number}",
        "start": body["start"],
        "end": body["end"],
        "arrivalWindowStart": body.get("arrivalWindowStart"),
        "arrivalWindowEnd": body.get("arrivalWindowEnd"),
        "status": "Scheduled",
        "specialInstructions": body.get("specialInstructions"),
        "createdOn": created,
        "modifiedOn": created,
        "customerId": job_record["customerId"],
        "unused": False,
        "createdById": 1,
        "isConfirmed": False,
        "active": True,
    }


def appointment(f: Faker, n: int, context: Context) -> Record:
    start = f.around(60)
    job_record = {"id": JOB + n, "jobNumber": str(JOB + n), "customerId": CUSTOMER + n}
    window = {"start": iso(start), "end": iso(start.replace(hour=min(start.hour + 2, 23)))}
    return _appointment_record(APPOINTMENT + n, job_record, window, iso(f.past(365)), 1)


def _assignment_record(
    assignment_id: int, appointment_record: Record, technician_record: Record, now: str
) -> Record:
    return {
        "id": assignment_id,
        "technicianId": technician_record["id"],
        "technicianName": technician_record["name"],
        "assignedById": 1,
        "assignedOn": now,
        "status": "Scheduled",
        "isPaused": False,
        "jobId": appointment_record["jobId"],
        "appointmentId": appointment_record["id"],
        "createdOn": now,
        "modifiedOn": now,
        "active": True,
    }


def assignment(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(365))
    tech = context["technicians"].get(TECHNICIAN + n % TECHNICIANS) or {
        "id": TECHNICIAN,
        "name": "Technician",
    }
    return _assignment_record(ASSIGNMENT + n, {"id": APPOINTMENT + n, "jobId": JOB + n}, tech, created)


def _invoice_record(invoice_id: int, job_record: Record, created: str, total: float) -> Record:
    amount = f"{total:.2f}"
    return {
        "id": invoice_id,
        "syncStatus": "Pending",
        "referenceNumber": str(invoice_id),
        "invoiceDate": created,
        "dueDate": created,
        "subTotal": amount,
        "salesTax": "0.00",
        "total": amount,
        "balance": amount,
        "invoiceType": None,
        "customer": {"id": job_record["customerId"], "name": None},
        "location": {"id": job_record["locationId"], "name": None},
        "businessUnit": {"id": job_record["businessUnitId"], "name": None},
        "createdOn": created,
        "modifiedOn": created,
        "adjustmentToId": None,
        "job": {"id": job_record["id"], "number": job_record["jobNumber"], "type": None},
        "projectId": job_record.get("projectId"),
        "sentStatus": "NotSent",
        "reviewStatus": "NeedsReview",
        "summary": job_record.get("summary"),
        "items": [],
        "customFields": [],
        "active": True,
        "invoiceConfiguration": "JobInvoice",
    }


def invoice(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(365))
    job_record = {
        "id": JOB + n,
        "jobNumber": str(JOB + n),
        "customerId": CUSTOMER + n,
        "locationId": LOCATION + n,
    }
    job_record["businessUnitId"] = BUSINESS_UNIT + n % 10
    return _invoice_record(INVOICE + n, job_record, created, f.service()[1])


def payment(f: Faker, n: int, context: Context) -> Record:
    created = iso(f.past(365))
    amount = f"{f.service()[1]:.2f}"
    return {
        "id": PAYMENT + n,
        "active": True,
        "appliedTo": [
            {
                "appliedId": INVOICE + n,
                "appliedTo": INVOICE + n,
                "appliedAmount": amount,
                "appliedOn": created,
            }
        ],
        "authCode": None,
        "checkNumber": None,
        "createdOn": created,
        "customer": {"id": CUSTOMER + n, "name": None},
        "customFields": [],
        "date": created,
        "memo": None,
        "modifiedOn": created,
        "referenceNumber": str(PAYMENT + n),
        "total": amount,
        "type": "Credit Card",
        "typeId": "9001",
        "unappliedAmount": "0.00",
    }


# --- writes and side effects --------------------------------------------------------------------------


def create_job(context: Context, body: Record) -> Record:
    """Creating a job creates its appointments (with assignments) and its invoice."""
    _require(body, "customerId", "locationId", "businessUnitId", "jobTypeId", "priority", "campaignId")
    appointments = body.get("appointments")
    if not isinstance(appointments, list) or not appointments:
        raise SandboxError(
            400,
            "One or more validation errors occurred.",
            {"appointments": ["At least one appointment is required."]},
        )
    context["customers"].require(body["customerId"], "Customer")
    location_record = context["locations"].require(body["locationId"], "Location")
    if location_record["customerId"] != body["customerId"]:
        raise SandboxError(
            400,
            "The location does not belong to the customer.",
            {"locationId": ["belongs to another customer"]},
        )
    jobs = context["jobs"]
    job_id = jobs.new_id()
    record = _job_record(job_id, str(job_id), body, context.now, 0, 0)
    created = [
        _add_appointment(context, record, item, number) for number, item in enumerate(appointments, start=1)
    ]
    record.update(
        appointmentCount=len(created),
        firstAppointmentId=created[0]["id"],
        lastAppointmentId=created[-1]["id"],
    )
    record["invoiceId"] = context.insert(
        "invoices", _invoice_record(context["invoices"].new_id(), record, context.now, 0.0)
    )["id"]
    return record


def _add_appointment(context: Context, job_record: Record, body: Record, number: int) -> Record:
    _require(body, "start", "end")
    record = context.insert(
        "appointments",
        _appointment_record(context["appointments"].new_id(), job_record, body, context.now, number),
    )
    for technician_id in body.get("technicianIds") or []:
        _assign(context, record, technician_id)
    return record


def _assign(context: Context, appointment_record: Record, technician_id: int) -> None:
    tech = context["technicians"].require(technician_id, "Technician")
    if any(
        a["technicianId"] == technician_id and a["active"]
        for a in _assignments_of(context, appointment_record)
    ):
        return
    record = _assignment_record(context["assignments"].new_id(), appointment_record, tech, context.now)
    context.insert("assignments", record)


def _assignments_of(context: Context, appointment_record: Record) -> list[Record]:
    """The appointment's assignments: its seeded one (same offset) and any made since, without a scan
    that would generate every seeded assignment."""
    collection = context["assignments"]
    offset = appointment_record["id"] - APPOINTMENT
    if 0 <= offset < collection.seeded:
        collection.get(ASSIGNMENT + offset)
    return [a for a in collection.loaded() if a["appointmentId"] == appointment_record["id"]]


def assign_technicians(context: Context) -> Reply:
    return _reassign(context, assign=True)


def unassign_technicians(context: Context) -> Reply:
    return _reassign(context, assign=False)


def _reassign(context: Context, *, assign: bool) -> Reply:
    body = context.body if isinstance(context.body, dict) else {}
    _require(body, "jobAppointmentId", "technicianIds")
    appointment_record = context["appointments"].require(body["jobAppointmentId"], "Appointment")
    if appointment_record["status"] in ("Done", "Canceled"):
        raise SandboxError(409, f"Appointment {appointment_record['id']} is {appointment_record['status']}.")
    for technician_id in body["technicianIds"]:
        if assign:
            _assign(context, appointment_record, technician_id)
            continue
        for existing in _assignments_of(context, appointment_record):
            if existing["technicianId"] == technician_id and existing["active"]:
                existing["active"] = False
                context.touch("assignments", existing)
    context.touch("appointments", appointment_record)
    keys = (
        "id",
        "jobId",
        "appointmentNumber",
        "start",
        "end",
        "arrivalWindowStart",
        "arrivalWindowEnd",
        "status",
        "specialInstructions",
        "createdOn",
        "modifiedOn",
    )
    return Reply({key: appointment_record[key] for key in keys})


def create_payment(context: Context, body: Record) -> Record:
    _require(body, "typeId")
    return {
        "active": True,
        "authCode": body.get("authCode"),
        "checkNumber": body.get("checkNumber"),
        "customer": {"id": body.get("customerId"), "name": None},
        "customFields": [],
        "date": body.get("paidOn") or context.now,
        "memo": body.get("memo"),
        "referenceNumber": None,
        "total": f"{float(body.get('amount') or 0):.2f}",
        "typeId": str(body["typeId"]),
        "unappliedAmount": "0.00",
        "appliedTo": [
            {
                "appliedId": split.get("invoiceId"),
                "appliedTo": split.get("invoiceId"),
                "appliedAmount": f"{float(split.get('amount') or 0):.2f}",
                "appliedOn": context.now,
            }
            for split in body.get("splits") or []
        ],
        "_status": body.get("status"),
        "_customerId": body.get("customerId"),
        "_splits": body.get("splits") or [],
    }


def payment_response(record: Record) -> Record:
    """``PaymentResponse`` (what create and update answer) from the stored detailed record."""
    return {
        "id": record["id"],
        "active": record["active"],
        "authCode": record["authCode"],
        "checkNumber": record["checkNumber"],
        "customerId": record.get("_customerId"),
        "exportId": None,
        "memo": record["memo"],
        "paidOn": record["date"],
        "splits": record.get("_splits", []),
        "status": record.get("_status"),
        "transactionStatus": None,
        "typeId": int(record["typeId"]),
    }


def _timestamps() -> dict[str, Filter]:
    return {
        "createdBefore": Filter("createdOn", "lt"),
        "createdOnOrAfter": Filter("createdOn", "gte"),
        "modifiedBefore": Filter("modifiedOn", "lt"),
        "modifiedOnOrAfter": Filter("modifiedOn", "gte"),
    }


SORTS = {"Id": "id", "ModifiedOn": "modifiedOn", "CreatedOn": "createdOn"}
IDS = {"ids": Filter("id", "in")}

RESOURCES = (
    Resource(
        "technicians",
        f"{SETTINGS}/technicians",
        seed=TECHNICIANS,
        factory=technician,
        id_base=TECHNICIAN,
        filters={
            **IDS,
            "userIds": Filter("userId", "in"),
            "name": Filter("name", "contains"),
            "active": Filter("active", "active", default="True"),
            **_timestamps(),
        },
        ops=frozenset({"list", "get"}),
    ),
    Resource(
        "customers",
        f"{CRM}/customers",
        seed=SEEDED,
        factory=customer,
        id_base=CUSTOMER,
        filters={
            **IDS,
            "name": Filter("name", "contains"),
            "active": Filter("active", "active", default="True"),
            **_timestamps(),
        },
        sorts=SORTS,
        ops=frozenset({"list", "get"}),
    ),
    Resource(
        "locations",
        f"{CRM}/locations",
        seed=SEEDED,
        factory=location,
        id_base=LOCATION,
        filters={
            **IDS,
            "name": Filter("name", "contains"),
            "customerId": Filter("customerId"),
            "active": Filter("active", "active", default="True"),
            **_timestamps(),
        },
        sorts=SORTS,
        ops=frozenset({"list", "get"}),
    ),
    Resource(
        "jobs",
        f"{JPM}/jobs",
        seed=SEEDED,
        factory=job,
        id_base=JOB,
        filters={
            **IDS,
            "number": Filter("jobNumber"),
            "jobStatus": Filter("jobStatus"),
            "customerId": Filter("customerId"),
            "locationId": Filter("locationId"),
            "priority": Filter("priority"),
            **_timestamps(),
        },
        sorts={**SORTS, "Priority": "priority"},
        ops=frozenset({"list", "get", "create"}),
        create=create_job,
    ),
    Resource(
        "appointments",
        f"{JPM}/appointments",
        seed=SEEDED,
        factory=appointment,
        id_base=APPOINTMENT,
        filters={
            **IDS,
            "jobId": Filter("jobId"),
            "status": Filter("status"),
            "customerId": Filter("customerId"),
            "startsOnOrAfter": Filter("start", "gte"),
            "startsBefore": Filter("start", "lt"),
            "active": Filter("active", "active", default="True"),
            **_timestamps(),
        },
        sorts=SORTS,
        ops=frozenset({"list", "get"}),
    ),
    Resource(
        "assignments",
        f"{DISPATCH}/appointment-assignments",
        seed=SEEDED,
        factory=assignment,
        id_base=ASSIGNMENT,
        filters={
            **IDS,
            "appointmentIds": Filter("appointmentId", "in"),
            "jobId": Filter("jobId"),
            "active": Filter("active", "active", default="True"),
            **_timestamps(),
        },
        sorts=SORTS,
        ops=frozenset({"list"}),
    ),
    Resource(
        "invoices",
        f"{ACCOUNTING}/invoices",
        seed=SEEDED,
        factory=invoice,
        id_base=INVOICE,
        filters={**IDS, "jobId": Filter("job.id"), "customerId": Filter("customer.id"), **_timestamps()},
        sorts=SORTS,
        ops=frozenset({"list"}),
    ),
    Resource(
        "payments",
        f"{ACCOUNTING}/payments",
        seed=500,
        factory=payment,
        id_base=PAYMENT,
        filters={**IDS, "customerId": Filter("customer.id"), **_timestamps()},
        sorts=SORTS,
        ops=frozenset({"list", "create"}),
        create=create_payment,
        created=payment_response,
    ),
)

VENDOR = Vendor(
    name="servicetitan",
    dialect=ServiceTitanDialect(),
    resources=RESOURCES,
    operations=(
        Operation("POST", "/connect/token", token, public=True),
        Operation("POST", f"{DISPATCH}/appointment-assignments/assign-technicians", assign_technicians),
        Operation("POST", f"{DISPATCH}/appointment-assignments/unassign-technicians", unassign_technicians),
    ),
    partitions={TENANT: 1.0, OTHER_TENANT: 0.01},
    rate_limit=(60, 1.0),
)
