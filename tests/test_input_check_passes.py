"""What the inputs' check skips, and why skipping changes nothing.

``check_inputs`` walks the inputs as little as it can on valid inputs: the walk for unsafe values
(``jsontext.value_problem``) is skipped where the compiled check's acceptance already rules them
out (``SchemaValidator.valid_means_safe``), the untouched-field and canonical passes copy only what
changes. These tests hold each shortcut to the walk it stands in for: every result and every error
is the one the full sequence (unsafe values, untouched fields, defaults, schema, canonical form,
rules) gives.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from component import checks, runtime
from component.catalog import Catalog, LoadedDefinition
from component.errors import InputValidationError
from component.jsontext import MAX_DEPTH, value_problem
from component.runtime import check_inputs
from component.schemas import SchemaValidator, _levels, validator_for
from tests.test_compiled_validation import JSON, mutated, paths

EXAMPLES = 2000 if os.environ.get("COMPONENT_SLOW_PROOFS") else 40


def nested(levels: int, leaf: Any = None) -> Any:
    """``levels`` objects, one inside the other (``{"a": {"a": …}}``), the innermost holding ``leaf``."""
    value: Any = {} if leaf is None else {"a": leaf}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


HOSTILE = (
    st.sampled_from([math.nan, math.inf, -math.inf])
    | st.builds(nested, st.sampled_from([MAX_DEPTH - 2, MAX_DEPTH, MAX_DEPTH + 5, 2_000]))
    | st.builds(nested, st.integers(1, 3), st.sampled_from([math.nan, math.inf]))
    | st.builds(lambda value: [value], st.sampled_from([math.nan, [math.inf], {"x": math.nan}]))
)
VALUES = JSON | HOSTILE


def reference(definition: LoadedDefinition, inputs: dict[str, Any]) -> dict[str, Any]:
    """The full sequence, each pass on its own, in the order that defines the check."""
    validator = definition.validator
    unsafe = value_problem(inputs)
    if unsafe:
        raise InputValidationError(
            f"invalid inputs for {definition.ref}: {unsafe[0]}: {unsafe[1]}",
            problems=[{"path": unsafe[0], "message": unsafe[1]}],
        )
    filled = validator.with_defaults(validator.without_untouched(inputs))
    problems = validator.problems(filled)
    canonical = filled if problems else validator.canonical(filled)
    problems = problems or checks.problems(definition.model.checks, canonical)
    if problems:
        listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InputValidationError(f"invalid inputs for {definition.ref}: {listed}", problems=problems)
    return canonical


def outcome(check: Any, definition: LoadedDefinition, inputs: dict[str, Any]) -> Any:
    try:
        return ("checked", check(definition, inputs))
    except InputValidationError as error:
        return ("refused", str(error), error.problems)


def definitions(catalog: Catalog) -> list[LoadedDefinition]:
    return [
        d
        for connector in catalog.connectors.values()
        for kind in connector.definitions.values()
        for d in kind.values()
    ]


def test_the_benchmarked_actions_need_no_walk_for_unsafe_values(catalog: Catalog) -> None:
    for ref in ("servicetitan.createJob", "servicetitan.getJob"):
        assert catalog.find("actions", ref).validator.valid_means_safe, ref
    assert not catalog.find("actions", "servicetitan.rawRequest").validator.valid_means_safe  # free-form JSON
    assert not catalog.find("actions", "servicetitan.createPayment").validator.valid_means_safe  # a number


def test_valid_inputs_are_not_walked_for_unsafe_values_where_acceptance_rules_them_out(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[Any] = []
    monkeypatch.setattr(runtime, "value_problem", lambda value: walked.append(value) or value_problem(value))
    create = catalog.find("actions", "servicetitan.createJob")
    example = copy.deepcopy(create.model.examples[0])
    for _ in range(3):  # the compiled check exists from the second use on
        check_inputs(create, example)
    walked.clear()
    assert check_inputs(create, example) == reference(create, example)
    assert walked == []
    payment = catalog.find("actions", "servicetitan.createPayment")
    check_inputs(payment, payment.model.examples[0])
    assert walked == [payment.model.examples[0]]  # a number may be NaN: walked


@pytest.mark.parametrize(
    ("where", "value", "path"),
    [
        ("customerId", math.nan, "$.customerId"),
        (
            "jobGeneratedLeadSource",
            nested(MAX_DEPTH + 5),
            "$.jobGeneratedLeadSource" + ".a" * (MAX_DEPTH - 1),
        ),
        ("jobGeneratedLeadSource", nested(3, math.inf), "$.jobGeneratedLeadSource.a.a.a"),
        ("tagTypeIds", [math.inf], "$.tagTypeIds[0]"),
    ],
)
def test_unsafe_values_are_refused_first_as_before(
    catalog: Catalog, where: str, value: Any, path: str
) -> None:
    """A value no JSON may hold is named before anything else, in an optional field the untouched pass
    would leave out (an object of objects holds nothing) as anywhere else."""
    create = catalog.find("actions", "servicetitan.createJob")
    inputs = {**create.model.examples[0], where: value}
    for _ in range(2):
        with pytest.raises(InputValidationError) as caught:
            check_inputs(create, inputs)
        assert caught.value.problems[0]["path"] == path
        assert outcome(check_inputs, create, inputs) == outcome(reference, create, inputs)


def test_a_cycle_in_the_inputs_is_refused_as_too_deep(catalog: Catalog) -> None:
    create = catalog.find("actions", "servicetitan.createJob")
    cycle: dict[str, Any] = {}
    cycle["a"] = cycle
    inputs = {**create.model.examples[0], "jobGeneratedLeadSource": cycle}
    for _ in range(2):
        assert outcome(check_inputs, create, inputs) == outcome(reference, create, inputs)
        assert "nested deeper than" in outcome(check_inputs, create, inputs)[1]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_check_is_the_full_sequence(catalog: Catalog, data: st.DataObject) -> None:
    """Examples mutated at random, hostile values included: the same result or the same refusal."""
    definition = data.draw(st.sampled_from(definitions(catalog)), label="definition")
    examples = definition.model.examples or [{}]
    base = data.draw(st.sampled_from(examples), label="example")
    candidates = paths(base)
    if candidates and data.draw(st.booleans(), label="mutate a path"):
        path = data.draw(st.sampled_from(candidates), label="path")
        inputs = mutated(base, path, data.draw(VALUES, label="value"), data.draw(st.booleans(), label="del"))
    else:
        names = sorted(definition.model.inputs.get("properties", {})) or ["x"]
        inputs = {
            **base,
            **data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=3), label="set"),
        }
    try:
        given: str | None = repr(inputs)  # repr: NaN is not equal to itself
    except RecursionError:  # deeper than repr goes: refused before any pass could change it
        given = None
    expected = outcome(reference, definition, inputs)
    for _ in range(2):  # before and after the schema is compiled
        assert outcome(check_inputs, definition, inputs) == expected
    assert given is None or repr(inputs) == given  # never changed in place


# Schemas at random, to hold _levels to what the compiled check accepts and the one walk before the
# check to the passes it stands in for.
SPELLED = st.sampled_from(
    ["2024-01-15T10:00:00Z", "2024-01-15 10:00:00z", "2024-01-15t10:00:00+01:00", "10:00:00z", "10:00:00Z"]
)
LEAF_SCHEMAS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "format": "date-time"},
        {"type": ["string", "null"], "format": "time"},
        {"type": "integer", "minimum": 0},
        {"type": ["boolean", "null"]},
        {"type": "number"},
        {"type": "number", "minimum": 0, "maximum": 10},
        {"enum": ["a", "b", None]},
        {"type": "string", "enum": ["x"]},
        {},
        True,
        False,
    ]
)
SCHEMAS = st.recursive(
    LEAF_SCHEMAS,
    lambda inner: (
        st.builds(
            lambda properties, extra, required: {
                "type": "object",
                "properties": properties,
                **({} if extra is None else {"additionalProperties": extra}),
                "required": sorted(properties)[:required],
            },
            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
            st.none() | inner,
            st.integers(0, 1),
        )
        | st.builds(lambda items: {"type": "array", "items": items}, inner)
        | st.just({"type": "array"})
        | st.builds(
            lambda kind, options: {kind: options},
            st.sampled_from(["anyOf", "oneOf", "allOf"]),
            st.lists(inner, min_size=1, max_size=3),
        )
        | st.builds(
            lambda kinds, inside: {
                "type": kinds,
                "items": inside,
                "properties": {"a": inside},
                "additionalProperties": False,
            },
            st.just(["object", "array"]),
            inner,
        )
    ),
    max_leaves=6,
)
INSTANCES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.floats() | st.sampled_from(["a", "b", "x"]) | SPELLED,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), children, max_size=3)
    ),
    max_leaves=10,
)
UNSAFE = st.sampled_from([math.nan, math.inf, -math.inf, nested(MAX_DEPTH + 1)])
KINDS = {
    "string": st.sampled_from(["a", "b", "x"]) | SPELLED,
    "integer": st.integers(-2, 3) | st.sampled_from([1.0, 2.0**60, math.inf, -math.inf, math.nan]),
    "number": st.floats(),
    "boolean": st.booleans(),
    "null": st.none(),
}


def instances(schema: Any) -> st.SearchStrategy[Any]:
    """Instances mostly of ``schema``'s shape, hostile values anywhere now and then."""
    if not isinstance(schema, dict) or not schema:
        return INSTANCES | UNSAFE
    options = [UNSAFE, INSTANCES]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    for keyword in ("anyOf", "oneOf", "allOf"):
        options += [instances(sub) for sub in schema.get(keyword, [])]
    declared = schema.get("type", [])
    for kind in [declared] if isinstance(declared, str) else declared:
        if kind in KINDS:
            options.append(KINDS[kind])
        elif kind == "array":
            options.append(st.lists(instances(schema.get("items", True)), max_size=3))
        elif kind == "object":
            extra = schema.get("additionalProperties", True)
            options.append(
                st.fixed_dictionaries(
                    {},
                    optional={
                        **{name: instances(sub) for name, sub in schema.get("properties", {}).items()},
                        "z": instances(extra) if extra is not False else UNSAFE,
                    },
                )
            )
    return st.one_of(*options)


