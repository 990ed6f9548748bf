"""Every string that leaves the process passes one redactor that knows every secret in play.

A vendor (the embedded sandbox behind a proxy) echoes the secret each request carried, in one of
five forms, into the records it answers with (or into an error body). Each way out of the CLI is
run with the secret supplied each way it can be: a connection file, a ``${VAR}`` reference in it,
the connector's environment variable alone, and the OAuth token the runtime fetched itself. Then
stdout and stderr (``-v`` logs included) must hold no form of the secret, and must show that the
echo did reach them (redacted).

Ways out: ``run``, ``picklist``, ``poll``, ``flow run``, ``demo``, error messages and ``-v`` logs
(a flow that puts an echoed value into the next request's URL, which the log line shows). The
service and the workers call :func:`component.redact.redact`, tested here on the Python API too.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx2
import pytest
from click.testing import CliRunner

from component import catalog as catalog_module
from component import cli as cli_module
from component.auth import TokenCache
from component.errors import ComponentError
from component.policy import BudgetRegistry
from component.redact import Redactor, json_text, redact, redact_json, redact_json_text
from component.runtime import Runtime
from component.sandbox import CREDENTIALS, Sandbox, homebase360
from tests.conftest import ROOT

CATALOG = catalog_module.load(ROOT)
# Seeded years back, so that the records created now are the only ones in a trigger's window.
SANDBOX = Sandbox(today=date(2020, 1, 15))

HB_CANARY = "CANARY-hb-redaction-key-9d2e"  # a key the sandbox accepts for these tests
HB_REAL = "us-central1-homebase-360.cloudfunctions.net"
HOSTS = {  # the vendors' own hosts (no baseUrl override) answered by the sandbox
    HB_REAL: "homebase360.sandbox",
    "api-integration.servicetitan.io": "api.servicetitan.sandbox",
    "auth-integration.servicetitan.io": "auth.servicetitan.sandbox",
}
ST_CONNECTION = {k: v for k, v in CREDENTIALS["servicetitan"].items() if k not in ("baseUrl", "tokenUrl")}
ECHOED_KEYS = frozenset({"name", "displayName", "firstName", "lastName", "summary", "note", "description"})

# --- the forms a vendor echoes a secret in -----------------------------------------------------------

FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda secret: secret,
    "url-encoded": lambda secret: "".join(f"%{byte:02X}" for byte in secret.encode()),
    "base64": lambda secret: base64.b64encode(f"user:{secret}".encode()).decode(),
    "json-u-escaped": lambda secret: "".join(f"\\u{ord(char):04x}" for char in secret),
    "prefix-8": lambda secret: secret[:8] + "…",
}


def betrayed(text: str, secret: str) -> list[str]:
    """How ``text`` gives ``secret`` away: its first 8 characters, or the start of its base64 at any
    offset (standard or URL-safe), in the text or once JSON escapes and percent-encoding are undone
    (up to three layers)."""
    variants = [text]
    for _ in range(3):
        unescaped = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), variants[-1])
        variants.append(unquote(unescaped))
    starts = []
    for offset, clear in ((0, 0), (1, 2), (2, 3)):  # the first character clear of the bytes before it
        encoded = base64.b64encode(b"\0" * offset + secret.encode()).decode()
        starts += [encoded[clear : clear + 8], encoded[clear : clear + 8].replace("+", "-").replace("/", "_")]
    found = {f"{start!r} in layer {layer}" for start in starts for layer, variant in enumerate(variants)
             if start in variant}  # fmt: skip
    # written out, its first 8 characters or more, where the text's word ends with them (a shared
    # start going on with other letters, "sandbox-org" beside "sandbox-servicebay-key", betrays nothing)
    for layer, variant in enumerate(variants):
        for match in re.finditer(re.escape(secret[:8]), variant):
            end, index = match.end(), 8
            while end < len(variant) and index < len(secret) and variant[end] == secret[index]:
                end, index = end + 1, index + 1
            if index == len(secret) or end == len(variant) or not variant[end].isalnum():
                found.add(f"{variant[match.start() : end]!r} in layer {layer}")
    return sorted(found)


def test_the_oracle_finds_every_form() -> None:
    secret = "CANARY-oracle-secret-1234"
    for name, form in FORMS.items():
        assert betrayed(f"x {form(secret)} y", secret), name
        assert betrayed(json.dumps({"v": form(secret)}), secret), name
    assert betrayed("nothing here", secret) == []


# --- a vendor that echoes --------------------------------------------------------------------------


class EchoingVendor(httpx2.AsyncBaseTransport):
    """The sandbox, reached at the vendors' own hosts, echoing the secret each API request carried
    (the x-api-key, or the bearer token) into its records, or into a 400 when ``fail``."""

    def __init__(self, sandbox: Sandbox, form: Callable[[str], str], *, fail: bool = False) -> None:
        self.inner = sandbox.transport()
        self.in_process = self.inner.in_process  # the sandbox answers in process (its own host names)
        self.form = form
        self.fail = fail
        self.tokens: list[str] = []
        self.keys: set[str] = set()
        self.echoes = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        target = url.copy_with(scheme="http", host=HOSTS[url.host]) if url.host in HOSTS else url
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        forwarded = httpx2.Request(request.method, target, headers=headers, content=await request.aread())
        response = await self.inner.handle_async_request(forwarded)
        content = await response.aread()
        if url.path.endswith("/connect/token"):
            body = json.loads(content)
            if "access_token" in body:
                self.tokens.append(body["access_token"])
            return httpx2.Response(response.status_code, json=body)
        secret = request.headers.get("x-api-key") or request.headers["authorization"].removeprefix("Bearer ")
        self.keys.add(secret)
        echo = f"ECHO<{self.form(secret)}>"
        self.echoes += 1
        if self.fail:
            return httpx2.Response(
                400, json={"success": False, "message": echo, "title": echo, "errors": {"x": [echo]}}
            )
        try:
            body = json.loads(content)
        except ValueError:
            return httpx2.Response(response.status_code, content=content, headers=response.headers)
        return httpx2.Response(response.status_code, json=poisoned(body, echo))

    @property
    def secrets(self) -> set[str]:
        return self.keys | set(self.tokens)


def poisoned(value: Any, echo: str, top: bool = True) -> Any:
    if isinstance(value, dict):
        out = {k: f"{v} {echo}" if k in ECHOED_KEYS and isinstance(v, str) else poisoned(v, echo, False)
               for k, v in value.items()}  # fmt: skip
        if top:
            out["echo"] = echo
            out["next"] = f"/customers/{quote(echo, safe='')}"  # a link to follow, encoded
        return out
    if isinstance(value, list):
        return [poisoned(v, echo, False) for v in value]
    return value


# --- the CLI, with each source of the secret --------------------------------------------------------

SOURCES = ["file", "var", "env", "token"]


class Scene:
    """One CLI set-up: an echoing vendor, the secret's source and the connection arguments."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str, form: str, *, fail: bool = False
    ) -> None:
        for connector in CATALOG.connectors.values():
            for _, variable in connector.env_fields:
                monkeypatch.delenv(variable, raising=False)
        monkeypatch.setitem(homebase360.API_KEYS, HB_CANARY, "sandbox-business")
        self.sandbox = SANDBOX  # seeded once: its first request builds the data (seconds)
        self.vendor = EchoingVendor(self.sandbox, FORMS[form], fail=fail)
        self.source = source
        self.form = form
        self.tmp_path = tmp_path
        self.connector = "servicetitan" if source == "token" else "homebase360"
        self.connection_args: list[str] = []
        data: dict[str, Any] | None = None
        if source == "file":
            data = {"homebase360": {"apiKey": HB_CANARY}}
        elif source == "var":
            monkeypatch.setenv("REDACTION_TEST_HB_KEY", HB_CANARY)
            data = {"homebase360": {"apiKey": "${REDACTION_TEST_HB_KEY}"}}
        elif source == "env":
            monkeypatch.setenv("HOMEBASE360_API_KEY", HB_CANARY)
        else:
            data = {"servicetitan": ST_CONNECTION}
        if data is not None:
            path = tmp_path / "connection.json"
            path.write_text(json.dumps(data), encoding="utf-8")
            self.connection_args = ["--connection", str(path)]

        def runtime(ctx: Any, sandboxed: bool = False) -> Runtime:
            if sandboxed:
                ctx.obj["sandbox"] = self.sandbox
            transport = self.vendor
            return Runtime(CATALOG, transport=transport, tokens=TokenCache(), budgets=BudgetRegistry())

        monkeypatch.setattr(cli_module, "_runtime", runtime)
        self.outputs: list[str] = []

    def cli(self, *args: str) -> Any:
        result = CliRunner().invoke(cli_module.cli, ["--root", str(ROOT), "-v", *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        self.outputs.append(result.stdout + "\n" + result.stderr)
        return result

    def flow(self, steps: list[dict[str, Any]]) -> str:
        path = self.tmp_path / "flow.json"
        path.write_text(json.dumps({"name": "echo", "steps": steps}), encoding="utf-8")
        return str(path)

    def check(self) -> None:
        """No form of any secret in play in any output; the echo did reach the output."""
        text = "\n".join(self.outputs)
        secrets = self.vendor.secrets
        assert secrets, "no request carried a secret"
        if self.source == "token":
            assert self.vendor.tokens and secrets == set(self.vendor.tokens)
        else:
            assert secrets == {HB_CANARY}
        assert "ECHO<" in text, "the echo never reached the output: nothing was tested"
        assert {secret: betrayed(text, secret) for secret in secrets} == {secret: [] for secret in secrets}


ACTION = {
    "homebase360": ("homebase360.getJobs", {}),
    "servicetitan": ("servicetitan.listTechnicians", {"pageSize": 20}),
}
PICKLIST = {
    "homebase360": ("homebase360.selectCustomer", {"search": "+13038286690"}),
    "servicetitan": ("servicetitan.selectTechnician", {}),
}
RAW_ECHO = {  # a raw GET whose whole body (with its top-level echo) is the output
    "homebase360": {"path": "/jobs"},
    "servicetitan": {"urlType": "crm", "path": "/customers"},
}


def run_path(scene: Scene) -> None:
    ref, inputs = ACTION[scene.connector]
    result = scene.cli("run", ref, "--inputs", json.dumps(inputs), *scene.connection_args)
    assert result.exit_code == 0, result.stderr


def picklist_path(scene: Scene) -> None:
    ref, inputs = PICKLIST[scene.connector]
    result = scene.cli("picklist", ref, "--inputs", json.dumps(inputs), *scene.connection_args)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["result"]


def poll_path(scene: Scene) -> None:
    state = ["--instance", "echo", "--state", str(scene.tmp_path / "state.db")]
    if scene.connector == "servicetitan":
        inputs = '{"resourceType": "technicians", "lookBack": "2019-01-01"}'
        result = scene.cli("poll", "servicetitan.pollChangesTrigger", "--inputs", inputs, *state,
                           *scene.connection_args)  # fmt: skip
    else:  # the first poll records where the instance starts; a job created after it fires
        window = ["--inputs", '{"daysBack": 0, "daysAhead": 1}']
        assert scene.cli("poll", "homebase360.newJob", *window, *state, *scene.connection_args).exit_code == 0
        ref, inputs = PICKLIST["homebase360"]
        customers = scene.cli("picklist", ref, "--inputs", json.dumps(inputs), *scene.connection_args)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=12)
        job = {
            "customerId": json.loads(customers.stdout)["result"][0]["key"],
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
            "lineItems": [{"name": "Window Cleaning", "quantity": 1, "unitPrice": "150.00"}],
        }
        connection = scene.connection_args
        created = scene.cli("run", "homebase360.createJob", "--inputs", json.dumps(job), *connection)
        assert created.exit_code == 0, created.stderr
        result = scene.cli("poll", "homebase360.newJob", *window, *state, *scene.connection_args)
    assert result.exit_code == 0, result.stderr
    assert "ECHO<" in result.stdout  # an event printed as a JSON line carried the echo


def flow_path(scene: Scene) -> None:
    ref, inputs = ACTION[scene.connector]
    choices, search = PICKLIST[scene.connector]
    steps = [
        {"name": "choices", "picklist": choices, "inputs": search},
        {"name": "records", "action": ref, "inputs": inputs},
    ]
    result = scene.cli("flow", "run", scene.flow(steps), *scene.connection_args)
    assert result.exit_code == 0, result.stderr


def error_path(scene: Scene) -> None:
    ref, inputs = ACTION[scene.connector]
    result = scene.cli("run", ref, "--inputs", json.dumps(inputs), *scene.connection_args)
    error = json.loads(result.stderr[result.stderr.index("{\n") :])["error"]  # after the -v log lines
    assert result.exit_code == 1 and error["type"] != "internal" and "ECHO<" in error["message"]
    steps = [{"name": "records", "action": ref, "inputs": inputs}]
    assert scene.cli("flow", "run", scene.flow(steps), *scene.connection_args).exit_code == 1


def log_path(scene: Scene) -> None:
    """An echoed value read by the next step lands in that request's URL, which ``-v`` logs."""
    raw = f"{scene.connector}.rawRequest"
    steps = [
        {"name": "first", "action": raw, "inputs": RAW_ECHO[scene.connector]},
        {"name": "second", "action": raw,
         "inputs": {**RAW_ECHO[scene.connector], "path": "$steps.first.data.next"}},
    ]  # fmt: skip
    result = scene.cli("flow", "run", scene.flow(steps), *scene.connection_args)
    logged = [line for line in result.stderr.splitlines() if "component.http GET" in line]
    # the log line of the request that followed the link (a link holding a backslash, as the
    # \u-escaped echo does, is refused before it is sent: then the refusal names the path input)
    assert any("/customers/ECHO" in line for line in logged) or (
        scene.form == "json-u-escaped" and "invalid_input: inputs.path" in result.stderr
    )


PATHS: dict[str, Callable[[Scene], None]] = {
    "run": run_path,
    "picklist": picklist_path,
    "poll": poll_path,
    "flow-run": flow_path,
    "error": error_path,
    "v-log": log_path,
}
CASES = [(path, source, form) for path in PATHS for source in SOURCES for form in FORMS]


@pytest.mark.parametrize(("path", "source", "form"), CASES, ids=["-".join(case) for case in CASES])
def test_no_form_of_a_secret_leaves_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str, source: str, form: str
) -> None:
    scene = Scene(monkeypatch, tmp_path, source, form, fail=path == "error")
    PATHS[path](scene)
    scene.check()


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("debug", [False, True], ids=["internal", "debug-traceback"])
def test_an_unexpected_error_holding_a_secret_is_redacted_with_and_without_debug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str, debug: bool
) -> None:
    """A bug whose message holds what the vendor echoed: the JSON error and the --debug traceback."""
    scene = Scene(monkeypatch, tmp_path, source, "json-u-escaped")
    run = Runtime.run

    async def buggy(self: Runtime, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"could not handle {json.dumps(await run(self, *args, **kwargs))}")

    monkeypatch.setattr(Runtime, "run", buggy)
    ref, inputs = ACTION[scene.connector]
    flags = ["--debug"] if debug else []
    result = scene.cli(*flags, "run", ref, "--inputs", json.dumps(inputs), *scene.connection_args)
    assert result.exit_code == 1
    assert ("Traceback" in result.stderr) is debug and "RuntimeError: could not handle" in result.stderr
    scene.check()


