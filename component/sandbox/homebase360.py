"""Homebase360 emulation: ``x-api-key``, ``{success, data}``, customers and jobs with the vendor's rules.

Everything lives under ``/api/v1``. ``GET /customers`` ORs its criteria and answers an empty list
without any; ``GET /jobs`` answers one job by ``jobId`` or the jobs starting in a window (today by
default). Ids are 20-character document ids (:func:`component.sandbox.data.doc_id`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .data import Faker, iso, parse_time
from .engine import Context, Operation, Record, Reply, Resource, SandboxError, SandboxState, Vendor

API_KEYS = {"sandbox-homebase360-key": "sandbox-business"}
BASE = "/api/v1"


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


def customer(f: Faker, n: int, context: Context) -> Record:
    p = f.person()
    added = f.past()
    return {
        "businessId": context.partition.key,
        "firstName": p.first,
        "lastName": p.last,
        "displayName": p.name,
        "phone": {"mobile": p.phone, "home": "", "work": "", "additional": ""},
        "email": [p.email],
        "address": [f"{p.street}, {p.city}, {p.state} {p.zip}"],
        "notifications": True,
        "notes": "",
        "tags": [],
        "attachments": [],
        "dateAdded": iso(added),
        "lastUpdated": iso(f.later(added)),
        "lastJob": None,
        "geocodedAddresses": [],
    }


def ping(context: Context) -> Reply:
    return Reply(
        {"message": "API authentication successful", "email": "sandbox@example.com", "timestamp": context.now}
    )


def search_customers(context: Context) -> Reply:
    """OR of the criteria; ``customerId`` alone wins; no criteria answers an empty list."""
    query = context.query
    customers = context["customers"]
    limit = _limit(context, 25)
    if query.get("customerId"):
        found = customers.get(query["customerId"])
        return Reply([found] if found else [])
    wanted = [v.strip() for v in (query.get("identifiers") or "").split(",") if v.strip()]
    wanted += [v for v in (query.get("phone"), query.get("email")) if v]
    if not wanted:
        return Reply([])
    matches = [
        r
        for r in customers.all()
        if r["customerId"] in wanted
        or r["phone"].get("mobile") in wanted
        or any(e in wanted for e in r["email"])
    ]
    return Reply(matches[:limit])


def job(f: Faker, n: int, context: Context) -> Record:
    start = f.around(15)
    name, price = f.service()
    customers = context["customers"]
    owner = customers.get(customers.seeded_id(n % max(1, customers.seeded))) or {}
    added = f.past(60)
    return {
        "businessId": context.partition.key,
        "lineItems": [{"name": name, "description": name, "quantity": 1, "unitPrice": f"{price:.2f}"}],
        "start": iso(start),
        "end": iso(start + timedelta(hours=2)),
        "dispatchedTo": [],
        "createdById": "sandbox",
        "note": "",
        "timezone": "America/Denver",
        "isRecurring": False,
        "estimateId": None,
        "dateAdded": iso(added),
        "lastUpdated": iso(f.later(added, 30)),
        "customer": owner,
        "leadSource": {"online": False, "direct": True, "other": False},
    }


def get_jobs(context: Context) -> Reply:
    """One job by ``jobId``, or jobs whose start falls in ``[startDate, endDate]`` (today by default)."""
    query = context.query
    jobs = context["jobs"]
    if query.get("jobId"):
        found = jobs.get(query["jobId"])
        return Reply([found] if found else [])
    today = context.partition.sandbox.today
    start = _time(query.get("startDate"), "startDate") or parse_time(today.isoformat())
    end = _time(query.get("endDate"), "endDate") or (start + timedelta(days=1) - timedelta(microseconds=1))  # type: ignore[operator]
    low, high = iso(start), iso(end)  # type: ignore[arg-type]
    window = sorted((r for r in jobs.all() if low <= r["start"] <= high), key=lambda r: r["start"])
    return Reply(window[: _limit(context, 50)])


def _time(text: str | None, name: str) -> Any:
    if not text:
        return None
    moment = parse_time(text)
    if moment is None:
        raise SandboxError(400, f"{name} must be an ISO 8601 date-time")
    return moment


STAMPS = ("dateAdded", "lastUpdated")
RESOURCES = (
    Resource(
        "customers",
        f"{BASE}/customers",
        seed=3_000,
        factory=customer,
        id_base=None,
        id_field="customerId",
        ops=frozenset(),
        timestamps=STAMPS,
    ),
    Resource(
        "jobs",
        f"{BASE}/jobs",
        seed=12_000,
        factory=job,
        id_base=None,
        id_field="jobId",
        ops=frozenset(),
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