@settings(max_examples=EXAMPLES * 5, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), schema=SCHEMAS)
def test_what_the_compiled_check_accepts_is_safe_where_the_levels_are_bounded(
    data: st.DataObject, schema: Any
) -> None:
    """Where ``_levels`` bounds a schema, an instance its compiled check accepts is never deeper than
    the bound and holds no NaN or Infinity, so the unsafe-value walk may be skipped."""
    validator = SchemaValidator(
        {"type": "object", "properties": {"v": schema}, "additionalProperties": False}
    )
    validator.is_valid_fast({})  # the first use is not compiled
    if not validator.valid_means_safe:
        return
    instance = {"v": data.draw(instances(schema), label="instance")}
    if validator.is_valid_fast(instance):
        assert value_problem(instance) is None
        levels = _levels(validator.schema)
        assert levels is not None and depth(instance) <= levels


def depth(value: Any) -> int:
    if isinstance(value, dict | list):
        inside = value.values() if isinstance(value, dict) else value
        return 1 + max(map(depth, inside), default=0)
    return 1


@pytest.mark.parametrize(
    ("schema", "levels"),
    [
        ({"type": "string"}, 1),
        ({"type": "number"}, None),  # NaN passes every comparison
        ({"type": "object", "properties": {"a": {"type": "integer"}}}, None),  # any other field
        ({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}, 2),
        ({"type": "array"}, None),
        ({"type": "array", "items": {"type": "array", "items": {"type": "boolean"}}}, 3),
        ({"anyOf": [{"type": "string"}, {"type": "number"}]}, None),
        ({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "null"}}]}, 2),
        ({"allOf": [{}, {"type": "integer"}]}, 1),
        ({"enum": ["a", 1, None]}, 1),
        ({"enum": ["a", 1.5]}, None),
        ({"type": "object", "additionalProperties": {"type": "object", "additionalProperties": False}}, 2),
    ],
)
def test_levels_of_a_schema(schema: dict[str, Any], levels: int | None) -> None:
    assert _levels(schema) == levels


