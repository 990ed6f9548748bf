"""The vertical slice end to end against a fake vendor: exact requests and results, per vendor."""

from __future__ import annotations

import asyncio
import base64
import shutil
from pathlib import Path

import httpx2
import pytest

from component import catalog as catalog_module
from component.catalog import Catalog
from component.errors import InputValidationError
from component.runtime import Runtime
from tests.conftest import (
    HB_API,
    HB_CONNECTION,
    HB_KEY,
    ROOT,
    SB_API,
    SB_CONNECTION,
    SB_KEY,
    ST_API,
    ST_APP_KEY,
    ST_CONNECTION,
    FakeVendor,
    json_body,
)

TENANT = ST_CONNECTION["tenant"]


def example(catalog: Catalog, ref: str) -> dict[str, object]:
    return dict(catalog.find("actions", ref).model.examples[0])


# --- ServiceTitan ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "url"),
    [
        ("servicetitan.createJob", f"{ST_API}/jpm/v2/tenant/{TENANT}/jobs"),
        (
            "servicetitan.assignTechnicians",
            f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians",
        ),
        ("servicetitan.createPayment", f"{ST_API}/accounting/v2/tenant/{TENANT}/payments"),
    ],
)
def test_servicetitan_writes(
    runtime: Runtime, vendor: FakeVendor, catalog: Catalog, ref: str, url: str
) -> None:
    vendor.route("POST", url, httpx2.Response(200, json={"id": 99}))
    inputs = example(catalog, ref)
    assert runtime.run_sync(ref, inputs, ST_CONNECTION) == {"data": {"id": 99}}
    (request,) = vendor.api_requests
    assert (request.method, str(request.url)) == ("POST", url)
    assert json_body(request) == inputs
    assert request.headers["content-type"] == "application/json"
    assert request.headers["st-app-key"] == ST_APP_KEY
    assert request.headers["authorization"] == "Bearer tok-1"


def test_servicetitan_empty_body_is_null(runtime: Runtime, vendor: FakeVendor, catalog: Catalog) -> None:
    vendor.route("POST", f"{ST_API}/accounting/v2/tenant/{TENANT}/payments", httpx2.Response(200))
    assert runtime.run_sync("servicetitan.createPayment", {"typeId": 1}, ST_CONNECTION) == {"data": None}
    assert json_body(vendor.api_requests[0]) == {"typeId": 1}


def test_servicetitan_production_hosts(runtime: Runtime, catalog: Catalog) -> None:
    connection = {**ST_CONNECTION, "environment": "production"}
    preview = runtime.run_sync(
        "servicetitan.createJob", example(catalog, "servicetitan.createJob"), connection, dry_run=True
    )
    assert preview["url"] == f"https://api.servicetitan.io/jpm/v2/tenant/{TENANT}/jobs"


