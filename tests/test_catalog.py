"""The manifest, the definition format and `component validate`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from component import catalog as catalog_module
from component.catalog import Catalog, Problem
from component.cli import cli
from component.errors import DefinitionError, UsageError
from component.models import (
    HOOK_PATTERN,
    SCHEMA_DIR,
    FormatError,
    Manifest,
    Trigger,
    json_schemas,
    parse,
    render_schema,
)
from tests.conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the real definitions to break."""
    for name in ("actions", "datasources", "triggers"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "manifest.json", tmp_path / "manifest.json")
    return tmp_path


def edit(path: Path, change: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def problems(root: Path) -> list[Problem]:
    return catalog_module.check(root)[1]


def only(found: list[Problem]) -> Problem:
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# --- the real tree ---------------------------------------------------------------------------------


def test_the_shipped_definitions_are_sound() -> None:
    catalog, found = catalog_module.check(ROOT)
    assert found == []
    assert catalog is not None
    assert set(catalog.connectors) == {"servicetitan", "servicebay", "homebase360"}


def test_every_connector_has_a_raw_request(catalog: Catalog) -> None:
    for name in catalog.connectors:
        assert catalog.find("actions", f"{name}.rawRequest").model.request.method == "$inputs.method"


def test_the_vertical_slice_keys(catalog: Catalog) -> None:
    st = catalog.connectors["servicetitan"].definitions
    assert {"createJob", "assignTechnicians", "createPayment", "rawRequest"} <= set(st["actions"])
    assert "selectTechnician" in st["dataSources"]
    assert {"lookupCustomer", "createJob"} <= set(catalog.connectors["servicebay"].definitions["actions"])
    assert "searchCustomers" in catalog.connectors["homebase360"].definitions["actions"]


def test_committed_json_schemas_match_the_models() -> None:
    for name, schema in json_schemas().items():
        committed = (SCHEMA_DIR / f"{name}.schema.json").read_text()
        assert committed == render_schema(schema), f"{name}.schema.json drifted; run component schemas"


def test_catalog_json_has_the_documented_shape(catalog: Catalog) -> None:
    out = catalog.to_json()["connectors"]
    st = out["servicetitan"]
    assert {"label", "connection", "actions", "dataSources", "triggers"} <= set(st)
    assert st["connection"]["properties"]["clientSecret"]["x-secret"] is True
    assert set(st["actions"]["createJob"]) == {
        "label",
        "description",
        "inputs",
        "output",
        "operation",
        "examples",
    }
    assert st["actions"]["createJob"]["operation"] == {
        "id": "Jobs_Create",
        "method": "POST",
        "path": "/jpm/v2/tenant/{tenant}/jobs",
    }
    assert st["actions"]["createJob"]["output"]["properties"]["jobNumber"]["type"] == "string"
    assert st["dataSources"]["selectTechnician"]["label"] == "Select Technician"


def test_find_suggests_a_close_key(catalog: Catalog) -> None:
    with pytest.raises(UsageError, match=r"did you mean 'servicetitan\.createJob'"):
        catalog.find("actions", "servicetitan.creatJob")
    with pytest.raises(UsageError, match="unknown connector"):
        catalog.find("actions", "servicetitn.createJob")
    with pytest.raises(UsageError, match=r"CONNECTOR\.KEY"):
        catalog.find("actions", "createJob")


def test_a_trigger_definition_fits_the_format() -> None:
    sketch = parse(Trigger, json.loads((FIXTURES / "pollChangesTrigger.json").read_text()))
    assert sketch.watermark.field == "modifiedOn"
    assert sketch.request.query == {"modifiedOnOrAfter": "$state.watermark", "sort": "+ModifiedOn"}


def test_load_refuses_an_unsound_tree(tree: Path) -> None:
    (tree / "actions" / "servicetitan" / "createJob.json").write_text("{")
    with pytest.raises(DefinitionError) as caught:
        catalog_module.load(tree)
    assert caught.value.details["problems"][0]["file"] == "actions/servicetitan/createJob.json"


# --- every kind of problem, with file and JSON path -------------------------------------------------


def test_unregistered_file(tree: Path) -> None:
    shutil.copy(tree / "actions/servicetitan/createJob.json", tree / "actions/servicetitan/extra.json")
    found = only(problems(tree))
    assert (found.file, found.path) == ("actions/servicetitan/extra.json", "$")
    assert "not registered" in found.message


def test_registered_file_missing(tree: Path) -> None:
    edit(
        tree / "manifest.json",
        lambda m: m["connectors"]["servicebay"]["actions"].append("actions/servicebay/ghost.json"),
    )
    found = only(problems(tree))
    assert (found.file, found.path) == ("actions/servicebay/ghost.json", "$")
    assert "does not exist" in found.message


def test_unknown_datasource(tree: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["inputs"]["properties"]["technicianIds"]["items"]["x-datasource"] = "selectTechnicians"

    edit(tree / "actions/servicetitan/assignTechnicians.json", change)
    found = only(problems(tree))
    assert found.file == "actions/servicetitan/assignTechnicians.json"
    assert found.path == "$.inputs.properties.technicianIds.items.x-datasource"
    assert "did you mean 'selectTechnician'" in found.message


def test_bad_input_schema(tree: Path) -> None:
    edit(
        tree / "actions/homebase360/searchCustomers.json",
        lambda d: d["inputs"]["properties"]["limit"].update(type="int"),
    )
    found = problems(tree)
    assert found and all(p.file == "actions/homebase360/searchCustomers.json" for p in found)
    assert any(p.path.startswith("$.inputs.properties.limit") for p in found)


def test_duplicate_json_key(tree: Path) -> None:
    path = tree / "datasources/servicetitan/selectTechnician.json"
    path.write_text(
        path.read_text().replace('"key": "selectTechnician",', '"key": "selectTechnician", "key": "x",', 1)
    )
    found = problems(tree)
    assert (
        found[0].file,
        found[0].path,
        found[0].message,
    ) == ("datasources/servicetitan/selectTechnician.json", "$", "duplicate key 'key'")
    # The broken data source is not loaded, so what refers to it is reported as well.
    assert all("selectTechnician" in p.message or p.file.startswith("datasources") for p in found)


def test_duplicate_definition_key(tree: Path) -> None:
    edit(tree / "actions/servicetitan/listTechnicians.json", lambda d: d.update(aliases=["createJob"]))
    found = only(problems(tree))
    assert found.path == "$.key" and "duplicate action key 'createJob'" in found.message


def test_key_must_match_file_name(tree: Path) -> None:
    edit(tree / "actions/servicebay/createJob.json", lambda d: d.update(key="createTicket"))
    found = only(problems(tree))
    assert (found.file, found.path) == ("actions/servicebay/createJob.json", "$.key")


def test_reference_to_unknown_input(tree: Path) -> None:
    edit(
        tree / "actions/servicetitan/cancelJob.json",
        lambda d: d["request"]["json"].update(x="$inputs.nope"),
    )
    found = only(problems(tree))
    assert found.path == "$.request.json" and "$inputs.nope does not name an input" in found.message


def test_reference_to_unknown_connection_field(tree: Path) -> None:
    edit(
        tree / "manifest.json",
        lambda m: m["connectors"]["servicetitan"]["connection"]["headers"].update(X="$connection.nope"),
    )
    found = only(problems(tree))
    assert found.file == "manifest.json" and found.path == "$.connectors.servicetitan.connection.headers"


def test_path_placeholder_needs_a_required_input(tree: Path) -> None:
    edit(
        tree / "actions/servicebay/lookupCustomer.json",
        lambda d: d["request"].update(path="/x/{inputs.phone}"),
    )
    found = only(problems(tree))
    assert found.path == "$.request.path" and "required" in found.message


def test_format_errors_name_the_field(tree: Path) -> None:
    edit(tree / "actions/servicetitan/createPayment.json", lambda d: d["request"].pop("method"))
    found = only(problems(tree))
    assert (found.path, found.message) == ("$.request.method", "is required")


def test_a_refused_file_lists_every_problem_at_its_field(tree: Path) -> None:
    # the format's parser stops at the first problem; the models' JSON Schema names them all
    def change(d: dict[str, Any]) -> None:
        d["label"] = ""
        d["request"]["bogus"] = 1
        d["hook"] = "no"

    edit(tree / "actions/servicetitan/createPayment.json", change)
    found = [(p.path, p.message) for p in problems(tree)]
    assert found == [
        ("$.hook", f"'no' does not match {HOOK_PATTERN!r}"),
        ("$.label", "'' should be non-empty"),
        ("$.request.bogus", "is not a field here"),
    ]


def test_a_union_is_explained_by_the_branch_its_tag_names(tree: Path) -> None:
    picklist = "datasources/servicetitan/selectTechnician.json"
    edit(tree / picklist, lambda d: d.update(pagination={"style": "cursor"}))

    def own() -> list[tuple[str, str]]:  # its users then name a data source that did not load
        return [(p.path, p.message) for p in problems(tree) if p.file == picklist]

    assert own() == [("$.pagination.items", "is required")]
    edit(tree / picklist, lambda d: d.update(pagination={"style": "pages"}))
    assert own() == [("$.pagination.style", "must be one of ['cursor', 'none', 'page']")]


def test_a_rule_across_fields_keeps_the_parsers_message(tree: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d.pop("watermark", None)
        d.pop("seen", None)

    edit(tree / "triggers/servicebay/quoteAccepted.json", change)
    found = only(problems(tree))
    assert found.path == "$" and found.message.startswith("give exactly one of watermark")


def test_what_the_schema_cannot_say_is_reported_beside_what_it_says(tree: Path) -> None:
    # 5.0 is a number JSON Schema calls an integer; the parser wants a whole number written as one
    picklist = "datasources/servicetitan/selectTechnician.json"
    edit(tree / picklist, lambda d: (d["pagination"].update(pageSize=5.0), d.update(hook="no")))
    found = [(p.path, p.message) for p in problems(tree) if p.file == picklist]
    assert found == [
        ("$.hook", f"'no' does not match {HOOK_PATTERN!r}"),
        ("$.pagination.pageSize", "Expected `int`, got `float`"),
    ]


def test_a_pattern_ends_at_the_end_of_the_text() -> None:
    # Python's $ matches before a final newline; JSON Schema's does not, nor do the models
    from component.models import Environment, FlowStep

    for model, data in (
        (FlowStep, {"name": "a\n"}),
        (FlowStep, {"name": "a", "action": "hb.ping\n"}),
        (Environment, {"baseUrl": "https://vendor.example/x\n"}),
    ):
        with pytest.raises(FormatError):
            parse(model, data)
    assert parse(FlowStep, {"name": "a", "action": "hb.ping"}).action == "hb.ping"


def test_assertions_leave_out_annotations_in_schema_places_only() -> None:
    from component.vocabulary import assertions

    schema = {
        "type": "object",
        "title": "Job",
        "x-group": "g",
        "properties": {
            "description": {"type": "string", "description": "a field named description", "maxLength": 3},
            "kind": {"enum": [{"title": "data"}], "default": {"description": "data"}, "x-enumNames": ["K"]},
        },
        "anyOf": [{"required": ["kind"], "$comment": "c"}],
    }
    assert assertions(schema) == {
        "type": "object",
        "properties": {
            "description": {"type": "string", "maxLength": 3},
            "kind": {"enum": [{"title": "data"}], "default": {"description": "data"}},
        },
        "anyOf": [{"required": ["kind"]}],
    }


def test_the_format_schema_accepts_every_shipped_file() -> None:
    # the refusals are worded from these schemas: they must agree with the models on every real file
    from jsonschema import Draft202012Validator

    from component.models import json_schema

    schemas = {
        kind: Draft202012Validator(json_schema(model)) for kind, model in catalog_module.KINDS.values()
    }
    files = 0
    for folder, validator in schemas.items():
        for path in sorted((ROOT / folder).rglob("*.json")):
            assert list(validator.iter_errors(json.loads(path.read_text()))) == [], path
            files += 1
    manifest = json.loads((ROOT / "manifest.json").read_text())
    assert list(Draft202012Validator(json_schema(Manifest)).iter_errors(manifest)) == []
    assert files >= 140


def test_errors_inside_tagged_unions_name_the_field(tree: Path) -> None:
    picklist = tree / "datasources/servicetitan/selectTechnician.json"
    edit(picklist, lambda d: d["pagination"].update(pageSize=0))
    edit(tree / "manifest.json", lambda m: m["connectors"]["servicebay"]["connection"]["auth"].pop("header"))
    found = {(p.file, p.path) for p in problems(tree)}
    assert ("datasources/servicetitan/selectTechnician.json", "$.pagination.pageSize") in found
    assert ("manifest.json", "$.connectors.servicebay.connection.auth.header") in found


def test_examples_must_validate(tree: Path) -> None:
    edit(tree / "actions/servicebay/createJob.json", lambda d: d["examples"][0].update(serviceTime="soon"))
    found = only(problems(tree))
    assert found.path == "$.examples[0].serviceTime" and "date-time" in found.message


def test_unknown_filter_and_hook(tree: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["request"]["query"]["ids"] = "$inputs.ids|csv"
        d["hook"] = "tests.nowhere:fn"

    edit(tree / "actions/servicetitan/listTechnicians.json", change)
    messages = sorted(p.message for p in problems(tree))
    assert any("unknown filter 'csv'" in m for m in messages)
    assert any("cannot import tests.nowhere" in m for m in messages)


def test_definition_in_another_connectors_folder(tree: Path) -> None:
    def change(m: dict[str, Any]) -> None:
        m["connectors"]["servicebay"]["actions"].remove("actions/servicebay/createJob.json")
        m["connectors"]["homebase360"]["actions"].append("actions/servicebay/createJob.json")

    edit(tree / "manifest.json", change)
    last = len(json.loads((tree / "manifest.json").read_text())["connectors"]["homebase360"]["actions"]) - 1
    found = problems(tree)
    assert (found[0].file, found[0].path) == ("manifest.json", f"$.connectors.homebase360.actions[{last}]")
    assert "live under actions/homebase360/" in found[0].message


def test_inputs_must_be_a_closed_object(tree: Path) -> None:
    edit(tree / "actions/homebase360/searchCustomers.json", lambda d: d["inputs"].pop("additionalProperties"))
    found = only(problems(tree))
    assert found.path == "$.inputs" and "additionalProperties" in found.message


def test_schemas_use_only_the_declared_vocabulary(tree: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["inputs"]["properties"]["serviceTime"]["x-widget"] = "calendar"
        d["inputs"]["properties"]["customerName"]["format"] = "markdown"
        d["output"]["x-secret"] = "yes"

    edit(tree / "actions/servicebay/createJob.json", change)
    edit(
        tree / "manifest.json",
        lambda m: m["connectors"]["homebase360"]["connection"]["schema"]["properties"]["apiKey"].update(
            {"x-env": "lower-case"}
        ),
    )
    found = {(p.file, p.path): p.message for p in problems(tree)}
    assert found == {
        (
            "actions/servicebay/createJob.json",
            "$.inputs.properties.serviceTime.x-widget",
        ): "x-widget is not declared in component/schema/vocabulary.json",
        (
            "actions/servicebay/createJob.json",
            "$.inputs.properties.customerName.format",
        ): "format 'markdown' is not declared in component/schema/vocabulary.json",
        ("actions/servicebay/createJob.json", "$.output.x-secret"): "'yes' is not of type 'boolean'",
        (
            "manifest.json",
            "$.connectors.homebase360.connection.schema.properties.apiKey.x-env",
        ): "'lower-case' does not match '^[A-Z][A-Z0-9_]*$'",
    }


def test_a_property_named_like_a_keyword_is_not_a_keyword() -> None:
    from component import vocabulary

    schema = {"type": "object", "properties": {"x-custom": {"type": "string"}}, "default": {"x-custom": "a"}}
    assert vocabulary.problems(schema) == []


def test_checks_are_in_the_catalog_with_their_messages(catalog: Catalog) -> None:
    entries = catalog.to_json()["connectors"]
    assert entries["homebase360"]["actions"]["updateJob"]["checks"] == [
        {"rule": "after", "field": "end", "other": "start", "message": "must be after start"}
    ]
    with_checks = {
        f"{name}.{key}"
        for name, connector in entries.items()
        for kind in ("actions", "dataSources", "triggers")
        for key, entry in connector[kind].items()
        if "checks" in entry
    }
    declared = {
        definition.ref
        for connector in catalog.connectors.values()
        for kind in ("actions", "dataSources", "triggers")
        for definition in connector.definitions[kind].values()
        if definition.model.checks
    }
    assert with_checks == declared and len(declared) >= 6


def test_a_checks_own_message_is_the_one_the_catalog_shows(tree: Path) -> None:
    edit(
        tree / "actions/servicebay/createJob.json",
        lambda d: d["checks"][0].update(message="ends before it starts"),
    )
    catalog, found = catalog_module.check(tree)
    assert catalog is not None and not found
    shown = catalog.to_json()["connectors"]["servicebay"]["actions"]["createJob"]["checks"]
    assert shown == [
        {"rule": "after", "field": "endTime", "other": "serviceTime", "message": "ends before it starts"}
    ]


# --- the command ------------------------------------------------------------------------------------


def test_validate_command_reports_and_exits_non_zero(tree: Path) -> None:
    shutil.copy(tree / "actions/servicetitan/createJob.json", tree / "actions/servicetitan/extra.json")
    result = CliRunner().invoke(cli, ["--root", str(tree), "validate"])
    assert result.exit_code == 3  # unsound definitions, as the README says
    assert (
        "actions/servicetitan/extra.json: $: definition file is not registered in manifest.json"
        in result.output
    )
    as_json = CliRunner().invoke(cli, ["--root", str(tree), "validate", "--json"])
    assert json.loads(as_json.output)["problems"][0]["file"] == "actions/servicetitan/extra.json"


def test_validate_command_passes_on_the_real_tree() -> None:
    result = CliRunner().invoke(cli, ["--root", str(ROOT), "validate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True


def test_prefetch_references_are_checked(tree: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["prefetch"]["request"]["query"] = {"jobId": "$inputs.job"}
        d["prefetch"]["into"]["finish"] = "end"

    edit(tree / "actions/homebase360/updateJob.json", change)
    found = {(p.path, p.message) for p in problems(tree)}
    assert ("$.prefetch.request.query", "$inputs.job does not name an input") in found
    assert ("$.prefetch.into.finish", "'finish' does not name an input") in found