def test_levels_past_the_limit_are_no_bound() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH - 1):
        schema = {"type": "array", "items": schema}
    assert _levels(schema) == MAX_DEPTH and validator_for(schema).valid_means_safe
    assert _levels({"type": "array", "items": schema}) is None


def reference_untouched(schema: Any, instance: Any) -> Any:
    """The untouched-field pass as first written: recursive, a copy at every level."""

    def holds_nothing(value: Any) -> bool:
        if isinstance(value, list):
            return not value
        return isinstance(value, dict) and all(holds_nothing(item) for item in value.values())

    def form_field(sub: Any) -> bool:
        return isinstance(sub, dict) and (isinstance(sub.get("properties"), dict) or "items" in sub)

    if isinstance(instance, dict):
        out = dict(instance)
        properties, required = schema.get("properties"), schema.get("required", [])
        for name, sub in properties.items() if isinstance(properties, dict) else []:
            if form_field(sub) and isinstance(out.get(name), dict | list):
                if name not in required and holds_nothing(out[name]):
                    del out[name]
                else:
                    out[name] = reference_untouched(sub, out[name])
        return out
    items = schema.get("items") if isinstance(schema, dict) else None
    if isinstance(instance, list) and form_field(items):
        return [reference_untouched(items, item) for item in instance]
    return instance


