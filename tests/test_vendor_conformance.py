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

from component import picklists
from component.catalog import Catalog, LoadedDefinition
from component.http import NO_BODY
from component.runtime import build_request, check_inputs
from component.templates import SPREAD
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
        query = {k: v for k, v in (definition.model.request.query or {}).items() if v != SPREAD}
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
            if request.files:  # a file upload: multipart parts named as the spec's body fields
                fields = resolve(operation.body_schema, operation.body_schema)["properties"]
                assert request.json is NO_BODY and set(request.files) <= set(fields), definition.ref
                checked += 1
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


def _body_inputs(definition: LoadedDefinition) -> dict[str, Any] | None:
    """The part of the input schema that becomes the JSON body, named as the body's fields."""
    body = definition.model.request.json_body
    inputs = definition.model.inputs
    if body == "$inputs":
        return inputs
    if not isinstance(body, dict):
        return None
    properties = {}
    for field, template in body.items():
        assert isinstance(template, str) and template.startswith("$inputs."), (definition.ref, field)
        properties[field] = inputs["properties"][template.removeprefix("$inputs.")]
    required = [f for f, t in body.items() if t.removeprefix("$inputs.") in inputs.get("required", [])]
    return {"type": "object", "properties": properties, "required": required}


def test_body_inputs_agree_with_the_spec_body(reference: Path, catalog: Catalog) -> None:
    compared = 0
    for definition in _st_definitions(catalog):
        operation = _operation(reference, definition)
        ours = _body_inputs(definition)
        if ours is None or operation.body_schema is None:
            continue
        problems = _compare(ours, operation.body_schema, operation.body_schema, "$")
        assert not problems, f"{definition.ref} vs {operation.operation_id}: {problems}"
        compared += 1
    assert compared >= 25


