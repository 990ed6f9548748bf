"""The mapping language and input validation."""

from __future__ import annotations

import pytest

from component import templates
from component.catalog import Catalog
from component.errors import InputValidationError
from component.runtime import Runtime, build_request, check_inputs
from component.templates import MISSING, TemplateError, format_item, get_path, render, render_path
from tests.conftest import ST_CONNECTION, FakeVendor

SCOPE = {
    "inputs": {"id": 42, "flag": False, "ids": [1, 2, 3], "name": "a/b c", "nested": {"x": 1}, "none": None},
    "connection": {"tenant": "77"},
}


# --- rendering -------------------------------------------------------------------------------------


def test_references_keep_json_types() -> None:
    assert render(
        {"a": "$inputs.id", "b": "$inputs.flag", "c": "$inputs.ids", "d": "$inputs.nested"}, SCOPE
    ) == {
        "a": 42,
        "b": False,
        "c": [1, 2, 3],
        "d": {"x": 1},
    }


def test_unset_references_are_left_out_but_null_is_kept() -> None:
    assert render({"a": "$inputs.missing", "b": "$inputs.none", "c": ["$inputs.missing", 1]}, SCOPE) == {
        "b": None,
        "c": [1],
    }
    assert render("$inputs.missing", SCOPE) is MISSING


def test_whole_scope_filters_literals_and_escape() -> None:
    assert render("$inputs", SCOPE) == SCOPE["inputs"]
    assert render("$inputs.ids|join", SCOPE) == "1,2,3"
    assert render("$inputs.id|string", SCOPE) == "42"
    assert render("$$inputs.id", SCOPE) == "$inputs.id"
    assert render("plain $inputs.id text", SCOPE) == "plain $inputs.id text"
    assert render({"n": 5, "t": True}, SCOPE) == {"n": 5, "t": True}


def test_path_placeholders_are_percent_encoded() -> None:
    assert render_path("/t/{connection.tenant}/x/{inputs.name}", SCOPE) == "/t/77/x/a%2Fb%20c"
    assert render_path("/x/{inputs.flag}", SCOPE) == "/x/false"
    with pytest.raises(TemplateError) as caught:  # a dot segment is refused, not encoded
        render_path("/x/{inputs.dots}", {"inputs": {"dots": ".."}})
    assert caught.value.field == "dots"


def test_reserved_expansion_inserts_a_path_verbatim() -> None:
    assert render_path("/jpm{+inputs.path}", {"inputs": {"path": "/jobs/1"}}) == "/jpm/jobs/1"
    assert render_path("$inputs.path", {"inputs": {"path": "/ping"}}) == "/ping"


def test_a_missing_path_value_names_the_field() -> None:
    with pytest.raises(TemplateError) as caught:
        render_path("/x/{inputs.id}", {"inputs": {}})
    assert caught.value.field == "id"


def test_dotted_paths_and_item_formatting() -> None:
    data = {"a": {"b": [{"c": 1}]}}
    assert get_path(data, "a.b.0.c") == 1
    assert get_path(data, "a.x", None) is None
    assert get_path(data, "a.b.5", "d") == "d"
    assert format_item("{name} (ID: {id})", {"id": 7, "name": "Jo"}) == "Jo (ID: 7)"
    assert format_item("{customer.name}/{missing}", {"customer": {"name": "X"}}) == "X/"


def test_references_lists_every_reference() -> None:
    found = set(templates.references({"p": "/{connection.tenant}/{+inputs.path}", "q": ["$inputs.ids|join"]}))
    assert found == {("connection", "tenant", None), ("inputs", "path", None), ("inputs", "ids", "join")}


# --- inputs ----------------------------------------------------------------------------------------