@pytest.mark.parametrize("form", FORMS)
def test_no_form_of_a_secret_leaves_the_demo(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, form: str
) -> None:
    """``demo`` on its own connections (a file's values), ServiceTitan's fetched token among them."""
    scene = Scene(monkeypatch, tmp_path, "file", form)
    scene.cli("demo")
    scene.cli("demo", "--json")
    assert scene.vendor.tokens  # a token was fetched, and echoed
    text = "\n".join(scene.outputs)
    assert "ECHO<" in text
    found = {secret: betrayed(text, secret) for secret in scene.vendor.secrets}
    assert found == {secret: [] for secret in scene.vendor.secrets}


# --- the application layer: what a service or a worker calls --------------------------------------


@pytest.fixture
def echoing() -> Iterator[EchoingVendor]:
    yield EchoingVendor(SANDBOX, FORMS["json-u-escaped"])


def test_redact_knows_the_fetched_token_through_the_runtime_and_the_connection(
    echoing: EchoingVendor,
) -> None:
    import asyncio

    runtime = Runtime(CATALOG, transport=echoing, tokens=TokenCache(), budgets=BudgetRegistry(), env={})
    secrets = runtime.track_secrets()
    connection = runtime.connection("servicetitan", ST_CONNECTION)
    result = asyncio.run(runtime.run("servicetitan.listCustomers", {}, connection))
    (token,) = echoing.tokens
    assert betrayed(json.dumps(result), token)  # the raw result holds the echo
    for registry in (secrets, connection.redactor()):
        shown = redact(result, registry)
        assert "ECHO<***>" in json.dumps(shown)
        assert betrayed(json.dumps(shown), token) == []
        for secret in (ST_CONNECTION["clientSecret"], ST_CONNECTION["applicationKey"]):
            assert redact({"x": FORMS["prefix-8"](secret)}, registry) == {"x": "***…"}


