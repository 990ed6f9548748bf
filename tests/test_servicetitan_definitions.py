"""ServiceTitan definitions: generated from the specs, request building, validation, paging, picklists.

Every action and picklist is built (dry run) from its examples, refuses bad inputs before anything
is sent, and the generator reproduces the committed files from the official specs.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx2
import pytest

from component import catalog as catalog_module
from component import templates
from component.catalog import Catalog, LoadedDefinition
from component.errors import InputValidationError
from component.http import OutgoingRequest
from component.models import PagePagination
from component.pagination import collect, keep_unique
from component.runtime import Runtime, build_request, check_inputs
from tests.conftest import ROOT, ST_API, ST_CONNECTION, FakeVendor, json_body, load_tool

TENANT = ST_CONNECTION["tenant"]
DASH = "\u2013"  # the en dash of picklist labels


GENERATOR = load_tool("servicetitan_definitions")
CATALOG = catalog_module.load(ROOT)


def _st(catalog: Catalog, kind: str) -> list[LoadedDefinition]:
    return list(catalog.connectors["servicetitan"].definitions[kind].values())  # type: ignore[index]


def _ids(definition: LoadedDefinition) -> str:
    return definition.key


# --- the generator ------------------------------------------------------------------------------


def test_committed_definitions_are_what_the_generator_writes(reference: Path) -> None:
    """Run `python tools/servicetitan_definitions.py` after a spec or overlay change."""
    assert GENERATOR.drift(reference) == []


def test_the_drift_check_notices_an_edited_definition(reference: Path, tmp_path: Path) -> None:
    files = GENERATOR.generate(reference)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    manifest = (ROOT / "manifest.json").read_text()
    (tmp_path / "manifest.json").write_text(GENERATOR.manifest_text(manifest, GENERATOR.registered(files)))
    assert GENERATOR.drift(reference, tmp_path) == []
    edited = tmp_path / "actions/servicetitan/getJob.json"
    edited.write_text(edited.read_text().replace('"integer"', '"string"', 1))
    assert GENERATOR.drift(reference, tmp_path) == ["actions/servicetitan/getJob.json"]


def test_titles_read_like_labels() -> None:
    assert GENERATOR.title_of("jobAppointmentId") == "Job Appointment ID"
    assert GENERATOR.title_of("tagTypeIds") == "Tag Type IDs"
    assert GENERATOR.title_of("externalDataApplicationGuid") == "External Data Application GUID"
    assert GENERATOR.title_of("booking_provider") == "Booking Provider"


def test_schema_conversion_keeps_types_enums_and_nullability() -> None:
    schemas = {
        "Status": {"type": "string", "enum": ["A", "B"], "x-enumNames": ["A", "B"]},
        "Thing": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer", "format": "int64"},
                "status": {"oneOf": [{"$ref": "#/components/schemas/Status"}], "nullable": True},
                "when": {"type": "string", "format": "date-time", "nullable": True},
                "customerId": {"type": "integer", "format": "int64"},
                "file": {"type": "string", "format": "binary"},
            },
        },
    }
    inputs = GENERATOR.Converter(schemas, {"customerId": "selectCustomers"}, inputs=True)
    converted = inputs.convert({"$ref": "#/components/schemas/Thing"})
    assert converted["additionalProperties"] is False and converted["required"] == ["id"]
    assert converted["properties"]["id"] == {"type": "integer", "minimum": 1}  # ids are positive
    assert converted["properties"]["status"] == {"type": ["string", "null"], "enum": ["A", "B", None]}
    assert converted["properties"]["when"] == {"type": ["string", "null"], "format": "date-time"}
    assert converted["properties"]["customerId"]["x-datasource"] == "selectCustomers"
    assert converted["properties"]["file"]["required"] == ["filename", "content"]
    output = GENERATOR.Converter(schemas, {}, inputs=False).convert({"$ref": "#/components/schemas/Thing"})
    assert "additionalProperties" not in output and "x-datasource" not in output["properties"]["customerId"]
    assert output["properties"]["id"] == {"type": "integer"}  # what the vendor returns is not bounded


def test_a_recursive_schema_is_refused() -> None:
    schemas = {"Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}
    with pytest.raises(GENERATOR.SpecError, match="recursive"):
        GENERATOR.Converter(schemas, {}, inputs=False).convert({"$ref": "#/components/schemas/Node"})


def test_manifest_lists_are_replaced_in_place() -> None:
    text = '{"a": {"actions": ["x"]}, "servicetitan": {"actions": [\n "old"\n], "dataSources": []}}'
    out = GENERATOR.manifest_text(text, {"actions": ["n1", "n2"], "dataSources": ["d"]})
    assert out.startswith('{"a": {"actions": ["x"]}')
    assert '"n1",\n        "n2"' in out and '"dataSources": [\n        "d"\n      ]' in out


# --- request building (dry run) -------------------------------------------------------------------


def test_every_action_and_picklist_builds_its_requests(catalog: Catalog) -> None:
    for definition in _st(catalog, "actions") + _st(catalog, "dataSources"):
        for example in definition.model.examples:
            request = build_request(
                definition.model, {"inputs": check_inputs(definition, example), "connection": ST_CONNECTION}
            )
            assert "{" not in request.path and "/tenant/987654321" in request.path, definition.ref
            method = definition.model.request.method
            expected = example.get("method", "GET") if method.startswith("$") else method
            assert request.method == expected, definition.ref


def test_typed_inputs_keep_their_json_types_in_the_request(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.cancelJob")
    inputs = {"id": 400002, "reasonId": 6001, "memo": "Customer cancelled"}
    request = build_request(
        definition.model, {"inputs": check_inputs(definition, inputs), "connection": ST_CONNECTION}
    )
    assert (request.method, request.path) == ("PUT", f"/jpm/v2/tenant/{TENANT}/jobs/400002/cancel")
    assert request.json == {"reasonId": 6001, "memo": "Customer cancelled"}


def test_create_appointment_sends_technician_ids_as_the_spec_says(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.createAppointment")
    example = definition.model.examples[0]
    request = build_request(
        definition.model, {"inputs": check_inputs(definition, example), "connection": ST_CONNECTION}
    )
    assert request.json["technicianIds"] == [4001] and "technicianId" not in request.json


def test_the_attachment_upload_is_multipart_with_the_file_part(runtime: Runtime, vendor: FakeVendor) -> None:
    url = f"{ST_API}/equipmentsystems/v2/tenant/{TENANT}/installed-equipment/attachments"
    vendor.route("POST", url, httpx2.Response(200, json={"path": "ie/1/nameplate.txt"}))
    content = b"Model 59SC5A\n"
    inputs = {
        "file": {
            "filename": "nameplate.txt",
            "content": base64.b64encode(content).decode(),
            "contentType": "text/plain",
        }
    }
    result = runtime.run_sync("servicetitan.createInstalledEquipmentAttachment", inputs, ST_CONNECTION)
    assert result == {"data": {"path": "ie/1/nameplate.txt"}}
    sent = vendor.api_requests[0]
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="nameplate.txt"' in sent.content and content in sent.content


def test_list_filters_paging_sort_and_custom_query_params(runtime: Runtime) -> None:
    inputs = {
        "customerId": 100001,
        "ids": [400001, 400002],
        "jobStatus": "Scheduled",
        "sort": "-CreatedOn",
        "pageSize": 100,
        "page": 2,
        "includeTotal": True,
        "customQueryParams": {"hasUnusedAppointments": True, "customerId": 1, "externalDataKey": "crm"},
    }
    preview = runtime.run_sync("servicetitan.listJobs", inputs, ST_CONNECTION, dry_run=True)
    assert preview["url"] == f"{ST_API}/jpm/v2/tenant/{TENANT}/jobs"
    assert preview["query"] == {
        "hasUnusedAppointments": "true",
        "customerId": 100001,  # the typed input wins over the escape hatch
        "externalDataKey": "crm",
        "page": 2,
        "pageSize": 100,
        "includeTotal": "true",
        "sort": "-CreatedOn",
        "ids": "400001,400002",
        "jobStatus": "Scheduled",
    }


def test_spread_key_merges_an_object_and_is_a_reference() -> None:
    template = {"$inputs.extra": "...", "a": "$inputs.a"}
    assert templates.render(template, {"inputs": {"a": 1, "extra": {"a": 0, "b": 2}}}) == {"a": 1, "b": 2}
    assert templates.render(template, {"inputs": {"a": 1}}) == {"a": 1}
    assert ("inputs", "extra", None) in set(templates.references(template))
    with pytest.raises(templates.TemplateError, match="must be an object"):
        templates.render(template, {"inputs": {"extra": [1]}})
    assert templates.render({"$$inputs.x": "..."}, {"inputs": {}}) == {"$$inputs.x": "..."}


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("definition", _st(CATALOG, "actions"), ids=_ids)
def test_bad_inputs_are_refused_before_anything_is_sent(
    runtime: Runtime, vendor: FakeVendor, definition: LoadedDefinition
) -> None:
    inputs = definition.model.inputs
    bad: dict[str, Any] = {**definition.model.examples[0], "notAField": 1}
    integers = [n for n, s in inputs["properties"].items() if s.get("type") == "integer"]
    if integers:
        bad[integers[0]] = "twelve"
    with pytest.raises(InputValidationError) as caught:
        runtime.run_sync(definition.ref, bad, ST_CONNECTION)
    paths = {p["path"] for p in caught.value.problems}
    assert "$.notAField" in paths
    assert not integers or f"$.{integers[0]}" in paths
    for name in inputs.get("required", []):
        with pytest.raises(InputValidationError, match=name):
            runtime.run_sync(
                definition.ref,
                {k: v for k, v in definition.model.examples[0].items() if k != name},
                ST_CONNECTION,
            )
    assert vendor.api_requests == []


def test_page_size_and_enums_are_checked(catalog: Catalog) -> None:
    definition = catalog.find("actions", "servicetitan.listJobs")
    for bad in ({"pageSize": 5001}, {"pageSize": 0}, {"page": 0}, {"jobStatus": "Open"}, {"ids": [1] * 51}):
        with pytest.raises(InputValidationError):
            check_inputs(definition, bad)
    created = catalog.find("actions", "servicetitan.createJob")
    with pytest.raises(InputValidationError, match="appointments"):
        check_inputs(
            created, {**created.model.examples[0], "appointments": [{"start": "soon", "end": "later"}]}
        )


# --- results --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["cancelJob", "deleteAppointment", "updateInvoice"])
def test_empty_body_successes_return_null_data(
    runtime: Runtime, vendor: FakeVendor, catalog: Catalog, key: str
) -> None:
    definition = catalog.find("actions", f"servicetitan.{key}")
    request = build_request(
        definition.model,
        {"inputs": check_inputs(definition, definition.model.examples[0]), "connection": ST_CONNECTION},
    )
    vendor.route(request.method, ST_API + request.path, httpx2.Response(200))
    assert runtime.run_sync(definition.ref, definition.model.examples[0], ST_CONNECTION) == {"data": None}
    assert definition.model.output == {"type": "null", "description": "The vendor returns an empty body."}


def test_catalog_json_shows_outputs(catalog: Catalog) -> None:
    actions = catalog.to_json()["connectors"]["servicetitan"]["actions"]
    assert actions["getJob"]["output"]["properties"]["jobNumber"] == {
        "title": "Job Number",
        "type": "string",
        "description": "Job number",
    }
    assert actions["createInvoices"]["output"]["type"] == "integer"
    assert actions["deleteCustomersContact"]["aliasOf"] == "deletCustomersContact"


# --- paging ---------------------------------------------------------------------------------------

PAGES = PagePagination(pageSize=10, total="totalCount", totalParam="includeTotal", concurrency=3)


def _pages(
    total: int, size: int = 10, duplicates: int = 0
) -> tuple[Any, list[dict[str, Any]], dict[str, int]]:
    """A fake send over ``total`` records; the first ``duplicates`` of each later page repeat earlier ids."""
    sent: list[dict[str, Any]] = []
    flight = {"now": 0, "most": 0}

    async def send(request: OutgoingRequest) -> Any:
        sent.append(dict(request.query))
        flight["now"] += 1
        flight["most"] = max(flight["most"], flight["now"])
        await asyncio.sleep(0.001 * (7 - request.query["page"] % 7))  # later pages may finish first
        flight["now"] -= 1
        page = request.query["page"]
        ids = list(range((page - 1) * size + 1, min(page * size, total) + 1))
        if page > 1:
            ids[:duplicates] = [1] * min(duplicates, len(ids))
        body = {"page": page, "hasMore": page * size < total, "data": [{"id": i} for i in ids]}
        if request.query.get("includeTotal"):
            body["totalCount"] = total
        return body

    return send, sent, flight


def test_remaining_pages_are_fetched_concurrently_in_bounded_windows_and_kept_in_order() -> None:
    send, sent, flight = _pages(95)
    first, items, truncated = asyncio.run(collect(PAGES, OutgoingRequest("GET", "/x"), send, "servicetitan"))
    assert [item["id"] for item in items] == list(range(1, 96)) and truncated is False
    assert first["totalCount"] == 95
    assert sent[0] == {"page": 1, "pageSize": 10, "includeTotal": True}
    assert sorted(q["page"] for q in sent) == list(range(1, 11))
    assert all("includeTotal" not in q for q in sent[1:])
    assert flight["most"] == 3  # concurrency, never more


def test_without_a_total_pages_follow_one_by_one() -> None:
    send, sent, flight = _pages(35)
    pagination = PagePagination(pageSize=10, total="totalCount", concurrency=3)
    _, items, _ = asyncio.run(collect(pagination, OutgoingRequest("GET", "/x"), send, "servicetitan"))
    assert len(items) == 35 and [q["page"] for q in sent] == [1, 2, 3, 4] and flight["most"] == 1


def test_the_cap_counts_unique_keys_and_stops_early() -> None:
    send, sent, _ = _pages(1000, duplicates=2)
    items, truncated = asyncio.run(_capped(send, 50))[1:]
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == 50 and truncated is True
    assert ids[:12] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14]  # page 2 starts with two repeats
    assert len(sent) <= 1 + 2 * PAGES.concurrency  # far fewer than the 100 pages there are


def test_exactly_the_cap_is_not_truncated() -> None:
    send, _, _ = _pages(50)
    _, items, truncated = asyncio.run(_capped(send, 50))
    assert len(items) == 50 and truncated is False


def by_id(item: Any) -> str:
    return str(item["id"])


async def _capped(send: Any, limit: int) -> tuple[Any, list[Any], bool]:
    return await collect(
        PAGES, OutgoingRequest("GET", "/x"), send, "servicetitan", limit, take=keep_unique(by_id)
    )


def test_fetch_all_merges_every_page_with_the_total(runtime: Runtime, vendor: FakeVendor) -> None:
    url = f"{ST_API}/crm/v2/tenant/{TENANT}/customers"

    def page(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params["page"])
        body: dict[str, Any] = {
            "page": number,
            "pageSize": 500,
            "hasMore": number < 3,
            "data": [{"id": number}],
        }
        if request.url.params.get("includeTotal") == "true":
            body["totalCount"] = 1100
        return httpx2.Response(200, json=body)

    vendor.route("GET", url, page)
    result = runtime.run_sync(
        "servicetitan.listCustomers", {"fetchAll": True, "name": "smith"}, ST_CONNECTION
    )
    assert result["data"]["data"] == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert (result["data"]["hasMore"], result["data"]["totalCount"]) == (False, 3)
    assert sorted(r.url.params["page"] for r in vendor.api_requests) == ["1", "2", "3"]
    assert all(r.url.params["name"] == "smith" for r in vendor.api_requests)


# --- picklists ------------------------------------------------------------------------------------


def test_picklist_search_narrows_on_the_server(runtime: Runtime) -> None:
    cases = {
        "selectCustomers": ("name", "crm/v2/tenant/{t}/customers"),
        "selectJob": ("number", "jpm/v2/tenant/{t}/jobs"),
        "selectInvoice": ("number", "accounting/v2/tenant/{t}/invoices"),
        "selectTechnician": ("name", "settings/v2/tenant/{t}/technicians"),
        "selectLocation": ("name", "crm/v2/tenant/{t}/locations"),
    }
    for key, (param, path) in cases.items():
        preview = runtime.picklist_sync(f"servicetitan.{key}", {"search": "ab"}, ST_CONNECTION, dry_run=True)
        assert preview["url"] == f"{ST_API}/{path.format(t=TENANT)}", key
        assert preview["query"][param] == "ab" and preview["query"]["pageSize"] == 5000, key


def test_picklist_labels_are_what_people_recognise(catalog: Catalog) -> None:
    def label(key: str, item: dict[str, Any]) -> str:
        template = catalog.find("dataSources", f"servicetitan.{key}").model.result.label  # type: ignore[attr-defined]
        return templates.format_item(template, item).strip()

    invoice = {"id": 7, "referenceNumber": "INV-7", "invoiceDate": "2026-03-01T14:35:53Z", "total": "120.00"}
    assert label("selectInvoice", {**invoice, "customer": {"id": 1, "name": "Acme"}}) == (
        f"Invoice INV-7 {DASH} Acme, 2026-03-01, total 120.00"
    )
    assert label("selectInvoice", invoice) == "Invoice INV-7, 2026-03-01, total 120.00"
    job = {"id": 9, "jobNumber": "1042", "jobStatus": "Scheduled", "customerId": 5}
    assert label("selectJob", job) == f"Job #1042 (Scheduled) {DASH} customer 5"
    customer = {"id": 1, "name": "Jo Avery", "address": {"street": "1 Main St", "city": "Denver"}}
    assert label("selectCustomers", customer) == f"Jo Avery {DASH} 1 Main St, Denver"
    appointment = {
        "id": 5,
        "appointmentNumber": "1042-1",
        "start": "2026-12-01T15:00:00Z",
        "status": "Scheduled",
    }
    assert label("selectAppointment", appointment) == "Appointment 1042-1, 2026-12-01 (Scheduled)"
    assert label("selectUserRole", {"id": 1, "name": "Dispatcher", "employeeType": "Employee"}) == (
        "Dispatcher (Employee)"
    )


def test_picklist_cap_counts_unique_keys(runtime: Runtime, vendor: FakeVendor) -> None:
    url = f"{ST_API}/jpm/v2/tenant/{TENANT}/job-cancel-reasons"
    vendor.route(
        "GET",
        url,
        httpx2.Response(
            200,
            json={
                "page": 1,
                "hasMore": False,
                "data": [{"id": 1, "name": "A"}, {"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
            },
        ),
    )
    assert runtime.picklist_sync("servicetitan.selectJobCancelReason", {}, ST_CONNECTION) == {
        "result": [{"key": "1", "label": "A"}, {"key": "2", "label": "B"}],
        "truncated": False,
    }


def test_customer_contact_picklist_reads_the_customers_contacts(runtime: Runtime, vendor: FakeVendor) -> None:
    url = f"{ST_API}/crm/v2/tenant/{TENANT}/customers/100001/contacts"
    data = [{"id": 300001, "type": "Email", "value": "a@example.com", "memo": None}]
    vendor.route("GET", url, httpx2.Response(200, json={"page": 1, "hasMore": False, "data": data}))
    result = runtime.picklist_sync("servicetitan.selectCustomerContact", {"id": 100001}, ST_CONNECTION)
    assert result["result"] == [{"key": "300001", "label": "Email: a@example.com"}]
    assert vendor.api_requests[0].method == "GET" and json_body(vendor.api_requests[0]) is None


def test_a_picklist_asks_for_the_pages_its_cap_needs_at_once() -> None:
    send, sent, flight = _pages(12_000, size=5000)
    pagination = PagePagination(pageSize=5000, total="totalCount", totalParam="includeTotal", concurrency=4)
    request = OutgoingRequest("GET", "/x")
    _, items, truncated = asyncio.run(
        collect(pagination, request, send, "servicetitan", 10_000, eager=True, take=keep_unique(by_id))
    )
    assert len(items) == 10_000 and truncated is True
    assert [q["page"] for q in sent] == [1, 2] and flight["most"] == 2  # both pages in one round trip
    assert sent[0].get("includeTotal") is True and "includeTotal" not in sent[1]
