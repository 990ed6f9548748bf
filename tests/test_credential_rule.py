"""The credential rule: where each credential may go, proved with a catcher on every request.

The client secret goes only to the token endpoint; the bearer token, the app key and the API keys only
to the API host. A connection may replace the vendor's hosts (``baseUrl``, and ``tokenUrl`` with it on
the same origin), never with userinfo, over https unless to a loopback address, never to a link-local
address, and only to ``COMPONENT_ALLOWED_HOSTS`` where that is set. Every connector and every override
combination runs through a catcher (an httpx2 MockTransport behind the runtime) that records each
request's host, path, headers and body; canary values must appear only where the rule allows. Refused
connections send nothing, exit 2 in the CLI, and never echo what was refused.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from component.auth import TokenCache
from component.catalog import Catalog
from component.errors import ComponentError, ConnectionConfigError
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox
from tests.conftest import FakeClock, canary_forms
from tests.servers import sandbox_process

SECRET = "secret5c2e-CANARY-rule-client"
APP_KEY = "appkeyd41f-CANARY-rule"
TOKEN = "token0b7a-CANARY-rule-bearer"
SB_KEY = "sbkey93aa-CANARY-rule-servicebay"
HB_KEY = "hbkey6e10-CANARY-rule-homebase"
PASSWORD = "userpw77c1-CANARY-rule-userinfo"
# Each canary starts differently: an 8-character prefix is one of the forms a leak is sought in.
CANARIES = (SECRET, APP_KEY, TOKEN, SB_KEY, HB_KEY, PASSWORD)
ALLOWED_HOSTS_VARIABLE = "COMPONENT_ALLOWED_HOSTS"  # the documented name

CONNECTIONS: dict[str, dict[str, str]] = {
    "servicetitan": {
        "clientId": "cid.rule",
        "clientSecret": SECRET,
        "tenant": "42",
        "applicationKey": APP_KEY,
        "environment": "integration",
    },
    "servicebay": {"apiKey": SB_KEY, "orgId": "org-1"},
    "homebase360": {"apiKey": HB_KEY},
}
ACTIONS = {
    "servicetitan": ("servicetitan.rawRequest", {"urlType": "jpm", "path": "/jobs"}),
    "servicebay": ("servicebay.rawRequest", {"path": "/ping"}),
    "homebase360": ("homebase360.rawRequest", {"path": "/ping"}),
}
# The vendor's own hosts (the environment's), and the API path each action reaches under the base URL.
ST_API, ST_TOKEN = "api-integration.servicetitan.io", "auth-integration.servicetitan.io"
HOME = {
    "servicetitan": ("https", ST_API, ""),
    "servicebay": ("https", "developer.servicebay.io", "/api/v1"),
    "homebase360": ("https", "us-central1-homebase-360.cloudfunctions.net", "/api/v1"),
}
API_PATH = {"servicetitan": "/jpm/v2/tenant/42/jobs", "servicebay": "/ping", "homebase360": "/ping"}
# Where each credential may go: the token endpoint ("token") or the API host ("api").
DESTINATION = {SECRET: "token", TOKEN: "api", APP_KEY: "api", SB_KEY: "api", HB_KEY: "api"}


@dataclass
class Seen:
    origin: str  # scheme://host[:port]
    path: str
    headers: dict[str, str]
    body: str

    def text(self) -> str:
        return json.dumps([self.origin, self.path, self.headers, self.body])


class Catcher:
    """Every request's origin, path, headers and body; answers a token request and an API call."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.token_gate: Callable[[], None] = lambda: None

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        seen = Seen(
            f"{request.url.scheme}://{request.url.netloc.decode()}",
            request.url.path,
            {name.decode().lower(): value.decode() for name, value in request.headers.raw},
            request.read().decode(),
        )
        with self.lock:
            self.seen.append(seen)
        if request.url.path.endswith("/connect/token"):
            self.token_gate()
            return httpx2.Response(200, json={"access_token": TOKEN, "expires_in": 900})
        return httpx2.Response(200, json={"success": True, "data": {"ok": True}})

    @property
    def tokens(self) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith("/connect/token")]

    @property
    def api(self) -> list[Seen]:
        return [s for s in self.seen if not s.path.endswith("/connect/token")]


def runtime(catalog: Catalog, handler: Any, env: dict[str, str] | None = None) -> Runtime:
    return Runtime(
        catalog,
        transport=httpx2.MockTransport(handler),
        clock=FakeClock(),
        tokens=TokenCache(),
        budgets=BudgetRegistry(),
        env=env or {},
        random=lambda: 0.0,
    )


