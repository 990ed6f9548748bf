"""Every schema of the catalog compiles in Ajv 2020 strict mode with the declared vocabulary, and agrees.

A builder compiles the catalog's schemas with its own validator; Ajv 2020 in strict mode is the
pickiest common one. With exactly ``component/schema/vocabulary.json`` registered (keywords by
``addKeyword``, custom formats by ``addFormat``, the standard ones by ajv-formats), every schema of
``component catalog --json`` must compile, and Ajv must give every action's examples, and the
variants :mod:`tests.schema_variants` makes of them, the verdict the runtime gives, except where the
runtime refuses because of a declared cross-field check (``checks``), which JSON Schema cannot say.
One ``node`` process answers the whole module (``tests/ajv.py``); the module skips, saying why,
where Node.js or npm is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from component import catalog as catalog_module
from component import checks, vocabulary
from component.catalog import LoadedDefinition
from component.cli import cli
from component.errors import InputValidationError
from component.runtime import check_inputs
from component.schemas import validator_for
from tests import ajv
from tests.conftest import ROOT
from tests.schema_variants import variants

# Catalog entry fields holding a JSON Schema; the rest are listed as not schemas, so a new field
# has to be put on one side or the other before this test passes.
SCHEMA_FIELDS = frozenset({"inputs", "output"})
OTHER_FIELDS = frozenset({"label", "description", "aliasOf", "checks", "operation", "notes", "examples"})
CONNECTOR_SCHEMA_FIELDS = frozenset({"connection"})
CONNECTOR_OTHER_FIELDS = frozenset({"label", "description", "actions", "dataSources", "triggers"})
# Compiled alongside, to prove strict mode is on and only the vocabulary is registered.
PROBES: dict[str, tuple[dict[str, Any], bool]] = {
    "probe/declared keyword": ({"type": "string", "x-datasource": "selectThing"}, True),
    "probe/undeclared keyword": ({"type": "string", "x-undeclared": 1}, False),
    "probe/declared keyword, wrong value": ({"type": "string", "x-secret": "yes"}, False),
    "probe/custom format": ({"type": "string", "format": "phone"}, True),
    "probe/unknown format": ({"type": "string", "format": "colour"}, False),
    "probe/union type": ({"type": ["string", "integer"]}, False),
    "probe/required not declared": ({"type": "object", "anyOf": [{"required": ["a"]}]}, False),
}

# Where Ajv (ajv-formats) and the runtime knowingly differ on a format, as README.md's "Schema
# vocabulary" says: (format, value, Ajv accepts, runtime accepts). Kept out of the variants above.
KNOWN_DIFFERENCES: tuple[tuple[str, str, bool, bool], ...] = (
    ("date-time", "2024-01-15\t10:00:00Z", True, False),
    ("date-time", "2024-01-15T10:00:00+0200", True, False),
    ("date-time", "2024-01-15T10:00:00+02", True, False),
    ("date-time", "2024-01-15T12:59:60Z", False, True),
    ("email", "a@b", False, True),
    ("email", "jane doe@example.com", False, True),
    ("duration", "08:00:00", False, True),
)


def catalog_json() -> dict[str, Any]:
    """What ``component catalog --json`` prints, as a builder reads it."""
    result = CliRunner().invoke(cli, ["--root", str(ROOT), "catalog", "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def catalog_schemas(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(where, schema)`` for every schema of ``component catalog --json`` (aliases once)."""
    for name, connector in data["connectors"].items():
        for field in CONNECTOR_SCHEMA_FIELDS:
            yield f"{name}.{field}", connector[field]
        for kind in ("actions", "dataSources", "triggers"):
            for key, entry in connector[kind].items():
                if "aliasOf" in entry:
                    continue
                for field in sorted(SCHEMA_FIELDS & set(entry)):
                    yield f"{name}.{kind}.{key}.{field}", entry[field]


def definitions() -> Iterator[LoadedDefinition]:
    for connector in catalog_module.load(ROOT).connectors.values():
        for kind in ("actions", "dataSources", "triggers"):
            yield from connector.definitions[kind].values()


def inputs_id(definition: LoadedDefinition) -> str:
    """Where :func:`catalog_schemas` put the definition's input schema."""
    return f"{definition.connector}.{definition.kind}.{definition.key}.inputs"


def instances(definition: LoadedDefinition) -> Iterator[tuple[str, Any]]:
    """The definition's examples, each example's variants, and each check's two sides swapped."""
    for index, example in enumerate(definition.model.examples):
        yield f"examples[{index}]", example
        for label, variant in variants(definition.model.inputs, example):
            yield f"examples[{index}] {label}", variant
        for rule in definition.model.checks:
            if rule.field in example and rule.other in example:
                swapped = {**example, rule.field: example[rule.other], rule.other: example[rule.field]}
                yield f"examples[{index}] {rule.field} and {rule.other} swapped", swapped


def runtime_verdict(definition: LoadedDefinition, instance: Any) -> tuple[bool, list[dict[str, str]]]:
    """(the runtime accepts ``instance``, the problems it names) from ``runtime.check_inputs`` itself."""
    try:
        check_inputs(definition, instance)
    except InputValidationError as refused:
        return False, refused.problems
    return True, []