def test_a_service_making_a_connection_per_request_redacts_with_that_connections_registry(
    echoing: EchoingVendor,
) -> None:
    """One long-lived runtime, one connection made per request (equal values): the token the first
    request fetched is known to the registry of every later request's connection."""
    import asyncio

    from component.connection import make_connection

    runtime = Runtime(CATALOG, transport=echoing, tokens=TokenCache(), budgets=BudgetRegistry(), env={})
    connector = CATALOG.connector("servicetitan")

    async def serve() -> list[Any]:
        answers = []
        async with runtime:
            for _ in range(2):
                connection = make_connection(connector, ST_CONNECTION, env={})
                result = await runtime.run("servicetitan.listTechnicians", {"pageSize": 5}, connection)
                answers.append(redact(result, connection.redactor()))
        return answers

    answers = asyncio.run(serve())
    (token,) = echoing.tokens  # fetched once, reused by the second request
    assert runtime.secrets is None  # nothing tracked per runtime: each answer used its connection's
    for answer in answers:
        assert "ECHO<***>" in json.dumps(answer) and betrayed(json.dumps(answer), token) == []


def test_a_dropped_wider_registry_is_forgotten() -> None:
    import gc

    connection = Redactor(["CANARY-connection-secret"])
    for _ in range(3):
        connection.link(Redactor())  # a worker's task registry, dropped when the task ends
    gc.collect()
    connection.add("CANARY-token-after-the-tasks", token=True)
    assert connection._links == []