def test_assign_technicians_body_fields_match_the_spec(reference: Path, catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.assignTechnicians")
    operation = _operation(reference, definition)
    body = resolve(operation.body_schema or {}, operation.body_schema or {})
    ours = _body_inputs(definition) or {}
    assert set(ours["properties"]) == set(body["properties"])
    assert set(ours["required"]) >= set(body["required"])


def test_a_misspelt_body_field_would_be_caught(reference: Path, catalog: Catalog) -> None:
    """The conformance check itself can fail: a body with an unknown field is rejected."""
    operation = operations(reference)["Jobs_Create"]
    example = dict(catalog.find("actions", "servicetitan.createJob").model.examples[0])
    example["customerID"] = example.pop("customerId")
    validator = Draft202012Validator(operation.body_schema or {})
    assert not validator.is_valid(example)


# --- the complete connector ---------------------------------------------------------------------

SEED_ACTIONS = [
    "assignTechnicians",
    "cancelJob",
    "createAppointment",
    "createBookingByProvider",
    "createCustomer",
    "createCustomerContact",
    "createInstalledEquipment",
    "createInstalledEquipmentAttachment",
    "createInvoices",
    "createJob",
    "createLocation",
    "createPayment",
    "createProject",
    "createTechnician",
    "deleteAppointment",
    "deletCustomersContact",
    "deleteInvoiceItem",
    "getAppointment",
    "getBookingByProvider",
    "getBookingByTenant",
    "getCustomer",
    "getInstalledEquipment",
    "getJob",
    "getLocation",
    "getProject",
    "getTechnician",
    "listAppointmentsAssignment",
    "listAppointments",
    "listBookingByProvider",
    "listBookingByTenant",
    "listBusinessUnits",
    "listCustomersContact",
    "listCustomers",
    "listInstalledEquipment",
    "listInstalledEquipmentAttachments",
    "listInvoices",
    "listJobCancelReasons",
    "listJobs",
    "listLocations",
    "listPayments",
    "listProjects",
    "listTechnicians",
    "listUserRoles",
    "rawRequest",
    "unassignTechnicians",
    "updateBooking",
    "updateCustomer",
    "updateCustomerContact",
    "updateInstalledEquipment",
    "updateInvoice",
    "updateInvoiceCustomFields",
    "updateInvoiceItems",
    "updateJob",
    "updateLocation",
    "updatePayment",
    "updatePaymentCustomFields",
    "updateProject",
    "updateTechnician",
]
SEED_PICKLISTS = [
    "selectAppointment",
    "selectBooking",
    "selectBusinessUnit",
    "selectCustomerContact",
    "selectCustomers",
    "selectInstalledEquipment",
    "selectInvoice",
    "selectJob",
    "selectJobCancelReason",
    "selectLocation",
    "selectPayment",
    "selectProject",
    "selectTechnician",
    "selectUserRole",
    # beyond the seed: the lists that required ids are picked from
    "selectCampaign",
    "selectCustomerCustomFieldType",
    "selectEquipmentCustomFieldType",
    "selectJobCustomFieldType",
    "selectLocationCustomFieldType",
    "selectProjectCustomFieldType",
    "selectJobType",
    "selectPaymentType",
    "selectProjectStatus",
    "selectProjectSubStatus",
    "selectProjectType",
    "selectTagType",
]
# Inputs naming these resources must offer the resource's picklist.
PICKLIST_OF = {
    "customerId": "selectCustomers",
    "locationId": "selectLocation",
    "technicianId": "selectTechnician",
    "technicianIds": "selectTechnician",
    "businessUnitId": "selectBusinessUnit",
    "jobId": "selectJob",
    "appointmentId": "selectAppointment",
    "jobAppointmentId": "selectAppointment",
    "projectId": "selectProject",
    "invoiceId": "selectInvoice",
    "bookingId": "selectBooking",
    "roleId": "selectUserRole",
    "reasonId": "selectJobCancelReason",
    "contactId": "selectCustomerContact",
    "jobTypeId": "selectJobType",
    "campaignId": "selectCampaign",
    "tagTypeIds": "selectTagType",
    "projectTypeId": "selectProjectType",
}


def test_every_seed_action_and_picklist_exists_with_its_key(catalog: Catalog) -> None:
    connector = catalog.connectors["servicetitan"]
    assert sorted(connector.definitions["actions"]) == sorted(SEED_ACTIONS)
    assert sorted(connector.definitions["dataSources"]) == sorted(SEED_PICKLISTS)
    assert catalog.find("actions", "servicetitan.deleteCustomersContact").key == "deletCustomersContact"
    unnamed = [k for k, d in connector.definitions["actions"].items() if not d.model.request.operationId]
    assert unnamed == ["rawRequest"]


def _input_type(schema: dict[str, Any]) -> set[str]:
    return types_of(schema) or ({"string"} if "enum" in schema else set())


def test_path_and_query_parameters_are_typed_inputs(reference: Path, catalog: Catalog) -> None:
    for definition in _st_definitions(catalog):
        operation = _operation(reference, definition)
        properties = definition.model.inputs["properties"]
        required = set(definition.model.inputs.get("required", []))
        query = definition.model.request.query or {}
        for name, param in operation.parameters.items():
            where = f"{definition.ref}: {param['in']} parameter {name}"
            spec = param.get("schema", {})
            if param["in"] == "path" and name != "tenant":
                assert name in properties and name in required, where
                assert _input_type(properties[name]) <= types_of(spec) | {"null"}, where
            if param["in"] != "query" or not str(query.get(name, "")).startswith("$inputs."):
                continue
            input_name = query[name].removeprefix("$inputs.").split("|")[0]
            ours = properties[input_name]
            if param.get("required"):
                assert input_name in required, where
            if "integer" in types_of(spec):
                assert _input_type(ours) == {"integer"}, where
            if spec.get("format") == "date-time":
                assert ours.get("format") == "date-time", where
            if spec.get("type") == "string" and name.endswith(("ids", "Ids")):
                assert ours["type"] == "array" and query[name].endswith("|join"), where


def _walk(schema: Any, path: str) -> Any:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{path}.{name}", name, sub
            yield from _walk(sub, f"{path}.{name}")
        if isinstance(schema.get("items"), dict):
            yield from _walk(schema["items"], f"{path}[]")


def test_id_inputs_name_their_picklist(catalog: Catalog) -> None:
    checked = 0
    for definition in catalog.connectors["servicetitan"].definitions["actions"].values():
        for where, name, schema in _walk(definition.model.inputs, definition.ref):
            if name not in PICKLIST_OF:
                continue
            target = schema["items"] if "array" in types_of(schema) else schema
            if "integer" in types_of(target):
                link = picklists.parse(target.get("x-datasource"))
                assert link is not None and link.data_source == PICKLIST_OF[name], where
                checked += 1
    assert checked >= 60


def _top(schema: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    return types_of(schema), set(schema.get("properties", {})), set(schema.get("required", []))


def test_outputs_are_the_spec_responses(reference: Path, catalog: Catalog) -> None:
    specs = operations(reference, closed=False)  # responses may carry more fields than the spec lists
    for definition in catalog.connectors["servicetitan"].definitions["actions"].values():
        operation_id = definition.model.request.operationId
        if operation_id is None:
            continue
        output = definition.model.output
        assert output is not None, definition.ref
        answers = specs[operation_id].responses
        found = answers[200] if 200 in answers else answers.get(201)
        if found is None:  # no body in the spec; a file download declares text instead
            body = definition.model.response.body  # type: ignore[attr-defined]
            assert output["type"] == ("string" if body == "text" else "null"), definition.ref
            continue
        response = resolve(found, found)
        assert _top(output) == _top(response), definition.ref
        Draft202012Validator.check_schema(output)
        if "data" in output.get("properties", {}):
            data = output["properties"]["data"]["items"]
            record = resolve(response["properties"]["data"]["items"], found)
            assert set(data["properties"]) == set(record["properties"]), definition.ref
