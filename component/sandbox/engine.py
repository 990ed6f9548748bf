"""A declarative REST emulation: a resource table drives list, get, create, update and delete.

A vendor is data: a :class:`Dialect` (auth, envelope, pagination, errors, rate-limit headers), a
tuple of :class:`Resource` rows, and a few :class:`Operation` rows for the vendor's own endpoints
(a token endpoint, "cancel", "assign technicians"), each a named function. :func:`build_app` turns
that into one Starlette application. Every request, generated or custom, passes the same steps:
faults and latency, authentication (which picks the data partition: a tenant, an organisation),
the rate limit, the handler, and the vendor's error body for a :class:`SandboxError`.

Records live in memory for the life of the process, one set of collections per partition, each
seeded lazily from its factory the first time something reads it.
"""

from __future__ import annotations

import inspect
import json
import operator
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .data import Faker, doc_id, iso, parse_time
from .faults import DroppedConnection, Faults, RateLimiter

Record = dict[str, Any]


class SandboxError(Exception):
    """An error the vendor would answer with; the dialect renders its body."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})


# --- the resource table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A list filter: the query value compared with a record field (``a|b`` tries several fields).

    ``op``: ``eq`` (as text), ``ieq`` (case-insensitive), ``contains`` (case-insensitive substring),
    ``in`` (comma-separated values), ``has`` (the field is a list holding the value), ``gte``/``gt``/
    ``lt``/``lte`` (date-times), ``bool`` (true/false), ``active`` (ServiceTitan True|Any|False).
    ``default`` applies when the parameter is absent. ``custom`` replaces ``op``: called once per
    request with the raw value and the parameter name (raise SandboxError to refuse it), it returns
    the test of one field value. ``index``: the values are ids of the listed resource (``ids=1,2``),
    so a list given this parameter reads just those records instead of the whole collection.
    """

    field: str
    op: str = "eq"
    default: str | None = None
    custom: Callable[[str, str], Callable[[Any], bool]] | None = None
    index: bool = False


Factory = Callable[[Faker, int, "Context"], Record]
Builder = Callable[["Context", Record], Record]
Updater = Callable[["Context", Record, Record], None]
Effect = Callable[["Context", Record], None]
Shape = Callable[[Record], Any]


def _same(record: Record) -> Any:
    return record


@dataclass(frozen=True)
class Resource:
    """One collection and its CRUD endpoints. ``path`` may hold partition placeholders ({tenant})."""

    name: str
    path: str
    seed: int = 0
    factory: Factory | None = None
    id_field: str = "id"
    id_base: int | None = 1  # integer ids from here; None: 20-character document ids
    filters: Mapping[str, Filter] = field(default_factory=dict)
    sorts: Mapping[str, str] = field(default_factory=dict)  # vendor's sort name -> record field
    ops: frozenset[str] = frozenset({"list", "get", "create", "update", "delete"})
    update_method: str = "PATCH"
    create: Builder | None = None  # body -> record fields; validates (raise SandboxError)
    update: Updater | None = None  # applies a body to a record; default: merge the body's fields
    after_create: Effect | None = None
    after_update: Effect | None = None
    after_delete: Effect | None = None
    detail: Shape = _same  # what a get answers with
    created: Shape = _same  # what a create answers with
    updated: Shape | None = _same  # what an update answers with; None: an empty body
    deleted: Shape | None = None  # what a delete answers with; None: an empty body
    created_status: int = 200
    timestamps: tuple[str | None, str | None] = ("createdOn", "modifiedOn")
    list_key: str = "data"  # where the dialect puts a page of records
    fixtures: tuple[Record, ...] = ()  # fields laid over seeded records 0, 1, …: documented sample data

    @property
    def item_path(self) -> str:
        return f"{self.path}/{{{self.id_field}}}"


