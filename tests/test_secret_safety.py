"""Canary secrets never leak: not raw, URL-encoded, base64-encoded, JSON-escaped or cut short,
anywhere a person or a log can read them.

A hostile vendor echoes every request back (URL, headers, body, and all of it base64-encoded and
``\\u``-escaped, and each header cut to 10 characters) in error bodies, trace headers and success
bodies. Every action, picklist and trigger of every connector (taken from the catalog, so
definitions added later are covered) runs against it with the canary connections, through the
Python API with debug logging on and through the CLI with ``-v --debug``; then exceptions (message,
repr, JSON), logs, CLI output, trigger state files and the committed cassettes are searched for
every form of every canary.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import Result

from component import catalog as catalog_module
from component.catalog import LoadedDefinition
from component.errors import ComponentError
from component.runtime import Runtime
from component.triggers.runner import poll_once
from component.triggers.store import SQLiteStateStore
from tests.conftest import (
    CANARIES,
    CONNECTIONS,
    ROOT,
    FakeClock,
    all_definitions,
    canary_forms,
    leaks,
    make_runtime,
)

CATALOG = catalog_module.load(ROOT)
DEFINITIONS = all_definitions(CATALOG)


class EchoVendor:
    """Answers every API request with the request itself, in plain text and base64, in turn as a 400,
    a 500, a 200 and a 401; the token endpoint issues tokens (and echoes its form when it refuses)."""

    def __init__(self) -> None:
        self.statuses = itertools.cycle([400, 500, 200, 401, 422])
        self.requests = 0

    @staticmethod
    def dump(request: httpx2.Request) -> str:
        return json.dumps(
            {
                "url": str(request.url),
                "headers": dict(request.headers),
                "body": request.content.decode("utf-8", "replace"),
            }
        )

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        dump = self.dump(request)
        encoded = base64.b64encode(dump.encode()).decode()
        echoed_header = request.headers.get("authorization") or request.headers.get("x-api-key") or ""
        headers = {
            "x-request-id": echoed_header,
            "x-cloud-trace-context": encoded[:200],
            "function-execution-id": base64.b64encode(echoed_header.encode()).decode(),
        }
        if request.url.path.endswith("/connect/token"):
            if self.requests % 7 == 0:
                return httpx2.Response(400, json={"error": "invalid_client", "error_description": dump})
            return httpx2.Response(200, json={"access_token": f"tok-{self.requests}", "expires_in": 900})
        body = {
            "success": False,
            "title": f"echo {dump}",
            "message": f"echo {dump}",
            "error": {"message": f"echo {encoded}", "request": dump},
            "traceId": echoed_header,
            "errors": {"request": [dump, encoded]},
            "data": {"echo": dump, "encoded": encoded},
            # JSON-escaped text nested in a value, and every header cut short to 10 characters
            "escaped": "".join(f"\\u{ord(char):04x}" for char in dump),
            "cut": {name: value.removeprefix("Bearer ")[:10] for name, value in request.headers.items()},
        }
        status = next(self.statuses)
        if status == 200:
            body["success"] = True
        return httpx2.Response(status, json=body, headers=headers)


class Capture(logging.Handler):
    """A plain handler, no redacting filter: what any host application's logging would see."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger("component")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)


def echo_runtime(echo: EchoVendor) -> Runtime:
    return make_runtime(CATALOG, echo, FakeClock(), env={})


def inputs_of(definition: LoadedDefinition) -> dict[str, Any]:
    return dict(definition.model.examples[0]) if definition.model.examples else {}


def error_texts(error: BaseException) -> str:
    texts = [str(error), repr(error), *(str(arg) for arg in error.args)]
    if isinstance(error, ComponentError):
        texts.append(json.dumps(error.to_dict(), default=str))
    return "\n".join(texts)