def only_checks(definition: LoadedDefinition, problems: list[dict[str, str]]) -> bool:
    """Whether every problem is a cross-field check the catalog lists, with the message it shows there."""
    listed = {
        (f"$.{rule['field']}", rule["message"]) for rule in map(checks.describe, definition.model.checks)
    }
    return bool(problems) and all((p["path"], p["message"]) in listed for p in problems)


@pytest.fixture(scope="module")
def answer() -> dict[str, Any]:
    """One node run: every catalog schema and probe compiled, every instance validated."""
    reason = ajv.missing_tools()
    if reason:
        pytest.skip(f"Ajv needs Node.js: {reason}")
    schemas: dict[str, Any] = dict(catalog_schemas(catalog_json()))
    schemas.update({name: schema for name, (schema, _) in PROBES.items()})
    cases: list[tuple[LoadedDefinition, str, Any]] = []
    for definition in definitions():
        assert schemas[inputs_id(definition)] == definition.model.inputs
        cases.extend((definition, label, instance) for label, instance in instances(definition))
    checked = [(inputs_id(d), instance) for d, _, instance in cases]
    for name, value, _, _ in KNOWN_DIFFERENCES:
        schemas[f"format/{name}"] = {"type": "string", "format": name}
        checked.append((f"format/{name}", value))
    result = ajv.run(vocabulary.vocabulary(), schemas, checked)
    result["cases"] = cases
    result["differences"] = result["verdicts"][len(cases) :]
    result["verdicts"] = result["verdicts"][: len(cases)]
    return result


def test_every_catalog_schema_compiles_in_ajv_2020_strict(answer: dict[str, Any]) -> None:
    compiled = {k: v for k, v in answer["compiled"].items() if not k.startswith("probe/")}
    failed = {where: problems for where, problems in compiled.items() if problems}
    assert len(compiled) > 240  # connections, inputs and outputs of every definition
    assert not failed, "\n".join(f"{where}: {problems}" for where, problems in sorted(failed.items()))


def test_ajv_is_strict_and_knows_only_the_vocabulary(answer: dict[str, Any]) -> None:
    outcome = {name: answer["compiled"][name] is None for name in PROBES}
    assert outcome == {name: compiles for name, (_, compiles) in PROBES.items()}
    assert answer["versions"]["ajv"].startswith("8.")


def test_ajv_and_the_runtime_agree_on_examples_and_their_variants(answer: dict[str, Any]) -> None:
    disagreements, refused, by_checks = [], 0, []
    for (definition, label, instance), verdict in zip(answer["cases"], answer["verdicts"], strict=True):
        accepted, problems = runtime_verdict(definition, instance)
        refused += not accepted
        if verdict and not accepted and only_checks(definition, problems):
            by_checks.append(f"{definition.ref} {label}")
        elif verdict is not accepted:
            disagreements.append(f"{definition.ref} {label}: Ajv {verdict}, runtime {problems}: {instance}")
    cases = len(answer["cases"])
    assert cases > 5000 and refused > cases // 2  # the variants do probe the schemas
    assert not disagreements, f"{len(disagreements)} of {cases}:\n" + "\n".join(disagreements[:40])
    # what JSON Schema cannot say: Ajv accepts, a declared check refuses (end not after start)
    assert by_checks and all("swapped" in case or "format date-time" in case for case in by_checks)


def test_the_known_format_differences_are_as_documented(answer: dict[str, Any]) -> None:
    found = [
        (name, value, verdict, not validator_for({"type": "string", "format": name}).problems(value))
        for (name, value, _, _), verdict in zip(KNOWN_DIFFERENCES, answer["differences"], strict=True)
    ]
    assert found == list(KNOWN_DIFFERENCES)


def test_examples_are_valid_for_ajv(answer: dict[str, Any]) -> None:
    refused = [
        f"{definition.ref} {label}"
        for (definition, label, _), verdict in zip(answer["cases"], answer["verdicts"], strict=True)
        if label.startswith("examples[") and " " not in label and verdict is not True
    ]
    assert not refused


def test_the_vocabulary_is_exactly_what_the_catalog_uses() -> None:
    """No undeclared keyword or format (validate refuses those), and nothing declared but unused."""
    data = catalog_json()
    keywords: set[str] = set()
    formats: set[str] = set()
    for _, schema in catalog_schemas(data):
        found_keywords, found_formats = vocabulary.used(schema)
        keywords |= found_keywords
        formats |= found_formats
    declared = vocabulary.vocabulary()
    assert keywords == set(declared["keywords"])
    assert formats == set(declared["standardFormats"]) | set(declared["formats"])
    assert set(declared["rules"]) == set(checks.RULES)
    for name, spec in declared["rules"].items():
        assert spec["message"] == checks.RULES[name].message
    assert vocabulary.self_problems() == []


def test_every_catalog_field_is_known_as_a_schema_or_not() -> None:
    for connector in catalog_json()["connectors"].values():
        assert set(connector) <= CONNECTOR_SCHEMA_FIELDS | CONNECTOR_OTHER_FIELDS
        for kind in ("actions", "dataSources", "triggers"):
            for entry in connector[kind].values():
                assert set(entry) <= SCHEMA_FIELDS | OTHER_FIELDS, set(entry) - SCHEMA_FIELDS - OTHER_FIELDS