class Collection:
    """One resource's records in one partition.

    Seeded records are generated lazily: a read by id generates that one record, a list generates
    them all (once). Records created through the API follow the seeded ones, in creation order.
    """

    def __init__(self, resource: Resource, partition: Partition, seeded: int) -> None:
        self.resource = resource
        self.partition = partition
        self.seeded = seeded
        self._records: dict[Any, Record] = {}
        self._removed: set[Any] = set()
        self._complete = seeded == 0 or resource.factory is None
        self._doc_index: dict[str, int] | None = None
        self._created = 0
        self._context: Context | None = None

    def seeded_id(self, n: int) -> Any:
        base = self.resource.id_base
        return base + n if base is not None else doc_id(self.resource.name, n, self.partition.sandbox.seed)

    def _seeded_index(self, key: Any) -> int | None:
        base = self.resource.id_base
        if base is not None:
            n = key - base if isinstance(key, int) else -1
            return n if 0 <= n < self.seeded else None
        if self._doc_index is None:
            self._doc_index = {self.seeded_id(n): n for n in range(self.seeded)}
        return self._doc_index.get(key)

    def _generate(self, n: int) -> Record:
        assert self.resource.factory is not None
        if self._context is None:
            self._context = Context(self.partition, None)
        sandbox = self.partition.sandbox
        faker = Faker(sandbox.seed, f"{self.partition.key}:{self.resource.name}", n, sandbox.today)
        record = self.resource.factory(faker, n, self._context)
        if n < len(self.resource.fixtures):
            record.update(self.resource.fixtures[n])
        record.setdefault(self.resource.id_field, self.seeded_id(n))
        return record

    def _complete_seed(self) -> dict[Any, Record]:
        if not self._complete:
            ordered: dict[Any, Record] = {}
            for n in range(self.seeded):
                key = self.seeded_id(n)
                if key not in self._removed:
                    ordered[key] = self._records[key] if key in self._records else self._generate(n)
            for key, record in self._records.items():
                ordered.setdefault(key, record)
            self._records = ordered
            self._complete = True
        return self._records

    def new_id(self) -> Any:
        self._created += 1
        if self.resource.id_base is not None:
            return self.resource.id_base + self.seeded + self._created - 1
        return doc_id(self.resource.name, -self._created, self.partition.sandbox.seed)

    def parse_id(self, text: str) -> Any:
        if self.resource.id_base is None:
            return text
        try:
            return int(text)
        except ValueError:
            raise SandboxError(
                400, f"The value '{text}' is not valid.", {"id": [f"'{text}' is not an id"]}
            ) from None

    def all(self) -> list[Record]:
        return list(self._complete_seed().values())

    def loaded(self) -> list[Record]:
        """The records generated or created so far (no seeding): for scans that know their seeded part."""
        return list(self._records.values())

    def get(self, key: Any) -> Record | None:
        try:
            found = self._records.get(key)
        except TypeError:  # an object or a list where an id belongs: no such record (rules refuse it first)
            return None
        if found is not None or self._complete or key in self._removed:
            return found
        n = self._seeded_index(key)
        if n is None or self.resource.factory is None:
            return None
        record = self._records[key] = self._generate(n)
        return record

    def require(self, key: Any, what: str | None = None) -> Record:
        record = self.get(key)
        if record is None:
            raise SandboxError(404, f"{what or self.resource.name} with id {key} was not found")
        return record

    def insert(self, record: Record) -> Record:
        record.setdefault(self.resource.id_field, self.new_id())
        self._records[record[self.resource.id_field]] = record
        return record

    def remove(self, key: Any) -> None:
        self._records.pop(key, None)
        self._removed.add(key)

    def __len__(self) -> int:
        return len(self._complete_seed())


class Partition:
    """The data one credential sees: a ServiceTitan tenant, a Servicebay organisation."""

    def __init__(self, sandbox: SandboxState, vendor: Vendor, key: str, scale: float) -> None:
        self.sandbox = sandbox
        self.key = key
        self.collections = {
            r.name: Collection(r, self, max(1, round(r.seed * scale)) if r.seed else 0)
            for r in vendor.resources
        }

    def __getitem__(self, name: str) -> Collection:
        return self.collections[name]


