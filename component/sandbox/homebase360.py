"""Homebase360 emulation: ``x-api-key``, ``{success, data}``, customers and jobs with the vendor's rules.

Everything lives under ``/api/v1``. ``GET /ping`` checks the key. ``GET /customers`` ORs its criteria
(``phone`` matches the mobile number, ``email`` any address, ``identifiers`` ids, phones or emails),
``customerId`` overrides the rest, and no criterion answers an empty list. ``GET /jobs`` answers one
job by ``jobId``, or the jobs whose start falls in ``[startDate, endDate]`` (today by default; a
lone startDate runs to the end of its day), in start order. ``limit`` is 1 to 100 (25 customers,
50 jobs by default). Writes (``POST /customers``, ``PATCH /customers/{customerId}``, ``POST /jobs``,
``PATCH /jobs/{jobId}``) enforce the vendor's rules and answer ``400 {success: false, error}``
naming the field; they keep ``dateAdded``/``lastUpdated``.

Seeded: 3,000 customers (customer 0 is John Smith, mobile +13038286690) and 12,000 jobs starting
within 15 days either side of today, job ``n`` belonging to customer ``n % 3000``. Ids are
20-character document ids (:func:`component.sandbox.data.doc_id`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .data import Faker, iso, parse_time
from .engine import Context, Operation, Record, Reply, Resource, SandboxError, SandboxState, Vendor

API_KEYS = {"sandbox-homebase360-key": "sandbox-business"}
BASE = "/api/v1"
API_KEY_ID = "sandbox-api-key"  # the createdById of jobs created through the API
PHONE = re.compile(r"^\+1[2-9][0-9]{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DECIMAL = re.compile(r"^[0-9]+\.[0-9]{2}$")
PHONE_KEYS = ("mobile", "home", "work", "additional")
CUSTOMER_FIELDS = frozenset(
    {"firstName", "lastName", "phone", "email", "address", "notes", "tags", "notifications"}
)
JOB_FIELDS = frozenset({"customerId", "start", "end", "lineItems", "note", "leadSource"})
JOB_UPDATE_FIELDS = frozenset({"start", "end", "note"})
LEAD_FLAGS = ("online", "direct", "other")
MAX_IDENTIFIERS = 100


class Homebase360Dialect:
    def authenticate(self, request: Request, state: SandboxState) -> str:
        business = API_KEYS.get(request.headers.get("x-api-key", ""))
        if business is None:
            raise SandboxError(401, "Unauthorized: missing or invalid API key")
        return business

    def rate_key(self, request: Request, partition: str) -> str:
        return partition

    def page(self, context: Context, resource: Resource, records: list[Record]) -> Any:
        return records[: _limit(context, 50)]

    def success(self, reply: Reply) -> Response:
        if reply.raw:
            return JSONResponse(reply.payload, status_code=reply.status)
        return JSONResponse(
            {"success": True, "data": None if reply.empty else reply.payload}, status_code=reply.status
        )

    def error(self, error: SandboxError) -> Response:
        return JSONResponse({"success": False, "error": error.message}, status_code=error.status)

    def rate_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {}


def _limit(context: Context, default: int) -> int:
    raw = context.query.get("limit")
    try:
        limit = int(raw) if raw else default
    except ValueError:
        raise SandboxError(400, "limit must be an integer between 1 and 100") from None
    if not 1 <= limit <= 100:
        raise SandboxError(400, "limit must be an integer between 1 and 100")
    return limit


def _refuse(problem: str | None) -> None:
    if problem:
        raise SandboxError(400, problem)


# --- the vendor's rules -------------------------------------------------------------------------------


def _unknown(body: Mapping[str, Any], allowed: frozenset[str]) -> str | None:
    unknown = sorted(set(body) - allowed)
    return f"Unknown field: {unknown[0]}. Allowed fields: {', '.join(sorted(allowed))}" if unknown else None


def customer_problem(body: Mapping[str, Any], *, create: bool) -> str | None:
    """The first broken customer rule of a create (or, ``create`` False, an update) body."""
    problem = _unknown(body, CUSTOMER_FIELDS)
    if problem:
        return problem
    for name in ("firstName", "lastName", "notes"):
        if name in body and not isinstance(body[name], str):
            return f"{name} must be a string"
    if "notifications" in body and not isinstance(body["notifications"], bool):
        return "notifications must be a boolean"
    phone = body.get("phone", {})
    if not isinstance(phone, dict):
        return "phone must be an object with mobile, home, work or additional"
    for key, number in phone.items():
        if key not in PHONE_KEYS:
            return f"Invalid phone key: {key}. Only mobile, home, work, and additional are allowed"
        if not isinstance(number, str) or (number and not PHONE.match(number)):
            return f"Invalid phone.{key}: must be US/CA E.164 format (e.g. +13038286690)"
    for name in ("email", "address", "tags"):
        value = body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return f"{name} must be an array of strings"
    for email in body.get("email", []):
        if email and not EMAIL.match(email):
            return f"Invalid email format: {email}"
    if create and not (body.get("firstName") or body.get("lastName")):
        return "firstName or lastName is required"
    if create and not (any(phone.values()) or any(body.get("email", []))):
        return "At least one contact method is required: a valid phone number or a non-empty email"
    return None


def _line_item_problem(item: Any, where: str) -> str | None:
    if not isinstance(item, dict):
        return f"{where} must be an object"
    if not isinstance(item.get("name"), str) or not item["name"]:
        return f"{where}.name is required"
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float) or quantity <= 0:
        return f"{where}.quantity must be a positive number"
    if not isinstance(item.get("unitPrice"), str) or not DECIMAL.match(item["unitPrice"]):
        return f'{where}.unitPrice must be a decimal string like "150.00"'
    tax = item.get("taxRate")
    if tax is None:
        return None
    if not isinstance(tax, dict) or not isinstance(tax.get("name"), str) or not tax["name"]:
        return f"{where}.taxRate.name is required"
    if not isinstance(tax.get("rate"), str) or not DECIMAL.match(tax["rate"]):
        return f'{where}.taxRate.rate must be a decimal string like "7.00"'
    return None


def _instant(value: Any, name: str) -> datetime:
    moment = parse_time(value) if isinstance(value, str) and "T" in value else None
    if moment is None:
        raise SandboxError(400, f"{name} must be an ISO 8601 date-time")
    return moment


def _times(start: Any, end: Any) -> tuple[str, str]:
    """Canonical start and end, or 400 unless end is after start."""
    begins, ends = _instant(start, "start"), _instant(end, "end")
    if ends <= begins:
        raise SandboxError(400, "end must be after start")
    return iso(begins), iso(ends)


def job_problem(body: Mapping[str, Any]) -> str | None:
    """The first broken rule of a create-job body (times are checked by :func:`_times`)."""
    problem = _unknown(body, JOB_FIELDS)
    if problem:
        return problem
    for name in ("customerId", "start", "end"):
        if not body.get(name):
            return f"{name} is required"
        if not isinstance(body[name], str):
            return f"{name} must be a string"
    items = body.get("lineItems")
    if not isinstance(items, list) or not items:
        return "lineItems must be a non-empty array"
    for index, item in enumerate(items):
        problem = _line_item_problem(item, f"lineItems[{index}]")
        if problem:
            return problem
    if "note" in body and not isinstance(body["note"], str):
        return "note must be a string"
    lead = body.get("leadSource")
    if lead is not None and not isinstance(lead, dict):
        return "leadSource must be an object"
    if isinstance(lead, dict) and sum(lead.get(flag) is True for flag in LEAD_FLAGS) > 1:
        return "leadSource: only one of online, direct, or other may be true"
    return None


# --- customers ----------------------------------------------------------------------------------------


def _display_name(record: Record) -> str:
    return " ".join(part for part in (record.get("firstName"), record.get("lastName")) if part)


def customer(f: Faker, n: int, context: Context) -> Record:
    p = f.person()
    first, last, mobile, email = p.first, p.last, p.phone, p.email
    if n == 0:  # the customer the examples look up
        first, last, mobile, email = "John", "Smith", "+13038286690", "john.smith@example.com"
    phones = {"mobile": mobile, "home": "", "work": "", "additional": ""}
    if n % 10 == 9:  # a landline only: found by email, labelled by email
        phones = {"mobile": "", "home": mobile, "work": "", "additional": ""}
    added = f.past()
    return {
        "businessId": context.partition.key,
        "firstName": first,
        "lastName": last,
        "displayName": f"{first} {last}",
        "phone": phones,
        "email": [email],
        "address": [f"{p.street}, {p.city}, {p.state} {p.zip}"],
        "notifications": True,
        "notes": "",
        "tags": ["VIP"] if n % 25 == 0 else [],
        "attachments": [],
        "dateAdded": iso(added),
        "lastUpdated": iso(f.touched(added)),
        "lastJob": None,
        "geocodedAddresses": [],
    }


def _non_empty(values: Any) -> list[str]:
    return [value for value in values or [] if value]


def create_customer(context: Context, body: Record) -> Record:
    _refuse(customer_problem(body, create=True))
    phone = body.get("phone", {})
    record: Record = {
        "businessId": context.partition.key,
        "firstName": body.get("firstName", ""),
        "lastName": body.get("lastName", ""),
        "phone": {key: phone.get(key, "") for key in PHONE_KEYS},
        "email": _non_empty(body.get("email")),
        "address": _non_empty(body.get("address")),
        "notifications": body.get("notifications", True),
        "notes": body.get("notes", ""),
        "tags": list(body.get("tags", [])),
        "attachments": [],
        "lastJob": None,
        "geocodedAddresses": [],
    }
    record["displayName"] = _display_name(record)
    return record


def update_customer(context: Context, record: Record, body: Record) -> None:
    _refuse(customer_problem(body, create=False))
    changes = dict(body)
    if "phone" in changes:
        changes["phone"] = {**record["phone"], **changes["phone"]}
    for name in ("email", "address"):
        if name in changes:
            changes[name] = _non_empty(changes[name])
    record.update(changes)
    record["displayName"] = _display_name(record)


def search_customers(context: Context) -> Reply:
    """OR of the criteria; ``customerId`` alone wins; no criteria answers an empty list."""
    query = context.query
    customers = context["customers"]
    limit = _limit(context, 25)
    if query.get("customerId"):
        found = customers.get(query["customerId"])
        return Reply([found] if found else [])
    phone, email = query.get("phone"), query.get("email")
    if phone and not PHONE.match(phone):
        raise SandboxError(400, "phone must be US/CA E.164 format (e.g. +13038286690)")
    identifiers = [v.strip() for v in (query.get("identifiers") or "").split(",") if v.strip()]
    if len(identifiers) > MAX_IDENTIFIERS:
        raise SandboxError(400, f"identifiers accepts at most {MAX_IDENTIFIERS} values")
    ids = set(identifiers)
    phones = ids | ({phone} if phone else set())
    emails = {v.lower() for v in ids | ({email} if email else set())}
    if not phones and not emails:
        return Reply([])
    matches = [
        r
        for r in customers.all()
        if r["customerId"] in ids
        or r["phone"].get("mobile") in phones
        or any(e.lower() in emails for e in r["email"])
    ]
    return Reply(matches[:limit])


# --- jobs ---------------------------------------------------------------------------------------------


def job(f: Faker, n: int, context: Context) -> Record:
    start = f.around(15)
    name, price = f.service()
    customers = context["customers"]
    owner = customers.get(customers.seeded_id(n % max(1, customers.seeded))) or {}
    added = f.past(60)
    lead = f.pick(LEAD_FLAGS)
    return {
        "businessId": context.partition.key,
        "lineItems": [{"name": name, "description": name, "quantity": 1, "unitPrice": f"{price:.2f}"}],
        "start": iso(start),
        "end": iso(start + timedelta(hours=f.random.choice((1, 2, 3)))),
        "dispatchedTo": [],
        "createdById": "sandbox-user",
        "note": "",
        "timezone": "America/Denver",
        "isRecurring": False,
        "estimateId": None,
        "dateAdded": iso(added),
        "lastUpdated": iso(f.touched(added, 30)),
        "customer": owner,
        "leadSource": {flag: flag == lead for flag in LEAD_FLAGS},
    }


def create_job(context: Context, body: Record) -> Record:
    _refuse(job_problem(body))
    start, end = _times(body["start"], body["end"])
    owner = context["customers"].get(body["customerId"])
    if owner is None:
        raise SandboxError(404, "Customer not found")
    lead = body.get("leadSource") or {}
    return {
        "businessId": context.partition.key,
        "lineItems": body["lineItems"],
        "start": start,
        "end": end,
        "dispatchedTo": [],
        "createdById": API_KEY_ID,
        "note": body.get("note", ""),
        "timezone": "America/Denver",
        "isRecurring": False,
        "estimateId": None,
        "customer": owner,
        "leadSource": {flag: lead.get(flag) is True for flag in LEAD_FLAGS},
    }


def update_job(context: Context, record: Record, body: Record) -> None:
    """start, end and note only; end stays after start (the new or the existing one)."""
    _refuse(_unknown(body, JOB_UPDATE_FIELDS))
    if "note" in body and not isinstance(body["note"], str):
        raise SandboxError(400, "note must be a string")
    start, end = _times(body.get("start", record["start"]), body.get("end", record["end"]))
    record.update(start=start, end=end, note=body.get("note", record["note"]))


def get_jobs(context: Context) -> Reply:
    """One job by ``jobId``, or jobs whose start falls in ``[startDate, endDate]`` (today by default)."""
    query = context.query
    jobs = context["jobs"]
    limit = _limit(context, 50)
    if query.get("jobId"):
        found = jobs.get(query["jobId"])
        return Reply([found] if found else [])
    today = context.partition.sandbox.today
    start = _window_end(query.get("startDate"), "startDate") or parse_time(today.isoformat())
    assert start is not None
    day_end = datetime.combine(start.date(), time.max, tzinfo=start.tzinfo)  # the end of the start's day
    end = _window_end(query.get("endDate"), "endDate") or day_end
    low, high = iso(start), iso(end)
    window = sorted(
        (r for r in jobs.all() if low <= r["start"] <= high), key=lambda r: (r["start"], r["jobId"])
    )
    return Reply(window[:limit])


def _window_end(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    moment = parse_time(text)
    if moment is None:
        raise SandboxError(400, f"{name} must be an ISO 8601 date-time")
    return moment


def ping(context: Context) -> Reply:
    return Reply(
        {"message": "API authentication successful", "email": "sandbox@example.com", "timestamp": context.now}
    )


STAMPS = ("dateAdded", "lastUpdated")
RESOURCES = (
    Resource(
        "customers",
        f"{BASE}/customers",
        seed=3_000,
        factory=customer,
        id_base=None,
        id_field="customerId",
        ops=frozenset({"create", "update"}),
        create=create_customer,
        update=update_customer,
        created=lambda record: {"customerId": record["customerId"]},
        updated=lambda record: {"message": "Customer updated"},
        timestamps=STAMPS,
    ),
    Resource(
        "jobs",
        f"{BASE}/jobs",
        seed=12_000,
        factory=job,
        id_base=None,
        id_field="jobId",
        ops=frozenset({"create", "update"}),
        create=create_job,
        update=update_job,
        created=lambda record: {"jobId": record["jobId"]},
        updated=lambda record: {"message": "Job updated"},
        timestamps=STAMPS,
    ),
)

VENDOR = Vendor(
    name="homebase360",
    dialect=Homebase360Dialect(),
    resources=RESOURCES,
    operations=(
        Operation("GET", f"{BASE}/ping", ping),
        Operation("GET", f"{BASE}/customers", search_customers),
        Operation("GET", f"{BASE}/jobs", get_jobs),
    ),
    partitions={"sandbox-business": 1.0},
)
