"""Every definition, end to end against the in-process sandbox: its examples succeed, a vendor error
keeps the vendor's status and message, and a record addressed by a missing id is not found.

The happy paths record their exchanges as cassettes (``tests/cassettes/test_end_to_end/``) and replay
them afterwards; a cassette is recorded when it is missing (delete one to record it again after
changing a definition's example). No credential is ever written to a cassette
(``test_recording.py`` checks every cassette for the sandbox's credentials and the canaries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from component import catalog as catalog_module
from component.auth import TokenCache
from component.catalog import LoadedDefinition
from component.errors import NotFoundError, VendorError
from component.models import Action
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox
from component.templates import PLACEHOLDER
from tests.conftest import FakeClock

CATALOG = catalog_module.load()
DEFINITIONS = [
    definition
    for connector in CATALOG.connectors.values()
    for kind in ("actions", "dataSources")
    for definition in connector.definitions[kind].values()  # type: ignore[literal-required]
]
WITH_EXAMPLES = [d for d in DEFINITIONS if d.model.examples]
ADDRESSED = [  # definitions that name a record by id in their path: {inputs.id}, {inputs.jobId}
    d
    for d in WITH_EXAMPLES
    if any(
        p["scope"] == "inputs" and not p["reserved"] and p["path"].rsplit(".", 1)[-1].lower().endswith("id")
        for p in PLACEHOLDER.finditer(d.model.request.path)
    )
]


def cases(definitions: list[LoadedDefinition], *, record: bool = False) -> list[Any]:
    """One case per definition; ``record`` keeps a cassette (never for a file upload: its multipart
    boundary is random, so a recorded body could never match again)."""

    def marks(d: LoadedDefinition) -> list[Any]:
        return [pytest.mark.vcr] if record and d.model.request.files is None else []

    return [pytest.param(d, id=d.ref, marks=marks(d)) for d in definitions]


MISSING_ID = {"integer": 987654321, "string": "does-not-exist-0000"}


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    # Servicebay's 100 requests a minute would count every case of this module against one key in
    # real time; its budget is proven in test_servicebay_sandbox.py with a short window instead.
    return Sandbox(rate_limits={"servicebay": None})


@pytest.fixture
def runtime(sandbox: Sandbox) -> Iterator[Runtime]:
    """A runtime per test (its own token cache), so each cassette holds its whole exchange."""
    yield sandbox.runtime(catalog=CATALOG, tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock())


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    from tests.recording import vcr_config as base

    return {**base(), "record_mode": "once"}


def call(runtime: Runtime, sandbox: Sandbox, definition: LoadedDefinition, inputs: Any) -> Any:
    connection = sandbox.connection(definition.connector)
    method = runtime.run if definition.kind == "actions" else runtime.picklist
    return asyncio.run(method(definition.ref, inputs, connection))


def test_every_definition_has_an_example() -> None:
    missing = [d.ref for d in DEFINITIONS if not d.model.examples]
    assert missing == []


@pytest.mark.parametrize("definition", cases(WITH_EXAMPLES, record=True))
def test_examples_succeed(runtime: Runtime, sandbox: Sandbox, definition: LoadedDefinition) -> None:
    for example in definition.model.examples:
        result = call(runtime, sandbox, definition, example)
        if definition.kind == "actions":
            assert set(result) == {"data"}, definition.ref
        else:
            assert set(result) == {"result", "truncated"}, definition.ref
            assert result["result"], f"{definition.ref}: the example picklist is empty"
            keys = [entry["key"] for entry in result["result"]]
            assert len(keys) == len(set(keys)) <= definition.model.cap  # type: ignore[attr-defined]


@pytest.mark.parametrize("definition", cases(WITH_EXAMPLES))
def test_vendor_errors_keep_status_and_message(
    runtime: Runtime, sandbox: Sandbox, definition: LoadedDefinition
) -> None:
    faults = sandbox.faults(definition.connector)
    faults.inject(422, "The request could not be processed: sandbox check")
    try:
        with pytest.raises(VendorError) as caught:
            call(runtime, sandbox, definition, definition.model.examples[0])
    finally:
        faults.injected.clear()
    assert caught.value.status == 422 and caught.value.vendor == definition.connector
    assert "sandbox check" in caught.value.message


@pytest.mark.parametrize("definition", cases(ADDRESSED))
def test_missing_records_are_not_found(
    runtime: Runtime, sandbox: Sandbox, definition: LoadedDefinition
) -> None:
    inputs = dict(definition.model.examples[0])
    properties = definition.model.inputs.get("properties", {})
    for placeholder in PLACEHOLDER.finditer(definition.model.request.path):
        name = placeholder["path"].lstrip(".").split(".")[0]
        if placeholder["scope"] == "inputs" and not placeholder["reserved"] and name.lower().endswith("id"):
            kind = properties.get(name, {}).get("type", "string")
            inputs[name] = MISSING_ID["integer" if "integer" in kind else "string"]
    model = definition.model
    if isinstance(model, Action) and 404 in model.nullOn:
        assert call(runtime, sandbox, definition, inputs) == {"data": None}
        return
    with pytest.raises(NotFoundError) as caught:
        call(runtime, sandbox, definition, inputs)
    assert caught.value.status == 404