def test_redact_takes_errors_and_leaves_clean_results_alone() -> None:
    secret = "CANARY-service-secret-77aa"
    registry = Redactor([secret])
    clean = {"data": [{"id": 1, "name": "Ada"}]}
    assert redact(clean, registry) is clean  # nothing to hide: not copied
    error = ComponentError(f"vendor said {FORMS['json-u-escaped'](secret)}", detail=secret[:9])
    shown = {"error": {"type": "error", "message": "vendor said ***", "detail": "***"}}
    assert redact(error, registry) == shown
    other = redact(RuntimeError(f"boom {FORMS['url-encoded'](secret)}"), [secret])
    assert other == {"error": {"type": "internal", "message": "RuntimeError: boom ***"}}


def test_redact_json_serialises_once_when_clean_and_redacts_otherwise() -> None:
    secret = "CANARY-json-text-secret-4242"
    registry = Redactor([secret])
    clean = {"a": ["text", 1, None], "b": 'line\nbreak "quoted" 50% off'}
    assert redact_json(clean, registry, indent=2) == json.dumps(clean, indent=2, ensure_ascii=False)
    echoed = {"a": [FORMS["json-u-escaped"](secret)], FORMS["prefix-8"](secret): "é"}
    assert json.loads(redact_json(echoed, registry)) == {"a": ["***"], "***…": "é"}
    # text written before (a stored catalog) is redacted as its value would be
    for value in (clean, echoed):
        written = json_text(value, indent=2)
        assert redact_json_text(written, registry, indent=2) == redact_json(value, registry, indent=2)


