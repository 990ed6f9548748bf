"""Schemathesis, with ServiceTitan's official OpenAPI specs, against the served sandbox.

The six spec subsets (``../shared/reference/servicetitan/*.subset.json``) are merged into one
document restricted to the operations the sandbox routes, with the tenant fixed to the sandbox's
(a request for another tenant is a 403 by design, not something to fuzz), and run against the
sandbox served by uvicorn on 127.0.0.1 with the documented sandbox credentials. Every default check
runs but one: no 5xx, status codes, content types, headers and bodies that follow the spec, invalid
data refused (``negative_data_rejection``), auth not ignored, 405 with ``Allow`` for an unserved
method; ``positive_data_acceptance`` is left out (see ``EXCLUDED``).

A small budget always runs (10 examples an operation, the examples and fuzzing phases: about 600
requests); ``COMPONENT_SLOW_TESTS=1`` runs 100 examples an operation and the coverage phase too
(Schemathesis' boundary and wrong-type cases of every parameter, some 9,000 more).
``COMPONENT_SCHEMATHESIS_EXAMPLES`` and ``COMPONENT_SCHEMATHESIS_COVERAGE=1`` set either outright.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (the test extra)")

import uvicorn  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from component.sandbox import Faults, Sandbox  # noqa: E402
from component.sandbox.servicetitan import APP_KEY, CLIENTS, OTHER_TENANT  # noqa: E402
from tests.conftest import REFERENCE  # noqa: E402

SPECS = REFERENCE / "servicetitan"
# The second sandbox tenant: the same factories and rules over a hundredth of the data, so a list is
# quick to answer (README: Sandbox credentials).
TENANT = OTHER_TENANT
CLIENT_ID = next(client for client, (_, tenant) in CLIENTS.items() if tenant == TENANT)
SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
COVERAGE = SLOW or os.environ.get("COMPONENT_SCHEMATHESIS_COVERAGE") == "1"
EXAMPLES = int(os.environ.get("COMPONENT_SCHEMATHESIS_EXAMPLES") or (100 if SLOW else 10))

pytestmark = pytest.mark.skipif(
    not SPECS.is_dir(),
    reason="ServiceTitan reference specs (../shared/reference/servicetitan) are not available",
)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def routed(sandbox: Sandbox) -> set[tuple[str, str]]:
    """Every (method, path shape) the ServiceTitan sandbox serves, the token endpoint aside."""
    return {
        (method, _shape(path))
        for path, methods in sandbox["servicetitan"].served.items()
        for method in methods
        if path != "/connect/token"
    }


def _renamed_refs(node: Any, module: str) -> Any:
    if isinstance(node, list):
        return [_renamed_refs(item, module) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _renamed_refs(value, module) for key, value in node.items()}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/components/schemas/", f"#/components/schemas/{module}.")
    return out


NOT_FOUND = {"description": "Not found", "content": {"application/json": {"schema": {"type": "object"}}}}


def documented(op: dict[str, Any], path: str) -> dict[str, Any]:
    """One operation as the vendor documents it beyond the spec, and with the tenant fixed.

    - ``page`` is 1 or more and ``pageSize`` 1 to 5,000 (ServiceTitan's pagination docs; the spec gives
      only the type): the sandbox refuses other values as the vendor does;
    - a JSON body is required (the spec leaves ``requestBody.required`` out; an ASP.NET endpoint taking
      a body refuses an empty one with a 400);
    - an operation with an id in its path may answer 404 for an id that is not there (accounting's
      spec lists only 200 and 400 for every operation; README, Known unknowns).
    """
    op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "tenant"]
    for param in op["parameters"]:
        if param.get("in") == "query" and param.get("name") == "page":
            param["schema"] = {**param["schema"], "minimum": 1}
        if param.get("in") == "query" and param.get("name") == "pageSize":
            param["schema"] = {**param["schema"], "minimum": 1, "maximum": 5000}
    if "application/json" in op.get("requestBody", {}).get("content", {}):
        op["requestBody"]["required"] = True
    if re.search(r"\{(?!tenant\})[^}]+\}", path):
        op.setdefault("responses", {}).setdefault("404", NOT_FOUND)
    return op


def merged_spec(base_url: str, served: set[tuple[str, str]]) -> dict[str, Any]:
    """One OpenAPI document of the served operations of every spec subset, the tenant fixed.

    Component schemas are prefixed by their module (``jpm.JobResponse``) so equal names of different
    subsets cannot collide; ``servers`` is the served sandbox.
    """
    merged: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {"title": "ServiceTitan (served operations)", "version": "2"},
        "servers": [{"url": base_url}],
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {}},
    }
    for spec_file in sorted(SPECS.glob("*.subset.json")):
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        prefix = "/" + spec["servers"][0]["url"].split("://", 1)[1].split("/", 1)[1]
        module = spec_file.name.split(".", 1)[0]
        spec = _renamed_refs(spec, module)
        for name, schema in spec["components"]["schemas"].items():
            merged["components"]["schemas"][f"{module}.{name}"] = schema
        merged["components"]["securitySchemes"].update(spec["components"].get("securitySchemes", {}))
        merged.setdefault("security", spec.get("security"))
        for path, item in spec["paths"].items():
            kept: dict[str, Any] = {}
            for method, op in item.items():
                if not isinstance(op, dict) or (method.upper(), _shape(prefix + path)) not in served:
                    continue
                kept[method] = documented(copy.deepcopy(op), path)
            if kept:
                merged["paths"][prefix + path.replace("{tenant}", TENANT)] = kept
    return merged


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The sandbox under uvicorn on 127.0.0.1 (a free port), in a thread; no rate limit (not fuzzed here)."""
    # no rate limit (not fuzzed here) and tokens that outlive the slow run (expiry has its own tests)
    sandbox = Sandbox(
        rate_limits={"servicetitan": None}, faults={"servicetitan": Faults(token_lifetime=24 * 3600)}
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/servicetitan"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@pytest.fixture(scope="module")
def headers(served: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENTS[CLIENT_ID][0],
    }
    answer = httpx2.post(f"{served}/connect/token", data=form, timeout=10)
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}", "ST-App-Key": APP_KEY}


