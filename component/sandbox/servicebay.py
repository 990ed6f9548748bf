"""Servicebay emulation: ``X-API-Key`` per organisation, ``{success, data}``, cursor pagination.

Everything lives under ``/api/v1/organisations/{orgId}/…``. Lists take ``limit`` (1 to 100, default 50)
and ``startAfter`` (the id of the previous page's last record) and answer
``data: {<list key>: [...], pagination: {limit, hasMore, nextCursor}}``. 100 requests per minute per
key, with ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (Unix time) on every response.
Ids are 20-character document ids (:func:`component.sandbox.data.doc_id`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .data import Faker, iso
from .engine import Context, Filter, Operation, Record, Reply, Resource, SandboxError, SandboxState, Vendor

ORG = "sandbox-org"
OTHER_ORG = "other-org"
API_KEYS = {"sandbox-servicebay-key": ORG, "sandbox-servicebay-key-other": OTHER_ORG}
BASE = "/api/v1/organisations/{orgId}"
# The first seeded customer, fixed so examples and flows can find them by phone or email.
CALLER = {"firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com", "phone": "+13038286690"}
MAX_LIMIT = 100


class ServicebayDialect:
    def authenticate(self, request: Request, state: SandboxState) -> str:
        key = request.headers.get("x-api-key")
        if not key:
            raise SandboxError(401, "Missing API key. Include X-API-Key header in your request.")
        org = API_KEYS.get(key)
        if org is None:
            raise SandboxError(401, "Invalid API key.")
        if request.path_params.get("orgId") != org:
            raise SandboxError(403, "You do not have access to this organisation")
        return org

    def rate_key(self, request: Request, partition: str) -> str:
        return request.headers.get("x-api-key", "")

    def page(self, context: Context, resource: Resource, records: list[Record]) -> Any:
        raw_limit = context.query.get("limit") or "50"
        try:
            limit = int(raw_limit)
        except ValueError:
            raise SandboxError(400, f"limit must be an integer between 1 and {MAX_LIMIT}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise SandboxError(400, f"limit must be an integer between 1 and {MAX_LIMIT}")
        start = 0
        cursor = context.query.get("startAfter")
        if cursor:
            positions = {r[resource.id_field]: i for i, r in enumerate(records)}
            if cursor not in positions:
                raise SandboxError(400, f"Invalid cursor: {cursor}")
            start = positions[cursor] + 1
        chunk = records[start : start + limit]
        more = start + limit < len(records)
        return {
            resource.list_key: chunk,
            "pagination": {
                "limit": limit,
                "hasMore": more,
                "nextCursor": chunk[-1][resource.id_field] if more else None,
            },
        }

    def success(self, reply: Reply) -> Response:
        if reply.raw:
            return JSONResponse(reply.payload, status_code=reply.status)
        body: dict[str, Any] = {"success": True}
        if not reply.empty:
            body["data"] = reply.payload
        return JSONResponse(body, status_code=reply.status)

    def error(self, error: SandboxError) -> Response:
        return JSONResponse({"success": False, "error": error.message}, status_code=error.status)

    def rate_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(reset + 0.999)),
        }


def customer(f: Faker, n: int, context: Context) -> Record:
    p = f.person()
    created = iso(f.past())
    return {
        "firstName": p.first,
        "lastName": p.last,
        "email": p.email,
        "phone": p.phone,
        "businessName": f.company() if f.chance(0.2) else None,
        "billingAddress": {
            "line1": p.street,
            "city": p.city,
            "state": p.state,
            "postcode": p.zip,
            "country": "US",
        },
        "devices": [],
        "createdAt": created,
        "updatedAt": created,
    }


def create_customer(context: Context, body: Record) -> Record:
    missing = [name for name in ("firstName", "lastName", "email") if not body.get(name)]
    if missing:
        raise SandboxError(400, f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
    return dict(body)


def lookup_customer(context: Context) -> Reply:
    """Exact phone or email match; 404 when nothing matches."""
    phone, email = context.query.get("phone"), context.query.get("email")
    if not phone and not email:
        raise SandboxError(400, "phone or email is required")
    for record in context["customers"].all():
        if (phone and record.get("phone") == phone) or (
            email and (record.get("email") or "").lower() == email.lower()
        ):
            return Reply(record)
    raise SandboxError(404, "Customer not found")


def ticket(f: Faker, n: int, context: Context) -> Record:
    start = f.around(30)
    customer_record = context["customers"].get(context["customers"].seeded_id(n)) or {}
    return {
        "customerId": customer_record.get("id"),
        "customerName": " ".join(
            customer_record[part] for part in ("firstName", "lastName") if customer_record.get(part)
        ),
        "serviceTime": iso(start),
        "endTime": iso(start.replace(hour=min(start.hour + 1, 23))),
        "serviceLocation": ("instore", "offsite", "remote")[n % 3],
        "status": ("Open", "In Progress", "Closed")[n % 3],
        "createdAt": iso(f.past(60)),
        "updatedAt": iso(f.past(30)),
    }


def create_ticket(context: Context, body: Record) -> Record:
    if not body.get("customerId"):
        raise SandboxError(400, "customerId is required")
    context["customers"].require(body["customerId"], "Customer")
    return {"status": "Open", **body}


STAMPS = ("createdAt", "updatedAt")
RESOURCES = (
    Resource(
        "customers",
        f"{BASE}/customers",
        seed=12_000,
        factory=customer,
        id_base=None,
        id_field="id",
        filters={"search": Filter("firstName|lastName|email|businessName", "contains")},
        create=create_customer,
        update_method="PUT",
        created_status=201,
        timestamps=STAMPS,
        list_key="customers",
        fixtures=(CALLER,),
    ),
    Resource(
        "tickets",
        f"{BASE}/tickets",
        seed=300,
        factory=ticket,
        id_base=None,
        filters={
            "status": Filter("status"),
            "customerId": Filter("customerId"),
            "assignedTechnician": Filter("assignedTechnician"),
        },
        create=create_ticket,
        update_method="PUT",
        created_status=201,
        timestamps=STAMPS,
        list_key="tickets",
    ),
)

VENDOR = Vendor(
    name="servicebay",
    dialect=ServicebayDialect(),
    resources=RESOURCES,
    operations=(Operation("GET", f"{BASE}/customers/lookup", lookup_customer),),
    partitions={ORG: 1.0, OTHER_ORG: 0.01},
    rate_limit=(100, 60.0),
)
