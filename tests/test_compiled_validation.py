"""The compiled check of input schemas never accepts what jsonschema refuses.

Valid inputs are accepted by fastjsonschema's compiled code; jsonschema stays the authority for
everything else. These tests mutate every definition's examples at random (every path, arbitrary
JSON values, deletions) and require: compiled acceptance implies jsonschema acceptance. Set
COMPONENT_SLOW_PROOFS=1 for a long run.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from component.catalog import Catalog
from component.schemas import SchemaValidator, _portable, validator_for

EXAMPLES = 2000 if os.environ.get("COMPONENT_SLOW_PROOFS") else 25
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "Normal", "2026-12-01T15:00:00Z", "2026-13-01T15:00:00Z", "a@b.example"])
    | st.sampled_from(["x\n", "+13038286690\n", "2026-12-01T15:00:00Z\n", "USD\n", "1\n"])  # "$" is the end
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def jsonschema_accepts(validator: SchemaValidator, instance: Any) -> bool:
    return not any(True for _ in validator._validator.iter_errors(instance))


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutated(example: dict[str, Any], path: tuple[Any, ...], value: Any, delete: bool) -> dict[str, Any]:
    out = copy.deepcopy(example)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def schemas(catalog: Catalog) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    found = []
    for connector in catalog.connectors.values():
        found.append((f"{connector.name} connection", connector.model.connection.schema_, []))
        for kind in connector.definitions.values():
            for definition in kind.values():
                found.append((definition.ref, definition.model.inputs, definition.model.examples))
    return found


def test_examples_take_the_compiled_path(catalog: Catalog) -> None:
    compiled = 0
    for name, schema, examples in schemas(catalog):
        validator = validator_for(schema)
        for example in examples:
            assert jsonschema_accepts(validator, example), name
            if _portable(schema):
                validator.is_valid_fast(example)  # the first use is not compiled
                assert validator.is_valid_fast(example), f"{name}: a valid example missed the compiled path"
                compiled += 1
    assert compiled >= 5


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_compiled_acceptance_implies_jsonschema_acceptance(catalog: Catalog, data: st.DataObject) -> None:
    name, schema, examples = data.draw(st.sampled_from(schemas(catalog)), label="schema")
    validator = validator_for(schema)
    base = data.draw(st.sampled_from(examples), label="example") if examples else {}
    candidates = paths(base)
    if candidates and data.draw(st.booleans(), label="mutate a path"):
        path = data.draw(st.sampled_from(candidates), label="path")
        instance = mutated(base, path, data.draw(JSON, label="value"), data.draw(st.booleans(), label="del"))
    else:
        instance = {
            **base,
            **data.draw(
                st.dictionaries(
                    st.sampled_from(sorted(schema.get("properties", {})) or ["x"]), JSON, max_size=3
                ),
                label="fields",
            ),
        }
    if validator.is_valid_fast(instance):
        assert jsonschema_accepts(validator, instance), f"{name}: compiled check accepted {instance!r}"


@pytest.mark.parametrize(
    ("schema", "portable"),
    [
        ({"type": "object", "properties": {"a": {"type": "string", "enum": ["x", None]}}}, True),
        ({"type": "integer", "enum": [1, 2]}, True),
        ({"type": "boolean", "const": True}, True),
        ({"const": True}, False),  # 1 == True in Python
        ({"enum": [0, 1]}, False),
        ({"type": ["integer", "boolean"], "enum": [1, True]}, False),
        ({"enum": [[1]]}, False),
        ({"type": "string", "format": "hostname"}, True),  # not asserted: an annotation on both paths
        ({"$ref": "#/$defs/a", "$defs": {"a": {}}}, False),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, False),
        ({"type": "array", "items": [{"type": "string"}]}, False),
        ({"type": "object", "dependentRequired": {"a": ["b"]}}, False),
        ({"anyOf": [{"required": ["a"]}, {"not": {"contains": {"const": "x"}}}]}, True),
    ],
)
def test_only_schemas_meaning_the_same_in_both_drafts_are_compiled(
    schema: dict[str, Any], portable: bool
) -> None:
    assert _portable(schema) is portable


def test_a_final_newline_does_not_satisfy_an_end_anchor_on_either_path() -> None:
    digits = {"type": "string", "pattern": "^[0-9]+$"}
    validator = validator_for({"type": "object", "properties": {"p": digits}})
    for _ in range(3):  # jsonschema, then compiled
        assert validator.problems({"p": "12"}) == []
        assert validator.problems({"p": "12\n"})
    assert validator_for({"type": "string", "pattern": "[$]"}).problems("$", compiled=True) == []


def test_booleans_are_not_numbers_on_either_path() -> None:
    validator = validator_for({"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2]}}})
    assert validator.problems({"n": 1}) == []
    assert validator.problems({"n": True}) and not validator.is_valid_fast({"n": True})
    refused = validator_for({"type": "object", "properties": {"flag": {"const": True}}})
    assert refused.problems({"flag": 1}) and not refused.is_valid_fast({"flag": True})


def test_a_schema_is_compiled_on_its_second_use_only() -> None:
    validator = SchemaValidator({"type": "object", "properties": {"a": {"type": "string"}}})
    assert validator.problems({"a": "x"}) == [] and validator._fast is None  # one-shot: jsonschema only
    assert validator.problems({"a": "y"}) == [] and validator._fast is not None
    assert validator.problems({"a": 1}) == [{"path": "$.a", "message": "1 is not of type 'string'"}]


def test_a_format_neither_path_asserts_is_an_annotation_on_both() -> None:
    schema = {"type": "object", "properties": {"summary": {"type": ["string", "null"], "format": "html"}}}
    validator = validator_for(schema)
    for _ in range(3):  # jsonschema, then compiled
        assert validator.problems({"summary": "<p>hi</p>"}) == []
        assert validator.problems({"summary": 1})
    assert validator.is_valid_fast({"summary": "<p>x</p>"}) and not validator.is_valid_fast({"summary": 2})


def test_subschemas_under_property_names_that_are_keywords_are_rewritten_too() -> None:
    digits = {"type": "string", "pattern": "^[0-9]+$"}
    schema = {"type": "object", "properties": {"enum": digits, "pattern": digits, "format": digits}}
    validator = validator_for(schema)
    for name in ("enum", "pattern", "format"):
        for _ in range(2):
            assert validator.problems({name: "12\n"}), name
            assert not validator.is_valid_fast({name: "12\n"}), name
