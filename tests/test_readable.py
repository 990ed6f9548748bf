"""The catalog reads well in a form: titled fields, labelled choices, descriptions for users.

Every property at every depth of every schema of ``component catalog --json`` (inputs, outputs and
connections) has a ``title``; every ``enum`` has ``x-enumNames``, a label per value (an ``enum``, not
a ``oneOf`` of ``const``, so an optional choice starts empty in a form); no description names
the vendor operation or carries a developer note (those live in ``operation`` and ``notes``); every
definition that calls one vendor operation has it in ``operation``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from component import templates, vocabulary
from component.catalog import Catalog
from component.errors import InputValidationError
from component.runtime import check_inputs
from component.vocabulary import subschemas
from tests.conftest import load_tool

READABLE = load_tool("readable")
KINDS = ("actions", "dataSources", "triggers")
SCHEMA_FIELDS = ("inputs", "output")
# A vendor operation in prose: an operationId with its route, or an HTTP method and a path.
OPERATION_TEXT = re.compile(r"\b[A-Z][A-Za-z]+_[A-Za-z]+:|\b(GET|POST|PUT|PATCH|DELETE|HEAD) /")
# Notes for an integrator, not a user: what the docs do not confirm, what we chose.
DEVELOPER_NOTE = re.compile(
    r"not confirmed|do(es)? not confirm|public docs|vendor's docs|not documented|does not publish|"
    r"our choice|Known unknowns|reference component",
    re.IGNORECASE,
)


def _schemas(catalog: Catalog) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, schema)`` for every schema of the catalog."""
    for connector, entry in catalog.to_json()["connectors"].items():
        yield f"{connector}.connection", entry["connection"]
        for kind in KINDS:
            for key, item in entry[kind].items():
                if "aliasOf" in item:
                    continue
                for field in SCHEMA_FIELDS:
                    if isinstance(item.get(field), dict):
                        yield f"{connector}.{key}.{field}", item[field]


def _untitled(schema: dict[str, Any]) -> Iterator[str]:
    for path, sub in subschemas(schema):
        for name, prop in (sub.get("properties") or {}).items():
            if isinstance(prop, dict) and not (isinstance(prop.get("title"), str) and prop["title"].strip()):
                yield f"{path}.properties.{name}"


def _descriptions(catalog: Catalog) -> Iterator[tuple[str, str]]:
    for connector, entry in catalog.to_json()["connectors"].items():
        for kind in KINDS:
            for key, item in entry[kind].items():
                yield f"{connector}.{key}", item["description"]
    for where, schema in _schemas(catalog):
        for path, sub in subschemas(schema):
            if isinstance(sub.get("description"), str):
                yield f"{where}{path[1:]}", sub["description"]


def test_every_property_at_every_depth_has_a_title(catalog: Catalog) -> None:
    counted = 0
    missing: list[str] = []
    for where, schema in _schemas(catalog):
        for _path, sub in subschemas(schema):
            counted += len(sub.get("properties") or {})
        missing += [f"{where}: {path}" for path in _untitled(schema)]
    assert counted > 3000  # inputs, outputs and connections of the three connectors
    assert missing == [], f"{len(missing)} of {counted} properties have no title: {missing[:20]}"


def test_the_title_check_notices_a_nested_property_without_one() -> None:
    schema = {"type": "object", "properties": {"a": {"title": "A", "properties": {"bC": {"type": "string"}}}}}
    assert list(_untitled(schema)) == ["$.properties.a.properties.bC"]
    READABLE.readable(schema)
    assert list(_untitled(schema)) == []
    assert schema["properties"]["a"]["properties"]["bC"]["title"] == "B C"
    given = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"bC": {"type": "string"}}}},
    }
    READABLE.readable(given, {"bC": "Bee Sea"})
    assert given["properties"]["a"]["properties"]["bC"]["title"] == "Bee Sea"


def test_every_choice_list_has_labels(catalog: Catalog) -> None:
    unlabelled: list[str] = []
    labelled = 0
    for where, schema in _schemas(catalog):
        for path, sub in subschemas(schema):
            if "enum" not in sub:
                continue
            labels = sub.get("x-enumNames")
            if not (isinstance(labels, list) and len(labels) == len(sub["enum"])):
                unlabelled.append(f"{where}: {path}")
                continue
            labelled += 1
            assert all(isinstance(label, str) and label.strip() for label in labels), f"{where}: {path}"
    assert labelled > 150
    assert unlabelled == [], f"enums without labels: {unlabelled[:20]}"


def test_titles_and_labels_are_derived_from_names() -> None:
    assert READABLE.title_of("jobAppointmentId") == "Job Appointment ID"
    assert READABLE.title_of("tagTypeIds") == "Tag Type IDs"
    assert READABLE.title_of("externalDataApplicationGuid") == "External Data Application GUID"
    assert READABLE.title_of("first_name") == "First Name"
    assert READABLE.title_of("skuURL") == "SKU URL"
    assert READABLE.title_of("modifiedOnOrAfterUtc") == "Modified On Or After UTC"
    assert READABLE.enum_names(["InProgress", None, True]) == ["In Progress", "None", "Yes"]
    schema = {"type": "string", "oneOf": [{"const": "a", "title": "Apple"}, {"const": "bB"}]}
    assert READABLE.readable(schema) == {
        "type": "string",
        "enum": ["a", "bB"],
        "x-enumNames": ["Apple", "B B"],
    }


def test_labels_that_do_not_match_the_values_are_refused() -> None:
    schema = {
        "type": "object",
        "properties": {"s": {"type": "string", "enum": ["a", "b"], "x-enumNames": ["A"]}},
    }
    assert vocabulary.problems(schema) == [
        {
            "path": "$.properties.s.x-enumNames",
            "message": "x-enumNames must give one label per enum value, in order",
        }
    ]
    schema["properties"]["s"]["x-enumNames"] = ["A", "B"]
    assert vocabulary.problems(schema) == []


