"""The HTTP policy every request goes through: retries, error decoding, envelopes, URL safety,
pagination and rate budgets.

Everything runs against the fake vendor (``httpx2.MockTransport``) and a fake clock: no network and
no real sleeping.
"""

from __future__ import annotations

import asyncio
import threading
from email.utils import formatdate
from typing import Any

import httpx2
import pytest

from component import templates
from component.errors import (
    AuthError,
    BadRequestError,
    ConflictError,
    InputValidationError,
    NotFoundError,
    RateLimitedError,
    RequestRefusedError,
    ServerError,
    TransportError,
    VendorError,
)
from component.http import OutgoingRequest
from component.models import CursorPagination, HttpPolicy, RateLimit
from component.pagination import collect
from component.policy import SYSTEM_CLOCK, RateBudget, backoff_delay, header_delay, may_retry
from tests.conftest import (
    CONNECTIONS,
    HB_API,
    HB_KEY,
    SB_API,
    SB_CONNECTION,
    SB_KEY,
    ST_API,
    ST_CONNECTION,
    FakeClock,
    json_body,
)
from tests.virtual_clock import VirtualClock

TENANT = ST_CONNECTION["tenant"]
ORG = SB_CONNECTION["orgId"]
VENDORS = ("servicetitan", "servicebay", "homebase360")
# Where each connector's rawRequest sends path "/x" (ServiceTitan: urlType "jpm" and the tenant first).
RAW_BASE = {"servicetitan": f"{ST_API}/jpm/v2/tenant/{TENANT}", "servicebay": SB_API, "homebase360": HB_API}
PING = {name: f"{base}/ping" for name, base in RAW_BASE.items()}
TECHNICIANS = f"{ST_API}/settings/v2/tenant/{TENANT}/technicians"
SB_LOOKUP = f"{SB_API}/organisations/{ORG}/customers/lookup"
SB_TICKET = {
    "customerId": "abc123",
    "serviceTime": "2026-12-10T14:00:00Z",
    "endTime": "2026-12-10T15:00:00Z",
}
ASSIGN = {"jobAppointmentId": 4401, "technicianIds": [501, 502]}
CUSTOMERS = CursorPagination(items="customers")  # Servicebay-style cursor paging


# --- helpers ------------------------------------------------------------------------------------


def raw(runtime: Any, name: str, path: str = "/ping", method: str = "GET", **inputs: Any) -> dict[str, Any]:
    """Run ``<name>.rawRequest`` with the connector's canary connection."""
    inputs = {"path": path, "method": method, **inputs}
    if name == "servicetitan":
        inputs["urlType"] = "jpm"
    return runtime.run_sync(f"{name}.rawRequest", inputs, CONNECTIONS[name])


def policy(catalog: Any, name: str) -> HttpPolicy:
    return catalog.connector(name).model.http


def enveloped(name: str, data: Any) -> Any:
    """A success body as the vendor sends it: Servicebay and Homebase360 wrap it in {success, data}."""
    return data if name == "servicetitan" else {"success": True, "data": data}


def reply(status: int, body: Any = None, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, json=body, headers=headers)