class Context:
    """What a handler, builder or side effect works with: the partition, the request, the time."""

    def __init__(self, partition: Partition, request: Request | None, body: Any = None) -> None:
        self.partition = partition
        self.request = request
        self.body = body
        self.now = iso(partition.sandbox.clock())

    def __getitem__(self, name: str) -> Collection:
        return self.partition[name]

    @property
    def params(self) -> Mapping[str, str]:
        return self.request.path_params if self.request else {}

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query_params if self.request else {}

    def insert(self, name: str, record: Record) -> Record:
        """Store a new record with its timestamps, as the resource's create endpoint would."""
        collection = self[name]
        created, modified = collection.resource.timestamps
        for stamp in (created, modified):
            if stamp:
                record.setdefault(stamp, self.now)
        return collection.insert(record)

    def touch(self, name: str, record: Record) -> None:
        """Mark a record modified now (every write moves its modified time)."""
        stamp = self[name].resource.timestamps[1]
        if stamp:
            record[stamp] = self.now


# --- vendors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A handler's answer: a payload the dialect wraps, or ``raw`` JSON as is; ``empty`` for no body."""

    payload: Any = None
    status: int = 200
    empty: bool = False
    raw: bool = False


Handler = Callable[[Context], Awaitable[Reply] | Reply]


@dataclass(frozen=True)
class Operation:
    """A vendor endpoint that is not plain CRUD, run by a named function."""

    method: str
    path: str
    handler: Handler
    public: bool = False  # no credentials needed (a token endpoint)


class Dialect(Protocol):
    """A vendor's conventions."""

    def authenticate(self, request: Request, state: SandboxState) -> str:
        """The partition the request's credentials may see; raise SandboxError 401/403."""
        ...

    def rate_key(self, request: Request, partition: str) -> str:
        """What the rate limit counts by."""
        ...

    def page(self, context: Context, resource: Resource, records: list[Record]) -> Any:
        """One page of ``records`` (already filtered and sorted) in the vendor's list shape."""
        ...

    def success(self, reply: Reply) -> Response: ...

    def error(self, error: SandboxError) -> Response: ...

    def rate_headers(self, limit: int, remaining: int, reset: float) -> dict[str, str]: ...


class RequestCheck(Protocol):
    """One operation's request rules (:mod:`.rules`)."""

    def check(self, context: Context) -> None:
        """Raise the vendor's 400 when the request breaks the operation's rules."""
        ...

    def declared(self, error: SandboxError) -> SandboxError:
        """A handler's error as the operation declares it."""
        ...


class RequestRules(Protocol):
    def checker(self, operation: Operation) -> RequestCheck | None: ...


@dataclass
class Vendor:
    name: str
    dialect: Dialect
    resources: tuple[Resource, ...]
    operations: tuple[Operation, ...] = ()
    partitions: Mapping[str, float] = field(default_factory=dict)  # partition -> seed scale
    rate_limit: tuple[int, float] | None = None  # requests per seconds
    faults: Faults = field(default_factory=Faults)
    rules: RequestRules | None = None  # every request checked before its handler (None: none are)

    def resource(self, name: str) -> Resource:
        return next(r for r in self.resources if r.name == name)


@dataclass
class SandboxState:
    """Everything one vendor app holds for the life of the process."""

    vendor: Vendor
    seed: int
    today: date
    clock: Callable[[], datetime]
    partitions: dict[str, Partition] = field(default_factory=dict)
    limiter: RateLimiter | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # vendor-held state (issued tokens …)

    def partition(self, key: str) -> Partition:
        if key not in self.partitions:
            scale = self.vendor.partitions.get(key, 0.0)
            self.partitions[key] = Partition(self, self.vendor, key, scale)
        return self.partitions[key]

    def reset(self) -> None:
        self.partitions.clear()
        self.extra.clear()
        if self.limiter:
            self.limiter.reset()