@settings(max_examples=EXAMPLES * 5, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), schema=SCHEMAS)
def test_one_walk_leaves_out_what_the_untouched_pass_did_and_tells_when_a_spelling_changes(
    data: st.DataObject, schema: Any
) -> None:
    """``prepared`` gives the untouched pass's result, and says no respelling is needed only where
    the canonical form of that result is the result itself."""
    at = {"type": "string", "format": "date-time"}
    times = {"type": "array", "items": {"type": "string", "format": "time"}}
    wrapped = {"type": "object", "properties": {"v": schema, "w": schema, "at": at, "times": times}}
    validator = SchemaValidator({**wrapped, "required": ["w"]})
    optional = {"v": instances(schema), "w": instances(schema), "at": SPELLED, "times": st.lists(SPELLED)}
    instance = data.draw(st.fixed_dictionaries({}, optional=optional))
    pruned, respell = validator.prepared(instance)
    if value_problem(instance) is not None:
        return  # refused before any pass counts (and past MAX_DEPTH nothing is left out: it holds something)
    assert pruned == reference_untouched(validator.schema, instance)
    assert (pruned is instance) is (pruned == instance)  # copied only where something went
    canonical = validator.canonical(pruned)
    if not respell:
        assert canonical is pruned
    elif validator._walk[1] is False:  # one walk tried every spelling: it says so only for a change
        assert canonical != pruned


def test_inputs_spelled_canonically_are_walked_once(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    create = catalog.find("actions", "servicetitan.createJob")
    example = create.model.examples[0]
    expected = reference(create, example)
    respelled: list[Any] = []
    spell = SchemaValidator.canonical
    monkeypatch.setattr(SchemaValidator, "canonical", lambda self, x: respelled.append(x) or spell(self, x))
    assert check_inputs(create, example) == expected
    assert respelled == []
    appointment = {**example["appointments"][0], "start": "2026-12-01 15:00:00z"}
    checked = check_inputs(create, {**example, "appointments": [appointment]})
    assert checked["appointments"][0]["start"] == "2026-12-01T15:00:00Z" and len(respelled) == 1
    search = catalog.find("actions", "homebase360.searchCustomers")  # a default filled in: spelled too
    check_inputs(search, {"phone": "+13038286690"})
    assert len(respelled) == 2