def test_descriptions_speak_to_a_user(catalog: Catalog) -> None:
    operations = [f"{where}: {text}" for where, text in _descriptions(catalog) if OPERATION_TEXT.search(text)]
    notes = [f"{where}: {text}" for where, text in _descriptions(catalog) if DEVELOPER_NOTE.search(text)]
    assert operations == [], "descriptions naming the vendor operation (it is `operation`):\n" + "\n".join(
        operations[:20]
    )
    assert notes == [], "descriptions with developer notes (they are `notes`):\n" + "\n".join(notes[:20])


def test_the_description_checks_notice_an_operation_and_a_note() -> None:
    assert OPERATION_TEXT.search("Create a job. (Jobs_Create: POST /jpm/v2/tenant/{tenant}/jobs)")
    assert OPERATION_TEXT.search("Find customers (GET /customers).")
    assert DEVELOPER_NOTE.search("The field names are not confirmed by the vendor's public docs.")
    assert not OPERATION_TEXT.search("Get one job by ID.")


def test_every_vendor_backed_definition_names_its_operation(catalog: Catalog) -> None:
    out = catalog.to_json()["connectors"]
    missing = []
    for connector, entry in out.items():
        for kind in KINDS:
            for key, item in entry[kind].items():
                loaded = catalog.connectors[connector].definitions[kind][item.get("aliasOf", key)]  # type: ignore[index]
                if "$" in loaded.model.request.method or "$" in loaded.model.request.path:
                    assert "operation" not in item  # a raw request calls whatever it is given
                    continue
                operation = item.get("operation")
                if not isinstance(operation, dict):
                    missing.append(f"{connector}.{key}")
                    continue
                assert operation["method"] == loaded.model.request.method.upper()
                assert operation["path"].startswith("/") and "{inputs." not in operation["path"]
                assert "{connection." not in operation["path"]
                if connector == "servicetitan" and loaded.model.request.operationId:
                    assert operation["id"] == loaded.model.request.operationId, key
                elif connector == "servicetitan":  # a list the reference specs do not include
                    assert "id" not in operation and loaded.model.notes, key
    assert missing == []
    assert out["servicebay"]["actions"]["getJob"]["operation"] == {
        "method": "GET",
        "path": "/organisations/{orgId}/tickets/{ticketId}",
    }


def test_examples_and_notes_are_in_the_catalog(catalog: Catalog) -> None:
    out = catalog.to_json()["connectors"]
    for connector, entry in out.items():
        for kind in ("actions", "dataSources"):
            for key, item in entry[kind].items():
                assert item.get("examples"), f"{connector}.{key} has no examples in the catalog"
    lookup = out["servicebay"]["actions"]["lookupCustomer"]
    assert any("email is inferred" in note for note in lookup["notes"])


# --- forms that render plainly and submit -----------------------------------------------------------


def test_no_input_schema_offers_a_choice_of_forms_at_its_root(catalog: Catalog) -> None:
    """A root ``anyOf``/``oneOf`` renders as "Option 1 / Option 2"; rules are ``not``/``minProperties``."""
    found = []
    for connector, entry in catalog.to_json()["connectors"].items():
        for kind in KINDS:
            for key, item in entry[kind].items():
                inputs = item["inputs"]
                branches = [inputs, *inputs.get("allOf", [])]
                if any("anyOf" in b or "oneOf" in b for b in branches):
                    found.append(f"{connector}.{key}")
    assert found == []


def test_no_optional_list_input_needs_an_item(catalog: Catalog) -> None:
    """A renderer pre-fills an empty first item for ``minItems``: an optional list may not ask for one."""
    found = []
    for connector, entry in catalog.to_json()["connectors"].items():
        for kind in KINDS:
            for key, item in entry[kind].items():
                required = set(item["inputs"].get("required", []))
                for name, prop in item["inputs"].get("properties", {}).items():
                    if name not in required and isinstance(prop, dict) and prop.get("minItems", 0) > 0:
                        found.append(f"{connector}.{key}.{name}")
    assert found == []


@pytest.mark.parametrize(
    ("ref", "inputs", "message"),
    [
        ("servicebay.lookupCustomer", {}, "give phone or email (or both)"),
        ("homebase360.searchCustomers", {"identifiers": [], "limit": 25}, "give customerId, phone, email"),
        ("homebase360.updateJob", {"jobId": "j1"}, "give start, end or note to change"),
        (
            "homebase360.createCustomer",
            {"firstName": "", "email": ["a@b.co"]},
            "give a firstName or a lastName",
        ),
        (
            "homebase360.createCustomer",
            {"firstName": "A", "phone": {"mobile": ""}},
            "give a firstName or a lastName, and a contact",
        ),
    ],
)
def test_a_rule_over_several_fields_keeps_its_message(
    catalog: Catalog, ref: str, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        check_inputs(catalog.find("actions", ref), inputs)
    assert caught.value.problems[0]["path"] == "$"
    assert caught.value.problems[0]["message"].startswith(message)


def test_an_untouched_identifier_list_sends_nothing(catalog: Catalog) -> None:
    definition = catalog.find("actions", "homebase360.searchCustomers")
    check_inputs(definition, {"phone": "+13038286690", "identifiers": []})
    query = definition.model.request.query
    assert templates.render(query, {"inputs": {"phone": "+1", "identifiers": []}}) == {"phone": "+1"}
    assert templates.render(query, {"inputs": {"identifiers": ["a", "b"]}}) == {"identifiers": "a,b"}