# --- list mechanics -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _value(record: Record, path: str) -> Any:
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _refuse(raw: str, param: str, problem: str) -> SandboxError:
    return SandboxError(400, f"The value '{raw}' is not valid for {param}.", {param: [problem]})


_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lt": operator.lt,
    "lte": operator.le,
}


def _value_test(op: str, raw: str, param: str) -> Callable[[Any], bool]:
    """The test of one field value for a filter ``op`` and its query value, prepared once per request
    (a value the op cannot take is refused here, before any record is read)."""
    compare = _COMPARE.get(op)
    if compare is not None:
        moment = parse_time(raw)
        if moment is None:
            raise _refuse(raw, param, "not a date-time")
        bound = iso(moment)
        return lambda stamp: isinstance(stamp, str) and compare(stamp, bound)
    if op in ("bool", "active"):
        wanted = raw.strip().lower()
        if wanted not in ("true", "false", *(("any",) if op == "active" else ())):
            raise _refuse(raw, param, "not a boolean" if op == "bool" else "True, Any or False")
        flag = wanted == "true"
        return (lambda value: True) if wanted == "any" else (lambda value: value is flag)
    if op == "in":
        wanted_set = {part.strip() for part in raw.split(",") if part.strip()}
        return lambda value: _text(value) in wanted_set
    if op == "has":
        return lambda value: isinstance(value, list) and raw in [_text(x) for x in value]
    if op == "contains":
        needle = raw.lower()
        return lambda value: needle in _text(value).lower()
    if op == "ieq":
        lowered = raw.lower()
        return lambda value: _text(value).lower() == lowered
    return lambda value: _text(value) == raw


def select(context: Context, resource: Resource, records: Iterable[Record]) -> list[Record]:
    """Apply the resource's filters and sort from the request's query."""
    query = context.query
    chosen = list(records)
    for param, flt in resource.filters.items():
        raw = query.get(param, flt.default)
        if raw is None or raw == "":
            continue
        test = flt.custom(raw, param) if flt.custom else _value_test(flt.op, raw, param)
        if "|" in flt.field or "." in flt.field:
            fields = flt.field.split("|")
            chosen = [r for r in chosen if any(test(_value(r, name)) for name in fields)]
        else:  # one top-level field: the common case, read directly
            chosen = [r for r in chosen if test(r.get(flt.field))]
    sort = query.get("sort")
    if sort:
        direction, name = sort[0], sort[1:]
        if direction not in "+-" or name not in resource.sorts:
            allowed = ", ".join(sorted(resource.sorts)) or "none"
            raise SandboxError(
                400, f"Sort by '{sort}' is not supported; allowed: {allowed}.", {"sort": [sort]}
            )
        key, id_field = resource.sorts[name], resource.id_field
        read: Callable[[Record], Any] = (lambda r: _value(r, key)) if "." in key else (lambda r: r.get(key))
        chosen.sort(key=lambda r: (_text(read(r)), _text(r.get(id_field))), reverse=direction == "-")
    return chosen


_INTEGER = re.compile(r"-?[0-9]+")  # ASCII digits only: "³".isdigit() is true, int("³") fails


def candidates(context: Context, resource: Resource) -> list[Record]:
    """The records a list filters: those an ``index`` filter names, else the whole collection."""
    collection = context[resource.name]
    for param, flt in resource.filters.items():
        raw = context.query.get(param)
        if flt.index and raw and resource.id_base is not None:
            keys = {int(part) for part in raw.split(",") if _INTEGER.fullmatch(part.strip())}
            found = (collection.get(key) for key in sorted(keys))  # integer ids: the collection's order
            return [record for record in found if record is not None]
    return collection.all()


# --- the application ------------------------------------------------------------------------------------


