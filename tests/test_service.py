"""The builder service: every route, the error table, connections by id and the service's security.

The app runs in process (Starlette's TestClient) on the embedded sandbox; no network.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from component import progress
from component.errors import UsageError
from component.service.connections import KEY_ENV
from component.service.routes import Service
from component.service.server import TOKEN_ENV, build, log_handler, serve
from component.service.store import open_service_store
from tests.conftest import CANARIES, HB_KEY, ROOT, SB_KEY, ST_APP_KEY, ST_SECRET, FakeClock, leaks
from tests.servers import PostgresServer

BASE = "http://127.0.0.1"
KEY = Fernet.generate_key().decode()


class Harness:
    def __init__(self, client: TestClient, service: Service, log: list[str]) -> None:
        self.client = client
        self.service = service
        self.log = log

    def example(self, kind: str, ref: str) -> dict[str, Any]:
        return dict(self.service.app.find(kind, ref).model.examples[0])  # type: ignore[arg-type]


class Lines(logging.Handler):
    def __init__(self, handler: logging.Handler, into: list[str]) -> None:
        super().__init__()
        self.handler = handler
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.handler.format(record))


def make(tmp_path: Path, **options: Any) -> Iterator[Harness]:
    options.setdefault("sandbox", True)
    options.setdefault("secret_key", KEY)
    options.setdefault("env", {})
    options.setdefault("state", tmp_path / "service.db")
    app, service = build(root=ROOT, **options)
    lines: list[str] = []
    capture = Lines(log_handler(service.app.redactor), lines)
    service_log = logging.getLogger("component.service")
    service_log.addHandler(capture)
    service_log.setLevel(logging.INFO)
    try:
        with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
            yield Harness(client, service, lines)
    finally:
        service_log.removeHandler(capture)


@pytest.fixture
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where the service keeps its state: a SQLite file, or (parametrised ``indirect`` with
    "postgresql") a new database on the PostgreSQL server, skipped where there is none."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return tmp_path / "service.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.database()


both_stores = pytest.mark.parametrize("state", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def h(tmp_path: Path, state: str | Path) -> Iterator[Harness]:
    yield from make(tmp_path, state=state)


def stored_text(state: str | Path) -> str:
    """Everything the store holds, as text: the SQLite file and its WAL, or every row of every table
    in the PostgreSQL database (byte columns as their bytes)."""
    if isinstance(state, Path):
        files = [state, *state.parent.glob(state.name + "-*")]
        return b"".join(p.read_bytes() for p in files).decode("latin-1")
    import psycopg

    seen: list[str] = []
    with psycopg.connect(state) as db:
        tables = [row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert {"service_connection", "trigger_pending"} <= set(tables)
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                seen.extend(
                    bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row
                )
    return "\n".join(seen)


# --- health, catalog, definitions -------------------------------------------------------------------


def test_health_and_readiness(h: Harness) -> None:
    assert h.client.get("/healthz").json() == {"status": "ok"}
    assert h.client.get("/readyz").json() == {"status": "ready"}


def test_every_response_has_a_request_id_that_is_in_its_log_line(h: Harness) -> None:
    for response in (
        h.client.get("/healthz"),
        h.client.get("/nowhere"),
        h.client.post("/v1/actions/servicetitan.createJob", json={"x": 1}),
        h.client.get("/healthz", headers={"X-Request-Id": "caller-chosen-1"}),
    ):
        request_id = response.headers["x-request-id"]
        assert any(f" {request_id} " in line for line in h.log), (request_id, h.log)
    assert response.headers["x-request-id"] == "caller-chosen-1"
    bad = h.client.get("/healthz", headers={"X-Request-Id": "no spaces\tor tabs"})
    assert bad.headers["x-request-id"] != "no spaces\tor tabs"


def test_catalog_has_an_etag_and_answers_304_when_unchanged(h: Harness) -> None:
    first = h.client.get("/v1/catalog")
    assert first.status_code == 200
    catalog = first.json()["connectors"]
    job = catalog["servicetitan"]["actions"]["createJob"]
    assert {"inputs", "output", "examples", "picklists", "ref"} <= set(job)
    assert job["picklists"] and all(
        ref.startswith("servicetitan.select") for ref in job["picklists"].values()
    )
    etag = first.headers["etag"]
    again = h.client.get("/v1/catalog", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert h.client.get("/v1/catalog", headers={"If-None-Match": '"other"'}).status_code == 200


def test_one_definition_by_ref(h: Harness) -> None:
    body = h.client.get("/v1/definitions/dataSources/servicebay.selectCustomer").json()
    assert body["ref"] == "servicebay.selectCustomer" and body["kind"] == "dataSources"
    assert body["inputs"]["properties"]["search"]["type"] == "string"
    assert h.client.get("/v1/definitions/actions/servicebay.nothing").status_code == 404
    assert h.client.get("/v1/definitions/widgets/servicebay.selectCustomer").status_code == 404


# --- actions, picklists, triggers, flows ----------------------------------------------------------


def test_run_an_action_and_its_dry_run(h: Harness) -> None:
    inputs = h.example("actions", "servicebay.createJob")
    preview = h.client.post("/v1/actions/servicebay.createJob?dryRun=true", json=inputs)
    assert preview.status_code == 200
    assert preview.json()["method"] == "POST" and preview.json()["headers"]["X-API-Key"] == "***"
    created = h.client.post("/v1/actions/servicebay.createJob", json=inputs)
    assert created.status_code == 200, created.text
    job_id = created.json()["data"]["id"]
    got = h.client.post("/v1/actions/servicebay.getJob", json={"ticketId": job_id})
    assert got.status_code == 200 and got.json()["data"]["id"] == job_id


def test_bad_inputs_are_422_naming_the_field_and_nothing_is_sent(h: Harness) -> None:
    response = h.client.post("/v1/actions/servicebay.getJob", json={"ticketId": 5})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_input" and error["problems"][0]["path"] == "$.ticketId"


class Counting(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_process = getattr(inner, "in_process", False)  # the sandbox answers in process
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        return await self.inner.handle_async_request(request)


def test_picklists_search_and_come_from_the_cache_when_fresh(h: Harness) -> None:
    runtime = h.service.app.runtime
    counting = Counting(runtime.transport)  # type: ignore[arg-type]
    runtime.transport = counting
    first = h.client.post("/v1/picklists/servicebay.selectJob").json()
    assert first["result"] and set(first) == {"result", "truncated"}
    sent = len(counting.sent)
    assert h.client.post("/v1/picklists/servicebay.selectJob").json() == first
    assert len(counting.sent) == sent  # served from the picklist cache
    # no search input of its own: the cached entries are filtered by label
    label = first["result"][0]["label"]
    word = label.split()[0].lower()
    found = h.client.post(f"/v1/picklists/servicebay.selectJob?search={word}").json()
    assert found["result"] and all(word in e["label"].lower() for e in found["result"])
    assert len(counting.sent) == sent
    # a search input of its own: the vendor searches
    smiths = h.client.post("/v1/picklists/servicebay.selectCustomer?search=smith").json()
    assert smiths["result"] and all("smith" in e["label"].lower() for e in smiths["result"])
    assert any("search=smith" in line or "customers" in line for line in counting.sent[sent:])


@both_stores
def test_poll_gives_the_same_batch_until_it_is_committed(h: Harness) -> None:
    url = "/v1/triggers/servicebay.newJob/instances/jobs/poll"
    start = h.client.post(url).json()  # a new instance: its starting point, committed at once
    assert start == {"events": [], "commit": None, "busy": False, "committed": True}
    time.sleep(1.1)  # the vendor's times are in seconds
    job = h.client.post("/v1/actions/servicebay.createJob", json=h.example("actions", "servicebay.createJob"))
    job_id = job.json()["data"]["id"]
    time.sleep(1.1)
    first = h.client.post(url).json()
    assert [e["id"] for e in first["events"]] == [job_id] and first["commit"] and not first["committed"]
    again = h.client.post(url).json()  # the caller failed to store them: poll again, same batch
    assert [e["id"] for e in again["events"]] == [job_id]
    commit = "/v1/triggers/servicebay.newJob/instances/jobs/commit"
    stale = h.client.post(commit, json={"commit": first["commit"]})  # replaced by the later poll
    assert stale.status_code == 409 and stale.json()["error"]["type"] == "unknown_commit"
    assert h.client.post(commit, json={"commit": again["commit"]}).json()["committed"] is True
    assert h.client.post(url).json()["events"] == []
    other = "/v1/triggers/servicebay.newJob/instances/other/commit"
    assert h.client.post(other, json={"commit": again["commit"]}).status_code == 409
    assert h.client.post(commit, json={"nope": 1}).status_code == 400


def test_an_instance_id_used_for_another_trigger_is_a_conflict(h: Harness) -> None:
    url = "/v1/triggers/servicetitan.pollChangesTrigger/instances/shared/poll"
    assert h.client.post(url, json={"resourceType": "jobs"}).json()["committed"]
    other = h.client.post(url, json={"resourceType": "technicians"})
    assert other.status_code == 409 and other.json()["error"]["type"] == "state_mismatch"


def test_a_look_back_batch_is_held_until_committed(h: Harness) -> None:
    url = "/v1/triggers/servicetitan.pollChangesTrigger/instances/techs/poll"
    inputs = {"resourceType": "technicians", "lookBack": "2000-01-01"}
    first = h.client.post(url, json=inputs).json()
    assert first["events"] and first["commit"]
    assert h.client.post(url, json=inputs).json()["events"] == first["events"]


def test_run_a_flow_document_and_name_its_failing_step(h: Harness) -> None:
    flow = json.loads((ROOT / "flows" / "servicebay-lookup-and-book.json").read_text())
    done = h.client.post("/v1/flows/run", json={"flow": flow})
    assert done.status_code == 200, done.text
    assert done.json()["ok"] is True and all(s["status"] == "ok" for s in done.json()["steps"])
    flow["steps"][1]["inputs"]["customerId"] = "no-such-customer"
    failed = h.client.post("/v1/flows/run", json={"flow": flow}).json()
    assert failed["ok"] is False and failed["failed"] == "job"
    assert failed["steps"][-1]["error"]["type"]
    unsound = h.client.post("/v1/flows/run", json={"flow": {"name": "x", "steps": [{"name": 1}]}})
    assert unsound.status_code == 422 and unsound.json()["error"]["problems"]


# --- connections -----------------------------------------------------------------------------------


def sandbox_values(h: Harness, connector: str) -> dict[str, Any]:
    assert h.service.app.sandbox is not None
    return dict(h.service.app.sandbox.connection(connector))


@both_stores
def test_a_stored_connection_is_validated_shown_without_secrets_and_used_by_id(h: Harness) -> None:
    values = sandbox_values(h, "servicebay")
    created = h.client.put("/v1/connections/shop-1", json={"connector": "servicebay", "values": values})
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["values"] == {k: v for k, v in values.items() if k != "apiKey"}
    assert shown["secretsSet"] == ["apiKey"] and shown["readOnly"] is False
    assert values["apiKey"] not in h.client.get("/v1/connections/shop-1").text
    assert (
        h.client.put("/v1/connections/shop-1", json={"connector": "servicebay", "values": values}).status_code
        == 200
    )
    run = h.client.post("/v1/picklists/servicebay.selectService?connection=shop-1")
    assert run.status_code == 200 and run.json()["result"]
    assert h.client.post("/v1/connections/shop-1/test").json()["ok"] is True
    wrong = h.client.post("/v1/picklists/servicetitan.selectJob?connection=shop-1")
    assert wrong.status_code == 422
    assert h.client.delete("/v1/connections/shop-1").status_code == 204
    assert h.client.get("/v1/connections/shop-1").status_code == 404
    assert h.client.post("/v1/picklists/servicebay.selectService?connection=shop-1").status_code == 404


@both_stores
def test_secrets_are_sealed_at_rest(h: Harness, state: str | Path) -> None:
    values = {**sandbox_values(h, "servicebay"), "apiKey": SB_KEY}
    assert (
        h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": values}).status_code
        == 201
    )
    raw = stored_text(state)
    assert values["orgId"] in raw  # what is not secret is there to be found
    assert SB_KEY not in raw and not leaks(raw)


@both_stores
def test_changing_where_a_connection_sends_its_credentials_clears_its_secrets(h: Harness) -> None:
    values = sandbox_values(h, "servicebay")
    h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": values})
    plain = {k: v for k, v in values.items() if k != "apiKey"}
    same = h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": plain}).json()
    assert same["secretsSet"] == ["apiKey"]  # unchanged host: the secret is kept
    moved = {**plain, "baseUrl": "http://elsewhere.example/api"}
    shown = h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": moved}).json()
    assert shown["secretsSet"] == []
    back = h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": plain}).json()
    assert back["secretsSet"] == []  # gone for good: it must be entered again
    use = h.client.post("/v1/picklists/servicebay.selectService?connection=c")
    assert use.status_code == 422 and "apiKey" in use.text


@both_stores
def test_invalid_connections_and_read_only_ones_are_refused(h: Harness) -> None:
    bad = h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": {"orgId": 5}})
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["path"] == "$.orgId"
    assert h.client.put("/v1/connections/c", json={"connector": "nope", "values": {}}).status_code == 400
    assert h.client.put("/v1/connections/c", json={"values": {}}).status_code == 422
    assert h.client.put("/v1/connections/bad%20id", json={"connector": "servicebay"}).status_code == 422
    sandboxed = h.client.put("/v1/connections/servicebay", json={"connector": "servicebay", "values": {}})
    assert sandboxed.status_code == 409 and sandboxed.json()["error"]["type"] == "read_only"
    assert h.client.delete("/v1/connections/servicebay").status_code == 409
    assert h.client.delete("/v1/connections/never").status_code == 404
    listed = h.client.get("/v1/connections").json()["connections"]
    assert {c["id"] for c in listed} >= {"servicebay", "servicetitan", "homebase360"}


@both_stores
def test_without_a_key_secrets_are_not_stored_and_the_error_says_how_to_set_one(
    tmp_path: Path, state: str | Path
) -> None:
    for h in make(tmp_path, secret_key="", state=state):
        values = {"apiKey": "sk_test_abc1", "orgId": "o"}
        refused = h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": values})
        assert refused.status_code == 409 and KEY_ENV in refused.json()["error"]["message"]
        assert h.client.get("/v1/connections/c").status_code == 404
        plain = h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": {"orgId": "o"}})
        assert plain.status_code == 201 and plain.json()["secretsSet"] == []


@both_stores
def test_connection_test_reports_bad_credentials(h: Harness) -> None:
    values = {**sandbox_values(h, "servicebay"), "apiKey": "sk_live_wrong"}
    h.client.put("/v1/connections/wrong", json={"connector": "servicebay", "values": values})
    result = h.client.post("/v1/connections/wrong/test").json()
    assert result["ok"] is False and result["status"] == "invalid_credentials"


def test_a_connection_file_is_read_only_and_keeps_no_environment(tmp_path: Path) -> None:
    file = {"hb": {"connector": "homebase360", "values": {"apiKey": "${HB_SECRET}"}}}
    for h in make(tmp_path, sandbox=False, connections=file, env={"HB_SECRET": HB_KEY}):
        shown = h.client.get("/v1/connections/hb").json()
        assert shown == {
            "id": "hb", "connector": "homebase360", "values": {}, "secretsSet": ["apiKey"],
            "source": "file", "readOnly": True,
        }  # fmt: skip
        assert h.client.put("/v1/connections/hb", json={"connector": "homebase360"}).status_code == 409
        # a stored connection cannot reach for an environment variable
        ref = {"connector": "homebase360", "values": {"apiKey": "${HB_SECRET}"}}
        assert h.client.put("/v1/connections/sneaky", json=ref).status_code == 422


# --- errors ------------------------------------------------------------------------------------------


def test_the_error_table(h: Harness) -> None:
    url = "/v1/actions/servicebay.getJob"
    cases = [
        (
            h.client.post(url, content=b"{nope", headers={"Content-Type": "application/json"}),
            400,
            "malformed_json",
        ),
        (h.client.post(url, content=b"jobId=1", headers={"Content-Type": "text/plain"}), 415, None),
        (h.client.post("/v1/actions/servicebay.noSuchAction", json={}), 404, "unknown"),
        (h.client.post(url, json=[]), 422, "invalid_input"),
        (h.client.post(url + "?dryRun=maybe", json={}), 400, "bad_request"),
        (h.client.post(url + "?timeout=0", json={}), 400, "bad_request"),
        (h.client.put("/v1/catalog"), 405, "method_not_allowed"),
        (h.client.post(url, json={"ticketId": "no-such-job"}), 502, None),
    ]
    for response, status, kind in cases:
        assert response.status_code == status, (status, response.text)
        error = response.json()["error"]
        assert isinstance(error["message"], str) and (kind is None or error["type"] == kind)
    vendor = cases[-1][0].json()["error"]
    assert vendor["status"] == 404 and vendor["vendor"] == "servicebay" and vendor["type"] == "not_found"


def test_bodies_over_10_mb_are_413_declared_or_streamed(h: Harness) -> None:
    big = b'{"a": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    declared = h.client.post(
        "/v1/actions/servicebay.getJob", content=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413 and declared.json()["error"]["type"] == "too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(11):
            yield b" " * (1024 * 1024)

    streamed = h.client.post(
        "/v1/actions/servicebay.getJob", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_an_unreachable_vendor_is_504(tmp_path: Path) -> None:
    file = {"homebase360": {"apiKey": "hb-key-1", "baseUrl": "http://127.0.0.1:9/api"}}
    for h in make(tmp_path, sandbox=False, connections=file):
        response = h.client.post("/v1/picklists/homebase360.selectJob?timeout=20")
        assert response.status_code == 504, response.text
        assert response.json()["error"]["type"] == "transport"


def test_a_rate_budget_wait_past_the_callers_timeout_is_429_with_retry_after(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def waits(*args: Any, **kwargs: Any) -> Any:
        progress.report("budget-wait", "waiting", vendor="servicebay", seconds=42.5)
        await asyncio.sleep(60)

    monkeypatch.setattr(h.service.app, "run", waits)
    response = h.client.post("/v1/actions/servicebay.getJob?timeout=5", json={"ticketId": "x"})
    assert response.status_code == 429 and response.headers["retry-after"] == "43"
    assert response.json()["error"]["retryAfter"] == 42.5


def test_a_call_past_the_callers_timeout_is_504_and_its_work_is_stopped(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[bool] = []

    async def slow(*args: Any, **kwargs: Any) -> Any:
        try:
            await asyncio.sleep(30)
        finally:
            stopped.append(True)

    monkeypatch.setattr(h.service.app, "run", slow)
    started = time.monotonic()
    response = h.client.post("/v1/actions/servicebay.getJob?timeout=0.2", json={"ticketId": "x"})
    assert time.monotonic() - started < 10
    assert response.status_code == 504, response.text
    assert "did not finish within its timeout of 0.2 s" in response.json()["error"]["message"]
    assert stopped == [True]


def test_work_cancelled_from_inside_is_a_call_cut_short(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def cut(*args: Any, **kwargs: Any) -> Any:
        raise asyncio.CancelledError

    monkeypatch.setattr(h.service.app, "run", cut)
    response = h.client.post("/v1/actions/servicebay.getJob", json={"ticketId": "x"})
    assert response.status_code == 504, response.text
    assert "cut short" in response.json()["error"]["message"]


def test_a_wait_within_the_timeout_is_not_refused(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def waits_briefly(*args: Any, **kwargs: Any) -> Any:
        progress.report("budget-wait", "waiting", vendor="servicebay", seconds=0.01)
        await asyncio.sleep(0.01)
        return {"data": None}

    monkeypatch.setattr(h.service.app, "run", waits_briefly)
    assert h.client.post("/v1/actions/servicebay.getJob", json={"ticketId": "x"}).json() == {"data": None}


def test_an_unexpected_failure_shows_no_traceback_type_or_path(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"boom in {ROOT}/component/secret_module.py")

    monkeypatch.setattr(h.service.app, "run", broken)
    response = h.client.post("/v1/actions/servicebay.getJob", json={"ticketId": "x"})
    assert response.status_code == 500
    text = response.text
    assert "Traceback" not in text and "RuntimeError" not in text and str(ROOT) not in text
    assert response.json()["error"]["requestId"] == response.headers["x-request-id"]


# --- the service's own security --------------------------------------------------------------------


def test_a_token_is_required_and_compared_in_full(tmp_path: Path) -> None:
    token = "service-token-5b1f9e"
    for h in make(tmp_path, token=token):
        assert h.client.get("/healthz").status_code == 200  # health stays open to probes
        missing = h.client.get("/v1/catalog")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        for wrong in ("Bearer " + token[:-1], "Bearer " + token + "x", "Basic " + token, token):
            assert h.client.get("/v1/catalog", headers={"Authorization": wrong}).status_code == 401
        ok = h.client.get("/v1/catalog", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert token not in "\n".join(h.log)


def test_without_a_token_only_loopback_names_are_answered(h: Harness) -> None:
    assert h.client.get("/healthz", headers={"Host": "localhost:8080"}).status_code == 200
    rebound = h.client.get("/v1/catalog", headers={"Host": "attacker.example"})
    assert rebound.status_code == 421


def test_serve_refuses_another_address_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(UsageError, match=TOKEN_ENV):
        serve(host="0.0.0.0", port=0, root=ROOT, sandbox=True, state=None, connections=None)


def test_cors_is_off_unless_origins_are_configured(tmp_path: Path) -> None:
    preflight = {"Origin": "https://builder.example", "Access-Control-Request-Method": "POST"}
    for h in make(tmp_path):
        response = h.client.options("/v1/catalog", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    for h in make(tmp_path, cors_origins=["https://builder.example"]):
        response = h.client.options("/v1/catalog", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://builder.example"


def test_canary_secrets_never_appear_in_any_response_header_or_log_line(tmp_path: Path) -> None:
    file = {
        "servicetitan": {
            "clientId": "cid", "clientSecret": ST_SECRET, "tenant": "1000001",
            "applicationKey": ST_APP_KEY, "environment": "integration",
        },
        "homebase360": {"apiKey": HB_KEY},
    }  # fmt: skip
    seen: list[str] = []
    booking = json.loads((ROOT / "flows" / "servicetitan-booking-to-job.json").read_text())
    for h in make(tmp_path, connections=file):
        values = {**sandbox_values(h, "servicebay"), "apiKey": SB_KEY}
        create = "/v1/actions/servicebay.createJob"
        st_job, hb_customer, sb_job = (
            h.example("actions", ref)
            for ref in ("servicetitan.createJob", "homebase360.createCustomer", "servicebay.createJob")
        )
        calls = [
            h.client.put("/v1/connections/sb", json={"connector": "servicebay", "values": values}),
            h.client.get("/v1/connections/sb"),
            h.client.get("/v1/connections"),
            h.client.get("/v1/connections/servicetitan"),
            h.client.post("/v1/connections/sb/test"),
            h.client.post("/v1/connections/servicetitan/test"),
            h.client.post("/v1/picklists/servicebay.selectService?connection=sb"),
            h.client.post("/v1/picklists/servicetitan.selectJob"),
            h.client.post("/v1/picklists/homebase360.selectCustomer"),
            h.client.post("/v1/actions/servicetitan.createJob?dryRun=true", json=st_job),
            h.client.post("/v1/actions/homebase360.createCustomer?dryRun=true", json=hb_customer),
            # a caller (or a vendor) echoing a secret back: redacted all the same
            h.client.post("/v1/actions/servicebay.getJob?connection=sb", json={"ticketId": SB_KEY}),
            h.client.post("/v1/picklists/servicebay.selectCustomer?connection=sb&search=" + SB_KEY),
            h.client.post("/v1/flows/run", json={"flow": booking}),
            h.client.get("/openapi.json"),
            h.client.get("/v1/catalog"),
            # a vendor echoing another connection's secret (the runtime knows only its own connection's)
            h.client.post(create, json={**sb_job, "customerName": ST_SECRET}),
            h.client.post(create, json={**sb_job, "customerName": HB_KEY + SB_KEY}),
        ]  # fmt: skip
        assert calls[-1].status_code == 200 and "***" in calls[-1].json()["data"]["customerName"]
        assert calls[0].status_code == 201

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError(f"failed with {ST_APP_KEY} in hand")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(h.service.app, "run", broken)
            calls.append(h.client.post("/v1/actions/servicebay.getJob", json={"ticketId": "x"}))
        assert calls[-1].status_code == 500 and any("failed with" in line for line in h.log)
        for response in calls:
            seen.append(response.text)
            seen.extend(f"{k}: {v}" for k, v in response.headers.items())
        seen.extend(h.log)
    text = "\n".join(seen)
    assert not leaks(text), leaks(text)
    for canary in CANARIES:
        assert base64.b64encode(canary.encode()).decode()[:12] not in text


@both_stores
def test_the_service_store_keeps_pending_batches_per_instance(state: str | Path) -> None:
    store = open_service_store(state)
    store.put_pending("i", "t1", {"a": 1})
    store.put_pending("i", "t2", {"a": 2})
    assert store.take_pending("i", "t1") is None
    assert store.take_pending("i", "t2") == {"a": 2}
    assert store.take_pending("i", "t2") is None


def test_component_serve_starts_a_real_service_and_refuses_a_public_address_without_a_token(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, KEY_ENV)}
    env["PYTHONPATH"] = str(ROOT)
    base = [
        sys.executable,
        "-m",
        "component",
        "--root",
        str(ROOT),
        "serve",
        "--state",
        str(tmp_path / "s.db"),
    ]
    refused = subprocess.run(
        [*base, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and json.loads(refused.stderr)["error"]["type"] == "usage"
    assert TOKEN_ENV in refused.stderr
    process = subprocess.Popen(
        [*base, "--sandbox", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        announced = json.loads(
            process.stdout.readline() + "".join(iter(process.stdout.readline, "}\n")) + "}"
        )
        url = announced["url"]
        assert url.startswith("http://127.0.0.1:") and announced["auth"] is False
        health = httpx2.get(f"{url}/healthz", timeout=30)  # it listens before it announces: no retry
        assert health.json() == {"status": "ok"} and health.headers["x-request-id"]
        picked = httpx2.post(f"{url}/v1/picklists/servicebay.selectService", timeout=30)
        assert picked.status_code == 200 and picked.json()["result"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_failure_outside_the_routes_is_answered_in_the_error_shape(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import component.service.mcp as mcp_face

    class Broken:
        def __init__(self, manager: Any) -> None:
            pass

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise RuntimeError(f"transport failed in {ROOT}/component/service/mcp.py")

    monkeypatch.setattr(mcp_face, "StreamableHTTPASGIApp", Broken)
    response = h.client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 500
    assert response.json()["error"]["requestId"] == response.headers["x-request-id"]
    assert str(ROOT) not in response.text and "RuntimeError" not in response.text


@both_stores
def test_a_stored_connection_is_shown_without_the_key_and_used_only_with_it(
    tmp_path: Path, state: str | Path
) -> None:
    values = {
        "apiKey": "sk_test_stored_1",
        "orgId": "sandbox-org",
        "baseUrl": "http://servicebay.sandbox/api/v1",
    }
    for h in make(tmp_path, state=state):
        assert (
            h.client.put("/v1/connections/c", json={"connector": "servicebay", "values": values}).status_code
            == 201
        )
    for h in make(tmp_path, state=state, secret_key=""):
        shown = h.client.get("/v1/connections/c")
        assert shown.status_code == 200 and shown.json()["secretsSet"] == ["apiKey"]
        use = h.client.post("/v1/picklists/servicebay.selectService?connection=c")
        assert use.status_code == 409 and KEY_ENV in use.json()["error"]["message"]
    for h in make(tmp_path, state=state, secret_key=Fernet.generate_key().decode()):
        other = h.client.post("/v1/picklists/servicebay.selectService?connection=c")
        assert other.status_code == 409 and "another key" in other.json()["error"]["message"]


def test_a_full_rate_budget_answers_429_at_once_instead_of_waiting(h: Harness) -> None:
    """The real budget: Servicebay allows 100 requests a minute per key; all 100 were just used."""
    from component.policy import BUDGETS, SYSTEM_CLOCK

    connector = h.service.app.catalog.connector("servicebay")
    limit = connector.model.http.rateLimit
    assert limit is not None
    key = sandbox_values(h, "servicebay")["apiKey"]
    BUDGETS.clear()  # one made by an earlier test may run on another clock
    budget = BUDGETS.get(f"servicebay|{key}", limit, SYSTEM_CLOCK)

    async def use_it_all() -> None:
        for _ in range(limit.requests):
            await budget.acquire()
            budget.release()

    asyncio.run(use_it_all())
    try:
        started = time.monotonic()
        response = h.client.post("/v1/picklists/servicebay.selectService?timeout=5")
        assert time.monotonic() - started < 5  # answered at once, not after the timeout
        assert response.status_code == 429, response.text
        assert 50 <= int(response.headers["retry-after"]) <= 62
        assert response.json()["error"]["type"] == "rate_limited"
    finally:
        BUDGETS.clear()


def test_a_cancelled_picklist_load_does_not_fail_the_callers_waiting_on_it() -> None:
    """A service call cut off at its timeout was loading a picklist others wait for: they load it."""
    from component.cache import CacheKey, PicklistCache

    cache = PicklistCache(60, FakeClock())
    key = CacheKey("conn", "customers", "servicebay.selectCustomer", "{}")
    loads: list[str] = []

    async def load() -> dict[str, Any]:
        loads.append("load")
        await asyncio.sleep(0.05)
        return {"result": [{"key": "1", "label": "One"}], "truncated": False}

    async def main() -> dict[str, Any]:
        first = asyncio.ensure_future(cache.get_or_load(key, load))
        await asyncio.sleep(0.01)  # the first caller is loading
        second = asyncio.ensure_future(cache.get_or_load(key, load))
        await asyncio.sleep(0.01)  # the second waits on the first's load
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert asyncio.run(main())["result"] == [{"key": "1", "label": "One"}]
    assert loads == ["load", "load"]
