"""Servicebay emulation: ``X-API-Key`` per organisation, ``{success, data}``, cursor pagination.

Everything lives under ``/api/v1/organisations/{orgId}/…``: the organisation itself (get, update)
and seven resources with list, get, create, update (PUT, partial) and delete: customers (plus
``/customers/lookup``, an exact phone or email match, 404 when nothing matches), tickets (jobs),
services, inventory, quotes, invoices and calendar events. Lists take ``limit`` (1 to 100, default
50) and ``startAfter`` (the id of the previous page's last record) and answer
``data: {<list key>: [...], pagination: {limit, hasMore, nextCursor}}``, with each resource's
documented filters. Quotes and invoices get the next ``index`` (1, 2, …) unless the body sets one.
100 requests per minute per key, with ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (Unix
time) on every response and a 429 beyond. Ids are 20-character document ids
(:func:`component.sandbox.data.doc_id`); seeded record ``n`` of a ticket, quote or invoice belongs
to seeded customer ``n``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .data import Faker, iso, parse_time
from .engine import Context, Filter, Operation, Record, Reply, Resource, SandboxError, SandboxState, Vendor
from .rules import Rules, shape

ORG = "sandbox-org"
OTHER_ORG = "other-org"
API_KEYS = {"sandbox-servicebay-key": ORG, "sandbox-servicebay-key-other": OTHER_ORG}
BASE = "/api/v1/organisations/{orgId}"
# The first seeded customer, fixed so examples and flows can find them by phone or email.
CALLER = {"firstName": "Jane", "lastName": "Doe", "email": "jane.doe@example.com", "phone": "+13038286690"}
MAX_LIMIT = 100
DELETED = {"message": "Operation completed successfully"}
TECHNICIANS = tuple(f"user-tech-{n:02d}" for n in range(1, 9))


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
            found = next((i for i, r in enumerate(records) if r[resource.id_field] == cursor), None)
            if found is None:
                raise SandboxError(400, f"Invalid cursor: {cursor}")
            start = found + 1
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


# --- validation shared by the resources ------------------------------------------------------------


def _require(body: Record, *names: str) -> None:
    missing = [name for name in names if body.get(name) in (None, "")]
    if missing:
        raise SandboxError(400, f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")


def _times_in_order(record: Record, start: str, end: str) -> None:
    first, last = parse_time(str(record.get(start) or "")), parse_time(str(record.get(end) or ""))
    if record.get(start) is not None and first is None:
        raise SandboxError(400, f"{start} must be an ISO 8601 date-time")
    if record.get(end) is not None and last is None:
        raise SandboxError(400, f"{end} must be an ISO 8601 date-time")
    if first and last and last <= first:
        raise SandboxError(400, f"{end} must be after {start}")


def _one_of(record: Record, name: str, allowed: tuple[str, ...]) -> None:
    if record.get(name) is not None and record[name] not in allowed:
        raise SandboxError(400, f"{name} must be one of {', '.join(allowed)}")


def _linked(context: Context, record: Record) -> None:
    """The customer and job a record names must exist in the organisation."""
    if record.get("customerId"):
        context["customers"].require(record["customerId"], "Customer")
    if record.get("ticketId"):
        context["tickets"].require(record["ticketId"], "Ticket")


def _merge(check: Callable[[Context, Record], None]) -> Callable[[Context, Record, Record], None]:
    """A partial update (PUT sends only what changes) that is checked as a whole before it applies."""

    def update(context: Context, record: Record, body: Record) -> None:
        merged = {**record, **{k: v for k, v in body.items() if k != "id"}}
        check(context, merged)
        record.update(merged)

    return update


def _created(check: Callable[[Context, Record], None], *required: str) -> Callable[[Context, Record], Record]:
    def create(context: Context, body: Record) -> Record:
        _require(body, *required)
        record = {k: v for k, v in body.items() if k != "id"}
        check(context, record)
        return record

    return create


# --- customers ------------------------------------------------------------------------------------------


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


def check_customer(context: Context, record: Record) -> None:
    if "@" not in str(record.get("email") or "@"):
        raise SandboxError(400, "email must be a valid email address")


def lookup_customer(context: Context) -> Reply:
    """Exact phone or email match: the customer (a phone match first); 404 when nothing matches."""
    phone, email = context.query.get("phone"), context.query.get("email")
    if not phone and not email:
        raise SandboxError(400, "phone or email is required")
    records = context["customers"].all()
    by_phone = [r for r in records if phone and r.get("phone") == phone]
    by_email = [r for r in records if email and (r.get("email") or "").lower() == email.lower()]
    found = [*by_phone, *by_email]
    if not found:
        raise SandboxError(404, "Customer not found")
    return Reply(found[0])


# --- jobs (tickets) -----------------------------------------------------------------------------------


def _customer_of(context: Context, n: int) -> Record:
    """Seeded customer ``n``: its id even when it was deleted before this record was generated (a
    document keeps its customer's id; seeded records are generated lazily, after any deletes)."""
    customers = context["customers"]
    key = customers.seeded_id(n % max(1, customers.seeded))
    return customers.get(key) or {"id": key}


def _name(record: Record) -> str:
    return " ".join(record[part] for part in ("firstName", "lastName") if record.get(part))


def ticket(f: Faker, n: int, context: Context) -> Record:
    start = f.around(30)
    owner = _customer_of(context, n)
    return {
        "customerId": owner.get("id"),
        "customerName": _name(owner),
        "serviceTime": iso(start),
        "endTime": iso(start + timedelta(minutes=f.random.choice((60, 90, 120, 180)))),
        "serviceLocation": ("instore", "offsite", "remote")[n % 3],
        "status": ("Open", "In Progress", "Closed")[n % 3],
        "assignedTechnician": TECHNICIANS[n % len(TECHNICIANS)],
        "createdAt": iso(f.past(60)),
        "updatedAt": iso(f.past(30)),
    }


def check_ticket(context: Context, record: Record) -> None:
    _one_of(record, "serviceLocation", ("instore", "offsite", "remote"))
    _times_in_order(record, "serviceTime", "endTime")
    _linked(context, record)


def create_ticket(context: Context, body: Record) -> Record:
    return {"status": "Open", **_created(check_ticket, "customerId", "serviceTime", "endTime")(context, body)}


# --- services and inventory ---------------------------------------------------------------------------


def service(f: Faker, n: int, context: Context) -> Record:
    title, price = f.service()
    kind = ("fixed", "rate", "variable")[n % 3]
    warranty = f.chance(0.5)
    return {
        "title": f"{title} ({n + 1})",
        "description": f"{title}, standard scope.",
        "priceType": kind,
        "price": price if kind != "rate" else round(price / 3, 2),
        "priceTimeRate": "hour" if kind == "rate" else None,
        "taxRateId": "tax-standard",
        "warranty": warranty,
        "warrantyDuration": f.random.choice((30, 90, 365)) if warranty else None,
        "warrantyPeriod": "day" if warranty else None,
        "createdAt": iso(f.past(365)),
    }


def check_service(context: Context, record: Record) -> None:
    _one_of(record, "priceType", ("fixed", "rate", "variable"))
    _one_of(record, "priceTimeRate", ("hour", "day", "week", "month"))


PARTS = ("Capacitor", "Contactor", "Thermocouple", "Igniter", "Filter", "Flex hose", "Ball valve", "Fuse")


def inventory_item(f: Faker, n: int, context: Context) -> Record:
    part = PARTS[n % len(PARTS)]
    tracks = n % 4 != 0
    return {
        "itemName": f"{part} {n + 1:03d}",
        "description": f"{part}, contractor grade.",
        "categoryId": f"cat-{part.lower().replace(' ', '-')}",
        "sku": f"SB-{n + 1:05d}",
        "gtin": f"{7_350_000_000_000 + n * 7:014d}",
        "price": f.money(4, 240),
        "weight": round(f.random.uniform(0.05, 12), 2),
        "weightUnit": "lb",
        "stockCount": f.random.randrange(0, 80) if tracks else None,
        "tracksStock": tracks,
        "quantity": 1,
        "taxRateId": "tax-standard",
        "warranty": False,
        "index": n + 1,
        "createdAt": iso(f.past(365)),
    }


def check_inventory(context: Context, record: Record) -> None:
    stock = record.get("stockCount")
    if stock is not None and (not isinstance(stock, int) or stock < 0):
        raise SandboxError(400, "stockCount must be a whole number, 0 or more")


# --- quotes and invoices ----------------------------------------------------------------------------------


def _lines(f: Faker, count: int, prefix: str) -> list[Record]:
    out = []
    for k in range(count):
        title, price = f.service()
        out.append(
            {
                "id": f"{prefix}-{k + 1}",
                "title": title,
                "description": "",
                "price": price,
                "quantity": f.random.choice((1, 1, 2)),
                "taxRateId": "tax-standard",
            }
        )
    return out


def _total(record: Record) -> float:
    lines = [*(record.get("services") or []), *(record.get("inventoryItems") or [])]
    gross = sum(float(line.get("price") or 0) * float(line.get("quantity") or 0) for line in lines)
    discount = record.get("discount") or {}
    value = float(discount.get("value") or 0)
    off = gross * value / 100 if discount.get("type") == "percentage" else value
    return round(max(0.0, gross - off), 2)


def _check_lines(record: Record) -> None:
    for name in ("services", "inventoryItems"):
        for k, line in enumerate(record.get(name) or []):
            if not isinstance(line, dict) or not line.get("title"):
                raise SandboxError(400, f"{name}[{k}].title is required")
    discount = record.get("discount")
    if discount is not None:
        if not isinstance(discount, dict) or discount.get("type") not in ("percentage", "fixed"):
            raise SandboxError(400, "discount.type must be percentage or fixed")
        if discount["type"] == "percentage" and not 0 <= float(discount.get("value") or 0) <= 100:
            raise SandboxError(400, "a percentage discount must be between 0 and 100")


def _next_index(context: Context, name: str) -> int:
    """The next number of the organisation's sequence: one past the highest, so it stays contiguous."""
    return max((int(r.get("index") or 0) for r in context[name].all()), default=0) + 1


def _numbered(name: str, check: Callable[[Context, Record], None]) -> Callable[[Context, Record], Record]:
    def create(context: Context, body: Record) -> Record:
        _require(body, "customerId")
        record = {k: v for k, v in body.items() if k != "id"}
        check(context, record)
        if record.get("index") is None:
            record["index"] = _next_index(context, name)
        for name_ in ("services", "inventoryItems"):
            for k, line in enumerate(record.get(name_) or []):
                line.setdefault("id", f"{name_[:3]}-{k + 1}")
        if record.get("totalPrice") is None:
            record["totalPrice"] = _total(record)
        if not record.get("customerName"):
            record["customerName"] = _name(context["customers"].get(record["customerId"]) or {})
        return record

    return create


def _repriced(check: Callable[[Context, Record], None]) -> Callable[[Context, Record, Record], None]:
    """A partial update; new line items or a new discount recompute the total unless it is given."""
    merge = _merge(check)

    def update(context: Context, record: Record, body: Record) -> None:
        merge(context, record, body)
        if "totalPrice" not in body and {"services", "inventoryItems", "discount"} & set(body):
            record["totalPrice"] = _total(record)

    return update


def quote(f: Faker, n: int, context: Context) -> Record:
    owner = _customer_of(context, n)
    created = f.past(120)
    sent = created + timedelta(hours=f.random.randrange(1, 48))
    accepted = n % 3 == 0
    record: Record = {
        "index": n + 1,
        "ticketId": context["tickets"].seeded_id(n) if n < context["tickets"].seeded and n % 2 == 0 else None,
        "customerId": owner.get("id"),
        "customerName": _name(owner),
        "title": f"Quote for {_name(owner) or 'customer'}",
        "message": "Thanks for the opportunity. This quote is valid for 30 days.",
        "terms": "50% deposit to schedule; balance on completion.",
        "depositRequest": n % 2 == 0,
        "depositDueDays": 7,
        "balanceDueDays": 30,
        "dueDays": 30,
        "expirationDays": 30,
        "expirationDate": iso(created + timedelta(days=30)),
        "neverExpires": False,
        "accepted": accepted,
        "invoiced": accepted and n % 2 == 0,
        "viewedByCustomer": accepted or f.chance(0.5),
        "viewedDate": iso(sent + timedelta(hours=3)),
        "acceptedDate": iso(sent + timedelta(days=1)) if accepted else None,
        "invoicedDate": iso(sent + timedelta(days=5)) if accepted and n % 2 == 0 else None,
        "sentDate": iso(sent),
        "createdOn": iso(created),
        "services": _lines(f, 1 + n % 3, "svc"),
        "inventoryItems": _lines(f, n % 2, "inv"),
        "discount": {"type": "percentage", "value": 10, "reason": "Returning customer"}
        if n % 5 == 0
        else None,
    }
    record["totalPrice"] = _total(record)
    record["depositAmount"] = round(record["totalPrice"] / 2, 2) if record["depositRequest"] else 0
    record["balanceAmount"] = round(record["totalPrice"] - record["depositAmount"], 2)
    return record


def check_quote(context: Context, record: Record) -> None:
    _check_lines(record)
    _linked(context, record)


def invoice(f: Faker, n: int, context: Context) -> Record:
    owner = _customer_of(context, n)
    created = f.past(120)
    paid = n % 2 == 1
    record: Record = {
        "index": n + 1,
        "ticketId": context["tickets"].seeded_id(n) if n < context["tickets"].seeded else None,
        "customerId": owner.get("id"),
        "customerName": _name(owner),
        "title": f"Invoice for {_name(owner) or 'customer'}",
        "message": "Thank you for your business.",
        "terms": "Due within 30 days.",
        "paymentAdvice": "Pay by card online or by bank transfer.",
        "depositRequested": n % 4 == 0,
        "depositPaid": n % 4 == 0,
        "balancePaid": paid,
        "paid": paid,
        "invoiceDate": iso(created),
        "dueDate": iso(created + timedelta(days=30)),
        "depositDueDate": iso(created + timedelta(days=7)) if n % 4 == 0 else None,
        "balanceDueDate": iso(created + timedelta(days=30)),
        "createdOn": iso(created),
        "sentDate": iso(created + timedelta(hours=2)),
        "paidDate": iso(created + timedelta(days=f.random.randrange(1, 30))) if paid else None,
        "viewedByCustomer": paid or f.chance(0.6),
        "viewedDate": iso(created + timedelta(hours=6)),
        "services": _lines(f, 1 + n % 2, "svc"),
        "inventoryItems": _lines(f, n % 3, "inv"),
        "discount": {"type": "fixed", "value": 25, "reason": "Coupon"} if n % 7 == 0 else None,
    }
    record["totalPrice"] = _total(record)
    record["depositAmount"] = round(record["totalPrice"] / 4, 2) if record["depositRequested"] else 0
    record["balanceAmount"] = round(record["totalPrice"] - record["depositAmount"], 2)
    return record


def check_invoice(context: Context, record: Record) -> None:
    _check_lines(record)
    _linked(context, record)
    if record.get("paid") and not record.get("paidDate"):
        record["paidDate"] = context.now


# --- calendar events --------------------------------------------------------------------------------


def calendar_event(f: Faker, n: int, context: Context) -> Record:
    linked = n % 2 == 0 and n < context["tickets"].seeded
    start = f.around(30)
    job = context["tickets"].get(context["tickets"].seeded_id(n)) if linked else None
    return {
        "title": f"Job: {job.get('customerName')}"
        if job
        else ("Team meeting", "Van service", "Training")[n % 3],
        "description": "",
        "startTime": job["serviceTime"] if job else iso(start),
        "endTime": job["endTime"] if job else iso(start + timedelta(minutes=60)),
        "allDay": False,
        "assignedToId": job.get("assignedTechnician") if job else TECHNICIANS[n % len(TECHNICIANS)],
        "ticketId": job.get("id") if job else None,
        "customerId": job.get("customerId") if job else None,
        "createdAt": iso(f.past(60)),
    }


def check_event(context: Context, record: Record) -> None:
    _times_in_order(record, "startTime", "endTime")
    _linked(context, record)


# --- the organisation ---------------------------------------------------------------------------------


def _organisation(context: Context) -> Record:
    extra = context.partition.sandbox.extra
    key = f"organisation:{context.partition.key}"
    if key not in extra:
        name = "Sandbox Heating & Plumbing" if context.partition.key == ORG else "Other Org Services"
        extra[key] = {
            "id": context.partition.key,
            "name": name,
            "email": "office@sandbox-heating.example.com",
            "phone": "+13035550100",
            "website": "https://sandbox-heating.example.com",
            "address": "1200 Larimer St, Denver, CO 80204",
            "timezone": "America/Denver",
            "currency": "USD",
        }
    record: Record = extra[key]
    return record


def get_organisation(context: Context) -> Reply:
    return Reply(_organisation(context))


def update_organisation(context: Context) -> Reply:
    if not isinstance(context.body, dict):
        raise SandboxError(400, "The request body must be a JSON object.")
    record = _organisation(context)
    record.update({k: v for k, v in context.body.items() if k != "id"})
    return Reply(record)


# --- the request rules: each field's type, from the developer docs -------------------------------------
# A wrong type anywhere in a body is a 400 naming the field before any handler reads it
# (:mod:`.rules`); required fields, enums, times in order and links are checked by the handlers above.
# Any optional field may be sent as null (an update clears it); unknown fields are kept as given.


def _t(*kinds: str, **extra: Any) -> dict[str, Any]:
    return {"type": [*kinds, "null"], **extra}


TEXT, NUMBER, WHOLE, FLAG = _t("string"), _t("number"), _t("integer"), _t("boolean")
WHEN = _t("string", format="date-time")
LINE = {
    "type": "object",
    "properties": {
        "id": TEXT,
        "title": TEXT,
        "description": TEXT,
        "price": NUMBER,
        "quantity": NUMBER,
        "taxRateId": TEXT,
    },
}
DOCUMENT = {  # what quotes and invoices share
    **dict.fromkeys(("customerId", "ticketId", "customerName", "title", "message", "terms"), TEXT),
    **dict.fromkeys(("totalPrice", "depositAmount", "balanceAmount"), NUMBER),
    **dict.fromkeys(("index", "depositDueDays", "balanceDueDays", "dueDays"), WHOLE),
    "viewedByCustomer": FLAG,
    **dict.fromkeys(("viewedDate", "sentDate", "createdOn"), WHEN),
    "services": _t("array", items=LINE),
    "inventoryItems": _t("array", items=LINE),
    "discount": _t("object", properties={"type": TEXT, "value": NUMBER, "reason": TEXT}, required=["type"]),
}
FIELDS: dict[str, dict[str, Any]] = {
    "customers": {
        **dict.fromkeys(("firstName", "lastName", "email", "phone", "businessName"), TEXT),
        "billingAddress": _t("object", additionalProperties=TEXT),
        "devices": _t("array"),
    },
    "tickets": {
        **dict.fromkeys(("customerId", "customerName", "serviceLocation", "status"), TEXT),
        **dict.fromkeys(("assignedTechnician", "description"), TEXT),
        **dict.fromkeys(("serviceTime", "endTime"), WHEN),
    },
    "services": {
        **dict.fromkeys(("title", "description", "priceType", "priceTimeRate", "taxRateId"), TEXT),
        "price": NUMBER,
        "warranty": FLAG,
        "warrantyDuration": WHOLE,
        "warrantyPeriod": TEXT,
    },
    "inventory": {
        **dict.fromkeys(("itemName", "description", "categoryId", "sku", "gtin", "weightUnit"), TEXT),
        **dict.fromkeys(("price", "weight", "quantity"), NUMBER),
        **dict.fromkeys(("tracksStock", "warranty"), FLAG),
        **dict.fromkeys(("stockCount", "warrantyDuration", "index"), WHOLE),
        **dict.fromkeys(("taxRateId", "warrantyPeriod"), TEXT),
    },
    "quotes": {
        **DOCUMENT,
        **dict.fromkeys(("depositRequest", "neverExpires", "accepted", "invoiced"), FLAG),
        "expirationDays": WHOLE,
        **dict.fromkeys(("expirationDate", "acceptedDate", "invoicedDate"), WHEN),
    },
    "invoices": {
        **DOCUMENT,
        "paymentAdvice": TEXT,
        **dict.fromkeys(("depositRequested", "depositPaid", "balancePaid", "paid"), FLAG),
        **dict.fromkeys(("invoiceDate", "dueDate", "depositDueDate", "balanceDueDate", "paidDate"), WHEN),
    },
    "calendar-events": {
        **dict.fromkeys(("title", "description", "assignedToId", "ticketId", "customerId"), TEXT),
        **dict.fromkeys(("startTime", "endTime"), WHEN),
        "allDay": FLAG,
    },
}
ORGANISATION = dict.fromkeys(("name", "email", "phone", "website", "address", "timezone", "currency"), TEXT)


def request_rules() -> dict[str, Any]:
    """Body rules of every write: create (POST) and update (PUT) of each resource, the organisation."""
    table: dict[str, Any] = {f"PUT {shape(BASE)}": {"body": {"type": "object", "properties": ORGANISATION}}}
    for name, fields in FIELDS.items():
        body = {"type": "object", "properties": fields}
        table[f"POST {shape(BASE)}/{name}"] = {"body": body}
        table[f"PUT {shape(BASE)}/{name}/{{}}"] = {"body": body}
    return table


def refuse(problems: list[tuple[str, str]]) -> SandboxError:
    """Servicebay's 400: one message naming each field."""
    return SandboxError(
        400, "; ".join(f"{name}: {problem}" if name else problem for name, problem in problems)
    )


# --- the table -----------------------------------------------------------------------------------------


def _resource(name: str, list_key: str, seed: int, factory: Any, check: Any, **options: Any) -> Resource:
    stamps = options.pop("timestamps", ("createdAt", "updatedAt"))
    return Resource(
        name,
        f"{BASE}/{name}",
        seed=seed,
        factory=factory,
        id_base=None,
        id_field="id",
        create=options.pop("create", None) or _created(check),
        update=options.pop("update", None) or _merge(check),
        update_method="PUT",
        created_status=201,
        deleted=lambda record: dict(DELETED),
        timestamps=stamps,
        list_key=list_key,
        **options,
    )


RESOURCES = (
    _resource(
        "customers",
        "customers",
        12_000,
        customer,
        check_customer,
        create=_created(check_customer, "firstName", "lastName", "email"),
        filters={"search": Filter("firstName|lastName|email|businessName", "contains")},
        fixtures=(CALLER,),
    ),
    _resource(
        "tickets",
        "tickets",
        300,
        ticket,
        check_ticket,
        create=create_ticket,
        filters={
            "status": Filter("status"),
            "customerId": Filter("customerId"),
            "assignedTechnician": Filter("assignedTechnician"),
        },
    ),
    _resource(
        "services",
        "services",
        200,
        service,
        check_service,
        create=_created(check_service, "title"),
        filters={"search": Filter("title|description", "contains")},
    ),
    _resource(
        "inventory",
        "items",
        300,
        inventory_item,
        check_inventory,
        create=_created(check_inventory, "itemName"),
        filters={
            "search": Filter("itemName|description|sku", "contains"),
            "sku": Filter("sku"),
            "categoryId": Filter("categoryId"),
        },
    ),
    _resource(
        "quotes",
        "quotes",
        300,
        quote,
        check_quote,
        create=_numbered("quotes", check_quote),
        update=_repriced(check_quote),
        timestamps=("createdOn", None),
        filters={
            "customerId": Filter("customerId"),
            "ticketId": Filter("ticketId"),
            "accepted": Filter("accepted", "bool"),
        },
    ),
    _resource(
        "invoices",
        "invoices",
        300,
        invoice,
        check_invoice,
        create=_numbered("invoices", check_invoice),
        update=_repriced(check_invoice),
        timestamps=("createdOn", None),
        filters={
            "customerId": Filter("customerId"),
            "ticketId": Filter("ticketId"),
            "paid": Filter("paid", "bool"),
        },
    ),
    _resource(
        "calendar-events",
        "events",
        300,
        calendar_event,
        check_event,
        create=_created(check_event, "title", "startTime", "endTime"),
        filters={
            "from": Filter("endTime", "gte"),
            "to": Filter("startTime", "lte"),
            "assignedToId": Filter("assignedToId"),
            "ticketId": Filter("ticketId"),
        },
    ),
)

VENDOR = Vendor(
    name="servicebay",
    dialect=ServicebayDialect(),
    resources=RESOURCES,
    operations=(
        Operation("GET", f"{BASE}/customers/lookup", lookup_customer),
        Operation("GET", BASE, get_organisation),
        Operation("PUT", BASE, update_organisation),
    ),
    partitions={ORG: 1.0, OTHER_ORG: 0.01},
    rate_limit=(100, 60.0),
    rules=Rules(request_rules, refuse),
)