def refuse_connection(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def queries(vendor: Any) -> list[dict[str, str]]:
    return [dict(request.url.params) for request in vendor.api_requests]


def technician_pages(total_pages: int, per_page: int = 1000) -> Any:
    """A responder serving ``total_pages`` pages of generated technicians, by the ``page`` query param."""

    def respond(request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params["page"])
        first = (page - 1) * per_page + 1
        data = (
            [{"id": i, "name": f"Tech {i}"} for i in range(first, first + per_page)]
            if page <= total_pages
            else []
        )
        return reply(200, {"page": page, "data": data, "hasMore": page < total_pages})

    return respond


def cursor_pages(pages: dict[str | None, dict[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """An async send answering by the ``startAfter`` cursor, and the queries it was sent."""
    sent: list[dict[str, Any]] = []

    async def send(request: OutgoingRequest) -> Any:
        sent.append(dict(request.query))
        return pages[request.query.get("startAfter")]

    return send, sent


def acquire(budget: RateBudget, times: int) -> None:
    """``times`` requests one after another, each answered at once."""

    async def go() -> None:
        for _ in range(times):
            await budget.acquire()
            budget.release()

    asyncio.run(go())


def lookups(runtime: Any, connections: list[dict[str, str]]) -> None:
    """One Servicebay lookup per connection, in one event loop, each through a new session."""

    async def go() -> None:
        for connection in connections:
            await runtime.run("servicebay.lookupCustomer", {"phone": "+13038286690"}, connection)

    asyncio.run(go())


# --- 1. retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["servicetitan", "servicebay"])  # backoff 0.5 and 1
def test_get_503_is_retried_after_the_first_backoff(runtime, vendor, clock, catalog, name):
    vendor.route("GET", PING[name], reply(503), reply(200, enveloped(name, {"ok": True})))

    assert raw(runtime, name) == {"data": enveloped(name, {"ok": True})}  # raw: the whole body
    assert len(vendor.api_requests) == 2
    assert clock.sleeps == [policy(catalog, name).retry.backoff]


def test_post_503_is_not_retried(runtime, vendor, clock):
    vendor.route("POST", PING["servicetitan"], reply(503, {"title": "unavailable"}))

    with pytest.raises(ServerError) as caught:
        raw(runtime, "servicetitan", method="POST", json={"a": 1})

    assert caught.value.status == 503
    assert len(vendor.api_requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("ref", "url", "inputs", "connection"),
    [
        (
            "servicetitan.assignTechnicians",
            f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians",
            ASSIGN,
            ST_CONNECTION,
        ),
        ("servicebay.createJob", f"{SB_API}/organisations/{ORG}/tickets", SB_TICKET, SB_CONNECTION),
    ],
    ids=["servicetitan", "servicebay"],
)
def test_post_429_is_retried_because_the_vendor_did_nothing(runtime, vendor, ref, url, inputs, connection):
    created = {"id": 77}
    success = created if ref.startswith("servicetitan") else {"success": True, "data": created}
    vendor.route("POST", url, reply(429), reply(200, success))

    assert runtime.run_sync(ref, inputs, connection) == {"data": created}
    assert len(vendor.api_requests) == 2
    assert [json_body(r) for r in vendor.api_requests] == [inputs, inputs]


def test_retry_after_seconds_is_honoured(runtime, vendor, clock):
    vendor.route("GET", PING["servicetitan"], reply(429, **{"Retry-After": "7"}), reply(200, {}))

    raw(runtime, "servicetitan")

    assert clock.sleeps == [7.0]


def test_retry_after_http_date_is_honoured(runtime, vendor, clock):
    when = formatdate(clock.wall() + 12, usegmt=True)
    vendor.route("GET", PING["servicetitan"], reply(429, **{"Retry-After": when}), reply(200, {}))

    raw(runtime, "servicetitan")

    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] == pytest.approx(12, abs=1)


def test_servicebay_rate_limit_reset_timestamp_is_honoured(runtime, vendor, clock):
    reset = str(int(clock.wall() + 20))
    vendor.route(
        "GET", PING["servicebay"], reply(429, **{"X-RateLimit-Reset": reset}), reply(200, {"success": True})
    )

    raw(runtime, "servicebay")

    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] == pytest.approx(20, abs=1)


@pytest.mark.parametrize("name", ["servicetitan", "homebase360"])  # maxAttempts 4 and 3
def test_retries_stop_after_max_attempts_with_the_last_error(runtime, vendor, clock, catalog, name):
    http = policy(catalog, name)
    vendor.route("GET", PING[name], reply(503, {"message": "first"}), reply(503, {"message": "still down"}))

    with pytest.raises(ServerError) as caught:
        raw(runtime, name)

    assert caught.value.message == "still down"
    assert len(vendor.api_requests) == http.retry.maxAttempts
    assert clock.sleeps == [backoff_delay(n, http) for n in range(1, http.retry.maxAttempts)]


def test_429s_without_end_are_waited_out_until_the_deadline_then_raise_rate_limited(
    runtime, vendor, clock, catalog
):
    deadline = policy(catalog, "servicetitan").deadline
    vendor.route(
        "GET", PING["servicetitan"], reply(429, {"title": "Too many requests"}, **{"Retry-After": "3"})
    )

    with pytest.raises(RateLimitedError) as caught:
        raw(runtime, "servicetitan")

    assert (caught.value.status, caught.value.retry_after, caught.value.message) == (
        429,
        3.0,
        "Too many requests",
    )
    # maxAttempts does not cap 429 waits: every wait the vendor asked for that ends before the deadline
    attempts = int(deadline // 3)
    assert len(vendor.api_requests) == attempts
    assert clock.sleeps == [3.0] * (attempts - 1)


@pytest.mark.parametrize("name", VENDORS)
def test_a_429_burst_longer_than_max_attempts_is_waited_out(runtime, vendor, clock, catalog, name):
    http = policy(catalog, name)
    burst = http.retry.maxAttempts + 3
    limited = reply(429, {"message": "slow down"}, **{"Retry-After": "2"})
    vendor.route("GET", PING[name], *[limited] * burst, reply(200, {"success": True, "data": {"ok": 1}}))

    result = raw(runtime, name)

    assert result["data"] in ({"ok": 1}, {"success": True, "data": {"ok": 1}})
    assert len(vendor.api_requests) == burst + 1
    assert clock.sleeps == [2.0] * burst


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_429_burst_does_not_use_up_the_attempts_for_server_errors(runtime, vendor, clock, catalog, method):
    http = policy(catalog, "homebase360")
    limited = reply(429, {"message": "slow down"}, **{"Retry-After": "1"})
    failing = reply(503, {"message": "down"})
    # on POST a 503 is final (it may have been applied); on GET maxAttempts - 1 of them are retried
    errors = http.retry.maxAttempts - 1 if method == "GET" else 1
    vendor.route(method, PING["homebase360"], *[limited] * 5, *[failing] * errors, reply(200, {"ok": 1}))

    if method == "POST":
        with pytest.raises(ServerError):
            raw(runtime, "homebase360", method=method, json={})
        assert len(vendor.api_requests) == 5 + 1
        return
    assert raw(runtime, "homebase360", method=method) == {"data": {"ok": 1}}
    assert len(vendor.api_requests) == 5 + errors + 1


def test_a_429_past_max_attempts_without_a_stated_wait_backs_off_instead_of_spinning(
    runtime, vendor, clock, catalog
):
    http = policy(catalog, "homebase360")
    vendor.route("GET", PING["homebase360"], reply(429, {"message": "slow down"}, **{"Retry-After": "0"}))

    with pytest.raises(RateLimitedError):
        raw(runtime, "homebase360")

    past = clock.sleeps[http.retry.maxAttempts - 1 :]
    assert clock.sleeps[: http.retry.maxAttempts - 1] == [0.0] * (http.retry.maxAttempts - 1)  # as asked
    assert past == [backoff_delay(n, http) for n in range(http.retry.maxAttempts, len(clock.sleeps) + 1)]
    assert past[-1] == http.retry.maxBackoff  # growing to the cap, never a tight loop
    assert sum(clock.sleeps) <= http.deadline
    assert len(vendor.api_requests) < 20


def test_connection_error_on_get_is_retried(runtime, vendor, clock, catalog):
    vendor.route("GET", PING["servicebay"], refuse_connection, reply(200, {"success": True, "data": [1]}))

    assert raw(runtime, "servicebay") == {"data": {"success": True, "data": [1]}}
    assert len(vendor.api_requests) == 2
    assert clock.sleeps == [policy(catalog, "servicebay").retry.backoff]


def test_connect_error_on_post_is_retried_because_nothing_was_sent(runtime, vendor, clock, catalog):
    vendor.route("POST", PING["servicebay"], refuse_connection)

    with pytest.raises(TransportError) as caught:
        raw(runtime, "servicebay", method="POST", json={})

    assert "ConnectError" in caught.value.message
    assert SB_KEY not in caught.value.message
    assert caught.value.to_dict()["error"]["maybeApplied"] is False
    assert len(vendor.api_requests) == policy(catalog, "servicebay").retry.maxAttempts


def test_connection_dropped_after_a_post_was_sent_is_not_retried(runtime, vendor, clock):
    def drop(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.RemoteProtocolError("peer closed connection", request=request)

    vendor.route("POST", PING["servicebay"], drop)

    with pytest.raises(TransportError) as caught:
        raw(runtime, "servicebay", method="POST", json={})

    assert caught.value.to_dict()["error"]["maybeApplied"] is True
    assert len(vendor.api_requests) == 1
    assert clock.sleeps == []


def test_deadline_stops_retrying_when_the_next_sleep_would_pass_it(runtime, vendor, clock, catalog):
    wait = policy(catalog, "servicetitan").deadline * 2 / 3  # the first wait fits, the second does not
    vendor.route("GET", PING["servicetitan"], reply(429, **{"Retry-After": str(wait)}))

    with pytest.raises(RateLimitedError) as caught:
        raw(runtime, "servicetitan")

    assert caught.value.retry_after == wait
    assert len(vendor.api_requests) == 2
    assert clock.sleeps == [wait]


def test_may_retry_only_repeats_what_cannot_do_the_work_twice(catalog):
    cases = [
        ("GET", 503),
        ("DELETE", 500),
        ("GET", None),
        ("POST", 429),
        ("POST", 503),
        ("PATCH", None),
        ("GET", 404),
    ]

    decisions = {case: may_retry(*case, policy(catalog, "servicetitan")) for case in cases}

    assert decisions == {
        ("GET", 503): True,
        ("DELETE", 500): True,
        ("GET", None): True,
        ("POST", 429): True,
        ("POST", 503): False,
        ("PATCH", None): False,
        ("GET", 404): False,
    }


def test_backoff_doubles_up_to_max_backoff(catalog):
    http = policy(catalog, "servicetitan")  # backoff 0.5, maxBackoff 30

    assert [backoff_delay(n, http) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_header_delay_edge_cases(catalog):
    cases = {
        "negative retry-after": ({"Retry-After": "-5"}, 0.0),
        "garbage retry-after": ({"Retry-After": "soon"}, None),
        "reset in the past": ({"X-RateLimit-Reset": str(int(FakeClock().wall()) - 30)}, 0.0),
        "reset as seconds": ({"X-RateLimit-Reset": "15"}, 15.0),
        "no header": ({}, None),
    }
    http = policy(catalog, "servicebay")

    delays = {
        case: header_delay(httpx2.Response(429, headers=h), http, FakeClock())
        for case, (h, _) in cases.items()
    }

    assert delays == {case: expected for case, (_, expected) in cases.items()}


# --- 2. error decoding --------------------------------------------------------------------------


def test_servicetitan_api_error_response_keeps_the_vendor_facts(runtime, vendor):
    problem = {
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "traceId": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "errors": {"technicianIds": ["Technician 502 does not exist."]},
        "data": {"jobAppointmentId": 4401},
    }
    url = f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians"
    vendor.route("POST", url, reply(400, problem))

    with pytest.raises(BadRequestError) as caught:
        runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION)

    error = caught.value
    assert (error.message, error.status, error.trace_id) == (problem["title"], 400, problem["traceId"])
    assert error.errors == problem["errors"]
    assert error.to_dict() == {
        "error": {
            "type": "bad_request",
            "message": problem["title"],
            "status": 400,
            "vendor": "servicetitan",
            "traceId": problem["traceId"],
            "errors": problem["errors"],
            "maybeApplied": False,  # a 4xx: the vendor refused the request
        }
    }


@pytest.mark.parametrize(("status", "error_type"), [(404, NotFoundError), (409, ConflictError)])
def test_servicetitan_status_picks_the_error_type(runtime, vendor, status, error_type):
    vendor.route("GET", PING["servicetitan"], reply(status, {"title": f"status {status}", "traceId": "t-1"}))

    with pytest.raises(error_type) as caught:
        raw(runtime, "servicetitan")

    assert (caught.value.status, caught.value.message, caught.value.trace_id) == (
        status,
        f"status {status}",
        "t-1",
    )
    assert len(vendor.api_requests) == 1


def test_servicebay_error_envelope_becomes_auth_error(runtime, vendor):
    vendor.route("GET", PING["servicebay"], reply(403, {"success": False, "error": "API key revoked"}))

    with pytest.raises(AuthError) as caught:
        raw(runtime, "servicebay")

    assert (caught.value.status, caught.value.message, caught.value.vendor) == (
        403,
        "API key revoked",
        "servicebay",
    )


def test_servicebay_success_false_on_200_is_an_error(runtime, vendor, clock):
    vendor.route("GET", PING["servicebay"], reply(200, {"success": False, "error": "organisation suspended"}))

    with pytest.raises(VendorError) as caught:
        raw(runtime, "servicebay")

    assert caught.value.message == "organisation suspended"
    assert caught.value.status == 502  # the vendor failed while answering 200
    assert len(vendor.api_requests) == 1
    assert clock.sleeps == []


def test_homebase360_trace_id_comes_from_the_cloud_trace_header(runtime, vendor):
    trace = "105445aa7843bc8bf206b12000100000/1;o=1"
    body = {"success": False, "error": "phone is invalid"}
    vendor.route("GET", PING["homebase360"], reply(400, body, **{"x-cloud-trace-context": trace}))

    with pytest.raises(BadRequestError) as caught:
        raw(runtime, "homebase360")

    assert (caught.value.message, caught.value.trace_id) == ("phone is invalid", trace)


def test_non_json_error_body_becomes_the_truncated_message(runtime, vendor):
    page = "<html><body>" + "Bad gateway. " * 100 + "</body></html>"
    html = httpx2.Response(500, content=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"})
    vendor.route("POST", PING["homebase360"], html)

    with pytest.raises(ServerError) as caught:
        raw(runtime, "homebase360", method="POST", json={})

    assert caught.value.message == page[:500]
    assert len(caught.value.message) == 500


@pytest.mark.parametrize("name", ["servicetitan", "servicebay"])
def test_empty_200_body_is_data_none(runtime, vendor, name):
    vendor.route("GET", PING[name], httpx2.Response(200))

    assert raw(runtime, name) == {"data": None}


# --- 3. envelope unwrapping ---------------------------------------------------------------------


def test_success_envelope_is_unwrapped(runtime, vendor):
    customers = [{"id": "c1", "name": "Jane"}]
    vendor.route("GET", f"{HB_API}/customers", reply(200, {"success": True, "data": customers}))

    result = runtime.run_sync(
        "homebase360.searchCustomers", {"phone": "+13038286690"}, CONNECTIONS["homebase360"]
    )

    assert result == {"data": customers}


@pytest.mark.parametrize("name", ["servicebay", "homebase360"])
def test_raw_request_returns_the_whole_envelope_with_its_pagination(runtime, vendor, name):
    body = {"success": True, "data": [{"id": "c1"}], "pagination": {"nextCursor": "c1", "hasMore": True}}
    vendor.route("GET", PING[name], reply(200, body))

    assert raw(runtime, name) == {"data": body}


def test_servicetitan_body_is_returned_as_is(runtime, vendor):
    body = {"page": 1, "pageSize": 50, "hasMore": False, "data": [{"id": 1}]}
    vendor.route("GET", PING["servicetitan"], reply(200, body))

    assert raw(runtime, "servicetitan") == {"data": body}


# --- 4. nullOn ----------------------------------------------------------------------------------


def test_servicebay_lookup_404_is_data_none_without_retry(runtime, vendor, clock):
    vendor.route("GET", SB_LOOKUP, reply(404, {"success": False, "error": "no customer matches"}))

    assert runtime.run_sync("servicebay.lookupCustomer", {"phone": "+13038286690"}, SB_CONNECTION) == {
        "data": None
    }
    assert len(vendor.api_requests) == 1
    assert vendor.api_requests[0].url.params["phone"] == "+13038286690"
    assert clock.sleeps == []


# --- 5. URL safety ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["//evil.example/x", "/a/../b", "/a/./b", "/x?y=1"])
def test_raw_request_refuses_paths_that_leave_the_base_url(runtime, vendor, path):
    for name in VENDORS:
        # dot segments and '//' are refused as inputs (naming $.path); a query string by the session
        with pytest.raises((RequestRefusedError, InputValidationError)):
            raw(runtime, name, path=path)

    assert vendor.requests == []


def test_absolute_urls_are_refused_by_the_inputs_and_by_the_session(runtime, vendor):
    for name in VENDORS:
        # rawRequest's input schema (pattern "^/") stops an absolute URL before the session sees it.
        with pytest.raises(InputValidationError):
            raw(runtime, name, path="https://evil.example/x")
        session = runtime.session(runtime.connection(name, CONNECTIONS[name]))
        for path in ("https://evil.example/x", "evil.example/x", "/\\evil.example/x"):
            with pytest.raises(RequestRefusedError):
                session.url_for(path)

    assert vendor.requests == []


def test_host_header_is_refused(runtime, vendor):
    for header in ("Host", "host"):
        with pytest.raises(RequestRefusedError):
            raw(runtime, "servicebay", headers={header: "evil.example"})

    assert vendor.requests == []


@pytest.mark.parametrize(
    ("name", "header", "expected"),
    [
        ("servicetitan", "Authorization", "Bearer tok-1"),
        ("servicetitan", "ST-App-Key", ST_CONNECTION["applicationKey"]),
        ("servicebay", "X-API-Key", SB_KEY),
        ("homebase360", "X-API-Key", HB_KEY),  # the connector's auth header is spelled x-api-key
    ],
)
def test_raw_headers_cannot_replace_the_connection_credentials(runtime, vendor, name, header, expected):
    """Refusing the header (and sending nothing) or overriding it both keep the connection's value."""
    vendor.route("GET", PING[name], reply(200, enveloped(name, {})))

    try:
        raw(runtime, name, headers={header: "forged"})
    except RequestRefusedError:
        assert vendor.api_requests == []
    else:
        assert vendor.api_requests[0].headers.get_list(header) == [expected]


def test_redirects_are_not_followed(runtime, vendor):
    vendor.route(
        "GET", PING["servicetitan"], httpx2.Response(302, headers={"Location": "https://evil.example/x"})
    )

    with pytest.raises(VendorError) as caught:
        raw(runtime, "servicetitan")

    assert caught.value.status == 302
    assert len(vendor.api_requests) == 1
    assert {r.url.host for r in vendor.requests} <= {
        "api-integration.servicetitan.io",
        "auth-integration.servicetitan.io",
    }


def test_path_placeholders_are_percent_encoded(runtime, vendor):
    connection = {**SB_CONNECTION, "orgId": "org/1?x=2"}
    url = f"{SB_API}/organisations/org%2F1%3Fx%3D2/customers/lookup"
    vendor.route("GET", url, reply(200, {"success": True, "data": {"id": "c1"}}))

    assert runtime.run_sync("servicebay.lookupCustomer", {"email": "a@b.co"}, connection) == {
        "data": {"id": "c1"}
    }
    assert (
        vendor.api_requests[0].url.raw_path
        == b"/api/v1/organisations/org%2F1%3Fx%3D2/customers/lookup?email=a%40b.co"
    )


def test_render_path_encodes_segments_and_inserts_reserved_paths_verbatim():
    scope = {"inputs": {"id": "a/b?c#d", "path": "/jobs/42"}}

    assert templates.render_path("/jobs/{inputs.id}", scope) == "/jobs/a%2Fb%3Fc%23d"
    assert templates.render_path("/jpm{+inputs.path}", scope) == "/jpm/jobs/42"


def test_dot_dot_placeholder_is_refused_and_so_is_an_encoded_one_built_another_way(runtime):
    with pytest.raises(templates.TemplateError):
        templates.render_path("/organisations/{inputs.id}/x", {"inputs": {"id": ".."}})
    session = runtime.session(runtime.connection("servicebay", SB_CONNECTION))

    with pytest.raises(RequestRefusedError):  # a hook's own path is checked when it is sent
        session.url_for("/organisations/%2E%2E/x")


def test_mixed_encoded_dot_dot_segments_are_refused(runtime, vendor):
    vendor.route("GET", f"{SB_API}/a/.%2e/b", reply(200, {"success": True}))

    with pytest.raises(InputValidationError):
        raw(runtime, "servicebay", path="/a/.%2e/b")  # WHATWG URL: '.%2e' is a double-dot segment
    assert vendor.requests == []


def test_fragment_in_path_is_refused_with_a_typed_error(runtime, vendor):
    with pytest.raises(RequestRefusedError):
        raw(runtime, "servicebay", path="/x#frag")


# --- 6. pagination ------------------------------------------------------------------------------


def test_list_technicians_fetch_all_walks_every_page(runtime, vendor):
    def page(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params["page"])
        data = [{"id": number * 10 + i} for i in (1, 2)]
        return reply(
            200, {"page": number, "pageSize": 500, "hasMore": number < 3, "totalCount": None, "data": data}
        )

    vendor.route("GET", TECHNICIANS, page)

    result = runtime.run_sync(
        "servicetitan.listTechnicians", {"fetchAll": True, "page": 7, "name": "doe"}, ST_CONNECTION
    )

    expected = [{"page": str(n), "pageSize": "500", "name": "doe"} for n in (1, 2, 3)]
    expected[0]["includeTotal"] = "true"  # asked on the first page; without a total, pages follow one by one
    assert queries(vendor) == expected
    ids = [11, 12, 21, 22, 31, 32]
    assert result["data"]["data"] == [{"id": i} for i in ids]
    assert (result["data"]["hasMore"], result["data"]["totalCount"]) == (False, len(ids))


def test_list_technicians_without_fetch_all_sends_one_request(runtime, vendor):
    body = {"page": 2, "pageSize": 50, "hasMore": True, "data": [{"id": 1}]}
    vendor.route("GET", TECHNICIANS, reply(200, body))

    result = runtime.run_sync("servicetitan.listTechnicians", {"page": 2, "pageSize": 50}, ST_CONNECTION)

    assert result == {"data": body}
    assert queries(vendor) == [{"page": "2", "pageSize": "50"}]


def test_select_technician_keys_labels_and_duplicates(runtime, vendor):
    pages = {
        "1": [{"id": 3, "name": "Cara"}, {"id": 1, "name": "Abe"}, {"id": 3, "name": "Cara again"}],
        "2": [{"id": 2, "name": "Bo"}, {"id": 1, "name": "Abe"}],
    }
    vendor.route(
        "GET",
        TECHNICIANS,
        lambda r: reply(200, {"data": pages[r.url.params["page"]], "hasMore": r.url.params["page"] == "1"}),
    )

    result = runtime.picklist_sync("servicetitan.selectTechnician", {}, ST_CONNECTION)

    assert result == {
        "result": [
            {"key": "3", "label": "Cara (ID: 3)"},
            {"key": "1", "label": "Abe (ID: 1)"},
            {"key": "2", "label": "Bo (ID: 2)"},
        ],
        "truncated": False,
    }
    assert queries(vendor) == [
        {"page": "1", "pageSize": "5000", "includeTotal": "true"},
        {"page": "2", "pageSize": "5000"},
    ]


@pytest.mark.parametrize(("available", "truncated"), [(12, True), (10, False)])
def test_select_technician_stops_at_the_10000_cap(runtime, vendor, available, truncated):
    vendor.route("GET", TECHNICIANS, technician_pages(available))

    result = runtime.picklist_sync("servicetitan.selectTechnician", {}, ST_CONNECTION)

    assert len(result["result"]) == 10_000
    assert result["result"][0] == {"key": "1", "label": "Tech 1 (ID: 1)"}
    assert result["result"][-1] == {"key": "10000", "label": "Tech 10000 (ID: 10000)"}
    assert result["truncated"] is truncated
    assert [q["page"] for q in queries(vendor)] == [str(n) for n in range(1, 11)]


def test_cursor_pagination_follows_next_cursor_until_has_more_is_false():
    send, sent = cursor_pages(
        {
            None: {"customers": [{"id": "a"}], "pagination": {"nextCursor": "c1", "hasMore": True}},
            "c1": {"customers": [{"id": "b"}], "pagination": {"nextCursor": "c2", "hasMore": True}},
            "c2": {"customers": [{"id": "c"}], "pagination": {"nextCursor": "c3", "hasMore": False}},
        }
    )
    request = OutgoingRequest("GET", "/customers", query={"q": "doe"})

    first, items, truncated = asyncio.run(collect(CUSTOMERS, request, send, "servicebay"))

    assert items == [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    assert first["customers"] == [{"id": "a"}]
    assert truncated is False
    assert sent == [
        {"q": "doe", "limit": 100},
        {"q": "doe", "limit": 100, "startAfter": "c1"},
        {"q": "doe", "limit": 100, "startAfter": "c2"},
    ]


def test_cursor_pagination_refuses_a_cursor_that_does_not_advance():
    stuck = {"customers": [{"id": "a"}], "pagination": {"nextCursor": "c1", "hasMore": True}}
    send, sent = cursor_pages({None: stuck, "c1": stuck})

    with pytest.raises(VendorError, match="did not advance") as caught:
        asyncio.run(collect(CUSTOMERS, OutgoingRequest("GET", "/customers"), send, "servicebay"))

    assert (caught.value.status, caught.value.vendor) == (502, "servicebay")
    assert len(sent) == 2


# --- 7. rate budgets ----------------------------------------------------------------------------


def test_rate_budget_allows_a_burst_then_sleeps():
    clock = FakeClock()
    budget = RateBudget(RateLimit(requests=3, per=1), clock)

    acquire(budget, 3)
    assert clock.sleeps == []

    acquire(budget, 1)
    assert clock.sleeps == [pytest.approx(1.0)]  # until the first of the three leaves the window


def test_rate_budget_keeps_a_steady_stream_flowing():
    clock = FakeClock()
    budget = RateBudget(RateLimit(requests=3, per=1), clock)

    acquire(budget, 6)

    assert sum(clock.sleeps) == pytest.approx(1.0)


def send_times(requests: int, waves: list[list[float]]) -> list[float]:
    """When each request took its slot, in virtual seconds: a budget of ``requests`` per second, and
    waves of concurrent requests (one after another), each answered after its latency."""
    clock = VirtualClock()
    budget = RateBudget(RateLimit(requests=requests, per=1), clock)
    sent: list[float] = []

    async def request(latency: float) -> None:
        await budget.acquire()
        sent.append(clock.now() - 1000)
        await clock.sleep(latency)
        budget.release()

    async def go() -> None:
        for wave in waves:
            await asyncio.gather(*(request(latency) for latency in wave))

    asyncio.run(asyncio.wait_for(go(), 60))
    return sent


def test_a_slot_is_held_until_per_seconds_after_its_response():
    # The vendor counts a request when it arrives, anywhere between the send and the response: a slot
    # freed ``per`` after the send could let a fourth request in beside a late third one.
    sent = send_times(3, [[5, 0, 0, 0, 0], [0, 0, 0]])

    # two answered at once free at 1 s; the slow one, sent at 0 but answered at 5 s, frees at 6 s
    assert sent == [0, 0, 0, 1, 1, 5, 5, 6]


def test_when_every_slot_is_in_flight_the_next_waits_for_a_response():
    sent = send_times(2, [[3, 4, 0, 0]])

    assert sent == [0, 0, 4, 5]  # answered at 3 s and 4 s, so free at 4 s and 5 s, in order


def test_a_cancelled_wait_gives_its_slot_back():
    clock = VirtualClock()
    budget = RateBudget(RateLimit(requests=1, per=1), clock)

    async def go() -> float:
        await budget.acquire()  # held, not yet answered
        waiter = asyncio.create_task(budget.acquire())
        await asyncio.sleep(0)
        budget.release()  # handed to the waiter, which sleeps until 1 s
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        started = clock.now()
        await budget.acquire()  # the slot the cancelled waiter held is still there
        return clock.now() - started

    assert asyncio.run(asyncio.wait_for(go(), 10)) == pytest.approx(1.0)
    assert budget.free + len(budget.cooling) == 0 and not budget.waiting


def test_sessions_share_a_budget_by_api_key(runtime):
    def budget(connector: str, values: dict[str, str]) -> RateBudget | None:
        return runtime.session(runtime.connection(connector, values)).budget

    shared = budget("servicebay", SB_CONNECTION)

    assert shared is not None
    assert budget("servicebay", {**SB_CONNECTION, "orgId": "org-2"}) is shared
    assert budget("servicebay", {**SB_CONNECTION, "apiKey": "another-key"}) is not shared
    assert budget("homebase360", CONNECTIONS["homebase360"]) is None


def test_servicebay_requests_with_one_api_key_share_the_budget(runtime, vendor, clock):
    vendor.route("GET", SB_LOOKUP, reply(200, {"success": True, "data": None}))
    other_org = {**SB_CONNECTION, "orgId": "org-2"}
    vendor.route("GET", f"{SB_API}/organisations/org-2/customers/lookup", reply(200, {"success": True}))

    lookups(runtime, [SB_CONNECTION] * 100 + [other_org])

    assert len(vendor.api_requests) == 101
    assert clock.sleeps == [pytest.approx(61)]  # the 101st waits for the first to leave (60 s + 1 s margin)


def test_servicebay_requests_with_different_api_keys_do_not_share(runtime, vendor, clock):
    vendor.route("GET", SB_LOOKUP, reply(200, {"success": True, "data": None}))

    lookups(runtime, [SB_CONNECTION] * 100 + [{**SB_CONNECTION, "apiKey": "another-key"}])

    assert len(vendor.api_requests) == 101
    assert clock.sleeps == []


def test_servicebay_budget_holds_101_requests_to_about_a_minute(runtime, vendor, clock):
    vendor.route("GET", SB_LOOKUP, reply(200, {"success": True, "data": None}))
    start = clock.now()

    lookups(runtime, [SB_CONNECTION] * 101)

    assert clock.now() - start == pytest.approx(60, abs=1)


def test_servicebay_steady_stream_through_the_runtime(runtime, vendor, clock):
    vendor.route("GET", SB_LOOKUP, reply(200, {"success": True, "data": None}))

    lookups(runtime, [SB_CONNECTION] * 110)

    assert len(vendor.api_requests) == 110


def test_callers_on_other_threads_event_loops_share_a_budget():
    # One slot, held on the main thread's loop; a caller on another thread's loop waits for it.
    budget = RateBudget(RateLimit(requests=1, per=0.05), SYSTEM_CLOCK)
    waited: list[float] = []

    def other_thread() -> None:
        waited.append(asyncio.run(asyncio.wait_for(budget.acquire(), 10)))
        budget.release()

    async def main() -> None:
        await budget.acquire()
        thread = threading.Thread(target=other_thread)
        thread.start()
        while not budget.waiting:  # the other caller is waiting for the slot in flight
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.05)
        budget.release()
        await asyncio.to_thread(thread.join, 10)

    asyncio.run(main())

    assert len(waited) == 1 and 0.1 <= waited[0] < 5  # 0.05 s in flight, then the 0.05 s cool-down
    assert not budget.waiting and budget.free + len(budget.cooling) == 1
