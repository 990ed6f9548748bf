"""Shared fixtures: a scripted fake vendor on httpx2.MockTransport, a fake clock, canary connections."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, unquote

import httpx2
import pytest
from click.testing import CliRunner, Result

from component import catalog as catalog_module
from component import catalog_cache
from component import cli as cli_module
from component.auth import TokenCache
from component.policy import BudgetRegistry
from component.runtime import Runtime
from tests.servers import postgres_server, redis_server  # noqa: F401  (fixtures: real servers for tests)

ROOT = Path(__file__).resolve().parents[1]
# The precompiled catalog cache of this run (and of the CLI subprocesses it starts) stays out of $HOME.
os.environ[catalog_cache.CACHE_ENV] = tempfile.mkdtemp(prefix="component-test-cache-")
# The vendor reference beside the checkout; COMPONENT_REFERENCE points elsewhere (a checkout kept apart).
REFERENCE = Path(os.environ.get("COMPONENT_REFERENCE") or ROOT.parent / "shared" / "reference")

# Canary secrets: tests assert these never appear in output, errors, logs, reprs or cassettes.
ST_SECRET = "CANARY-st-client-secret-7f3a"
ST_APP_KEY = "CANARY-st-app-key-91bd"
SB_KEY = "CANARY-servicebay-key-55e1"
HB_KEY = "CANARY-homebase-key-a0c4"
CANARIES = (ST_SECRET, ST_APP_KEY, SB_KEY, HB_KEY)


def canary_forms(canary: str) -> set[str]:
    """How a canary can show up: raw, URL-encoded, base64-encoded at any offset in a longer value, and
    cut short to its first 8 characters (:func:`leaks` also looks through JSON and URL escapes)."""
    forms = {canary, quote(canary, safe=""), quote_plus(canary), canary[:8]}
    for prefix in ("", "a", "ab"):
        encoded = base64.b64encode((prefix + canary).encode()).decode().rstrip("=")
        core = encoded[len(prefix) + 2 : -2]  # clear of the bytes around the canary
        forms.update({core, core.replace("+", "-").replace("/", "_")})
    return forms


def decodings(text: str) -> list[str]:
    """``text``, then with JSON ``\\u`` escapes and percent-encoding undone, layer after layer (3)."""
    layers = [text]
    for _ in range(3):
        unescaped = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), layers[-1])
        layers.append(unquote(unescaped))
    return layers


def leaks(text: str) -> list[str]:
    """The canaries found in ``text`` in any of their forms, in the text or decoded."""
    layers = decodings(text)
    return [
        canary
        for canary in CANARIES
        if any(form in layer for form in canary_forms(canary) for layer in layers)
    ]


ST_CONNECTION = {
    "clientId": "cid.canary-client",
    "clientSecret": ST_SECRET,
    "tenant": "987654321",
    "applicationKey": ST_APP_KEY,
    "environment": "integration",
}
SB_CONNECTION = {"apiKey": SB_KEY, "orgId": "org-1"}
HB_CONNECTION = {"apiKey": HB_KEY}
CONNECTIONS = {"servicetitan": ST_CONNECTION, "servicebay": SB_CONNECTION, "homebase360": HB_CONNECTION}

ST_API = "https://api-integration.servicetitan.io"
ST_TOKEN_URL = "https://auth-integration.servicetitan.io/connect/token"
SB_API = "https://developer.servicebay.io/api/v1"
HB_API = "https://us-central1-homebase-360.cloudfunctions.net/api/v1"

Responder = Callable[[httpx2.Request], httpx2.Response]


class ClockStalledError(Exception):
    """A positive sleep did not move the fake clock: the loop that waits would spin forever."""


class FakeClock:
    """Monotonic and wall time that only move when slept; records every sleep.

    A positive sleep too small to move the clock fails the test instead of letting a waiting loop
    spin forever.
    """

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.t = start
        self._start = start
        self._wall = wall
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return self._wall + (self.t - self._start)

    async def sleep(self, seconds: float) -> None:
        before = self.t
        self.sleeps.append(seconds)
        self.t += seconds
        if seconds > 0 and self.t == before:
            raise ClockStalledError(f"sleep({seconds!r}) left the clock at {before!r}")
        await asyncio.sleep(0)


class FakeVendor:
    """An httpx2.MockTransport handler: routes by (METHOD, full URL without query), records requests.

    A route's responder is a Response, a callable taking the request, or a list of either
    (consumed in order, the last one repeating). The ServiceTitan token endpoint is served
    by default with tokens tok-1, tok-2, ...
    """

    def __init__(self, token_lifetime: int = 900) -> None:
        self.routes: dict[tuple[str, str], list[Any]] = {}
        self.requests: list[httpx2.Request] = []
        self.tokens_issued = 0
        self.token_lifetime = token_lifetime
        self.route("POST", ST_TOKEN_URL, self._token)

    def _token(self, request: httpx2.Request) -> httpx2.Response:
        self.tokens_issued += 1
        return httpx2.Response(
            200,
            json={
                "access_token": f"tok-{self.tokens_issued}",
                "expires_in": self.token_lifetime,
                "token_type": "Bearer",
            },
        )

    def route(self, method: str, url: str, *responders: Any) -> FakeVendor:
        self.routes[(method.upper(), url)] = list(responders)
        return self

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        key = (request.method, str(request.url.copy_with(query=None)))
        queue = self.routes.get(key)
        if not queue:
            return httpx2.Response(
                404, json={"title": f"no fake route for {key}", "status": 404, "traceId": "fake"}
            )
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(request) if callable(responder) else responder

    @property
    def api_requests(self) -> list[httpx2.Request]:
        """Requests other than token requests."""
        return [r for r in self.requests if str(r.url) != ST_TOKEN_URL]

    @property
    def token_requests(self) -> list[httpx2.Request]:
        return [r for r in self.requests if str(r.url) == ST_TOKEN_URL]


def load_tool(name: str) -> ModuleType:
    """A script of tools/ (not a package) imported as a module, for tests of the generators."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def json_body(request: httpx2.Request) -> Any:
    return json.loads(request.content) if request.content else None


