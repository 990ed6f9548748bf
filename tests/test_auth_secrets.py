"""Auth (OAuth2 client credentials, API keys), connections, and keeping secrets out of every output.

A. OAuth2 client credentials (ServiceTitan)   B. API keys (Servicebay, Homebase360)
C. Connections (x-env, ${VAR}, validation, environments)
D. Secrets never leak (reprs, dry-run, errors, logs, CLI)   E. Cassettes (vcrpy filters)

Everything runs against the FakeVendor (httpx2.MockTransport) and the FakeClock from conftest: no
network, no real sleeping. The canaries from conftest must never show up anywhere a person or a
log can read them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qs, urlencode

import httpx2
import pytest
import vcr
import yaml
from click.testing import Result

from component.auth import ApiKeyHeaderAuth, OAuth2ClientCredentialsAuth
from component.connection import make_connection
from component.errors import (
    AuthError,
    BadRequestError,
    ComponentError,
    ConnectionConfigError,
    RequestRefusedError,
    ServerError,
    UnexpectedBodyError,
    VendorError,
)
from component.policy import BudgetRegistry
from component.redact import REDACTED, RedactingFilter
from component.runtime import Runtime
from tests.conftest import (
    CANARIES,
    HB_API,
    HB_CONNECTION,
    HB_KEY,
    SB_API,
    SB_CONNECTION,
    SB_KEY,
    ST_API,
    ST_APP_KEY,
    ST_CONNECTION,
    ST_SECRET,
    ST_TOKEN_URL,
    FakeVendor,
    form_body,
    json_body,
    make_runtime,
)
from tests.recording import FILTERED, _scrub_form, _scrub_json, before_record_response, vcr_config

ST_PROD_API = "https://api.servicetitan.io"
ST_PROD_TOKEN_URL = "https://auth.servicetitan.io/connect/token"
TENANT = ST_CONNECTION["tenant"]
TOKEN_1, TOKEN_2 = "tok-1", "tok-2"
SENSITIVE = {"authorization", "x-api-key", "st-app-key"}  # header names, lower case
SECRET_FORM_FIELD = "client_secret"  # the form field name; never write it followed by '=' here

ASSIGN = "servicetitan.assignTechnicians"
ASSIGN_INPUTS = {"jobAppointmentId": 4401, "technicianIds": [501, 502]}
ASSIGN_URL = f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians"
ST_RAW = "servicetitan.rawRequest"
JOBS_URL = f"{ST_API}/jpm/v2/tenant/{TENANT}/jobs"
JOBS_INPUTS = {"urlType": "jpm", "path": "/jobs"}
ST_ENV = {
    "SERVICETITAN_CLIENT_ID": "cid.from-env",
    "SERVICETITAN_CLIENT_SECRET": ST_SECRET,
    "SERVICETITAN_TENANT": "42",
    "SERVICETITAN_APP_KEY": ST_APP_KEY,
}


def respond(status: int, **kwargs: Any) -> Callable[[httpx2.Request], httpx2.Response]:
    """A responder building a fresh response for every request."""
    return lambda _request: httpx2.Response(status, **kwargs)


class Case(NamedTuple):
    """One action per connector, with the URL it calls and a success body."""

    ref: str
    inputs: dict[str, Any]
    connection: dict[str, Any]
    method: str
    url: str
    ok: dict[str, Any]
    masked: dict[str, str]  # the auth headers as a dry-run shows them


CASES = {
    "servicetitan": Case(
        ASSIGN,
        ASSIGN_INPUTS,
        ST_CONNECTION,
        "POST",
        ASSIGN_URL,
        {},
        {"ST-App-Key": "***", "Authorization": "Bearer ***"},
    ),
    "servicebay": Case(
        "servicebay.lookupCustomer",
        {"phone": "+13038286690"},
        SB_CONNECTION,
        "GET",
        f"{SB_API}/organisations/org-1/customers/lookup",
        {"success": True, "data": {"id": "c-1"}},
        {"X-API-Key": "***"},
    ),
    "homebase360": Case(
        "homebase360.searchCustomers",
        {"phone": "+13038286690"},
        HB_CONNECTION,
        "GET",
        f"{HB_API}/customers",
        {"success": True, "data": [{"id": "h-1"}]},
        {"x-api-key": "***"},
    ),
}
API_KEY_CASES = [CASES["servicebay"], CASES["homebase360"]]
API_KEY_IDS = ["servicebay", "homebase360"]


def serve(vendor: FakeVendor, case: Case, *responders: Any) -> None:
    vendor.route(case.method, case.url, *(responders or (respond(200, json=case.ok),)))


def run(runtime: Runtime, case: Case, **kwargs: Any) -> dict[str, Any]:
    return runtime.run_sync(case.ref, case.inputs, case.connection, **kwargs)


E = TypeVar("E", bound=ComponentError)


def run_error(runtime: Runtime, case: Case, error_type: type[E]) -> E:
    with pytest.raises(error_type) as caught:
        run(runtime, case)
    return caught.value


def leaked(text: str, *extra: str) -> list[str]:
    """The canaries (and ``extra`` secrets) that appear in ``text``."""
    return [secret for secret in (*CANARIES, *extra) if secret in text]


def error_text(error: ComponentError) -> str:
    return f"{error}\n{error!r}\n{json.dumps(error.to_dict())}"


def bearer(request: httpx2.Request) -> str:
    return request.headers["authorization"]


# ---------------------------------------------------------------------------------------------
# A. OAuth2 client credentials (ServiceTitan)
# ---------------------------------------------------------------------------------------------


def test_token_request_is_a_client_credentials_form_post(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(vendor, CASES["servicetitan"])
    run(runtime, CASES["servicetitan"])

    [token_request] = vendor.token_requests
    assert token_request.method == "POST"
    assert str(token_request.url) == ST_TOKEN_URL
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form_body(token_request) == {
        "grant_type": ["client_credentials"],
        "client_id": [ST_CONNECTION["clientId"]],
        SECRET_FORM_FIELD: [ST_SECRET],
    }
    assert "authorization" not in token_request.headers
    assert "st-app-key" not in token_request.headers


def test_api_request_carries_bearer_token_and_app_key(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(vendor, CASES["servicetitan"])
    assert run(runtime, CASES["servicetitan"]) == {"data": {}}

    [request] = vendor.api_requests
    assert request.headers.get_list("authorization") == [f"Bearer {TOKEN_1}"]
    assert request.headers.get_list("st-app-key") == [ST_APP_KEY]
    assert json_body(request) == ASSIGN_INPUTS
    assert vendor.requests == [vendor.token_requests[0], request]  # token first, then the call


def test_token_is_cached_across_actions_and_runtimes_sharing_a_cache(
    runtime: Runtime, vendor: FakeVendor, clock: Any
) -> None:
    serve(vendor, CASES["servicetitan"])
    for _ in range(3):  # three actions, each in its own event loop
        run(runtime, CASES["servicetitan"])
    other = Runtime(
        runtime.catalog,
        transport=runtime.transport,
        clock=clock,
        tokens=runtime.tokens,
        budgets=BudgetRegistry(),
        env={},
    )
    run(other, CASES["servicetitan"])

    assert len(vendor.token_requests) == 1
    assert [bearer(r) for r in vendor.api_requests] == [f"Bearer {TOKEN_1}"] * 4


def test_a_different_secret_does_not_reuse_the_cached_token(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(vendor, CASES["servicetitan"])
    run(runtime, CASES["servicetitan"])
    runtime.run_sync(ASSIGN, ASSIGN_INPUTS, {**ST_CONNECTION, "clientSecret": "rotated-secret-value"})

    assert len(vendor.token_requests) == 2
    assert form_body(vendor.token_requests[1])[SECRET_FORM_FIELD] == ["rotated-secret-value"]
    assert [bearer(r) for r in vendor.api_requests] == [f"Bearer {TOKEN_1}", f"Bearer {TOKEN_2}"]


@pytest.mark.parametrize(("elapsed", "tokens"), [(839, 1), (841, 2)], ids=["before-margin", "inside-margin"])
def test_token_is_renewed_refresh_margin_before_expiry(
    runtime: Runtime, vendor: FakeVendor, clock: Any, elapsed: int, tokens: int
) -> None:
    """expires_in 900, refreshMargin 60: renewed once fewer than 60 s are left (after 840 s)."""
    serve(vendor, CASES["servicetitan"])
    run(runtime, CASES["servicetitan"])
    clock.t += elapsed
    run(runtime, CASES["servicetitan"])

    assert len(vendor.token_requests) == tokens
    assert bearer(vendor.api_requests[-1]) == f"Bearer tok-{tokens}"


def test_single_flight_twenty_concurrent_actions_fetch_one_token(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    serve(vendor, CASES["servicetitan"])

    async def twenty() -> list[dict[str, Any]]:
        return await asyncio.gather(*(runtime.run(ASSIGN, ASSIGN_INPUTS, ST_CONNECTION) for _ in range(20)))

    assert asyncio.run(twenty()) == [{"data": {}}] * 20
    assert len(vendor.token_requests) == 1
    assert len(vendor.api_requests) == 20
    assert {bearer(r) for r in vendor.api_requests} == {f"Bearer {TOKEN_1}"}


def test_401_drops_the_token_fetches_a_new_one_and_retries_once(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(
        vendor,
        CASES["servicetitan"],
        respond(401, json={"title": "token expired"}),
        respond(200, json={"ok": 1}),
    )

    assert run(runtime, CASES["servicetitan"]) == {"data": {"ok": 1}}
    assert len(vendor.token_requests) == 2
    assert [bearer(r) for r in vendor.api_requests] == [f"Bearer {TOKEN_1}", f"Bearer {TOKEN_2}"]
    assert json_body(vendor.api_requests[1]) == ASSIGN_INPUTS


@pytest.mark.parametrize(
    ("ref", "inputs", "method", "url"),
    [(ASSIGN, ASSIGN_INPUTS, "POST", ASSIGN_URL), (ST_RAW, JOBS_INPUTS, "GET", JOBS_URL)],
    ids=["post", "get"],
)
def test_two_401s_in_a_row_raise_auth_error_without_a_third_attempt(
    runtime: Runtime, vendor: FakeVendor, ref: str, inputs: dict[str, Any], method: str, url: str
) -> None:
    vendor.route(method, url, respond(401, json={"title": "unauthorized", "traceId": "t-401"}))

    with pytest.raises(AuthError) as caught:
        runtime.run_sync(ref, inputs, ST_CONNECTION)
    assert caught.value.status == 401
    assert caught.value.vendor == "servicetitan"
    assert caught.value.trace_id == "t-401"
    assert len(vendor.api_requests) == 2
    assert len(vendor.token_requests) == 2


def test_stale_401_does_not_drop_a_token_already_renewed(runtime: Runtime, vendor: FakeVendor) -> None:
    """Concurrent requests answered 401 for tok-1 renew it once: the late one keeps tok-2."""
    connection = runtime.connection("servicetitan", ST_CONNECTION)

    async def scenario() -> list[dict[str, str]]:
        async with runtime.session(connection) as session:
            auth, client = session.auth, session.client
            stale = await auth.headers(client)
            await auth.refresh(client, stale)  # the first 401: tok-1 dropped
            renewed = await auth.headers(client)
            await auth.refresh(client, stale)  # a late 401 for tok-1: tok-2 must survive
            return [stale, renewed, await auth.headers(client)]

    assert asyncio.run(scenario()) == [{"Authorization": f"Bearer tok-{n}"} for n in (1, 2, 2)]
    assert len(vendor.token_requests) == 2


def test_token_endpoint_failure_raises_auth_error_without_the_secret(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    vendor.route(
        "POST",
        ST_TOKEN_URL,
        respond(400, json={"error": "invalid_client", "error_description": f"invalid_client: {ST_SECRET}"}),
    )

    error = run_error(runtime, CASES["servicetitan"], AuthError)
    assert error.status == 400
    assert "invalid_client" in error.message
    assert leaked(error_text(error)) == []
    assert vendor.api_requests == []  # no API call without a token


def test_token_response_without_access_token_is_retried_then_an_unexpected_body_error(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    vendor.route("POST", ST_TOKEN_URL, respond(200, json={"token_type": "Bearer"}))

    # a garbled answer says nothing about the credentials: asked again, then not reported as bad auth
    error = run_error(runtime, CASES["servicetitan"], UnexpectedBodyError)
    assert not isinstance(error, AuthError)
    assert error.to_dict()["error"]["maybeApplied"] is False
    assert (
        len(vendor.token_requests) == runtime.catalog.connector("servicetitan").model.http.retry.maxAttempts
    )
    assert vendor.api_requests == []


def test_dry_run_sends_nothing_and_masks_auth_headers(runtime: Runtime, vendor: FakeVendor) -> None:
    preview = run(runtime, CASES["servicetitan"], dry_run=True)

    assert vendor.requests == []
    assert vendor.tokens_issued == 0
    assert preview["method"] == "POST"
    assert preview["url"] == ASSIGN_URL
    assert preview["json"] == ASSIGN_INPUTS
    assert preview["headers"]["ST-App-Key"] == "***"
    assert preview["headers"]["Authorization"] == "Bearer ***"
    assert leaked(json.dumps(preview), TOKEN_1) == []


@pytest.mark.parametrize("name", ["authorization", "Authorization", "st-app-key", "ST-APP-KEY"])
def test_caller_headers_cannot_replace_or_duplicate_auth_headers(
    runtime: Runtime, vendor: FakeVendor, name: str
) -> None:
    with pytest.raises(RequestRefusedError, match="cannot be replaced"):
        runtime.run_sync(ST_RAW, {**JOBS_INPUTS, "headers": {name: "forged"}}, ST_CONNECTION)
    assert vendor.requests == []


def test_other_caller_headers_replace_defaults_case_insensitively(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    vendor.route("GET", JOBS_URL, respond(200, json={"data": []}))
    runtime.run_sync(ST_RAW, {**JOBS_INPUTS, "headers": {"accept": "text/csv"}}, ST_CONNECTION)
    [request] = vendor.api_requests
    assert request.headers.get_list("accept") == ["text/csv"]


# ---------------------------------------------------------------------------------------------
# B. API keys (Servicebay, Homebase360)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "header"), list(zip(API_KEY_CASES, ["X-API-Key", "x-api-key"], strict=True)), ids=API_KEY_IDS
)
def test_api_key_header_carries_the_connection_key(
    runtime: Runtime, vendor: FakeVendor, case: Case, header: str
) -> None:
    serve(vendor, case)
    assert run(runtime, case) == {"data": case.ok["data"]}

    [request] = vendor.requests
    sent = [
        (name.decode(), value.decode()) for name, value in request.headers.raw if name.lower() == b"x-api-key"
    ]
    assert sent == [(header, case.connection["apiKey"])]
    assert "authorization" not in request.headers
    assert "st-app-key" not in request.headers
    assert vendor.token_requests == []


@pytest.mark.parametrize("case", API_KEY_CASES, ids=API_KEY_IDS)
def test_api_key_401_is_not_retried(runtime: Runtime, vendor: FakeVendor, case: Case) -> None:
    serve(
        vendor,
        case,
        respond(401, json={"success": False, "error": "invalid API key"}),
        respond(200, json=case.ok),
    )

    error = run_error(runtime, case, AuthError)
    assert error.status == 401
    assert "invalid API key" in error.message
    assert len(vendor.requests) == 1
    assert leaked(error_text(error)) == []


# ---------------------------------------------------------------------------------------------
# C. Connections
# ---------------------------------------------------------------------------------------------


def st_connection(runtime: Runtime, data: dict[str, Any] | None, env: dict[str, str]) -> Any:
    return make_connection(runtime.catalog.connector("servicetitan"), data, env)


def test_x_env_variables_fill_the_connection(runtime: Runtime) -> None:
    connection = st_connection(runtime, None, ST_ENV)

    assert connection.values == {
        "clientId": "cid.from-env",
        "clientSecret": ST_SECRET,
        "tenant": "42",
        "applicationKey": ST_APP_KEY,
        "environment": "production",
    }


def test_given_values_win_over_x_env(runtime: Runtime) -> None:
    connection = st_connection(
        runtime, {"tenant": "111"}, {**ST_ENV, "SERVICETITAN_ENVIRONMENT": "integration"}
    )

    assert connection.values["tenant"] == "111"
    assert connection.values["clientId"] == "cid.from-env"
    assert connection.environment == "integration"


def test_runtime_env_only_connection_runs_an_action(catalog: Any, vendor: FakeVendor, clock: Any) -> None:
    runtime = make_runtime(catalog, vendor, clock, env={**ST_ENV, "SERVICETITAN_ENVIRONMENT": "integration"})
    url = ASSIGN_URL.replace(f"/tenant/{TENANT}/", "/tenant/42/")
    vendor.route("POST", url, respond(200, json={"ok": True}))

    assert runtime.run_sync(ASSIGN, ASSIGN_INPUTS) == {"data": {"ok": True}}
    assert form_body(vendor.token_requests[0])["client_id"] == ["cid.from-env"]
    assert vendor.api_requests[0].headers["st-app-key"] == ST_APP_KEY


def test_dollar_var_references_expand(catalog: Any, vendor: FakeVendor, clock: Any) -> None:
    env = {"MY_ST_SECRET": ST_SECRET, "MY_ST_APP_KEY": ST_APP_KEY}
    runtime = make_runtime(catalog, vendor, clock, env=env)
    data = {**ST_CONNECTION, "clientSecret": "${MY_ST_SECRET}", "applicationKey": "${MY_ST_APP_KEY}"}
    serve(vendor, CASES["servicetitan"])

    assert runtime.connection("servicetitan", data).values["clientSecret"] == ST_SECRET
    runtime.run_sync(ASSIGN, ASSIGN_INPUTS, data)
    assert form_body(vendor.token_requests[0])[SECRET_FORM_FIELD] == [ST_SECRET]
    assert vendor.api_requests[0].headers["st-app-key"] == ST_APP_KEY


def test_missing_dollar_var_names_the_field_and_variable(runtime: Runtime) -> None:
    with pytest.raises(ConnectionConfigError) as caught:
        st_connection(runtime, {**ST_CONNECTION, "clientSecret": "${UNSET_ST_SECRET}"}, {})

    error = caught.value
    assert "'clientSecret'" in error.message
    assert "UNSET_ST_SECRET" in error.message
    assert error.problems == [
        {"path": "$.clientSecret", "message": "environment variable UNSET_ST_SECRET is not set"}
    ]
    assert leaked(error_text(error)) == []


def test_missing_fields_are_listed_by_json_path_with_env_hints(runtime: Runtime) -> None:
    with pytest.raises(ConnectionConfigError) as caught:
        st_connection(runtime, {"clientSecret": ST_SECRET}, {})

    error = caught.value
    assert error.problems == [
        {"path": "$.clientId", "message": "is required"},
        {"path": "$.tenant", "message": "is required"},
        {"path": "$.applicationKey", "message": "is required"},
    ]
    assert "$SERVICETITAN_CLIENT_ID" in error.message
    assert "$SERVICETITAN_APP_KEY" in error.message
    assert error.to_dict()["error"]["type"] == "invalid_connection"
    assert leaked(error_text(error)) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clientSecret", 73519842),  # integer-looking secret of the wrong type
        ("applicationKey", [ST_APP_KEY]),
        ("tenant", "abc"),
        ("tenant", ST_SECRET),  # a secret pasted into a plain field is still masked
        ("environment", "staging"),
    ],
    ids=["secret-int", "secret-list", "tenant-abc", "tenant-is-secret", "bad-environment"],
)
def test_validation_errors_name_the_field_and_never_echo_secrets(
    runtime: Runtime, field: str, value: Any
) -> None:
    with pytest.raises(ConnectionConfigError) as caught:
        st_connection(runtime, {**ST_CONNECTION, field: value}, {})

    error = caught.value
    assert [problem["path"] for problem in error.problems] == [f"$.{field}"]
    assert leaked(error_text(error), "73519842") == []


@pytest.mark.parametrize(
    ("environment", "api", "token_url"),
    [
        (None, ST_PROD_API, ST_PROD_TOKEN_URL),
        ("integration", ST_API, ST_TOKEN_URL),
    ],
    ids=["default-production", "integration"],
)
def test_environment_selects_hosts(
    runtime: Runtime, environment: str | None, api: str, token_url: str
) -> None:
    data = {k: v for k, v in ST_CONNECTION.items() if k != "environment"}
    if environment:
        data["environment"] = environment
    session = runtime.session(runtime.connection("servicetitan", data))

    assert str(session.base_url) == api
    assert isinstance(session.auth, OAuth2ClientCredentialsAuth)
    assert session.auth.token_url == token_url


def test_production_is_the_default_end_to_end(runtime: Runtime, vendor: FakeVendor) -> None:
    data = {k: v for k, v in ST_CONNECTION.items() if k != "environment"}
    vendor.route(
        "POST", ST_PROD_TOKEN_URL, respond(200, json={"access_token": "prod-tok", "expires_in": 900})
    )
    vendor.route("POST", ASSIGN_URL.replace(ST_API, ST_PROD_API), respond(200, json={}))

    runtime.run_sync(ASSIGN, ASSIGN_INPUTS, data)
    assert [str(r.url) for r in vendor.requests] == [
        ST_PROD_TOKEN_URL,
        ASSIGN_URL.replace(ST_API, ST_PROD_API),
    ]
    assert bearer(vendor.requests[1]) == "Bearer prod-tok"


# ---------------------------------------------------------------------------------------------
# D. Secrets never leak
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_reprs_of_connection_session_and_auth_hide_secrets(runtime: Runtime, name: str) -> None:
    connection = runtime.connection(name, CASES[name].connection)
    session = runtime.session(connection)
    shown = [
        repr(connection),
        str(connection),
        repr(session),
        str(session),
        repr(session.auth),
        str(session.auth),
    ]

    assert leaked("\n".join(shown)) == []
    assert "'***'" in repr(connection)
    expected = OAuth2ClientCredentialsAuth if name == "servicetitan" else ApiKeyHeaderAuth
    assert isinstance(session.auth, expected)


def test_reprs_hide_the_access_token_after_use(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(vendor, CASES["servicetitan"])
    connection = runtime.connection("servicetitan", ST_CONNECTION)

    async def send_and_show() -> str:
        async with runtime.session(connection) as session:
            await session.auth.headers(session.client)
            return f"{session!r} {session.auth!r} {session.auth!s}"

    shown = asyncio.run(send_and_show())
    assert vendor.tokens_issued == 1
    assert leaked(shown, TOKEN_1) == []


@pytest.mark.parametrize("name", list(CASES))
def test_dry_run_output_hides_secrets(runtime: Runtime, vendor: FakeVendor, name: str) -> None:
    preview = run(runtime, CASES[name], dry_run=True)

    assert vendor.requests == []
    assert preview["url"] == CASES[name].url
    assert {k: v for k, v in preview["headers"].items() if k.lower() in SENSITIVE} == CASES[name].masked
    assert leaked(json.dumps(preview)) == []


ECHOES = {
    "st-400-title-and-errors": (
        "servicetitan",
        respond(
            400,
            json={
                "title": "bad key " + ST_APP_KEY,
                "traceId": "tr-1",
                "errors": {"applicationKey": [f"{ST_APP_KEY} is not valid"]},
            },
        ),
        BadRequestError,
    ),
    "st-500-text-with-token": (
        "servicetitan",
        respond(500, text=f"upstream rejected Bearer {TOKEN_1} (secret {ST_SECRET})"),
        ServerError,
    ),
    "sb-400-key": (
        "servicebay",
        respond(400, json={"success": False, "error": f"key {SB_KEY} invalid"}),
        BadRequestError,
    ),
    "hb-403-key": (
        "homebase360",
        respond(403, json={"success": False, "message": f"denied: {HB_KEY}"}),
        AuthError,
    ),
}


@pytest.mark.parametrize(("name", "responder", "error_type"), list(ECHOES.values()), ids=list(ECHOES))
def test_vendor_errors_echoing_secrets_are_redacted(
    runtime: Runtime, vendor: FakeVendor, name: str, responder: Any, error_type: type[VendorError]
) -> None:
    serve(vendor, CASES[name], responder)

    error = run_error(runtime, CASES[name], error_type)
    assert type(error) is error_type
    assert "***" in error.message
    assert leaked(error_text(error), TOKEN_1) == []
    assert len(vendor.api_requests) == 1


def test_st_error_details_keep_trace_id_and_redact_errors(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(vendor, CASES["servicetitan"], ECHOES["st-400-title-and-errors"][1])

    error = run_error(runtime, CASES["servicetitan"], BadRequestError)
    assert error.to_dict() == {
        "error": {
            "type": "bad_request",
            "message": "bad key ***",
            "status": 400,
            "vendor": "servicetitan",
            "traceId": "tr-1",
            "errors": {"applicationKey": ["*** is not valid"]},
            "maybeApplied": False,
        }
    }


def test_cached_token_echoed_by_a_later_run_is_redacted(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(
        vendor, CASES["servicetitan"], respond(200, json={}), respond(500, text=f"rejected token {TOKEN_1}")
    )
    run(runtime, CASES["servicetitan"])  # fetches and caches tok-1

    error = run_error(runtime, CASES["servicetitan"], ServerError)  # a new session, the cached token
    assert len(vendor.token_requests) == 1
    assert error.message == "rejected token ***"
    assert TOKEN_1 not in error_text(error)


def test_truncated_error_text_does_not_leak_part_of_a_secret(runtime: Runtime, vendor: FakeVendor) -> None:
    serve(vendor, CASES["servicetitan"], respond(400, text="x" * 480 + ST_APP_KEY))

    error = run_error(runtime, CASES["servicetitan"], BadRequestError)
    assert error.message == "x" * 480 + "***"  # redacted before the 500-character cut
    assert ST_APP_KEY[:8] not in error_text(error)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_logs_through_redacting_filter_hide_secrets(runtime: Runtime, vendor: FakeVendor) -> None:
    # The secret sits in the URL path, so the request log line really contains it before redaction.
    url = f"{ST_API}/jpm/v2/tenant/{TENANT}/customers/{ST_APP_KEY}"
    vendor.route("GET", url, respond(500, text="try again"), respond(200, json={"id": 7}))
    handler = _Capture()
    handler.addFilter(RedactingFilter(runtime.connection("servicetitan", ST_CONNECTION).redactor()))
    logger = logging.getLogger("component")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    result = runtime.run_sync(ST_RAW, {"urlType": "jpm", "path": f"/customers/{ST_APP_KEY}"}, ST_CONNECTION)

    assert result == {"data": {"id": 7}}
    assert len(handler.messages) == 4  # the token, -> 500, retrying, -> 200
    token_line = handler.messages[0]
    assert token_line.startswith("POST https://") and "client_secret=" + REDACTED + ") -> 200" in token_line
    assert handler.messages[1].startswith(f"GET {ST_API}/jpm/v2/tenant/{TENANT}/customers/*** -> 500")
    assert handler.messages[2] == "retrying GET after 500 in 0.50 s"
    assert handler.messages[3].startswith(f"GET {ST_API}/jpm/v2/tenant/{TENANT}/customers/*** -> 200")
    assert leaked("\n".join(handler.messages), TOKEN_1) == []


# --- the CLI ---------------------------------------------------------------------------------


def cli_output(result: Result) -> str:
    return result.stdout + result.stderr


def write_connection(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


ASSIGN_ARGS = ("run", ASSIGN, "--inputs", json.dumps(ASSIGN_INPUTS))


def test_cli_dry_run_with_connection_file_hides_secrets(
    cli: Callable[..., Result], vendor: FakeVendor, tmp_path: Path
) -> None:
    result = cli(*ASSIGN_ARGS, "--connection", write_connection(tmp_path, ST_CONNECTION), "--dry-run")

    assert result.exit_code == 0, cli_output(result)
    preview = json.loads(result.stdout)
    assert preview["url"] == ASSIGN_URL
    assert {k: preview["headers"][k] for k in CASES["servicetitan"].masked} == CASES["servicetitan"].masked
    assert vendor.requests == []
    assert leaked(cli_output(result)) == []
    assert "Traceback" not in cli_output(result)


@pytest.mark.parametrize(
    ("args", "connection", "error_type"),
    [
        (ASSIGN_ARGS, {**ST_CONNECTION, "tenant": "abc"}, "invalid_connection"),
        (ASSIGN_ARGS, {**ST_CONNECTION, "tenant": ST_SECRET}, "invalid_connection"),
        (ASSIGN_ARGS, {**ST_CONNECTION, "applicationKey": "${UNSET_APP_KEY}"}, "invalid_connection"),
        (
            (
                "run",
                ST_RAW,
                "--inputs",
                json.dumps({"urlType": "jpm", "path": f"//evil.example/{ST_APP_KEY}"}),
            ),
            ST_CONNECTION,
            "request_refused",
        ),
    ],
    ids=["bad-tenant", "secret-in-tenant", "unset-var", "refused-raw-request"],
)
def test_cli_verbose_failures_hide_secrets(
    cli: Callable[..., Result],
    vendor: FakeVendor,
    tmp_path: Path,
    args: tuple[str, ...],
    connection: dict[str, Any],
    error_type: str,
) -> None:
    result = cli("-v", *args, "--connection", write_connection(tmp_path, connection))

    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["type"] == error_type
    assert vendor.api_requests == []
    assert leaked(cli_output(result)) == []
    assert "Traceback" not in cli_output(result)


def test_cli_verbose_vendor_error_hides_secrets_and_token(
    cli: Callable[..., Result], vendor: FakeVendor, tmp_path: Path
) -> None:
    serve(vendor, CASES["servicetitan"], respond(500, text=f"rejected {ST_APP_KEY} and Bearer {TOKEN_1}"))

    result = cli("-v", *ASSIGN_ARGS, "--connection", write_connection(tmp_path, ST_CONNECTION))

    output = cli_output(result)
    assert result.exit_code == 1
    assert "-> 500" in output  # the -v request log was written
    error = json.loads(output[output.index('{\n  "error"') :])["error"]
    assert error["type"] == "server"
    assert error["message"] == "rejected *** and Bearer ***"
    assert leaked(output, TOKEN_1) == []
    assert "Traceback" not in output


def test_cli_env_only_connection(cli: Callable[..., Result], vendor: FakeVendor) -> None:
    result = cli(*ASSIGN_ARGS, "--dry-run", env=ST_ENV)

    assert result.exit_code == 0, cli_output(result)
    preview = json.loads(result.stdout)
    assert preview["url"] == f"{ST_PROD_API}/dispatch/v2/tenant/42/appointment-assignments/assign-technicians"
    assert preview["headers"]["ST-App-Key"] == "***"
    assert preview["headers"]["Authorization"] == "Bearer ***"
    assert vendor.requests == []
    assert leaked(cli_output(result)) == []


# ---------------------------------------------------------------------------------------------
# E. Cassettes
# ---------------------------------------------------------------------------------------------


def recorder(library: Path, record_mode: str = "all") -> vcr.VCR:
    return vcr.VCR(**{**vcr_config(), "record_mode": record_mode, "cassette_library_dir": str(library)})


def record(
    runtime: Runtime, vendor: FakeVendor, library: Path, name: str
) -> tuple[str, list[dict[str, Any]]]:
    """Record CASES[name] into ``library``; the cassette's text and its parsed interactions."""
    serve(vendor, CASES[name])
    with recorder(library).use_cassette(f"{name}.yaml"):
        assert run(runtime, CASES[name]) == {"data": CASES[name].ok.get("data", CASES[name].ok)}
    text = (library / f"{name}.yaml").read_text(encoding="utf-8")
    return text, yaml.safe_load(text)["interactions"]