def where(seen: Seen, canary: str) -> bool:
    return any(form in seen.text() for form in canary_forms(canary))


@dataclass(frozen=True)
class Case:
    """An override combination: the fields added to the connection, the allow-list, and either where
    the API calls and the token request must go (``api``/``token`` as origin + path prefix) or the
    field that is refused."""

    name: str
    fields: dict[str, str]
    allowed: str | None = None
    api: str | None = None  # origin + base path of the API calls
    token: str | None = None  # the token request's URL
    refused: str | None = None  # the field named by the refusal


def cases(connector: str) -> list[Case]:
    scheme, host, base_path = HOME[connector]
    home = f"{scheme}://{host}{base_path}"
    st = connector == "servicetitan"
    home_token = f"https://{ST_TOKEN}/connect/token" if st else None
    proxy_token = "https://proxy.example.com/connect/token" if st else None
    local_token = "http://127.0.0.1:8123/connect/token" if st else None
    out = [
        Case("none", {}, api=home, token=home_token),
        Case(
            "baseUrl only",
            {"baseUrl": "https://proxy.example.com/v"},
            api="https://proxy.example.com/v",
            token=proxy_token,
        ),
        Case(
            "http loopback",
            {"baseUrl": "http://127.0.0.1:8123"},
            api="http://127.0.0.1:8123",
            token=local_token,
        ),
        Case(
            "http localhost",
            {"baseUrl": "http://localhost:8123/x"},
            api="http://localhost:8123/x",
            token="http://localhost:8123/connect/token" if st else None,
        ),
        Case(
            "http ::1",
            {"baseUrl": "http://[::1]:8123"},
            api="http://[::1]:8123",
            token="http://[::1]:8123/connect/token" if st else None,
        ),
        Case(
            "userinfo in baseUrl",
            {"baseUrl": f"https://user:{PASSWORD}@proxy.example.com"},
            refused="baseUrl",
        ),
        Case("empty userinfo in baseUrl", {"baseUrl": "https://@proxy.example.com"}, refused="baseUrl"),
        Case("http non-loopback", {"baseUrl": "http://proxy.example.com"}, refused="baseUrl"),
        Case("http private address", {"baseUrl": "http://10.0.0.5"}, refused="baseUrl"),
        Case("http link-local", {"baseUrl": "http://169.254.169.254/latest"}, refused="baseUrl"),
        Case("https link-local", {"baseUrl": "https://169.254.169.254"}, refused="baseUrl"),
        Case("IPv6 link-local", {"baseUrl": "https://[fe80::1]"}, refused="baseUrl"),
        Case("unspecified address", {"baseUrl": "http://0.0.0.0:8123"}, refused="baseUrl"),
        Case(
            "allow-list hit",
            {"baseUrl": "https://proxy.example.com"},
            allowed="proxy.example.com",
            api="https://proxy.example.com",
            token=proxy_token,
        ),
        Case(
            "allow-list wildcard hit",
            {"baseUrl": "https://proxy.example.com"},
            allowed=" other.org , *.example.com",
            api="https://proxy.example.com",
            token=proxy_token,
        ),
        Case(
            "allow-list miss",
            {"baseUrl": "https://proxy.example.net"},
            allowed="proxy.example.com,*.example.com",
            refused="baseUrl",
        ),
        Case(
            "allow-list wildcard is not the bare domain",
            {"baseUrl": "https://example.com"},
            allowed="*.example.com",
            refused="baseUrl",
        ),
        Case(
            "allow-list suffix must be whole labels",
            {"baseUrl": "https://evilexample.com"},
            allowed="*.example.com",
            refused="baseUrl",
        ),
        Case(
            "allow-list leaves the vendor's hosts alone",
            {},
            allowed="proxy.example.com",
            api=home,
            token=home_token,
        ),
        Case(
            "allow-list binds loopback too",
            {"baseUrl": "http://127.0.0.1:8123"},
            allowed="proxy.example.com",
            refused="baseUrl",
        ),
    ]
    if st:
        out += [
            Case(
                "tokenUrl only",
                {"tokenUrl": "https://collector.example.com/connect/token"},
                refused="tokenUrl",
            ),
            Case(
                "tokenUrl only, vendor's own host",
                {"tokenUrl": f"https://{ST_TOKEN}/connect/token"},
                refused="tokenUrl",
            ),
            Case(
                "both on one origin",
                {
                    "baseUrl": "https://proxy.example.com/st",
                    "tokenUrl": "https://proxy.example.com/st/connect/token",
                },
                api="https://proxy.example.com/st",
                token="https://proxy.example.com/st/connect/token",
            ),
            Case(
                "both loopback",
                {"baseUrl": "http://127.0.0.1:8123/st", "tokenUrl": "http://127.0.0.1:8123/st/connect/token"},
                api="http://127.0.0.1:8123/st",
                token="http://127.0.0.1:8123/st/connect/token",
            ),
            Case(
                "both on different hosts",
                {"baseUrl": "https://a.example.com", "tokenUrl": "https://b.example.com/connect/token"},
                refused="tokenUrl",
            ),
            Case(
                "both on different ports",
                {"baseUrl": "https://a.example.com", "tokenUrl": "https://a.example.com:8443/connect/token"},
                refused="tokenUrl",
            ),
            Case(
                "both, token over http",
                {"baseUrl": "https://a.example.com", "tokenUrl": "http://a.example.com/connect/token"},
                refused="tokenUrl",
            ),
            Case(
                "userinfo in tokenUrl",
                {
                    "baseUrl": "https://a.example.com",
                    "tokenUrl": f"https://u:{PASSWORD}@a.example.com/connect/token",
                },
                refused="tokenUrl",
            ),
            Case(
                "tokenUrl link-local",
                {"baseUrl": "https://a.example.com", "tokenUrl": "https://169.254.169.254/connect/token"},
                refused="tokenUrl",
            ),
            Case(
                "allow-list miss on tokenUrl host",
                {"baseUrl": "https://a.example.com", "tokenUrl": "https://a.example.com/connect/token"},
                allowed="b.example.com",
                refused="baseUrl",
            ),
        ]
    else:
        out.append(
            Case(
                "tokenUrl is not a field", {"tokenUrl": "https://collector.example.com/t"}, refused="tokenUrl"
            )
        )
    return out