# ``positive_data_acceptance`` (a schema-valid request must not get a 400) is left out: a spec cannot say
# which records exist, and ServiceTitan refuses with a 400 what its schemas do not express, as the
# sandbox does: a body naming a customer, job or invoice that is not there where the operation declares
# no 404 (creates, assign-technicians, accounting), an empty string in a required field (ASP.NET's
# "The name field is required."), a page below 1. That valid requests succeed is proven per operation
# by tests/test_sandbox_conformance.py (a 200 answer that follows the spec for every served operation).
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
# The specs' ``guid`` format, which Schemathesis does not know, generated as what the vendor reads.
schemathesis.openapi.format("guid", st.uuids().map(str))


# The schema is built at import (Schemathesis parametrizes at collection); the served URL is given per call.
def check(case: Any, served: str, headers: dict[str, str]) -> None:
    excluded = list(EXCLUDED)
    if any(isinstance(value, list) and len(value) == 1 for value in (case.query or {}).values()):
        # A query parameter "made wrong" by turning it into a one-item list is sent as the same text
        # as its one item (active=[True] is active=True on the wire): nothing invalid reaches the
        # server, so it cannot be asked to refuse it.
        excluded.append(schemathesis.checks.negative_data_rejection)
    case.call_and_validate(base_url=served, headers=headers, timeout=30, excluded_checks=excluded)


if SPECS.is_dir():
    schema = schemathesis.openapi.from_dict(
        merged_spec("http://127.0.0.1/servicetitan", routed(Sandbox())),
        config=schemathesis.config.SchemathesisConfig.from_dict(
            {"phases": {"coverage": {"enabled": COVERAGE}}}
        ),
    )

    @schema.parametrize()
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not SLOW,
        suppress_health_check=list(HealthCheck),
    )
    def test_served_sandbox_follows_the_servicetitan_spec(
        case: Any, served: str, headers: dict[str, str]
    ) -> None:
        check(case, served, headers)

else:  # Schemathesis refuses a test over no operations: a plain one, skipped by the module mark

    def test_served_sandbox_follows_the_servicetitan_spec() -> None:
        raise AssertionError("unreachable: the module is skipped without the specs")


def test_every_served_operation_is_fuzzed() -> None:
    """The merged document holds exactly the operations the sandbox routes, each once."""
    served_routes = routed(Sandbox())
    document = merged_spec("http://127.0.0.1", served_routes)
    found = [
        (method.upper(), _shape(path.replace(f"/tenant/{TENANT}/", "/tenant/{}/")))
        for path, item in document["paths"].items()
        for method in item
    ]
    assert len(found) == len(set(found))
    assert set(found) == served_routes
