"""Picklists, complete and linked.

Every input a user fills with a vendor id names the picklist that offers its values (``x-datasource``),
and a picklist that needs an input of its own says which field of the form supplies it. The count of
id inputs without a picklist is reported here; each is an exception listed below with its reason.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from component import catalog as catalog_module
from component import picklists
from component.catalog import Catalog
from component.sandbox import Sandbox
from tests.conftest import ROOT
from tests.test_catalog import edit, only, problems, tree  # noqa: F401  (the fixture)

ID_NAME = re.compile(r"^(id|ids|[A-Za-z]+Id|[A-Za-z]+Ids)$")
_NO_LIST = "the vendor's reference lists no endpoint to pick it from"

# Id inputs without a picklist: (connector, field name) -> why. Nothing required at the top of a form
# is here except where the vendor offers no list to pick from.
EXCEPTIONS: dict[tuple[str, str], str] = {
    # ServiceTitan: the ids of lists outside the reference specs' modules (pricebook, tax, employees …)
    ("servicetitan", "taxZoneId"): f"tax zones: {_NO_LIST} (the tax module is not in the specs)",
    ("servicetitan", "budgetCodeId"): f"budget codes: {_NO_LIST}",
    ("servicetitan", "skuId"): f"pricebook SKUs: {_NO_LIST} (the pricebook module is not in the specs)",
    ("servicetitan", "itemGroupRootId"): f"pricebook item groups: {_NO_LIST}",
    (
        "servicetitan",
        "inventoryLocationId",
    ): f"inventory locations: {_NO_LIST} (inventory is not in the specs)",
    ("servicetitan", "durationBillingId"): f"duration billing items: {_NO_LIST}",
    ("servicetitan", "paymentTermId"): f"payment terms: {_NO_LIST}",
    ("servicetitan", "equipmentTypeId"): f"equipment types: {_NO_LIST}",
    ("servicetitan", "assignedToId"): f"an employee: {_NO_LIST} (employees are not in the specs)",
    ("servicetitan", "assignedToIds"): f"employees: {_NO_LIST}",
    ("servicetitan", "employeeId"): f"an employee: {_NO_LIST}",
    ("servicetitan", "projectManagerIds"): f"project managers are employees: {_NO_LIST}",
    ("servicetitan", "userIds"): f"login user ids: {_NO_LIST}",
    (
        "servicetitan",
        "aadUserId",
    ): "an Azure AD user id from the customer's directory, not a ServiceTitan record",
    ("servicetitan", "leadId"): f"leads: {_NO_LIST}",
    ("servicetitan", "partnerLeadCallId"): f"partner lead calls: {_NO_LIST}",
    ("servicetitan", "batchId"): f"accounting batches: {_NO_LIST}",
    ("servicetitan", "depositIds"): f"deposits: {_NO_LIST}",
    ("servicetitan", "estimateIds"): f"estimates: {_NO_LIST} (the sales module is not in the specs)",
    ("servicetitan", "createdFromEstimateId"): f"estimates: {_NO_LIST}",
    ("servicetitan", "exportId"): "an id in the tenant's accounting export, set by the caller",
    ("servicetitan", "externalId"): "the caller's own id for the booking, not a ServiceTitan record",
    ("servicetitan", "barcodeId"): "the barcode printed on the equipment, typed or scanned",
    ("servicetitan", "typeId"): (
        "an invoice's type, or a technician's custom field type: the specs list neither (payment types "
        "and the custom field types of customers, locations, jobs, projects and equipment have picklists)"
    ),
    ("servicetitan", "id"): (
        "the id of an item or payment inside an invoice, or of a custom field value on equipment, being "
        "updated: read from the record itself"
    ),
    (
        "servicetitan",
        "itemId",
    ): "an invoice item: items are read from their invoice, which has no list of items",
    ("servicetitan", "ids"): "appointment assignment ids: the assignments are read by appointment or job",
    # Servicebay: its API reference has no list of these
    ("servicebay", "taxRateId"): f"tax rates: {_NO_LIST}",
    ("servicebay", "categoryId"): f"inventory categories: {_NO_LIST}",
    ("servicebay", "assignedToId"): f"organisation users (technicians): {_NO_LIST}",
}
# Reported: the number of id inputs (at every depth, in every definition) without a picklist.
UNLINKED = 85


@dataclass(frozen=True)
class IdInput:
    ref: str
    connector: str
    path: str
    name: str
    required: bool
    top: bool
    link: picklists.Link | None


def _walk(schema: Any, path: str, top: bool) -> Iterator[tuple[str, str, dict[str, Any], bool, bool]]:
    """Each declared property: (path, name, schema, required, at the top of the form)."""
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required", []))
    for name, sub in properties.items():
        where = f"{path}.properties.{name}"
        yield where, name, sub, name in required, top
        yield from _walk(sub, where, False)
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{path}.items", False)
    for keyword in ("anyOf", "oneOf"):
        for index, branch in enumerate(schema.get(keyword, [])):
            # a branch that only restates declared properties (a conditional requirement) adds no input
            if isinstance(branch, dict) and not set(branch.get("properties", {})) <= set(properties):
                yield from _walk(branch, f"{path}.{keyword}[{index}]", top)


def id_inputs(catalog: Catalog) -> list[IdInput]:
    found = []
    for connector in catalog.connectors.values():
        for kind in ("actions", "dataSources", "triggers"):
            for definition in connector.definitions[kind].values():  # type: ignore[index]
                if definition.ref.endswith(".rawRequest"):
                    continue
                for path, name, schema, required, top in _walk(definition.model.inputs, "$.inputs", True):
                    if not ID_NAME.match(name):
                        continue
                    target = schema.get("items", schema) if schema.get("type") == "array" else schema
                    link = (
                        picklists.parse(target.get(picklists.KEYWORD)) if isinstance(target, dict) else None
                    )
                    found.append(IdInput(definition.ref, connector.name, path, name, required, top, link))
    return found


def test_every_id_input_has_a_picklist_or_a_listed_reason(catalog: Catalog) -> None:
    inputs = id_inputs(catalog)
    unlinked = [i for i in inputs if i.link is None]
    unexplained = sorted(f"{i.ref} {i.path}" for i in unlinked if (i.connector, i.name) not in EXCEPTIONS)
    assert unexplained == [], "id inputs without a picklist and without a listed reason"
    used = {(i.connector, i.name) for i in unlinked}
    assert sorted(set(EXCEPTIONS) - used) == [], "listed exceptions that no longer occur"
    linked = len(inputs) - len(unlinked)
    print(f"\nid inputs: {len(inputs)}, with a picklist: {linked}, without: {len(unlinked)}")
    assert len(unlinked) == UNLINKED, f"{len(unlinked)} id inputs without a picklist (was {UNLINKED})"


def test_required_top_level_ids_all_have_a_picklist_where_the_vendor_lists_them(catalog: Catalog) -> None:
    missing = sorted(
        f"{i.ref}.{i.name}"
        for i in id_inputs(catalog)
        if i.required
        and i.top
        and i.link is None
        and _NO_LIST not in EXCEPTIONS.get((i.connector, i.name), "")
    )
    # the item of an invoice, and a ServiceTitan booking's own external id, are not picked from a list
    assert missing == [
        "servicetitan.createBookingByProvider.externalId",
        "servicetitan.deleteInvoiceItem.itemId",
    ]


def test_the_picklists_the_builder_asked_for_exist_and_are_linked(catalog: Catalog) -> None:
    create_job = catalog.find("actions", "servicetitan.createJob").model.inputs["properties"]
    assert create_job["jobTypeId"]["x-datasource"] == "selectJobType"
    assert create_job["campaignId"]["x-datasource"] == "selectCampaign"
    assert create_job["tagTypeIds"]["items"]["x-datasource"] == "selectTagType"
    customer = catalog.find("actions", "servicetitan.createCustomer").model.inputs["properties"]
    assert customer["customFields"]["items"]["properties"]["typeId"]["x-datasource"] == (
        "selectCustomerCustomFieldType"
    )
    location = customer["locations"]["items"]["properties"]["customFields"]["items"]["properties"]
    assert location["typeId"]["x-datasource"] == "selectLocationCustomFieldType"
    payment = catalog.find("actions", "servicetitan.createPayment").model.inputs["properties"]
    assert payment["typeId"]["x-datasource"] == "selectPaymentType"
    contact = catalog.find("actions", "servicetitan.updateCustomerContact").model.inputs["properties"]
    assert contact["contactId"]["x-datasource"] == {
        "dataSource": "selectCustomerContact",
        "inputs": {"id": "$inputs.id"},
    }


def test_every_link_resolves_to_a_data_source_whose_inputs_it_fills(catalog: Catalog) -> None:
    count = 0
    for connector in catalog.connectors.values():
        sources = {key: d.model.inputs for key, d in connector.definitions["dataSources"].items()}
        for kind in ("actions", "dataSources", "triggers"):
            for definition in connector.definitions[kind].values():  # type: ignore[index]
                inputs = definition.model.inputs
                assert picklists.problems(inputs, sources, connector.name) == [], definition.ref
                for _, link in picklists.links(inputs):
                    count += 1
                    own = sources[link.data_source]
                    needed = set(own.get("required", [])) - {picklists.SEARCH}
                    assert needed <= set(link.inputs), definition.ref
                    assert set(link.inputs.values()) <= set(inputs["properties"]), definition.ref
    assert count > 150


def _linked_examples(catalog: Catalog) -> list[tuple[str, str, dict[str, Any]]]:
    """(action ref, picklist ref, the picklist's inputs filled from the action's example)."""
    found = []
    for connector in catalog.connectors.values():
        for definition in connector.definitions["actions"].values():
            for _, link in picklists.links(definition.model.inputs):
                if not link.inputs:
                    continue
                for example in definition.model.examples:
                    filled = {name: example[field] for name, field in link.inputs.items() if field in example}
                    if len(filled) == len(link.inputs):
                        found.append((definition.ref, f"{connector.name}.{link.data_source}", filled))
    return found


def test_a_linked_picklist_runs_with_the_inputs_its_link_names(catalog: Catalog) -> None:
    cases = _linked_examples(catalog)
    assert {ref for ref, _, _ in cases} >= {
        "servicetitan.updateCustomerContact",
        "servicetitan.deletCustomersContact",
    }
    sandbox = Sandbox()
    runtime = sandbox.runtime()
    for action, picklist, inputs in cases:
        connection = sandbox.connection(picklist.split(".")[0])
        result = asyncio.run(runtime.picklist(picklist, inputs, connection))
        assert result["result"], f"{action}: {picklist} offers nothing for {inputs}"
        if picklist.endswith(".selectCustomerContact"):  # the example's contact is among those offered
            example = next(e for e in catalog.find("actions", action).model.examples if "contactId" in e)
            assert str(example["contactId"]) in {entry["key"] for entry in result["result"]}, action


def test_a_linked_picklist_offers_only_what_its_input_selects() -> None:
    sandbox = Sandbox()
    runtime, connection = sandbox.runtime(), sandbox.connection("servicetitan")
    every = asyncio.run(runtime.picklist("servicetitan.selectProjectSubStatus", {}, connection))["result"]
    some = asyncio.run(runtime.picklist("servicetitan.selectProjectSubStatus", {"statusId": 2}, connection))[
        "result"
    ]
    assert 0 < len(some) < len(every)
    assert all(entry["label"].startswith("In Progress: ") for entry in some)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("servicetitan.selectJobType", "AC Repair (High)"),
        ("servicetitan.selectCampaign", "Google Ads"),
        ("servicetitan.selectTagType", "VIP"),
        ("servicetitan.selectPaymentType", "Cash"),
        ("servicetitan.selectProjectType", "Remodel"),
        ("servicetitan.selectProjectStatus", "Open"),
        ("servicetitan.selectProjectSubStatus", "Open: Waiting on Permit"),
        ("servicetitan.selectJobCustomFieldType", "Gate Code (Text)"),
        ("servicetitan.selectEquipmentCustomFieldType", "Gate Code (Text)"),
    ],
)
def test_the_new_picklists_run_against_the_sandbox(ref: str, expected: str) -> None:
    sandbox = Sandbox()
    result = asyncio.run(sandbox.runtime().picklist(ref, {}, sandbox.connection("servicetitan")))
    assert result["result"][0]["label"] == expected
    assert result["truncated"] is False
    searched = asyncio.run(
        sandbox.runtime().picklist(ref, {"search": expected[:4]}, sandbox.connection("servicetitan"))
        if "search" in _inputs(ref)
        else sandbox.runtime().picklist(ref, {}, sandbox.connection("servicetitan"))
    )
    assert expected in {entry["label"] for entry in searched["result"]}


def _inputs(ref: str) -> dict[str, Any]:
    data: dict[str, Any] = catalog_module.load(ROOT).find("dataSources", ref).model.inputs["properties"]
    return data


# --- a link that does not resolve is refused by `component validate` -------------------------------------


def _set_contact_link(value: Any) -> Any:
    def change(d: dict[str, Any]) -> None:
        d["inputs"]["properties"]["contactId"]["x-datasource"] = value

    return change


CONTACT = "actions/servicetitan/updateCustomerContact.json"
AT = "$.inputs.properties.contactId.x-datasource"


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ("selectCustomerContact", AT, "selectCustomerContact needs id: name where it comes from"),
        ({"dataSource": "selectContact", "inputs": {"id": "$inputs.id"}}, AT, "did you mean"),
        (
            {"dataSource": "selectCustomerContact", "inputs": {"id": "$inputs.customer"}},
            f"{AT}.inputs.id",
            "$inputs.customer is not a field of this form",
        ),
        (
            {"dataSource": "selectCustomerContact", "inputs": {"id": "$inputs.id", "kind": "$inputs.id"}},
            f"{AT}.inputs.kind",
            "selectCustomerContact has no input 'kind'",
        ),
    ],
)
def test_a_broken_link_is_refused(tree: Path, value: Any, path: str, message: str) -> None:  # noqa: F811
    edit(tree / CONTACT, _set_contact_link(value))
    found = only(problems(tree))
    assert (found.file, found.path) == (CONTACT, path)
    assert message in found.message


def test_a_link_of_the_wrong_shape_is_refused_by_the_vocabulary(tree: Path) -> None:  # noqa: F811
    edit(tree / CONTACT, _set_contact_link({"dataSource": "selectCustomerContact", "inputs": {"id": "id"}}))
    found = problems(tree)
    assert found and all(p.file == CONTACT for p in found), [str(p) for p in found]
    assert any(p.path.startswith(AT) for p in found)


def test_the_catalog_shows_the_link() -> None:
    from click.testing import CliRunner

    from component.cli import cli

    out = CliRunner().invoke(cli, ["catalog", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    action = data["connectors"]["servicetitan"]["actions"]["deletCustomersContact"]
    assert action["inputs"]["properties"]["contactId"]["x-datasource"]["inputs"] == {"id": "$inputs.id"}