ALL = [pytest.param(c, case, id=f"{c}: {case.name}") for c in CONNECTIONS for case in cases(c)]


def _connection(connector: str, case: Case) -> dict[str, str]:
    return {**CONNECTIONS[connector], **case.fields}


@pytest.mark.parametrize(("connector", "case"), ALL)
def test_each_credential_goes_only_where_the_rule_allows(
    catalog: Catalog, connector: str, case: Case
) -> None:
    catcher = Catcher()
    env = {ALLOWED_HOSTS_VARIABLE: case.allowed} if case.allowed else {}
    rt = runtime(catalog, catcher, env)
    ref, inputs = ACTIONS[connector]
    connection = _connection(connector, case)
    if case.refused:
        for dry_run in (True, False):
            with pytest.raises(ConnectionConfigError) as caught:
                rt.run_sync(ref, inputs, connection, dry_run=dry_run)
            error = caught.value.to_dict() if hasattr(caught.value, "to_dict") else {}
            text = str(caught.value) + json.dumps(caught.value.problems) + json.dumps(error, default=str)
            assert caught.value.kind == "invalid_connection"
            assert [p["path"] for p in caught.value.problems] == [f"$.{case.refused}"]
            assert case.refused in text  # named in the message or its problems
            assert not [c for c in CANARIES if any(f in text for f in canary_forms(c))]
        assert catcher.seen == []  # nothing sent, not even the token request
        return

    assert rt.run_sync(ref, inputs, connection) == {"data": {"success": True, "data": {"ok": True}}}
    assert case.api is not None
    # Destinations: the API call under the expected base, the token request (OAuth2) at the expected URL.
    (api,) = catcher.api
    assert api.origin + api.path == case.api + API_PATH[connector]
    if case.token:
        (token,) = catcher.tokens
        assert token.origin + token.path == case.token
    else:
        assert catcher.tokens == []
    # Each credential only where it belongs, in any form (raw, URL-encoded, base64), nothing else.
    expected = (
        [SECRET, TOKEN, APP_KEY]
        if connector == "servicetitan"
        else [SB_KEY if connector == "servicebay" else HB_KEY]
    )
    for canary in CANARIES:
        carriers = [s for s in catcher.seen if where(s, canary)]
        if canary not in expected:
            assert carriers == [], f"{canary} was sent"
            continue
        kind = DESTINATION[canary]
        assert carriers == (catcher.tokens if kind == "token" else catcher.api), f"{canary} went astray"
    for seen in catcher.seen:  # credentials come from the connection's fields only: never Basic auth
        assert not seen.headers.get("authorization", "").lower().startswith("basic")
    assert catcher.api[0].headers.get("authorization", "") == (
        f"Bearer {TOKEN}" if connector == "servicetitan" else ""
    )


