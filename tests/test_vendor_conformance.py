"""ServiceTitan definitions against the official OpenAPI specs in ../shared/reference.

For every definition that names an operationId: method and path match the spec; every query
parameter it sends exists; every body it renders (from each example) validates against the
spec's request schema with unknown properties forbidden; and its inputs agree with the spec's
fields (names, required, JSON types) wherever inputs are passed through as the body.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from component.catalog import Catalog, LoadedDefinition
from component.http import NO_BODY
from component.runtime import build_request, check_inputs
from tests.conftest import ST_CONNECTION
from tests.vendor_spec import Operation, operations, resolve, types_of


def _st_definitions(catalog: Catalog) -> list[LoadedDefinition]:
    connector = catalog.connectors["servicetitan"]
    return [
        d for kind in connector.definitions.values() for d in kind.values() if d.model.request.operationId
    ]


def _operation(reference: Path, definition: LoadedDefinition) -> Operation:
    ops = operations(reference)
    operation_id = definition.model.request.operationId
    assert operation_id in ops, f"{definition.ref}: operationId {operation_id} is not in the official specs"
    return ops[operation_id]


def _spec_path(template: str) -> str:
    """Our path template in the spec's notation: {connection.tenant} -> {tenant}, {inputs.id} -> {id}."""
    return re.sub(r"\{(?:connection|inputs)\.([A-Za-z0-9_]+)\}", r"{\1}", template)


def test_every_servicetitan_operation_definition_is_checked(catalog: Catalog) -> None:
    names = {d.key for d in _st_definitions(catalog)}
    assert {"createJob", "assignTechnicians", "createPayment", "listTechnicians", "selectTechnician"} <= names


def test_method_and_path_match_the_spec(reference: Path, catalog: Catalog) -> None:
    for definition in _st_definitions(catalog):
        operation = _operation(reference, definition)
        assert definition.model.request.method == operation.method, definition.ref
        assert _spec_path(definition.model.request.path) == operation.path, definition.ref


def test_query_parameters_exist_in_the_spec(reference: Path, catalog: Catalog) -> None:
    for definition in _st_definitions(catalog):
        operation = _operation(reference, definition)
        query = definition.model.request.query or {}
        spec_query = {name for name, p in operation.parameters.items() if p["in"] == "query"}
        assert set(query) <= spec_query, (
            f"{definition.ref}: unknown query parameters {set(query) - spec_query}"
        )
        pagination = definition.model.pagination
        for param in (getattr(pagination, "pageParam", None), getattr(pagination, "sizeParam", None)):
            if param:
                assert param in spec_query, f"{definition.ref}: pagination parameter {param} not in the spec"


def test_rendered_bodies_validate_against_the_spec(reference: Path, catalog: Catalog) -> None:
    checked = 0
    for definition in _st_definitions(catalog):
        operation = _operation(reference, definition)
        for example in definition.model.examples:
            inputs = check_inputs(definition, example)
            request = build_request(definition.model, {"inputs": inputs, "connection": ST_CONNECTION})
            if operation.body_schema is None:
                assert request.json is NO_BODY, f"{definition.ref} sends a body the spec does not take"
                continue
            validator = Draft202012Validator(
                operation.body_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
            problems = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(request.json)]
            assert not problems, f"{definition.ref} example body breaks {operation.operation_id}: {problems}"
            checked += 1
    assert checked >= 3


def _compare(ours: dict[str, Any], theirs: dict[str, Any], root: dict[str, Any], where: str) -> list[str]:
    """Differences between our input schema and the spec's body schema (names, required, types)."""
    theirs = resolve(theirs, root)
    problems = []
    mine, spec = types_of(ours), types_of(theirs)
    if mine and spec and not mine <= spec and not (mine == {"integer"} and spec == {"number"}):
        problems.append(f"{where}: type {sorted(mine)} vs spec {sorted(spec)}")
    if "properties" in ours and "properties" in theirs:
        unknown = set(ours["properties"]) - set(theirs["properties"])
        problems += [f"{where}.{name}: not a field of the spec" for name in sorted(unknown)]
        missing = set(theirs.get("required", [])) - set(ours.get("required", []))
        problems += [f"{where}.{name}: required by the spec but optional here" for name in sorted(missing)]
        for name in set(ours["properties"]) & set(theirs["properties"]):
            problems += _compare(
                ours["properties"][name], theirs["properties"][name], root, f"{where}.{name}"
            )
    if "items" in ours and "items" in theirs:
        problems += _compare(ours["items"], theirs["items"], root, f"{where}[]")
    return problems


def test_pass_through_inputs_agree_with_the_spec_body(reference: Path, catalog: Catalog) -> None:
    compared = 0
    for definition in _st_definitions(catalog):
        operation = _operation(reference, definition)
        if definition.model.request.json_body != "$inputs" or operation.body_schema is None:
            continue
        problems = _compare(definition.model.inputs, operation.body_schema, operation.body_schema, "$")
        assert not problems, f"{definition.ref} vs {operation.operation_id}: {problems}"
        compared += 1
    assert compared >= 2


def test_assign_technicians_body_fields_match_the_spec(reference: Path, catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.assignTechnicians")
    operation = _operation(reference, definition)
    body = resolve(operation.body_schema or {}, operation.body_schema or {})
    assert set(definition.model.request.json_body) == set(body["properties"])
    assert set(definition.model.inputs["required"]) >= set(body["required"])


def test_a_misspelt_body_field_would_be_caught(reference: Path, catalog: Catalog) -> None:
    """The conformance check itself can fail: a body with an unknown field is rejected."""
    operation = operations(reference)["Jobs_Create"]
    example = dict(catalog.find("actions", "servicetitan.createJob").model.examples[0])
    example["customerID"] = example.pop("customerId")
    validator = Draft202012Validator(operation.body_schema or {})
    assert not validator.is_valid(example)
