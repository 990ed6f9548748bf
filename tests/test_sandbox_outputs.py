"""Every action's declared output describes what the sandbox really answers, for all three vendors.

Each example of each action (the catalog's) runs against the in-process sandbox, and the ``data`` it
returns is validated against the action's ``output`` schema (Draft 2020-12, formats checked as the
runtime checks them). An action whose vendor answers without a body declares ``data`` as ``null``.
A ``null`` the sandbox returns is only accepted where the definition says the field may be null,
and each such field says when (the definition's description or the README's Known unknowns).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from component.auth import TokenCache
from component.catalog import LoadedDefinition
from component.formats import format_checker
from component.policy import BudgetRegistry
from component.sandbox import Sandbox
from tests.conftest import FakeClock
from tests.test_end_to_end import CATALOG

ACTIONS = [
    definition
    for connector in CATALOG.connectors.values()
    for definition in connector.definitions["actions"].values()
]
# ServiceTitan's raw request answers whatever the request asks for (any JSON, or text): no output is
# declared, so there is nothing to validate (Servicebay's and Homebase360's declare an open schema).
UNDECLARED = {"servicetitan.rawRequest"}
CASES = [
    pytest.param(definition, n, id=f"{definition.ref}[{n}]")
    for definition in ACTIONS
    for n in range(len(definition.model.examples))
    if definition.ref not in UNDECLARED
]


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(rate_limits={"servicebay": None})  # Servicebay's per-minute budget has its own tests


def test_every_action_has_an_output_schema_and_an_example() -> None:
    assert [d.ref for d in ACTIONS if d.model.output is None] == sorted(UNDECLARED)
    assert [d.ref for d in ACTIONS if not d.model.examples] == []
    assert {d.connector for d in ACTIONS} == {"servicetitan", "servicebay", "homebase360"}


@pytest.mark.parametrize(("definition", "n"), CASES)
def test_the_sandbox_answer_follows_the_declared_output(
    sandbox: Sandbox, definition: LoadedDefinition, n: int
) -> None:
    runtime = sandbox.runtime(
        catalog=CATALOG, tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock()
    )
    example = definition.model.examples[n]
    result = asyncio.run(runtime.run(definition.ref, example, sandbox.connection(definition.connector)))
    output: Any = definition.model.output
    validator = Draft202012Validator(output, format_checker=format_checker())
    problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(result["data"])]
    assert problems[:10] == [], definition.ref