@pytest.mark.parametrize(("connector", "case"), [p for p in ALL if not p.values[1].refused])  # type: ignore[union-attr]
def test_dry_run_shows_exactly_the_headers_sent_and_where(
    catalog: Catalog, connector: str, case: Case
) -> None:
    """Every header of the real request appears in the dry run, same value unless it is a credential
    (shown ``***``), and the dry run names the host of the API call and of the token request."""
    catcher = Catcher()
    env = {ALLOWED_HOSTS_VARIABLE: case.allowed} if case.allowed else {}
    rt = runtime(catalog, catcher, env)
    ref, inputs = ACTIONS[connector]
    connection = _connection(connector, case)
    preview = rt.run_sync(ref, inputs, connection, dry_run=True)
    assert catcher.seen == []
    rt.run_sync(ref, inputs, connection)
    assert {"method", "url", "query", "headers"} <= set(preview)

    def compare(shown: dict[str, str], sent: Seen, masked: frozenset[str] = frozenset()) -> None:
        assert {k.lower() for k in shown} == set(sent.headers)
        for name, value in shown.items():
            real = sent.headers[name.lower()]
            if name.lower() in masked:
                assert value == "***", name
            elif name.lower() in {"authorization", "st-app-key", "x-api-key"}:
                assert "***" in value and not any(c in value for c in CANARIES)
                assert value.replace("***", "") == real.replace(TOKEN, "").replace(APP_KEY, "").replace(
                    SB_KEY, ""
                ).replace(HB_KEY, "")
            else:
                assert value == real, name

    (api,) = catcher.api
    compare(preview["headers"], api)
    assert preview["host"] == api.origin.split("://")[1]
    assert preview["url"] == api.origin + api.path
    if connector == "servicetitan":
        (token,) = catcher.tokens
        # the token body's length would tell the client secret's length
        compare(preview["token"]["headers"], token, masked=frozenset({"content-length"}))
        assert preview["token"]["host"] == token.origin.split("://")[1]
        assert preview["token"]["url"] == token.origin + token.path
        assert preview["token"]["form"]["client_secret"] == "***"
        assert preview["token"]["form"]["client_id"] == "cid.rule"
    else:
        assert "token" not in preview
    assert not [c for c in CANARIES if any(f in json.dumps(preview) for f in canary_forms(c))]


# --- secrets a paste broke -----------------------------------------------------------------------------

BROKEN = {
    "trailing space": "{} ",
    "leading space": " {}",
    "non-breaking space": "{}\u00a0",
    "non-ASCII letter": "{}é",
    "line break": "{}\n",
    "tab": "{}\t",
    "zero-width space": "{}\u200b",
}
SECRET_FIELDS = [
    ("servicetitan", "clientSecret", SECRET),
    ("servicetitan", "applicationKey", APP_KEY),
    ("servicebay", "apiKey", SB_KEY),
    ("homebase360", "apiKey", HB_KEY),
]


@pytest.mark.parametrize("broken", BROKEN)
@pytest.mark.parametrize(("connector", "field", "canary"), SECRET_FIELDS)
def test_a_secret_with_whitespace_or_non_ascii_is_refused_before_anything_is_sent(
    catalog: Catalog, connector: str, field: str, canary: str, broken: str
) -> None:
    catcher = Catcher()
    rt = runtime(catalog, catcher)
    ref, inputs = ACTIONS[connector]
    connection = {**CONNECTIONS[connector], field: BROKEN[broken].format(canary)}
    with pytest.raises(ConnectionConfigError) as caught:
        rt.run_sync(ref, inputs, connection)
    assert caught.value.exit_code == 2
    assert [p["path"] for p in caught.value.problems] == [f"$.{field}"]
    assert canary not in str(caught.value) + json.dumps(caught.value.problems)
    assert catcher.seen == []