def crud_operations(resource: Resource) -> list[Operation]:
    """The generated list/get/create/update/delete endpoints of one resource."""
    name = resource.name

    def one(context: Context) -> tuple[Collection, Record]:
        collection = context[name]
        key = collection.parse_id(context.params[resource.id_field])
        return collection, collection.require(key)

    def list_records(context: Context) -> Reply:
        records = select(context, resource, candidates(context, resource))
        return Reply(context.partition.sandbox.vendor.dialect.page(context, resource, records))

    def get_record(context: Context) -> Reply:
        return Reply(resource.detail(one(context)[1]))

    def create_record(context: Context) -> Reply:
        body = _object_body(context)
        fields = resource.create(context, body) if resource.create else dict(body)
        fields.pop(resource.id_field, None) if resource.create is None else None
        record = context.insert(name, fields)
        if resource.after_create:
            resource.after_create(context, record)
        return Reply(resource.created(record), status=resource.created_status)

    def update_record(context: Context) -> Reply:
        body = _object_body(context)
        _, record = one(context)
        if resource.update:
            resource.update(context, record, body)
        else:
            record.update({k: v for k, v in body.items() if k != resource.id_field})
        context.touch(name, record)
        if resource.after_update:
            resource.after_update(context, record)
        shape = resource.updated
        return Reply(None, empty=True) if shape is None else Reply(shape(record))

    def delete_record(context: Context) -> Reply:
        collection, record = one(context)
        collection.remove(record[resource.id_field])
        if resource.after_delete:
            resource.after_delete(context, record)
        shape = resource.deleted
        return Reply(None, empty=True) if shape is None else Reply(shape(record))

    table = {
        "list": ("GET", resource.path, list_records),
        "create": ("POST", resource.path, create_record),
        "get": ("GET", resource.item_path, get_record),
        "update": (resource.update_method, resource.item_path, update_record),
        "delete": ("DELETE", resource.item_path, delete_record),
    }
    return [
        Operation(*table[op]) for op in ("list", "create", "get", "update", "delete") if op in resource.ops
    ]


def _object_body(context: Context) -> Record:
    if not isinstance(context.body, dict):
        raise SandboxError(
            400, "The request body must be a JSON object.", {"body": ["expected a JSON object"]}
        )
    return context.body


class Unanswered(Response):
    """No answer at all: the client closed its connection before its request was read (it timed out
    during the sandbox's latency, or its process died), so the request is not handled and nothing is
    sent: there is no one to send it to. A server error here would be the sandbox's own fault."""

    def __init__(self) -> None:
        super().__init__(status_code=499)  # never sent; nginx's "client closed request", for the reader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


async def _read_body(request: Request) -> Any:
    """The request body, as JSON where it says so (raw bytes otherwise, None when empty); raises
    :class:`ClientDisconnect` when the client has gone before it was read."""
    raw = await request.body()
    if not raw:
        return None
    if "json" not in request.headers.get("content-type", "application/json"):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SandboxError(400, "The request body is not valid JSON.", {"body": ["invalid JSON"]}) from None


_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