def test_every_form_of_a_canary_is_searched_for() -> None:
    forms = canary_forms(CANARIES[0])
    assert CANARIES[0] in forms and len(forms) >= 4  # raw (= URL-encoded here) and 3 base64 offsets
    wrapped = base64.b64encode(f'{{"key": "{CANARIES[0]}"}}'.encode()).decode()
    assert leaks(wrapped) == [CANARIES[0]]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=[d.ref for d in DEFINITIONS])
def test_no_canary_leaks_from_any_definition_against_an_echoing_vendor(
    definition: LoadedDefinition, captured: Capture, tmp_path: Path
) -> None:
    echo = EchoVendor()
    runtime = echo_runtime(echo)
    connection = CONNECTIONS[definition.connector]
    texts: list[str] = []

    async def attempt(call: Any) -> None:
        try:
            await call
        except ComponentError as error:
            texts.append(error_texts(error))

    inputs = inputs_of(definition)

    async def scenario() -> None:
        async with runtime:
            for _ in range(4):  # through the status cycle: errors, a success, a 401
                if definition.kind == "actions":
                    await attempt(runtime.run(definition.ref, inputs_of(definition), connection))
                    await attempt(
                        runtime.run(definition.ref, inputs_of(definition), connection, dry_run=True)
                    )
                elif definition.kind == "dataSources":
                    await attempt(runtime.picklist(definition.ref, inputs, connection))
                else:
                    store = SQLiteStateStore(tmp_path / "state.db")
                    try:
                        await attempt(
                            poll_once(
                                runtime,
                                definition.ref,
                                inputs_of(definition),
                                connection,
                                store,
                                "leak-check",
                            )
                        )
                    finally:
                        store.close()
            texts.append(repr(runtime))
            texts.extend(repr(session) for session in (runtime._open or {}).values())
            texts.extend(repr(session.auth) for session in (runtime._open or {}).values())

    asyncio.run(scenario())

    texts.extend(captured.lines)
    for state_file in tmp_path.glob("state.db*"):
        texts.append(state_file.read_bytes().decode("latin-1"))
    assert echo.requests > 0 or definition.kind == "triggers"
    assert leaks("\n".join(texts)) == []


CLI_CASES = [
    ("run", "servicetitan.rawRequest", {"urlType": "jpm", "path": "/jobs", "method": "POST", "json": {}}),
    ("run", "servicebay.rawRequest", {"path": "/ping"}),
    ("run", "homebase360.rawRequest", {"path": "/ping", "method": "PUT", "json": {"a": 1}}),
    *[
        ("run" if d.kind == "actions" else "picklist", d.ref, inputs_of(d))
        for d in DEFINITIONS
        if d.kind != "triggers" and d.key != "rawRequest"
    ][:: max(1, len(DEFINITIONS) // 12)],
]


@pytest.mark.parametrize(("command", "ref", "inputs"), CLI_CASES, ids=[c[1] for c in CLI_CASES])
@pytest.mark.parametrize("flags", [("-v",), ("-v", "--debug")], ids=["v", "v-debug"])
def test_no_canary_leaks_from_the_cli(
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., Result],
    tmp_path: Path,
    command: str,
    ref: str,
    inputs: dict[str, Any],
    flags: tuple[str, ...],
) -> None:
    from component import cli as cli_module

    echo = EchoVendor()
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: echo_runtime(echo))
    connection = tmp_path / "connection.json"
    connection.write_text(json.dumps(CONNECTIONS), encoding="utf-8")
    outputs = []
    for _ in range(3):
        result = cli(*flags, command, ref, "--inputs", json.dumps(inputs), "--connection", str(connection))
        outputs.append(result.stdout + result.stderr)

    assert leaks("\n".join(outputs)) == []


def test_no_canary_in_any_committed_cassette() -> None:
    cassettes = [path for path in (ROOT / "tests" / "cassettes").rglob("*") if path.is_file()]
    assert cassettes
    found = {str(path): leaks(path.read_text(encoding="utf-8", errors="replace")) for path in cassettes}
    assert {path: canaries for path, canaries in found.items() if canaries} == {}