def test_the_cli_refuses_a_broken_secret_and_a_lone_token_url_with_exit_2(
    cli: Callable[..., Any], tmp_path: Path, vendor: Any
) -> None:
    for fields, field in (
        ({"clientSecret": SECRET + "\u00a0"}, "clientSecret"),
        ({"applicationKey": APP_KEY + " "}, "applicationKey"),
        ({"tokenUrl": "https://collector.example.com/connect/token"}, "tokenUrl"),
        ({"baseUrl": f"https://u:{PASSWORD}@api.example.com"}, "baseUrl"),
        ({"baseUrl": "http://169.254.169.254"}, "baseUrl"),
    ):
        file = tmp_path / "st.json"
        file.write_text(json.dumps({**CONNECTIONS["servicetitan"], **fields}), encoding="utf-8")
        for extra in ((), ("--dry-run",)):
            result = cli(
                "run", "servicetitan.getJob", "--inputs", '{"id": 1}', "--connection", str(file), *extra
            )
            assert result.exit_code == 2, result.output
            error = json.loads(result.stderr)["error"]
            assert error["type"] == "invalid_connection" and field in error["message"]
            assert not [c for c in CANARIES if any(f in result.output for f in canary_forms(c))]
    assert vendor.requests == []


def test_the_allow_list_is_read_from_the_process_environment_by_default(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    catcher = Catcher()
    rt = Runtime(
        catalog, transport=httpx2.MockTransport(catcher), tokens=TokenCache(), budgets=BudgetRegistry()
    )
    connection = {**CONNECTIONS["homebase360"], "baseUrl": "https://hb.example.com/api/v1"}
    monkeypatch.setenv(ALLOWED_HOSTS_VARIABLE, "other.example.com")
    with pytest.raises(ConnectionConfigError, match=ALLOWED_HOSTS_VARIABLE):
        rt.run_sync("homebase360.ping", {}, connection)
    monkeypatch.setenv(ALLOWED_HOSTS_VARIABLE, "hb.example.com")
    assert rt.run_sync("homebase360.ping", {}, connection)["data"] == {"ok": True}
    assert [s.origin for s in catcher.seen] == ["https://hb.example.com"]


# --- redirects --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("location", ["https://collector.example.com/grab", "http://[::1"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("at", ["api", "token"])
def test_a_redirect_is_never_followed(catalog: Catalog, status: int, at: str, location: str) -> None:
    """A vendor (or anything posing as one) answering a redirect never gets a credential sent on to
    the other host: the client follows no redirect, for the token request or the API call."""
    catcher = Catcher()

    def handler(request: httpx2.Request) -> httpx2.Response:
        catcher(request)
        is_token = request.url.path.endswith("/connect/token")
        if request.url.host == "collector.example.com":
            return httpx2.Response(200, json={"access_token": TOKEN})
        if (at == "token") == is_token:
            return httpx2.Response(status, headers={"Location": location})
        if is_token:
            return httpx2.Response(200, json={"access_token": TOKEN, "expires_in": 900})
        return httpx2.Response(200, json={"data": []})

    rt = runtime(catalog, handler)
    with pytest.raises(ComponentError) as caught:
        rt.run_sync(
            "servicetitan.rawRequest", {"urlType": "jpm", "path": "/jobs"}, CONNECTIONS["servicetitan"]
        )
    assert caught.value.kind != "internal"
    if at == "api":
        assert "redirects are not followed" in str(caught.value)
    assert [s.origin for s in catcher.seen if "collector" in s.origin] == []
    assert len(catcher.seen) == (1 if at == "token" else 2)


# --- one token request across threads -------------------------------------------------------------------


def test_threads_running_run_sync_on_equal_connections_make_one_token_request(catalog: Catalog) -> None:
    """Each ``run_sync`` runs its own event loop: the single flight holds across loops and threads.

    The token endpoint holds its answer until a second token request arrives (which would show the
    flight broken) or a second has passed; either way every thread gets its answer.
    """
    catcher = Catcher()
    second = threading.Event()

    def gate() -> None:
        if len(catcher.tokens) > 1:
            second.set()
        else:
            second.wait(1.0)

    catcher.token_gate = gate
    rt = runtime(catalog, catcher)
    ref, inputs = ACTIONS["servicetitan"]
    results: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(rt.run_sync(ref, inputs, dict(CONNECTIONS["servicetitan"])))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(results) == 10
    assert len(catcher.tokens) == 1
    assert len(catcher.api) == 10


def test_threads_share_a_failed_token_request_instead_of_each_asking(catalog: Catalog) -> None:
    catcher = Catcher()
    asked = threading.Event()

    def handler(request: httpx2.Request) -> httpx2.Response:
        catcher(request)
        if request.url.path.endswith("/connect/token"):
            if len(catcher.tokens) > 1:
                asked.set()
            else:
                asked.wait(1.0)
            return httpx2.Response(400, json={"error": "invalid_client"})
        return httpx2.Response(200, json={"data": []})

    rt = runtime(catalog, handler)
    ref, inputs = ACTIONS["servicetitan"]
    kinds: list[str] = []

    def work() -> None:
        try:
            rt.run_sync(ref, inputs, dict(CONNECTIONS["servicetitan"]))
        except ComponentError as exc:
            kinds.append(exc.kind)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert kinds == ["invalid_credentials"] * 6
    assert len(catcher.tokens) == 1 and catcher.api == []


# --- in process -------------------------------------------------------------------------------------------


def test_the_in_process_sandbox_keeps_its_own_hosts_but_not_userinfo(catalog: Catalog) -> None:
    """Nothing the embedded sandbox's transport is given reaches a network, so its plain-http hosts
    pass; the shape rules (no userinfo, no lone tokenUrl) hold there too."""
    sandbox = Sandbox()
    rt = Runtime(
        catalog, transport=sandbox.transport(), tokens=TokenCache(), budgets=BudgetRegistry(), env={}
    )
    connection = sandbox.connection("servicetitan")
    assert rt.run_sync("servicetitan.getJob", {"id": 400001}, connection)["data"]["id"] == 400001
    with pytest.raises(ConnectionConfigError, match="baseUrl"):
        rt.run_sync(
            "servicetitan.getJob",
            {"id": 400001},
            {**connection, "baseUrl": "http://u:p@api.servicetitan.sandbox"},
        )
    lone = {k: v for k, v in connection.items() if k != "baseUrl"}
    with pytest.raises(ConnectionConfigError, match="tokenUrl"):
        rt.run_sync("servicetitan.getJob", {"id": 400001}, lone)
    # The same connection on a transport that reaches a network is held to the whole rule.
    elsewhere = runtime(catalog, Catcher())
    with pytest.raises(ConnectionConfigError, match="https"):
        elsewhere.run_sync("servicetitan.getJob", {"id": 400001}, connection, dry_run=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_served_sandbox_works_over_loopback_http_for_every_vendor(catalog: Catalog, host: str) -> None:
    """``sandbox serve`` prints connections the rule accepts (a wildcard listen address is given as
    loopback), and each vendor's credentials, ServiceTitan's token request included, reach it."""
    with sandbox_process("--host", host) as served:
        assert served["url"].startswith("http://127.0.0.1:")
        rt = Runtime(catalog, tokens=TokenCache(), budgets=BudgetRegistry(), env={})
        connections = served["connections"]
        assert (
            rt.run_sync("servicetitan.getJob", {"id": 400001}, connections["servicetitan"])["data"]["id"]
            == 400001
        )
        assert rt.run_sync(
            "servicebay.rawRequest",
            {"path": "/organisations/sandbox-org/services"},
            connections["servicebay"],
        )["data"]
        assert rt.run_sync("homebase360.ping", {}, connections["homebase360"])["data"] is not None
        # The operator's allow-list binds the served sandbox too, until it names loopback.
        fenced = Runtime(
            catalog,
            tokens=TokenCache(),
            budgets=BudgetRegistry(),
            env={ALLOWED_HOSTS_VARIABLE: "x.example.com"},
        )
        with pytest.raises(ConnectionConfigError, match=ALLOWED_HOSTS_VARIABLE):
            fenced.run_sync("homebase360.ping", {}, connections["homebase360"])


def test_a_cancelled_token_fetch_hands_the_turn_to_a_waiting_caller() -> None:
    """The caller fetching a token is cancelled (its deadline, its thread's loop closing): a caller
    waiting on it fetches in its place instead of waiting for ever or failing."""
    from component.auth import _Token

    cache = TokenCache()
    started = asyncio.Event()
    fetched: list[str] = []

    async def stuck() -> _Token:
        fetched.append("first")
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def quick() -> _Token:
        fetched.append("second")
        return _Token("tok", expires_at=10_000.0)

    def fresh(token: _Token | None) -> bool:
        return token is not None

    async def main() -> _Token:
        first = asyncio.create_task(cache.obtain("k", fresh, stuck))
        await started.wait()
        second = asyncio.create_task(cache.obtain("k", fresh, quick))
        await asyncio.sleep(0)
        first.cancel()
        token = await asyncio.wait_for(second, 5)
        with pytest.raises(asyncio.CancelledError):
            await first
        return token

    assert asyncio.run(main()).value == "tok"
    assert fetched == ["first", "second"]
    assert cache.fetches("k") == 2