def test_servicetitan_raw_request(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route("GET", f"{ST_API}/jpm/v2/tenant/{TENANT}/jobs/42", httpx2.Response(200, json={"id": 42}))
    inputs = {
        "urlType": "jpm",
        "path": "/jobs/42",
        "query": {"externalDataApplicationGuid": "g"},
        "headers": {"X-Trace": "t"},
    }
    assert runtime.run_sync("servicetitan.rawRequest", inputs, ST_CONNECTION) == {"data": {"id": 42}}
    (request,) = vendor.api_requests
    assert request.url.params["externalDataApplicationGuid"] == "g"
    assert request.headers["x-trace"] == "t"
    assert request.headers["st-app-key"] == ST_APP_KEY


def test_servicetitan_raw_request_with_json_body(runtime: Runtime, vendor: FakeVendor) -> None:
    url = f"{ST_API}/jpm/v2/tenant/{TENANT}/jobs/42"
    vendor.route("PATCH", url, httpx2.Response(200, json={"id": 42, "summary": "s"}))
    inputs = {"urlType": "jpm", "path": "/jobs/42", "method": "PATCH", "json": {"summary": "s"}}
    assert runtime.run_sync("servicetitan.rawRequest", inputs, ST_CONNECTION)["data"]["summary"] == "s"
    assert json_body(vendor.api_requests[0]) == {"summary": "s"}


def test_select_technician(runtime: Runtime, vendor: FakeVendor) -> None:
    url = f"{ST_API}/settings/v2/tenant/{TENANT}/technicians"
    page = {
        "page": 1,
        "pageSize": 1000,
        "hasMore": False,
        "data": [{"id": 1, "name": "John Doe"}, {"id": 2, "name": "Jane Doe"}],
    }
    vendor.route("GET", url, httpx2.Response(200, json=page))
    assert runtime.picklist_sync("servicetitan.selectTechnician", {}, ST_CONNECTION) == {
        "result": [{"key": "1", "label": "John Doe (ID: 1)"}, {"key": "2", "label": "Jane Doe (ID: 2)"}],
        "truncated": False,
    }
    params = vendor.api_requests[0].url.params
    assert dict(params) == {"page": "1", "pageSize": "5000", "includeTotal": "true"}


# --- Servicebay ------------------------------------------------------------------------------------


def test_servicebay_lookup_and_book(runtime: Runtime, vendor: FakeVendor, catalog: Catalog) -> None:
    customer = {"id": "abc123", "firstName": "Jane", "lastName": "Doe"}
    vendor.route(
        "GET",
        f"{SB_API}/organisations/org-1/customers/lookup",
        httpx2.Response(200, json={"success": True, "data": customer}),
    )
    vendor.route(
        "POST",
        f"{SB_API}/organisations/org-1/tickets",
        httpx2.Response(201, json={"success": True, "data": {"id": "t1"}}),
    )
    assert runtime.run_sync("servicebay.lookupCustomer", {"phone": "+1234567890"}, SB_CONNECTION) == {
        "data": customer
    }
    booking = example(catalog, "servicebay.createJob")
    assert runtime.run_sync("servicebay.createJob", booking, SB_CONNECTION) == {"data": {"id": "t1"}}
    lookup, book = vendor.requests
    assert str(lookup.url) == f"{SB_API}/organisations/org-1/customers/lookup?phone=%2B1234567890"
    assert lookup.headers["x-api-key"] == SB_KEY
    assert json_body(book) == booking


def test_servicebay_lookup_no_match_is_null(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route(
        "GET",
        f"{SB_API}/organisations/org-1/customers/lookup",
        httpx2.Response(404, json={"success": False, "error": "Customer not found"}),
    )
    assert runtime.run_sync("servicebay.lookupCustomer", {"email": "jane@example.com"}, SB_CONNECTION) == {
        "data": None
    }


def test_servicebay_org_id_is_encoded_in_the_path(runtime: Runtime) -> None:
    preview = runtime.run_sync(
        "servicebay.lookupCustomer", {"phone": "+1555"}, {"apiKey": "key-1234", "orgId": "a/b"}, dry_run=True
    )
    assert preview["url"] == f"{SB_API}/organisations/a%2Fb/customers/lookup"


# --- Homebase360 -----------------------------------------------------------------------------------


def test_homebase360_search(runtime: Runtime, vendor: FakeVendor) -> None:
    customers = [{"customerId": "Ekk9", "displayName": "John Smith"}]
    vendor.route(
        "GET", f"{HB_API}/customers", httpx2.Response(200, json={"success": True, "data": customers})
    )
    result = runtime.run_sync(
        "homebase360.searchCustomers", {"identifiers": ["Ekk9", "+13038286690"]}, HB_CONNECTION
    )
    assert result == {"data": customers}
    (request,) = vendor.requests
    assert dict(request.url.params) == {"identifiers": "Ekk9,+13038286690", "limit": "25"}
    assert request.headers["x-api-key"] == HB_KEY


def test_homebase360_raw_ping(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route(
        "GET",
        f"{HB_API}/ping",
        httpx2.Response(200, json={"success": True, "data": {"message": "API authentication successful"}}),
    )
    result = runtime.run_sync("homebase360.rawRequest", {"path": "/ping"}, HB_CONNECTION)
    assert result["data"]["data"]["message"].startswith("API")  # a raw request keeps the envelope


# --- hooks -------------------------------------------------------------------------------------------


def test_a_named_hook_changes_the_request(tmp_path: Path, vendor: FakeVendor) -> None:
    for name in ("actions", "datasources", "triggers"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "manifest.json", tmp_path / "manifest.json")
    definition = tmp_path / "actions/servicebay/lookupCustomer.json"
    definition.write_text(
        definition.read_text().replace('"nullOn"', '"hook": "tests.hook_example:tag_request", "nullOn"')
    )
    runtime = Runtime(catalog_module.load(tmp_path), transport=httpx2.MockTransport(vendor), env={})
    vendor.route(
        "GET",
        f"{SB_API}/organisations/org-1/customers/lookup",
        httpx2.Response(200, json={"success": True, "data": {}}),
    )
    runtime.run_sync("servicebay.lookupCustomer", {"phone": "+15550001111"}, SB_CONNECTION)
    assert vendor.requests[0].headers["x-hooked"] == "+15550001111"


# --- sessions ----------------------------------------------------------------------------------------


def test_an_open_runtime_shares_one_client_per_connection(
    runtime: Runtime, vendor: FakeVendor, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients: list[httpx2.AsyncClient] = []
    real_init = httpx2.AsyncClient.__init__

    def counting_init(self: httpx2.AsyncClient, *args: object, **kwargs: object) -> None:
        clients.append(self)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx2.AsyncClient, "__init__", counting_init)
    url = f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians"
    vendor.route("POST", url, httpx2.Response(200, json={"id": 1}))
    inputs = example(catalog, "servicetitan.assignTechnicians")

    async def flow() -> None:
        async with runtime:
            for _ in range(3):
                await runtime.run("servicetitan.assignTechnicians", inputs, ST_CONNECTION)
            await runtime.run("servicebay.lookupCustomer", {"phone": "+1555"}, SB_CONNECTION)

    asyncio.run(flow())
    assert len(clients) == 2  # one per connection, not one per action
    assert all(client.is_closed for client in clients)
    assert len(vendor.api_requests) == 4 and len(vendor.token_requests) == 1

    runtime.run_sync("servicetitan.assignTechnicians", inputs, ST_CONNECTION)
    assert len(clients) == 3 and clients[-1].is_closed  # outside 'async with': a one-off client, closed


# --- multipart files ---------------------------------------------------------------------------------

ATTACHMENTS = f"{ST_API}/equipmentsystems/v2/tenant/{TENANT}/installed-equipment/attachments"
PDF = {
    "filename": "manual.pdf",
    "content": base64.b64encode(b"%PDF-1.4 demo").decode(),
    "contentType": "application/pdf",
}
UPLOAD = {"urlType": "equipmentsystems", "path": "/installed-equipment/attachments", "method": "POST"}


def test_raw_request_uploads_multipart_files(runtime: Runtime, vendor: FakeVendor) -> None:
    stored = {"path": "InstalledEquipment/Documents/x.pdf"}
    vendor.route("POST", ATTACHMENTS, httpx2.Response(200, json=stored))
    inputs = {**UPLOAD, "files": {"file": PDF}, "form": {"memo": "manual"}}
    assert runtime.run_sync("servicetitan.rawRequest", inputs, ST_CONNECTION) == {"data": stored}
    (request,) = vendor.api_requests
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'name="file"; filename="manual.pdf"' in body and b"%PDF-1.4 demo" in body
    assert b'name="memo"' in body and b"Content-Type: application/pdf" in body


def test_dry_run_describes_files_without_their_content(runtime: Runtime) -> None:
    inputs = {**UPLOAD, "files": {"file": PDF}}
    preview = runtime.run_sync("servicetitan.rawRequest", inputs, ST_CONNECTION, dry_run=True)
    described = {"filename": "manual.pdf", "contentType": "application/pdf", "size": 13}
    assert preview["files"] == {"file": described}
    # httpx2 draws the multipart boundary when it sends: the dry run shows where it goes
    assert preview["headers"]["Content-Type"] == "multipart/form-data; boundary=…"


@pytest.mark.parametrize(
    ("files", "extra", "path"),
    [
        ({"file": {**PDF, "content": "not base64!"}}, {}, "$.files.file.content"),
        ({"file": PDF}, {"json": {"a": 1}}, "$"),
        ({"file": {"content": PDF["content"]}}, {}, "$.files.file.filename"),
    ],
)
def test_bad_files_send_nothing(
    runtime: Runtime, vendor: FakeVendor, files: dict[str, object], extra: dict[str, object], path: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_sync("servicetitan.rawRequest", {**UPLOAD, "files": files, **extra}, ST_CONNECTION)
    assert caught.value.problems[0]["path"] == path
    assert vendor.requests == []