def test_inputs_errors_list_each_field_by_json_path(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.createJob")
    bad = {**definition.model.examples[0], "customerId": "12", "priority": "Whenever", "typo": 1}
    bad["appointments"] = [{"start": "2026-12-01T15:00:00Z", "end": "tomorrow"}]
    with pytest.raises(InputValidationError) as caught:
        check_inputs(definition, bad)
    paths = {p["path"] for p in caught.value.problems}
    assert paths == {"$.customerId", "$.priority", "$.typo", "$.appointments[0].end"}
    assert "$.appointments[0].end" in caught.value.message


def test_date_time_format_is_really_checked(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicebay.createJob")
    example = definition.model.examples[0]
    for bad in ("2026-12-10", "2026-13-10T14:00:00Z", "yesterday"):
        with pytest.raises(InputValidationError):
            check_inputs(definition, {**example, "serviceTime": bad})
    assert check_inputs(definition, example)["serviceTime"] == example["serviceTime"]


def test_date_times_take_every_rfc3339_spelling_and_requests_carry_the_canonical_one(
    catalog: Catalog,
) -> None:
    definition = catalog.find("actions", "servicebay.createJob")
    example = definition.model.examples[0]
    for spelled in ("2026-12-10 14:00:00Z", "2026-12-10t14:00:00z", "2026-12-10 14:00:00z"):
        checked = check_inputs(
            definition, {**example, "serviceTime": spelled, "endTime": "2026-12-10 16:30:00z"}
        )
        assert (checked["serviceTime"], checked["endTime"]) == (
            "2026-12-10T14:00:00Z",
            "2026-12-10T16:30:00Z",
        )
    offset = check_inputs(definition, {**example, "serviceTime": "2026-12-10 14:00:00.5+05:30"})
    assert offset["serviceTime"] == "2026-12-10T14:00:00.5+05:30"  # the same instant, spelled canonically
    with pytest.raises(InputValidationError, match="endTime: must be after serviceTime"):
        check_inputs(
            definition, {**example, "serviceTime": "2026-12-10 14:00:00z", "endTime": "2026-12-10t13:00:00Z"}
        )


def test_nested_date_times_are_sent_canonical(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.createJob")
    example = definition.model.examples[0]
    appointment = {**example["appointments"][0], "start": "2026-12-01 15:00:00z"}
    given = {**example, "appointments": [appointment]}
    checked = check_inputs(definition, given)
    request = build_request(definition.model, {"inputs": checked, "connection": ST_CONNECTION})
    assert request.json["appointments"][0]["start"] == "2026-12-01T15:00:00Z"  # type: ignore[index]
    assert given["appointments"][0]["start"] == "2026-12-01 15:00:00z"  # the caller's inputs are not changed


def test_canonical_form_follows_the_schema_and_leaves_other_strings_alone() -> None:
    from component.schemas import validator_for

    schema = {
        "type": "object",
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "note": {"type": "string"},
            "times": {"type": "array", "items": {"type": "string", "format": "time"}},
            "either": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
        },
        "additionalProperties": {"type": "string", "format": "date-time"},
    }
    validator = validator_for(schema)
    given = {
        "at": "2024-01-15 10:00:00z",
        "note": "2024-01-15 10:00:00z",
        "times": ["10:00:00z", "10:00:00+01:00"],
        "either": "2024-01-15t10:00:00Z",
        "extra": "2024-01-15 10:00:00+01:00",
    }
    assert validator.problems(given) == []
    assert validator.canonical(given) == {
        "at": "2024-01-15T10:00:00Z",
        "note": "2024-01-15 10:00:00z",  # not a date-time field
        "times": ["10:00:00Z", "10:00:00+01:00"],
        "either": "2024-01-15T10:00:00Z",
        "extra": "2024-01-15T10:00:00+01:00",
    }
    assert (
        validator_for({"type": "object", "properties": {"n": {"type": "string"}}}).canonical(given) is given
    )


def test_canonical_form_copies_only_what_changes() -> None:
    from component.schemas import validator_for

    schema = {
        "type": "object",
        "properties": {
            "rows": {
                "type": "array",
                "items": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}},
            },
            "other": {"type": "array", "items": {"type": "integer"}},
            "at": {"type": ["string", "null"], "format": "date-time"},
        },
    }
    validator = validator_for(schema)
    given = {"rows": [{"at": "2024-01-15T10:00:00Z"}, {"at": None}], "other": [1], "at": None}
    assert validator.canonical(given) is given
    changed = {**given, "rows": [given["rows"][0], {"at": "2024-01-15 10:00:00z"}]}
    result = validator.canonical(changed)
    assert result == {**given, "rows": [{"at": "2024-01-15T10:00:00Z"}, {"at": "2024-01-15T10:00:00Z"}]}
    assert result["other"] is given["other"] and result["rows"][0] is given["rows"][0]
    assert changed["rows"][1] == {"at": "2024-01-15 10:00:00z"}  # the instance is not changed


def test_defaults_are_filled_and_custom_messages_used(catalog: Catalog) -> None:
    search = catalog.find("actions", "homebase360.searchCustomers")
    assert check_inputs(search, {"phone": "+13038286690"})["limit"] == 25
    with pytest.raises(InputValidationError) as caught:
        check_inputs(search, {})
    assert caught.value.problems == [
        {
            "path": "$",
            "message": (
                "give customerId, phone, email or identifiers: without criteria Homebase360 returns nothing"
            ),
        }
    ]


def test_inputs_must_be_an_object(catalog: Catalog) -> None:
    with pytest.raises(InputValidationError, match="must be a JSON object"):
        check_inputs(catalog.find("actions", "servicebay.lookupCustomer"), ["+1"])


@pytest.mark.parametrize(
    ("ref", "inputs"),
    [
        ("servicetitan.createJob", {"customerId": 1}),
        ("servicetitan.assignTechnicians", {"jobAppointmentId": 1, "technicianIds": ["501"]}),
        ("servicetitan.createPayment", {"typeId": 1, "status": "Paid"}),
        ("servicetitan.rawRequest", {"urlType": "jpm", "path": "/jobs", "json": {}, "form": {"a": "b"}}),
        ("servicebay.lookupCustomer", {"email": "not-an-email"}),
        ("homebase360.searchCustomers", {"phone": "3038286690"}),
    ],
)
def test_invalid_inputs_send_nothing(
    runtime: Runtime, vendor: FakeVendor, ref: str, inputs: dict[str, object]
) -> None:
    connection = {"servicetitan": ST_CONNECTION}.get(ref.split(".")[0], {"apiKey": "k-123456", "orgId": "o"})
    with pytest.raises(InputValidationError):
        runtime.run_sync(ref, inputs, connection)
    assert vendor.requests == []


def test_validators_are_compiled_once_per_definition(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.createJob")
    assert catalog.find("actions", "servicetitan.createJob").validator is definition.validator


def test_build_request_keeps_types_and_omits_unset(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.listTechnicians")
    inputs = check_inputs(definition, {"ids": [3, 4], "includeTotal": False})
    request = build_request(definition.model, {"inputs": inputs, "connection": ST_CONNECTION})
    assert request.method == "GET"
    assert request.path == "/settings/v2/tenant/987654321/technicians"
    assert request.query == {"ids": "3,4", "includeTotal": False}
