"""Regression tests for defects found by using the runtime as a hostile user would.

Each test names the defect it pins down. Everything runs on the fake vendor and a fake or virtual
clock, except the drip-fed response, which needs the event loop's own time for its deadline.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import msgspec
import pytest
from click.testing import CliRunner, Result

from component import cli as cli_module
from component.errors import (
    ConnectionConfigError,
    CredentialsError,
    InputValidationError,
    RequestRefusedError,
    ServerError,
    TransportError,
    UnexpectedBodyError,
    VendorError,
)
from component.http import OutgoingRequest, Session
from component.jsontext import MAX_DEPTH
from component.models import HttpPolicy
from component.runtime import Runtime
from tests.conftest import (
    CONNECTIONS,
    HB_API,
    HB_CONNECTION,
    HB_KEY,
    SB_API,
    SB_CONNECTION,
    SB_KEY,
    ST_API,
    ST_CONNECTION,
    ST_SECRET,
    ST_TOKEN_URL,
    FakeClock,
    FakeVendor,
    json_body,
    leaks,
    make_runtime,
)
from tests.virtual_clock import VirtualClock

TENANT = ST_CONNECTION["tenant"]
ST_RAW_BASE = f"{ST_API}/jpm/v2/tenant/{TENANT}"
TECHNICIANS = f"{ST_API}/settings/v2/tenant/{TENANT}/technicians"
ASSIGN_URL = f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians"
ASSIGN = {"jobAppointmentId": 4401, "technicianIds": [501]}


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def raw(runtime: Runtime, name: str, path: str = "/ping", method: str = "GET", **inputs: Any) -> Any:
    inputs = {"path": path, "method": method, **inputs}
    if name == "servicetitan":
        inputs["urlType"] = "jpm"
    return runtime.run_sync(f"{name}.rawRequest", inputs, CONNECTIONS[name])


def error_of(result: Result) -> dict[str, Any]:
    assert "Traceback" not in result.output
    error: dict[str, Any] = json.loads(result.stderr)["error"]
    return error


# --- a secret with a trailing control character ----------------------------------------------------


@pytest.mark.parametrize("suffix", ["\r", "\n", "\x00", "\u2028"])
def test_connection_values_with_control_characters_are_refused_at_load(runtime, vendor, suffix):
    with pytest.raises(ConnectionConfigError) as caught:
        runtime.run_sync(
            "servicebay.rawRequest", {"path": "/ping"}, {**SB_CONNECTION, "apiKey": SB_KEY + suffix}
        )

    assert caught.value.problems == [
        {
            "path": "$.apiKey",
            "message": "contains a control character (such as a line break pasted from a file); remove it",
        }
    ]
    assert leaks(json.dumps(caught.value.to_dict())) == []
    assert vendor.requests == []


def test_transport_error_text_never_carries_the_exception_text(catalog, clock):
    def reject(request: httpx2.Request) -> httpx2.Response:
        value = request.headers["x-api-key"]
        raise httpx2.LocalProtocolError(f"Illegal header value {value!r}")

    runtime = Runtime(catalog, transport=httpx2.MockTransport(reject), clock=clock, random=lambda: 0.0)
    with pytest.raises(TransportError) as caught:
        raw(runtime, "servicebay")

    assert (
        caught.value.message
        == f"GET {SB_API}/ping: the request is not valid HTTP and was not sent (LocalProtocolError)"
    )
    assert caught.value.to_dict()["error"]["maybeApplied"] is False


# --- a vendor trace header echoing a credential ----------------------------------------------------


def test_trace_id_from_a_header_passes_the_redactor(runtime, vendor):
    echo = httpx2.Response(500, text="boom", headers={"x-cloud-trace-context": f"trace/{HB_KEY}"})
    vendor.route("POST", f"{HB_API}/ping", echo)

    with pytest.raises(ServerError) as caught:
        raw(runtime, "homebase360", method="POST", json={})

    assert caught.value.trace_id == "trace/***"
    assert leaks(json.dumps(caught.value.to_dict()) + repr(caught.value) + str(caught.value)) == []


def test_trace_id_of_an_unexpected_body_passes_the_redactor(runtime, vendor):
    html = httpx2.Response(200, text="<html>", headers={"x-request-id": SB_KEY, "content-type": "text/html"})
    vendor.route("GET", f"{SB_API}/organisations/org-1/customers/lookup", html)

    with pytest.raises(UnexpectedBodyError) as caught:
        runtime.run_sync("servicebay.lookupCustomer", {"phone": "+13038286690"}, SB_CONNECTION)

    assert caught.value.trace_id == "***"


# --- non-ASCII paths, invalid UTF-8, deep nesting --------------------------------------------------


def test_non_ascii_raw_path_is_percent_encoded(runtime, vendor):
    vendor.route("GET", f"{SB_API}/customers/Jos%C3%A9%20Mar%C3%ADa", httpx2.Response(200, json={"id": 1}))

    assert raw(runtime, "servicebay", "/customers/José María") == {"data": {"id": 1}}
    assert vendor.requests[0].url.raw_path == b"/api/v1/customers/Jos%C3%A9%20Mar%C3%ADa"


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 100_000])
def test_deeply_nested_inputs_are_a_usage_error(cli, vendor, levels):
    text = '{"path": "/x", "json": ' + "[" * levels + "]" * levels + "}"

    result = cli("run", "servicebay.rawRequest", "--inputs", text)

    assert result.exit_code == 2
    assert "nested deeper than 100 levels" in error_of(result)["message"]
    assert vendor.requests == []


def test_deeply_nested_inputs_through_the_python_api_name_the_field(runtime, vendor):
    with pytest.raises(InputValidationError) as caught:
        raw(runtime, "servicebay", method="POST", json=deep(500))

    assert caught.value.problems[0]["path"].startswith("$.json[0][0]")
    assert caught.value.problems[0]["message"] == "is nested deeper than 100 levels"
    assert vendor.requests == []


def test_deeply_nested_connection_file_is_a_usage_error(cli, tmp_path):
    file = tmp_path / "connection.json"
    file.write_text('{"apiKey": ' + "[" * 500 + "]" * 500 + "}")

    result = cli("run", "homebase360.rawRequest", "--inputs", '{"path": "/ping"}', "--connection", str(file))

    assert result.exit_code == 2
    assert "nested deeper than 100 levels" in error_of(result)["message"]


@pytest.mark.parametrize("levels", [500, 100_000])
def test_deeply_nested_vendor_error_body_is_a_typed_error(runtime, vendor, levels):
    body = '{"error": ' + "[" * levels + "]" * levels + "}"
    vendor.route(
        "POST",
        f"{HB_API}/ping",
        httpx2.Response(500, text=body, headers={"content-type": "application/json"}),
    )

    with pytest.raises(ServerError) as caught:
        raw(runtime, "homebase360", method="POST", json={})

    assert caught.value.status == 500


def test_deeply_nested_success_body_is_a_typed_error(runtime, vendor):
    body = "[" * 100_000 + "]" * 100_000
    vendor.route("GET", f"{HB_API}/customers", httpx2.Response(200, text=body))

    with pytest.raises(UnexpectedBodyError, match="nested deeper"):
        runtime.run_sync("homebase360.searchCustomers", {"phone": "+13038286690"}, HB_CONNECTION)


# --- headers and file parts ------------------------------------------------------------------------


BAD_HEADERS = {
    "CR LF in value": {"X-Note": "a\r\nX-Injected: 1"},
    "LF in value": {"X-Note": "a\nb"},
    "NUL in value": {"X-Note": "a\x00b"},
    "non-ASCII value": {"X-Note": "José"},
    "space in name": {"X Note": "a"},
    "CR LF in name": {"X-Note\r\nX-Injected": "1"},
    "non-ASCII name": {"X-Noté": "a"},
    "colon in name": {"X-Note:": "a"},
    "empty name": {"": "a"},
}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "send"])
def test_bad_header_names_and_values_are_refused_before_sending(runtime, vendor, headers, dry_run):
    inputs = {"urlType": "jpm", "path": "/jobs", "headers": headers}

    with pytest.raises(RequestRefusedError, match="header"):
        runtime.run_sync("servicetitan.rawRequest", inputs, ST_CONNECTION, dry_run=dry_run)

    assert vendor.requests == []


def test_good_headers_still_pass(runtime, vendor):
    vendor.route("GET", f"{ST_RAW_BASE}/jobs", httpx2.Response(200, json={}))

    runtime.run_sync(
        "servicetitan.rawRequest",
        {"urlType": "jpm", "path": "/jobs", "headers": {"X-Note": "a b\tc", "If-None-Match": '"x"'}},
        ST_CONNECTION,
    )

    assert vendor.api_requests[0].headers["x-note"] == "a b\tc"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain\r\nX-Injected: 1",
        "text/plain\r\n\r\nbody",
        'application/pdf; name="a\r\n"',
        "José/x",
        "pdf",
    ],
)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "send"])
def test_file_part_content_type_cannot_inject_part_headers(runtime, vendor, content_type, dry_run):
    files = {"doc": {"filename": "a.pdf", "content": "JVBERg==", "contentType": content_type}}

    with pytest.raises(InputValidationError) as caught:
        raw(runtime, "servicebay", "/attachments", "POST", files=files) if not dry_run else runtime.run_sync(
            "servicebay.rawRequest",
            {"path": "/attachments", "method": "POST", "files": files},
            SB_CONNECTION,
            dry_run=True,
        )

    assert caught.value.problems == [{"path": "$.files.doc.contentType", "message": "is not a media type"}]
    assert vendor.requests == []


def test_media_type_with_parameters_is_accepted(runtime):
    files = {"doc": {"filename": "a.txt", "content": "aGk=", "contentType": 'text/plain; charset="utf-8"'}}
    preview = runtime.run_sync(
        "servicebay.rawRequest", {"path": "/a", "method": "POST", "files": files}, SB_CONNECTION, dry_run=True
    )
    assert preview["files"]["doc"]["contentType"] == 'text/plain; charset="utf-8"'


# --- non-JSON success bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>Service Unavailable</body></html>", "text/html"),
        ('{"data": [{"id": 1}, {"id"', "application/json"),
        ('{"data": [{"id": 1}, {"id"', "text/plain"),
    ],
    ids=["html", "truncated-json", "truncated-unlabelled"],
)
def test_200_with_a_body_that_is_not_json_is_an_unexpected_body_error(runtime, vendor, body, content_type):
    vendor.route("GET", TECHNICIANS, httpx2.Response(200, text=body, headers={"content-type": content_type}))

    with pytest.raises(UnexpectedBodyError) as caught:
        runtime.run_sync("servicetitan.listTechnicians", {}, ST_CONNECTION)

    error = caught.value.to_dict()["error"]
    assert error["type"] == "unexpected_body"
    assert error["status"] == 200
    assert error["maybeApplied"] is True
    assert "is not JSON" in error["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_garbled_200_on_an_idempotent_request_is_retried(runtime, vendor, clock, catalog, method):
    garbled = httpx2.Response(200, text='{"success": tr', headers={"content-type": "application/json"})
    vendor.route(method, f"{SB_API}/ping", garbled, garbled, httpx2.Response(200, json={"success": True}))

    assert raw(runtime, "servicebay", method=method) == {"data": {"success": True}}
    retry = catalog.connector("servicebay").model.http.retry
    assert len(vendor.api_requests) == 3
    assert clock.sleeps == [retry.backoff, retry.backoff * 2]


def test_a_garbled_200_that_does_not_clear_is_an_unexpected_body_error_after_max_attempts(
    runtime, vendor, catalog
):
    garbled = httpx2.Response(200, text='{"data": [', headers={"content-type": "application/json"})
    vendor.route("GET", TECHNICIANS, garbled)

    with pytest.raises(UnexpectedBodyError):
        runtime.run_sync("servicetitan.listTechnicians", {}, ST_CONNECTION)

    assert len(vendor.api_requests) == catalog.connector("servicetitan").model.http.retry.maxAttempts


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_garbled_200_on_a_write_is_not_sent_again(runtime, vendor, clock, method):
    garbled = httpx2.Response(200, text='{"success": tr', headers={"content-type": "application/json"})
    vendor.route(method, f"{SB_API}/ping", garbled, httpx2.Response(200, json={"success": True}))

    with pytest.raises(UnexpectedBodyError) as caught:
        raw(runtime, "servicebay", method=method, json={})

    assert caught.value.to_dict()["error"]["maybeApplied"] is True  # the vendor may have done the work
    assert len(vendor.api_requests) == 1
    assert clock.sleeps == []


def test_truncated_json_labelled_json_is_refused_even_by_a_raw_request(runtime, vendor):
    vendor.route(
        "GET",
        f"{SB_API}/ping",
        httpx2.Response(200, text='{"a": ', headers={"content-type": "application/json"}),
    )

    with pytest.raises(UnexpectedBodyError):
        raw(runtime, "servicebay")


def test_raw_request_declares_any_body_and_returns_text(runtime, vendor):
    vendor.route(
        "GET", f"{HB_API}/ping", httpx2.Response(200, text="pong", headers={"content-type": "text/plain"})
    )

    assert raw(runtime, "homebase360") == {"data": "pong"}


# --- deadlines and endless pagination ----------------------------------------------------------------


class _Drip(httpx2.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"data": ['
        for _ in range(200):
            await asyncio.sleep(0.05)
            yield b"1,"
        yield b"1]}"


def test_drip_fed_response_cannot_outlive_the_total_deadline(catalog):
    def drip(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, stream=_Drip(), headers={"content-type": "application/json"})

    connector = catalog.connector("homebase360")
    connector = replace(
        connector, model=msgspec.structs.replace(connector.model, http=HttpPolicy(timeout=5, deadline=0.3))
    )
    runtime = Runtime(catalog)
    connection = runtime.connection("homebase360", HB_CONNECTION)

    async def scenario() -> tuple[float, TransportError]:
        loop = asyncio.get_running_loop()
        async with Session(connector, connection, transport=httpx2.MockTransport(drip)) as session:
            started = loop.time()
            with pytest.raises(TransportError) as caught:
                await session.send(OutgoingRequest("GET", "/ping"))
            return loop.time() - started, caught.value

    elapsed, error = asyncio.run(scenario())
    assert "within the 0.3 s deadline" in error.message
    assert elapsed < 5  # the 200 chunks would take 10 s


def endless_pages(clock: FakeClock, *, repeat: bool = False) -> Callable[[httpx2.Request], httpx2.Response]:
    """A vendor that always says there is another page; each answer takes a second."""

    def respond(request: httpx2.Request) -> httpx2.Response:
        clock.t += 1
        page = 1 if repeat else int(request.url.params["page"])
        return httpx2.Response(200, json={"page": page, "data": [{"id": page, "name": "T"}], "hasMore": True})

    return respond


def test_fetch_all_stops_at_the_deadline_when_the_vendor_always_has_more(runtime, vendor, clock, catalog):
    vendor.route("GET", TECHNICIANS, endless_pages(clock))

    with pytest.raises(TransportError, match="kept announcing more pages") as caught:
        runtime.run_sync("servicetitan.listTechnicians", {"fetchAll": True}, ST_CONNECTION)

    deadline = catalog.connector("servicetitan").model.http.deadline
    assert len(vendor.api_requests) == deadline  # one page a second, none asked after the deadline
    assert caught.value.to_dict()["error"]["maybeApplied"] is False


def test_fetch_all_refuses_a_page_that_repeats_the_previous_one(runtime, vendor, clock):
    vendor.route("GET", TECHNICIANS, endless_pages(clock, repeat=True))

    with pytest.raises(VendorError, match="same items as page 1"):
        runtime.run_sync("servicetitan.listTechnicians", {"fetchAll": True}, ST_CONNECTION)

    assert len(vendor.api_requests) == 2


def test_fetch_all_stops_at_the_page_cap_when_the_vendor_always_has_more(runtime, vendor):
    from component import pagination

    def respond(request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params["page"])  # a fresh item on every page, fast: no deadline in sight
        return httpx2.Response(200, json={"page": page, "data": [{"id": page}], "hasMore": True})

    vendor.route("GET", TECHNICIANS, respond)

    result = runtime.run_sync("servicetitan.listTechnicians", {"fetchAll": True}, ST_CONNECTION)

    assert len(vendor.api_requests) == pagination.DEFAULT_MAX_PAGES
    assert result["data"]["data"] == [{"id": n} for n in range(1, pagination.DEFAULT_MAX_PAGES + 1)]
    assert result["data"]["hasMore"] is True  # truncated, as at maxItems


def test_a_declared_page_cap_is_honoured():
    from component.models import CursorPagination
    from component.pagination import collect

    async def send(request: OutgoingRequest) -> Any:
        n = int(request.query.get("startAfter") or 0)
        return {"c": [{"id": n}], "pagination": {"nextCursor": str(n + 1), "hasMore": True}}

    paged = CursorPagination(items="c", maxPages=7)
    _, items, truncated = asyncio.run(collect(paged, OutgoingRequest("GET", "/c"), send, "sb"))

    assert [item["id"] for item in items] == list(range(7))
    assert truncated is True


def test_fetch_all_refuses_a_page_that_repeats_an_earlier_one(runtime, vendor):
    def respond(request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params["page"])
        same = 1 + (page - 1) % 3  # pages 1, 2, 3, then 1, 2, 3 again: never two alike in a row
        return httpx2.Response(
            200, json={"page": page, "data": [{"id": same}, {"id": same + 10}], "hasMore": True}
        )

    vendor.route("GET", TECHNICIANS, respond)

    with pytest.raises(VendorError, match="page 4 with the same items as page 1") as caught:
        runtime.run_sync("servicetitan.listTechnicians", {"fetchAll": True}, ST_CONNECTION)

    assert len(vendor.api_requests) == 4
    assert caught.value.to_dict()["error"]["maybeApplied"] is False  # a read


def test_cursor_that_comes_back_later_is_refused(runtime, vendor):
    from component.models import CursorPagination
    from component.pagination import collect

    pages = {
        None: {"c": [{"id": 1}], "pagination": {"nextCursor": "a", "hasMore": True}},
        "a": {"c": [{"id": 2}], "pagination": {"nextCursor": "b", "hasMore": True}},
        "b": {"c": [{"id": 3}], "pagination": {"nextCursor": "a", "hasMore": True}},
    }

    async def send(request: OutgoingRequest) -> Any:
        return pages[request.query.get("startAfter")]

    with pytest.raises(VendorError, match="'a' came back again"):
        asyncio.run(collect(CursorPagination(items="c"), OutgoingRequest("GET", "/c"), send, "sb"))


def test_fetch_all_stops_at_the_item_cap_and_says_there_is_more(runtime, vendor, monkeypatch):
    from component import pagination

    monkeypatch.setattr(pagination, "DEFAULT_MAX_ITEMS", 3)

    def respond(request: httpx2.Request) -> httpx2.Response:
        page = int(request.url.params["page"])
        return httpx2.Response(200, json={"page": page, "data": [{"id": page}], "hasMore": True})

    vendor.route("GET", TECHNICIANS, respond)

    result = runtime.run_sync("servicetitan.listTechnicians", {"fetchAll": True}, ST_CONNECTION)

    assert result["data"]["data"] == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert result["data"]["hasMore"] is True
    assert len(vendor.api_requests) == 3


# --- the rate budget is taken after the token ---------------------------------------------------------


def test_callers_waiting_on_a_slow_token_do_not_burst_past_the_budget(catalog):
    clock = VirtualClock()
    vendor = FakeVendor()
    sent_at: list[float] = []

    async def slow_token(request: httpx2.Request) -> httpx2.Response:
        await clock.sleep(2.5)
        return httpx2.Response(200, json={"access_token": "tok", "expires_in": 900})

    def technicians(request: httpx2.Request) -> httpx2.Response:
        sent_at.append(clock.now())
        return httpx2.Response(200, json={"page": 1, "data": [], "hasMore": False})

    vendor.route("POST", ST_TOKEN_URL, slow_token)
    vendor.route("GET", TECHNICIANS, technicians)
    runtime = make_runtime(catalog, vendor, clock, env={})

    async def scenario() -> None:
        async with runtime:
            await asyncio.gather(
                *(runtime.run("servicetitan.listTechnicians", {}, ST_CONNECTION) for _ in range(150))
            )

    asyncio.run(scenario())

    assert len(sent_at) == 150
    assert len(vendor.token_requests) == 1
    busiest = max(sum(1 for t in sent_at if start <= t < start + 1) for start in sent_at)
    assert busiest == 60  # ServiceTitan's 60 per second, never more
    assert min(sent_at) == pytest.approx(1002.5)  # nothing before the token


# --- raw requests and JSON bodies ---------------------------------------------------------------------


def test_json_null_body_is_sent_as_null(runtime, vendor):
    vendor.route("POST", f"{SB_API}/ping", httpx2.Response(200, json={"success": True}))

    preview = runtime.run_sync(
        "servicebay.rawRequest",
        {"path": "/ping", "method": "POST", "json": None},
        SB_CONNECTION,
        dry_run=True,
    )
    raw(runtime, "servicebay", method="POST", json=None)

    assert preview["json"] is None
    assert vendor.requests[0].content == b"null"
    assert vendor.requests[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_inputs_are_refused(runtime, vendor, value):
    with pytest.raises(InputValidationError) as caught:
        raw(runtime, "servicebay", method="POST", json={"amount": value})

    assert caught.value.problems == [
        {"path": "$.json.amount", "message": "is not a finite number (NaN and Infinity are not JSON)"}
    ]
    assert vendor.requests == []


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_in_cli_inputs_is_a_usage_error(cli, literal):
    result = cli("run", "servicebay.rawRequest", "--inputs", f'{{"path": "/x", "json": {literal}}}')

    assert result.exit_code == 2
    assert error_of(result)["message"] == f"--inputs holds {literal}, which is not a JSON number"


# --- the token endpoint ------------------------------------------------------------------------------


def test_token_endpoint_503_is_retried_and_reported_as_the_vendor_being_unavailable(
    runtime, vendor, clock, catalog
):
    vendor.route("POST", ST_TOKEN_URL, httpx2.Response(503, text="down"))

    with pytest.raises(ServerError) as caught:
        runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION)

    retry = catalog.connector("servicetitan").model.http.retry
    assert len(vendor.token_requests) == retry.maxAttempts
    assert clock.sleeps == [retry.backoff * 2**n for n in range(retry.maxAttempts - 1)]
    error = caught.value.to_dict()["error"]
    assert error["type"] == "server"
    assert "servicetitan is unavailable" in error["message"]
    assert "not a problem with the credentials" in error["message"]
    assert error["maybeApplied"] is False
    assert vendor.api_requests == []


def test_token_endpoint_recovers_after_a_503(runtime, vendor):
    vendor.route("POST", ST_TOKEN_URL, httpx2.Response(503), vendor._token)
    vendor.route("POST", ASSIGN_URL, httpx2.Response(200, json={}))

    assert runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION) == {"data": {}}
    assert len(vendor.token_requests) == 2


GARBLED_TOKENS = {
    "html": httpx2.Response(
        200, text="<html><body>502 Bad Gateway</body></html>", headers={"Content-Type": "text/html"}
    ),
    "cut-off JSON": httpx2.Response(
        200, content=b'{"access_token": "tok', headers={"Content-Type": "application/json"}
    ),
    "JSON without a token": httpx2.Response(200, json={"token_type": "Bearer"}),
    "a list": httpx2.Response(200, json=["access_token"]),
}


@pytest.mark.parametrize("garbled", list(GARBLED_TOKENS))
def test_a_garbled_token_response_is_retried_and_then_recovers(runtime, vendor, clock, catalog, garbled):
    vendor.route("POST", ST_TOKEN_URL, GARBLED_TOKENS[garbled], GARBLED_TOKENS[garbled], vendor._token)
    vendor.route("POST", ASSIGN_URL, httpx2.Response(200, json={}))

    assert runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION) == {"data": {}}
    assert len(vendor.token_requests) == 3
    retry = catalog.connector("servicetitan").model.http.retry
    assert clock.sleeps == [retry.backoff, retry.backoff * 2]  # backed off as for a dropped connection


@pytest.mark.parametrize("garbled", list(GARBLED_TOKENS))
def test_a_token_endpoint_that_keeps_garbling_is_unavailable_not_bad_credentials(
    runtime, vendor, catalog, garbled
):
    vendor.route("POST", ST_TOKEN_URL, GARBLED_TOKENS[garbled])

    with pytest.raises(UnexpectedBodyError) as caught:
        runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION)

    assert len(vendor.token_requests) == catalog.connector("servicetitan").model.http.retry.maxAttempts
    error = caught.value.to_dict()["error"]
    assert error["type"] == "unexpected_body"
    assert "not a problem with the credentials" in error["message"]
    assert error["maybeApplied"] is False
    assert vendor.api_requests == []


def test_token_endpoint_unreachable_is_retried_and_says_so(runtime, vendor, catalog):
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(f"refused {request.content!r}", request=request)

    vendor.route("POST", ST_TOKEN_URL, refuse)

    with pytest.raises(TransportError) as caught:
        runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION)

    assert len(vendor.token_requests) == catalog.connector("servicetitan").model.http.retry.maxAttempts
    assert "servicetitan is unavailable" in caught.value.message
    assert leaks(caught.value.message) == []


def test_invalid_client_names_the_fix_once_for_all_concurrent_callers(runtime, vendor):
    bad = {"error": "invalid_client", "error_description": f"unknown client secret {ST_SECRET}"}

    async def refuse(request: httpx2.Request) -> httpx2.Response:
        await asyncio.sleep(0)  # the other callers queue up meanwhile
        return httpx2.Response(400, json=bad)

    vendor.route("POST", ST_TOKEN_URL, refuse)

    async def scenario() -> list[BaseException | dict[str, Any]]:
        async with runtime:
            return await asyncio.gather(
                *(runtime.run("servicetitan.assignTechnicians", ASSIGN, ST_CONNECTION) for _ in range(20)),
                return_exceptions=True,
            )

    results = asyncio.run(scenario())

    assert len(vendor.token_requests) == 1  # not retried in a loop, not once per caller
    assert all(isinstance(r, CredentialsError) for r in results)
    error = results[0]
    assert isinstance(error, CredentialsError)
    assert error.exit_code == 2
    assert "check clientId and clientSecret" in error.message
    assert leaks(json.dumps(error.to_dict()) + str(error) + repr(error)) == []
    assert vendor.api_requests == []


# --- smaller ones ------------------------------------------------------------------------------------


def _duplicate_keys(path: Path) -> str:
    path.write_text('{"apiKey": "k1234", "apiKey": "k5678"}')
    return "has a duplicate key 'apiKey'"


def _eleven_megabytes(path: Path) -> str:
    with path.open("wb") as out:  # sparse: the test does not write 11 MB
        out.write(b'{"apiKey": "')
        out.seek(11 * 1024 * 1024)
        out.write(b'"}')
    return "is larger than 10 MB"


def _not_utf8(path: Path) -> str:
    path.write_bytes(b'{"apiKey": "\xff\xfe"}')
    return "is not valid UTF-8 (byte 12)"


@pytest.mark.parametrize("make", [_duplicate_keys, _eleven_megabytes, _not_utf8])
@pytest.mark.parametrize("option", ["--inputs", "--connection"])
def test_unreadable_inputs_and_connection_files_are_usage_errors(cli, vendor, tmp_path, make, option):
    file = tmp_path / "given.json"
    reason = make(file)
    args = (
        ["--inputs", f"@{file}"]
        if option == "--inputs"
        else ["--inputs", '{"path": "/ping"}', "--connection", str(file)]
    )

    result = cli("run", "homebase360.rawRequest", *args)

    assert result.exit_code == 2
    source = f"--inputs file {str(file)!r}" if option == "--inputs" else f"connection file {str(file)!r}"
    assert error_of(result) == {"type": "usage", "message": f"{source} {reason}"}
    assert vendor.requests == []


def test_duplicate_keys_in_inline_inputs_are_refused(cli):
    result = cli("run", "servicebay.rawRequest", "--inputs", '{"path": "/a", "path": "/b"}')

    assert result.exit_code == 2
    assert error_of(result)["message"] == "--inputs has a duplicate key 'path'"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_endless_inputs_file_is_refused_after_10_mb(cli):
    result = cli("run", "servicebay.rawRequest", "--inputs", "@/dev/zero")

    assert result.exit_code == 2
    assert error_of(result)["message"] == "--inputs file '/dev/zero' is larger than 10 MB"


@pytest.mark.parametrize(
    "args", [["--bogus"], ["run"], ["run", "--nope", "x"], ["picklist"], ["validate", "extra"]]
)
def test_click_usage_errors_are_json(args):
    result = CliRunner().invoke(cli_module.cli, args)

    assert result.exit_code == 2
    error = error_of(result)
    assert error["type"] == "usage"
    assert error["message"]


def test_help_and_version_still_work():
    assert CliRunner().invoke(cli_module.cli, ["--version"]).exit_code == 0
    assert "Usage" in CliRunner().invoke(cli_module.cli, ["run", "--help"]).output


def test_429_json_error_carries_retry_after(runtime, vendor, clock):
    vendor.route("GET", f"{ST_RAW_BASE}/ping", httpx2.Response(429, headers={"Retry-After": "400"}))

    with pytest.raises(VendorError) as caught:
        raw(runtime, "servicetitan")

    error = caught.value.to_dict()["error"]
    assert (error["type"], error["retryAfter"], error["maybeApplied"]) == ("rate_limited", 400, False)


def test_success_false_without_a_message_says_so(runtime, vendor):
    vendor.route(
        "GET", f"{SB_API}/organisations/org-1/customers/lookup", httpx2.Response(200, json={"success": False})
    )

    with pytest.raises(VendorError) as caught:
        runtime.run_sync("servicebay.lookupCustomer", {"phone": "+13038286690"}, SB_CONNECTION)

    assert caught.value.message == "servicebay reported a failure (success: false) without a message"


# --- trailing newlines and identifiers ----------------------------------------------------------------


def test_pattern_anchored_with_dollar_refuses_a_trailing_newline(runtime, vendor):
    with pytest.raises(ConnectionConfigError) as caught:
        runtime.run_sync("servicetitan.assignTechnicians", ASSIGN, {**ST_CONNECTION, "tenant": "123\n"})

    assert caught.value.problems[0]["path"] == "$.tenant"
    assert vendor.requests == []


def test_identifier_input_with_a_trailing_newline_is_refused(runtime, vendor):
    with pytest.raises(InputValidationError) as caught:
        runtime.run_sync("servicetitan.rawRequest", {"urlType": "jpm\n", "path": "/jobs"}, ST_CONNECTION)

    assert caught.value.problems[0]["path"] == "$.urlType"
    assert vendor.requests == []


@pytest.mark.parametrize("path", ["/jobs\r\nX: 1", "/jobs\n", "/jo\x00bs", "/jobs\t"])
def test_raw_path_with_control_characters_is_refused(runtime, vendor, path):
    with pytest.raises((RequestRefusedError, InputValidationError)):
        runtime.run_sync("servicetitan.rawRequest", {"urlType": "jpm", "path": path}, ST_CONNECTION)

    assert vendor.requests == []


def test_json_body_is_sent_as_given(runtime, vendor):
    vendor.route("POST", f"{SB_API}/ping", httpx2.Response(200, json={"success": True}))

    raw(runtime, "servicebay", method="POST", json={"name": "José", "n": 1.5})

    assert json_body(vendor.requests[0]) == {"name": "José", "n": 1.5}