@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_a_secret_is_redacted_from_text(form: str) -> None:
    secret = "tok_Z9-live/secret+value"
    registry = Redactor([secret])
    shown = registry.text(f"before {FORMS[form](secret)} after")
    assert betrayed(shown, secret) == [] and shown.startswith("before ") and shown.endswith(" after")


def test_a_start_shorter_than_8_characters_and_other_text_are_kept() -> None:
    registry = Redactor(["CANARY-short-start-5151"])
    assert registry.text("CANARY- and CANARY-s") == "CANARY- and ***"
    assert registry.text("%43ANARY-s \\u0043ANARY-s") == "*** ***"
    assert registry.text("no secret here") == "no secret here"


def test_fetched_tokens_are_kept_a_bounded_number_at_a_time() -> None:
    registry = Redactor(["CANARY-connection-secret"])
    tokens = [f"{index:04d}-token-abcdefgh" for index in range(100)]
    for token in tokens:
        registry.add(token, token=True)
    assert registry.text(tokens[-1]) == "***" and registry.text("CANARY-connection-secret") == "***"
    assert registry.text(tokens[0]) == tokens[0]  # long replaced, and expired


def test_a_linked_registry_learns_later_secrets() -> None:
    connection, invocation = Redactor(["CANARY-first-secret"]), Redactor()
    connection.link(invocation)
    connection.add("CANARY-token-fetched-later", token=True)
    assert invocation.text("CANARY-first-secret CANARY-token-fetched-later") == "*** ***"