class VendorApp:
    """One vendor's Starlette app plus the state and switches tests reach for."""

    def __init__(self, vendor: Vendor, *, seed: int, today: date, clock: Callable[[], datetime]) -> None:
        self.vendor = vendor
        self.faults = vendor.faults
        limiter = RateLimiter(*vendor.rate_limit) if vendor.rate_limit else None
        self.state = SandboxState(vendor, seed, today, clock, limiter=limiter)
        self.requests = 0
        by_path: dict[str, dict[str, Operation]] = {}
        operations = [*vendor.operations, *(op for r in vendor.resources for op in crud_operations(r))]
        for operation in operations:
            by_path.setdefault(operation.path, {}).setdefault(operation.method, operation)
        self.served: dict[str, dict[str, Operation]] = by_path  # path -> method -> operation, as routed
        # Each route takes every method and answers 405 itself for one it does not serve, so a literal
        # path (/installed-equipment/attachments) is never read as an id of the route after it.
        self.app = Starlette(
            routes=[Route(path, self._endpoint(ops), methods=_METHODS) for path, ops in by_path.items()],
            exception_handlers={404: self._no_route, 405: self._no_route},
        )

    async def _no_route(self, request: Request, exc: Exception) -> Response:
        """An unknown path or method, answered in the vendor's own error shape."""
        status = getattr(exc, "status_code", 404)
        message = "Not found" if status == 404 else f"Method {request.method} is not allowed here"
        response = self.vendor.dialect.error(SandboxError(status, message))
        response.headers.update(getattr(exc, "headers", None) or {})  # a 405's Allow
        return response

    def _endpoint(self, operations: dict[str, Operation]) -> Callable[[Request], Awaitable[Response]]:
        allowed = ", ".join(sorted({*operations, *(("HEAD",) if "GET" in operations else ())}))

        async def endpoint(request: Request) -> Response:
            operation = operations.get("GET" if request.method == "HEAD" else request.method)
            if operation is None:
                message = f"Method {request.method} is not allowed here"
                response = self.vendor.dialect.error(SandboxError(405, message))
                response.headers["Allow"] = allowed
                return response
            return await self.handle(request, operation)

        return endpoint

    async def handle(self, request: Request, operation: Operation) -> Response:
        self.requests += 1
        dialect = self.vendor.dialect
        await self.faults.delay()
        limit_headers: dict[str, str] = {}
        rules = self.vendor.rules.checker(operation) if self.vendor.rules else None
        try:
            self.faults.before(self.vendor.name, operation.public)
            partition_key = "" if operation.public else dialect.authenticate(request, self.state)
            if self.state.limiter and not operation.public:
                allowed, remaining, reset = self.state.limiter.take(dialect.rate_key(request, partition_key))
                limit_headers = dialect.rate_headers(self.state.limiter.requests, remaining, reset)
                if not allowed:
                    wait = max(1, int(reset - self.state.limiter.wall() + 0.999))
                    raise SandboxError(
                        429, "Too many requests; slow down.", headers={"Retry-After": str(wait)}
                    )
            try:
                body = await _read_body(request)
            except ClientDisconnect:  # the server says so on the first read after the client hung up
                return Unanswered()
            context = Context(self.state.partition(partition_key), request, body)
            if rules is not None:
                rules.check(context)
            result = operation.handler(context)
            reply = await result if inspect.isawaitable(result) else result
            response = dialect.success(replace(reply, payload=public(reply.payload)))
        except SandboxError as refused:
            error = rules.declared(refused) if rules is not None else refused
            response = dialect.error(error)
            response.headers.update(error.headers)
        response.headers.update(limit_headers)
        return self.faults.after(response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _internal(record: dict[Any, Any]) -> bool:
    """Whether a record has internal fields (``_``-prefixed keys): one C-level scan of its keys."""
    try:
        return "\0_" in "\0" + "\0".join(record)
    except TypeError:  # a key that is not text: not a record
        return any(isinstance(key, str) and key[:1] == "_" for key in record)


def _strip(record: Any) -> Any:
    if isinstance(record, dict) and _internal(record):
        return {k: v for k, v in record.items() if not (isinstance(k, str) and k[:1] == "_")}
    return record


def public(payload: Any) -> Any:
    """The payload without internal fields (record keys starting with ``_``), which never leave the sandbox.

    Internal fields sit at the top level of records; records sit at the top of a payload or in its
    lists (a page), one level down at most (Servicebay's ``data.customers``).
    """
    if isinstance(payload, list):
        return [_strip(item) for item in payload]
    if not isinstance(payload, dict):
        return payload
    out = _strip(payload)
    out = dict(out) if out is payload else out
    for key, value in out.items():
        if isinstance(value, list):
            out[key] = [_strip(item) for item in value]
        elif isinstance(value, dict) and any(isinstance(v, list) for v in value.values()):
            out[key] = public(value)
    return out


__all__ = [
    "Collection",
    "Context",
    "Dialect",
    "DroppedConnection",
    "Filter",
    "Operation",
    "Record",
    "Reply",
    "RequestCheck",
    "RequestRules",
    "Resource",
    "SandboxError",
    "SandboxState",
    "Unanswered",
    "Vendor",
    "VendorApp",
    "candidates",
    "public",
    "select",
]