@pytest.mark.parametrize("name", list(CASES))
def test_recorded_cassette_holds_no_secrets(
    runtime: Runtime, vendor: FakeVendor, tmp_path: Path, name: str
) -> None:
    text, interactions = record(runtime, vendor, tmp_path, name)

    assert [i["request"]["uri"] for i in interactions] == [str(r.url) for r in vendor.requests]
    assert len(interactions) == (2 if name == "servicetitan" else 1)
    assert leaked(text, TOKEN_1) == []
    assert text.count("Bearer") == text.count('"token_type": "Bearer"')  # never a credential
    for interaction in interactions:
        assert not SENSITIVE & {header.lower() for header in interaction["request"]["headers"]}


def test_recorded_token_exchange_is_filtered(runtime: Runtime, vendor: FakeVendor, tmp_path: Path) -> None:
    _, interactions = record(runtime, vendor, tmp_path, "servicetitan")
    token = interactions[0]

    assert token["request"]["uri"] == ST_TOKEN_URL
    assert parse_qs(token["request"]["body"]) == {
        "grant_type": ["client_credentials"],
        "client_id": [ST_CONNECTION["clientId"]],
        SECRET_FORM_FIELD: [FILTERED],
    }
    assert json.loads(token["response"]["body"]["string"])["access_token"] == FILTERED
    assert json.loads(interactions[1]["request"]["body"]) == ASSIGN_INPUTS