def form_body(request: httpx2.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


@pytest.fixture(scope="session")
def catalog() -> catalog_module.Catalog:
    return catalog_module.load(ROOT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vendor() -> FakeVendor:
    return FakeVendor()


def all_definitions(catalog: catalog_module.Catalog) -> list[catalog_module.LoadedDefinition]:
    """Every action, data source and trigger of every connector."""
    return [
        definition
        for connector in catalog.connectors.values()
        for kind in ("actions", "dataSources", "triggers")
        for definition in connector.definitions[kind].values()  # type: ignore[literal-required]
    ]


def make_runtime(
    catalog: catalog_module.Catalog, vendor: Responder, clock: Any, env: dict[str, str] | None = None
) -> Runtime:
    """A runtime on ``vendor`` (a FakeVendor or any request handler) with its own token cache and
    budgets; ``env=None`` reads os.environ.

    Back-off jitter draws 0, so each retry waits the plain exponential step.
    """
    return Runtime(
        catalog,
        transport=httpx2.MockTransport(vendor),
        clock=clock,
        tokens=TokenCache(),
        budgets=BudgetRegistry(),
        env=env,
        random=lambda: 0.0,
    )


@pytest.fixture
def runtime(catalog: catalog_module.Catalog, vendor: FakeVendor, clock: FakeClock) -> Runtime:
    """A runtime wired to the fake vendor, no environment, no real sleeping."""
    return make_runtime(catalog, vendor, clock, env={})


@pytest.fixture
def reference() -> Path:
    """``../shared/reference``: present beside the checkout in CI (where its absence is a failure)."""
    if not REFERENCE.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"vendor reference folder missing: {REFERENCE}")
        pytest.skip(f"vendor reference folder not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """pytest-recording set-up for cassettes: secrets filtered, bodies part of matching."""
    from tests.recording import vcr_config as config

    return config()


@pytest.fixture(autouse=True)
def _fresh_budgets() -> Iterator[None]:
    """Each test starts with the vendors' client-side rate budgets unused: they are process-wide and
    keyed by the vendor key, which the sandbox's connections share, so one test's calls would
    otherwise make a later test wait for a window (or answer 429 in the service)."""
    from component.policy import BUDGETS

    BUDGETS.clear()
    yield
    BUDGETS.clear()


@pytest.fixture(autouse=True)
def _restore_component_logger() -> Iterator[None]:
    """The CLI's -v and the log tests attach handlers to the 'component' logger; undo that."""
    logger = logging.getLogger("component")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, catalog: catalog_module.Catalog, vendor: FakeVendor, clock: Any
) -> Callable[..., Result]:
    """Invoke the CLI with the fake vendor behind it and no x-env variable leaking in from outside."""
    for connector in catalog.connectors.values():
        for prop in connector.model.connection.schema_["properties"].values():
            if "x-env" in prop:
                monkeypatch.delenv(prop["x-env"], raising=False)
    runtime = make_runtime(catalog, vendor, clock)
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: runtime)

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        result = CliRunner(env=env).invoke(cli_module.cli, ["--root", str(ROOT), *args], input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    return invoke
