"""ServiceTitan against the in-process sandbox: declared outputs match real responses; picklists at scale."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from component.auth import TokenCache
from component.catalog import LoadedDefinition
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox
from tests.conftest import FakeClock
from tests.test_end_to_end import CATALOG

ACTIONS = [
    d
    for d in CATALOG.connectors["servicetitan"].definitions["actions"].values()
    if d.model.request.operationId
]


def _cases(definitions: list[LoadedDefinition]) -> list[Any]:
    return [pytest.param(d, id=d.key) for d in definitions]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def runtime(sandbox: Sandbox) -> Runtime:
    return sandbox.runtime(catalog=CATALOG, tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock())


def _run(runtime: Runtime, sandbox: Sandbox, kind: str, ref: str, inputs: Any) -> Any:
    connection = sandbox.connection("servicetitan")
    method = runtime.run if kind == "actions" else runtime.picklist
    return asyncio.run(method(ref, inputs, connection))


@pytest.mark.parametrize("definition", _cases(ACTIONS))
def test_declared_output_describes_the_sandbox_response(
    runtime: Runtime, sandbox: Sandbox, definition: LoadedDefinition
) -> None:
    output = definition.model.output
    assert output is not None
    validator = Draft202012Validator(output, format_checker=Draft202012Validator.FORMAT_CHECKER)
    data = _run(runtime, sandbox, "actions", definition.ref, definition.model.examples[0])["data"]
    problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(data)]
    assert problems[:5] == [], definition.ref


def test_a_picklist_over_more_than_10000_records_is_capped_and_marked(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    result = _run(runtime, sandbox, "dataSources", "servicetitan.selectCustomers", {})
    keys = [entry["key"] for entry in result["result"]]
    assert len(keys) == len(set(keys)) == 10_000 and result["truncated"] is True
    assert keys[:2] == ["100001", "100002"]  # order stable: the vendor's
    assert all(entry["label"] and not entry["label"].startswith("#") for entry in result["result"][:50])


def test_picklist_search_narrows_server_side(runtime: Runtime, sandbox: Sandbox) -> None:
    every = _run(runtime, sandbox, "dataSources", "servicetitan.selectCustomers", {})["result"]
    name = every[0]["label"].split(" \u2013 ")[0]
    found = _run(runtime, sandbox, "dataSources", "servicetitan.selectCustomers", {"search": name})
    assert found["truncated"] is False and 1 <= len(found["result"]) < 10_000
    assert "100001" in {entry["key"] for entry in found["result"]}


def test_fetch_all_returns_every_record_once(runtime: Runtime, sandbox: Sandbox) -> None:
    ref = "servicetitan.listTechnicians"
    total = _run(runtime, sandbox, "actions", ref, {"active": "Any", "includeTotal": True, "pageSize": 1})
    data = _run(runtime, sandbox, "actions", ref, {"fetchAll": True, "active": "Any"})["data"]
    ids = [record["id"] for record in data["data"]]
    assert ids == sorted(set(ids)) and len(ids) == total["data"]["totalCount"] >= 50
    assert data["hasMore"] is False and data["totalCount"] == len(ids)
