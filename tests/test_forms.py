"""Forms a builder draws from the catalog submit, and send nothing the user did not set.

react-jsonschema-form's own form-state logic (``getDefaultFormState``, pinned in ``tests/js``, run
by one ``node`` process for the module) gives, for every action, what its form holds untouched and
with each documented example loaded. Submitted, the loaded example must be accepted and make the
same request as the example itself; the untouched form must send nothing but the schema's defaults.
The module skips, saying why, where Node.js or npm is missing.
"""

from __future__ import annotations

from typing import Any

import pytest

from component.catalog import Catalog
from component.errors import InputValidationError
from component.runtime import check_inputs
from tests import ajv


@pytest.fixture(scope="module")
def forms() -> dict[str, Any]:
    from component import catalog as catalog_module
    from tests.conftest import ROOT

    reason = ajv.missing_tools()
    if reason:
        pytest.skip(f"react-jsonschema-form needs Node.js: {reason}")
    loaded = catalog_module.load(ROOT)
    actions = {
        definition.ref: {"inputs": definition.model.inputs, "examples": definition.model.examples}
        for connector in loaded.connectors.values()
        for definition in connector.definitions["actions"].values()
    }
    answer = ajv.form_states(actions)
    assert answer["versions"]["@rjsf/utils"].startswith("5.")
    return answer


def test_every_schema_is_one_the_renderer_can_draw(forms: dict[str, Any]) -> None:
    """No root choice of forms it cannot merge (a root ``allOf`` of differing ``x-messages``)."""
    assert [ref for ref, form in forms["forms"].items() if "error" in form] == []
    assert forms["warnings"] == []


def test_every_example_loaded_in_a_form_submits_as_the_example(
    forms: dict[str, Any], catalog: Catalog
) -> None:
    refused: list[str] = []
    different: list[str] = []
    count = 0
    for ref, form in forms["forms"].items():
        definition = catalog.find("actions", ref)
        for example, state in zip(definition.model.examples, form["examples"], strict=True):
            count += 1
            try:
                submitted = check_inputs(definition, state)
            except InputValidationError as error:
                refused.append(f"{ref}: {error.problems[:3]}")
                continue
            if submitted != check_inputs(definition, example):
                different.append(f"{ref}: {submitted}")
    assert count > 100
    assert refused == []
    assert different == []


def test_an_untouched_form_sends_only_defaults(forms: dict[str, Any], catalog: Catalog) -> None:
    sends: list[str] = []
    for ref, form in forms["forms"].items():
        definition = catalog.find("actions", ref)
        properties = definition.model.inputs.get("properties", {})
        try:
            submitted = check_inputs(definition, form["untouched"])
        except InputValidationError:
            continue  # a required field is empty: the user must fill it
        unset = {
            name: value
            for name, value in submitted.items()
            if not (name in properties and properties[name].get("default") == value)
            and name not in definition.model.inputs.get("required", [])
        }
        if unset:
            sends.append(f"{ref}: {unset}")
    assert sends == []


def test_an_optional_object_a_renderer_fills_with_empty_lists_is_not_sent(catalog: Catalog) -> None:
    """What the renderer pre-fills for ServiceTitan's optional ``externalData`` (the regression)."""
    definition = catalog.find("actions", "servicetitan.createJob")
    example = definition.model.examples[0]
    filled = {"customFields": [], "tagTypeIds": [], **example, "externalData": {"externalData": []}}
    assert check_inputs(definition, filled) == check_inputs(definition, example)
    kept = {
        **example,
        "externalData": {"applicationGuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "externalData": []},
    }
    assert check_inputs(definition, kept)["externalData"]["externalData"] == []
    with pytest.raises(InputValidationError):
        check_inputs(definition, {**example, "externalData": {"externalData": [{"key": "a", "value": "b"}]}})


def test_only_declared_lists_and_objects_that_hold_nothing_are_unset() -> None:
    from component.schemas import validator_for

    schema = {
        "type": "object",
        "required": ["must"],
        "properties": {
            "must": {"type": "array", "items": {"type": "integer"}},
            "tags": {"type": "array", "items": {"type": "integer"}},
            "nested": {"type": "object", "properties": {"list": {"type": "array", "items": {}}}},
            "flag": {"type": "object", "properties": {"on": {"type": "boolean"}}},
            "body": {"description": "free-form JSON"},
            "rows": {
                "type": "array",
                "items": {"type": "object", "properties": {"x": {"type": "array", "items": {}}}},
            },
        },
    }
    validator = validator_for(schema)
    given = {
        "must": [],
        "tags": [],
        "nested": {"list": []},
        "flag": {"on": False},
        "body": {},
        "rows": [{"x": []}],
    }
    assert validator.without_untouched(given) == {"must": [], "flag": {"on": False}, "body": {}, "rows": [{}]}
    untouched = {"must": [1], "tags": [2], "nested": None}
    assert validator.without_untouched(untouched) is untouched


def test_the_untouched_pass_ends_on_hostile_nesting() -> None:
    """An optional object nested past the inputs' depth limit, or holding itself, is not left out (it
    holds something; the unsafe-value walk refuses it) and the pass ends, without recursion."""
    from component.jsontext import MAX_DEPTH
    from component.schemas import validator_for

    def nested(levels: int) -> Any:
        value: Any = {}
        for _ in range(levels - 1):
            value = {"a": value}
        return value

    validator = validator_for({"type": "object", "properties": {"o": {"type": "object", "properties": {}}}})
    deep = {"o": nested(5_000)}
    assert validator.without_untouched(deep) is deep
    cycle: dict[str, Any] = {}
    cycle["a"] = cycle
    assert validator.without_untouched({"o": cycle}) == {"o": cycle}
    assert validator.without_untouched({"o": nested(MAX_DEPTH - 1)}) == {}  # still nothing, left out


def test_untouched_contact_preferences_send_nothing(catalog: Catalog) -> None:
    """An optional object with required booleans: an empty one is unset; a set one needs all three."""
    definition = catalog.find("actions", "servicetitan.updateCustomerContact")
    base = {"id": 1, "contactId": 2, "memo": "desk phone"}
    assert check_inputs(definition, {**base, "preferences": {}}) == base
    with pytest.raises(InputValidationError):
        check_inputs(definition, {**base, "preferences": {"jobRemindersEnabled": False}})
