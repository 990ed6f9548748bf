"""ServiceTitan's conventions: OAuth2 client credentials, ``ST-App-Key``, the tenant in the path,
``{page, pageSize, hasMore, totalCount, data}`` pages and RFC 7807 problem bodies."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..engine import Context, Record, Reply, Resource, SandboxError, SandboxState, select

TENANT = "1000001"
OTHER_TENANT = "2000002"
APP_KEY = "sandbox-app-key"
CLIENTS = {
    "sandbox-client-1000001": ("sandbox-client-secret-1000001", TENANT),
    "sandbox-client-2000002": ("sandbox-client-secret-2000002", OTHER_TENANT),
}
MAX_PAGE_SIZE = 5000
MAX_IDS = 50
INVALID = "One or more validation errors occurred."


class Download(bytes):
    """A file answered as is (not JSON), with its media type."""

    media_type = "application/octet-stream"


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
        page = integer(query.get("page"), "page", 1)
        size = integer(query.get("pageSize"), "pageSize", 50)
        if page < 1:
            raise SandboxError(400, INVALID, {"page": ["must be 1 or more"]})
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise SandboxError(400, INVALID, {"pageSize": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
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
        if isinstance(reply.payload, Download):
            return Response(
                bytes(reply.payload), status_code=reply.status, media_type=reply.payload.media_type
            )
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


# --- request helpers -----------------------------------------------------------------------------------


def integer(text: str | None, name: str, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise SandboxError(400, INVALID, {name: [f"'{text}' is not valid"]}) from None


def invalid(name: str, problem: str) -> SandboxError:
    return SandboxError(400, INVALID, {name: [problem]})


def body_of(context: Context) -> Record:
    if not isinstance(context.body, dict):
        raise invalid("body", "expected a JSON object")
    return context.body


def require(body: Mapping[str, Any], *names: str, prefix: str = "") -> None:
    """A 400 naming every required field that is missing or empty."""
    missing = {
        f"{prefix}{name}": [f"The {name} field is required."]
        for name in names
        if body.get(name) is None or body.get(name) == ""
    }
    if missing:
        raise SandboxError(400, INVALID, missing)


def one_of(body: Mapping[str, Any], name: str, allowed: Iterable[str]) -> None:
    value = body.get(name)
    options = tuple(allowed)
    if value is not None and value not in options:
        raise invalid(name, f"'{value}' is not one of {', '.join(options)}")


def path_id(context: Context, name: str = "id") -> int:
    text = context.params[name]
    try:
        return int(text)
    except ValueError:
        raise invalid(name, f"'{text}' is not an id") from None


def page_of(
    context: Context, collection: str, records: Iterable[Record], shape: Callable[[Record], Any] | None = None
) -> Reply:
    """A list answer from a custom endpoint: the resource's filters and sort, then one page."""
    resource = context[collection].resource
    page = context.partition.sandbox.vendor.dialect.page(
        context, resource, select(context, resource, records)
    )
    if shape is not None:
        page["data"] = [shape(record) for record in page["data"]]
    return Reply(page)


# --- list filters (Filter.custom) ----------------------------------------------------------------------


def ids_filter(raw: str, param: str) -> Callable[[Any], bool]:
    """``ids=1,2,3``: at most 50."""
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    if len(wanted) > MAX_IDS:
        raise invalid(param, f"at most {MAX_IDS} ids")
    return lambda value: str(value) in wanted


def any_id_filter(key: str | None = None) -> Callable[[str, str], Callable[[Any], bool]]:
    """A comma list matched against a record's list of ids (or of objects' ``key``): any in common."""

    def compile_filter(raw: str, param: str) -> Callable[[Any], bool]:
        wanted = {part.strip() for part in raw.split(",") if part.strip()}

        def test(value: Any) -> bool:
            items = value if isinstance(value, list) else []
            found = (item.get(key) if key and isinstance(item, dict) else item for item in items)
            return any(str(item) in wanted for item in found)

        return test

    return compile_filter


def amount_filter(greater: bool) -> Callable[[str, str], Callable[[Any], bool]]:
    """``totalGreater``/``totalLess`` on accounting's text amounts."""

    def compile_filter(raw: str, param: str) -> Callable[[Any], bool]:
        try:
            bound = float(raw)
        except ValueError:
            raise invalid(param, f"'{raw}' is not a number") from None
        return lambda value: value is not None and (float(value) > bound if greater else float(value) < bound)

    return compile_filter


def active_state_filter(raw: str, param: str) -> Callable[[Any], bool]:
    """Accounting's ``activeState``: ActiveOnly (the default), InactiveOnly or All."""
    states = {"activeonly": True, "inactiveonly": False, "all": None}
    key = raw.strip().lower()
    if key not in states:
        raise invalid(param, "ActiveOnly, InactiveOnly or All")
    wanted = states[key]
    return lambda value: wanted is None or value is wanted


# --- auth ----------------------------------------------------------------------------------------------


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