def test_recorded_cassette_replays_without_the_vendor(
    runtime: Runtime, vendor: FakeVendor, tmp_path: Path
) -> None:
    record(runtime, vendor, tmp_path, "servicetitan")
    offline = FakeVendor()
    replayer = make_runtime(runtime.catalog, offline, runtime.clock, env={})

    with recorder(tmp_path, "none").use_cassette("servicetitan.yaml") as cassette:
        assert run(replayer, CASES["servicetitan"]) == {"data": {}}
    assert cassette.play_count == 2  # token exchange matched despite the filtered secret in the body
    assert offline.requests == []


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"grant_type": "client_credentials", SECRET_FORM_FIELD: "s3cr/t"}).encode(),
        urlencode({SECRET_FORM_FIELD: ST_SECRET, "x": ""}),
    ],
    ids=["bytes", "str-blank-field"],
)
def test_scrub_form_replaces_the_secret_and_keeps_other_fields(body: bytes | str) -> None:
    scrubbed = _scrub_form(body)

    assert type(scrubbed) is type(body)
    text = scrubbed.decode() if isinstance(scrubbed, bytes) else scrubbed
    fields = parse_qs(text, keep_blank_values=True)
    assert fields[SECRET_FORM_FIELD] == [FILTERED]
    original = parse_qs(body.decode() if isinstance(body, bytes) else body, keep_blank_values=True)
    assert {**fields, SECRET_FORM_FIELD: None} == {**original, SECRET_FORM_FIELD: None}


def test_scrub_form_leaves_bodies_without_the_secret_alone() -> None:
    for body in (None, b"", "grant_type=client_credentials&client_id=x", b'{"json": true}'):
        assert _scrub_form(body) is body


def test_scrub_json_replaces_access_token_only() -> None:
    scrubbed = json.loads(_scrub_json(json.dumps({"access_token": TOKEN_1, "expires_in": 900})))

    assert scrubbed == {"access_token": FILTERED, "expires_in": 900}
    for untouched in ("not json", '{"id": 1}', '["access_token"]'):
        assert _scrub_json(untouched) == untouched


@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
def test_before_record_response_scrubs_the_body(as_bytes: bool) -> None:
    body = json.dumps({"access_token": TOKEN_1, "token_type": "Bearer"})
    response = {"status": {"code": 200}, "body": {"string": body.encode() if as_bytes else body}}

    recorded = before_record_response(response)["body"]["string"]
    assert isinstance(recorded, bytes) is as_bytes
    text = recorded.decode() if isinstance(recorded, bytes) else recorded
    assert json.loads(text) == {"access_token": FILTERED, "token_type": "Bearer"}
    assert before_record_response({"status": {"code": 204}}) == {"status": {"code": 204}}
