"""The embedded sandbox: auth, partitions, pagination, filters, side effects, limits, faults, data."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from component import AuthError, BadRequestError, NotFoundError, RateLimitedError, TransportError, VendorError
from component.auth import TokenCache
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import CREDENTIALS, Faults, Sandbox
from component.sandbox.data import doc_id
from tests.conftest import FakeClock

ST_TOKEN = "http://auth.servicetitan.sandbox/connect/token"
ST_API = "http://api.servicetitan.sandbox"
SB_API = "http://servicebay.sandbox/api/v1/organisations/sandbox-org"


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()


def runtime_for(sandbox: Sandbox) -> Runtime:
    """A runtime on the sandbox whose waits (back-off, Retry-After) pass at once on a fake clock."""
    return sandbox.runtime(tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock())


def run(sandbox: Sandbox, ref: str, inputs: Any, vendor: str, **changes: str) -> Any:
    connection = {**sandbox.connection(vendor), **changes}
    return runtime_for(sandbox).run_sync(ref, inputs, connection)


def raw(client: httpx2.Client, method: str, url: str, **kwargs: Any) -> httpx2.Response:
    return client.request(method, url, **kwargs)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx2.AsyncClient]:
    yield httpx2.AsyncClient(transport=sandbox.transport())


async def st_token(client: httpx2.AsyncClient, client_id: str = "sandbox-client-1000001") -> str:
    secret = (
        CREDENTIALS["servicetitan"]["clientSecret"]
        if client_id.endswith("1000001")
        else ("sandbox-client-secret-2000002")
    )
    response = await client.post(
        ST_TOKEN, data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    body = response.json()
    assert response.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 900
    return str(body["access_token"])


def st_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "ST-App-Key": CREDENTIALS["servicetitan"]["applicationKey"]}


# --- ServiceTitan auth and partitions ----------------------------------------------------------------


def test_wrong_client_secret_is_invalid_client(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError) as caught:
        run(sandbox, "servicetitan.listTechnicians", {}, "servicetitan", clientSecret="not-the-secret")
    assert caught.value.status == 400 and "invalid_client" in caught.value.message


def test_token_app_key_and_tenant_are_all_required(sandbox: Sandbox, client: httpx2.AsyncClient) -> None:
    async def scenario() -> None:
        url = f"{ST_API}/settings/v2/tenant/1000001/technicians"
        assert (await client.get(url)).status_code == 401
        token = await st_token(client)
        assert (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code == 403
        ok = await client.get(url, headers=st_headers(token))
        assert ok.status_code == 200 and ok.json()["data"]
        other = await client.get(url.replace("1000001", "2000002"), headers=st_headers(token))
        assert other.status_code == 403
        body = other.json()
        assert set(body) == {"type", "title", "status", "traceId", "errors", "data"} and body["status"] == 403

    asyncio.run(scenario())


def test_tenants_see_only_their_own_records(sandbox: Sandbox, client: httpx2.AsyncClient) -> None:
    async def scenario() -> None:
        mine = await st_token(client)
        theirs = await st_token(client, "sandbox-client-2000002")
        created = await client.post(
            f"{ST_API}/accounting/v2/tenant/1000001/payments",
            json={"typeId": 9001, "amount": 10, "customerId": 100001},
            headers=st_headers(mine),
        )
        payment_id = created.json()["id"]
        seen = await client.get(
            f"{ST_API}/accounting/v2/tenant/2000002/payments",
            params={"ids": str(payment_id)},
            headers=st_headers(theirs),
        )
        assert seen.status_code == 200 and seen.json()["data"] == []

    asyncio.run(scenario())


def test_expired_tokens_are_refused_and_refreshed(client: httpx2.AsyncClient) -> None:
    sandbox = Sandbox(faults={"servicetitan": Faults(token_lifetime=1)})
    result = run(sandbox, "servicetitan.listTechnicians", {"pageSize": 1}, "servicetitan")
    assert len(result["data"]["data"]) == 1


# --- pagination, filters, sorting ----------------------------------------------------------------------


def test_servicetitan_pages_totals_and_page_size_limit(sandbox: Sandbox) -> None:
    page = run(
        sandbox,
        "servicetitan.listTechnicians",
        {"pageSize": 10, "page": 5, "includeTotal": True, "active": "Any"},
        "servicetitan",
    )["data"]
    assert (
        page["page"] == 5 and page["pageSize"] == 10 and page["totalCount"] == 50 and page["hasMore"] is False
    )
    assert [t["id"] for t in page["data"]] == list(range(4041, 4051))
    with pytest.raises(VendorError) as caught:
        run(
            sandbox,
            "servicetitan.rawRequest",
            {"method": "GET", "urlType": "settings", "path": "/technicians", "query": {"pageSize": 5001}},
            "servicetitan",
        )
    assert caught.value.status == 400 and "pageSize" in json.dumps(caught.value.errors)


def test_servicetitan_filters_and_sort(sandbox: Sandbox) -> None:
    data = run(
        sandbox, "servicetitan.listTechnicians", {"ids": [4001, 4003], "active": "Any"}, "servicetitan"
    )
    assert [t["id"] for t in data["data"]["data"]] == [4001, 4003]
    path = "/customers"
    since = "2026-01-01T00:00:00Z"
    query = {"modifiedOnOrAfter": since, "sort": "+ModifiedOn", "pageSize": 200}
    records = run(
        sandbox,
        "servicetitan.rawRequest",
        {"method": "GET", "urlType": "crm", "path": path, "query": query},
        "servicetitan",
    )["data"]["data"]
    stamps = [r["modifiedOn"] for r in records]
    assert stamps == sorted(stamps) and all(s >= "2026-01-01" for s in stamps)


def test_servicebay_cursor_pages_and_rate_headers(sandbox: Sandbox, client: httpx2.AsyncClient) -> None:
    async def scenario() -> None:
        headers = {"X-API-Key": CREDENTIALS["servicebay"]["apiKey"]}
        first = await client.get(f"{SB_API}/customers", params={"limit": 100}, headers=headers)
        body = first.json()
        assert body["success"] is True and len(body["data"]["customers"]) == 100
        assert body["data"]["pagination"] == {
            "limit": 100,
            "hasMore": True,
            "nextCursor": doc_id("customers", 99),
        }
        second = await client.get(
            f"{SB_API}/customers",
            params={"limit": 100, "startAfter": doc_id("customers", 99)},
            headers=headers,
        )
        assert second.json()["data"]["customers"][0]["id"] == doc_id("customers", 100)
        assert first.headers["X-RateLimit-Limit"] == "100"
        assert int(first.headers["X-RateLimit-Remaining"]) == 99
        assert int(first.headers["X-RateLimit-Reset"]) > 1_700_000_000
        forbidden = await client.get(
            SB_API.replace("sandbox-org", "other-org") + "/customers", headers=headers
        )
        assert forbidden.status_code == 403 and forbidden.json() == {
            "success": False,
            "error": "You do not have access to this organisation",
        }

    asyncio.run(scenario())


def test_servicebay_rate_limit_answers_429_with_reset(client: httpx2.AsyncClient) -> None:
    sandbox = Sandbox(rate_limits={"servicebay": (3, 60.0)})
    client = httpx2.AsyncClient(transport=sandbox.transport())

    async def scenario() -> list[httpx2.Response]:
        headers = {"X-API-Key": CREDENTIALS["servicebay"]["apiKey"]}
        return [await client.get(f"{SB_API}/tickets", headers=headers) for _ in range(4)]

    responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert responses[3].headers["X-RateLimit-Remaining"] == "0" and responses[3].json()["success"] is False


# --- side effects --------------------------------------------------------------------------------------


def test_creating_a_job_creates_its_appointment_invoice_and_assignment(sandbox: Sandbox) -> None:
    inputs = {
        "customerId": 100001,
        "locationId": 200001,
        "businessUnitId": 1001,
        "jobTypeId": 2001,
        "priority": "High",
        "campaignId": 3001,
        "appointments": [
            {"start": "2026-12-01T15:00:00Z", "end": "2026-12-01T17:00:00Z", "technicianIds": [4001]}
        ],
    }
    job = run(sandbox, "servicetitan.createJob", inputs, "servicetitan")["data"]
    assert job["id"] == 412001 and job["jobStatus"] == "Scheduled" and job["appointmentCount"] == 1
    partition = sandbox["servicetitan"].state.partition("1000001")
    appointment = partition["appointments"].get(job["firstAppointmentId"])
    assert appointment is not None and appointment["jobId"] == job["id"]
    invoice = partition["invoices"].get(job["invoiceId"])
    assert invoice is not None and invoice["job"]["id"] == job["id"]
    assignments = [a for a in partition["assignments"].loaded() if a["appointmentId"] == appointment["id"]]
    assert [a["technicianId"] for a in assignments] == [4001]
    assert partition["customers"].seeded == 12_000 and len(partition["customers"].loaded()) == 1  # lazy


def test_missing_records_are_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(NotFoundError):
        run(sandbox, "servicetitan.getJob", {"id": 987654321}, "servicetitan")
    # assign-technicians declares no 404: an appointment named in the body that is not there is a 400
    with pytest.raises(BadRequestError):
        run(
            sandbox,
            "servicetitan.assignTechnicians",
            {"jobAppointmentId": 999999999, "technicianIds": [4001]},
            "servicetitan",
        )
    assert run(sandbox, "servicebay.lookupCustomer", {"email": "nobody@example.com"}, "servicebay") == {
        "data": None
    }


def test_servicebay_lookup_finds_a_seeded_customer_by_phone(sandbox: Sandbox) -> None:
    customer = sandbox["servicebay"].state.partition("sandbox-org")["customers"].get(doc_id("customers", 7))
    assert customer is not None
    found = run(sandbox, "servicebay.lookupCustomer", {"phone": customer["phone"]}, "servicebay")["data"]
    assert found["id"] == customer["id"]


# --- faults ----------------------------------------------------------------------------------------------


def test_injected_errors_keep_the_vendor_body(sandbox: Sandbox) -> None:
    sandbox.faults("servicetitan").inject(400, "The job type is inactive.")
    with pytest.raises(VendorError) as caught:
        run(sandbox, "servicetitan.listTechnicians", {}, "servicetitan")
    assert caught.value.status == 400 and caught.value.message == "The job type is inactive."
    assert caught.value.trace_id and caught.value.trace_id.startswith("00-")


def test_a_dropped_connection_is_a_transport_error(sandbox: Sandbox) -> None:
    sandbox.faults("homebase360").drop_rate = 1.0
    with pytest.raises(TransportError):
        run(sandbox, "homebase360.searchCustomers", {"email": "a@example.com"}, "homebase360")
    assert sandbox.faults("homebase360").counts["dropped"] >= 1


def test_429_bursts_are_counted_and_retried(sandbox: Sandbox) -> None:
    faults = sandbox.faults("servicebay")
    faults.inject(429, times=1)
    result = run(sandbox, "servicebay.lookupCustomer", {"email": "nobody@example.com"}, "servicebay")
    assert result == {"data": None} and faults.counts == {"injected 429": 1}
    faults.inject(429, times=10)  # longer than the 4 attempts: waited out all the same
    result = run(sandbox, "servicebay.lookupCustomer", {"email": "nobody@example.com"}, "servicebay")
    assert result == {"data": None} and faults.counts == {"injected 429": 11}
    faults.inject(429, times=1000)  # longer than the 300 s deadline, at Retry-After: 1
    with pytest.raises(RateLimitedError):
        run(sandbox, "servicebay.lookupCustomer", {"email": "nobody@example.com"}, "servicebay")
    assert faults.counts == {"injected 429": 11 + 300}


def test_faults_are_deterministic_under_a_seed() -> None:
    def outcomes(seed: int) -> list[int]:
        sandbox = Sandbox(faults={"homebase360": Faults(error_rate=0.5, seed=seed)})
        client = httpx2.AsyncClient(transport=sandbox.transport())
        headers = {"x-api-key": CREDENTIALS["homebase360"]["apiKey"]}

        async def scenario() -> list[int]:
            url = "http://homebase360.sandbox/api/v1/ping"
            return [(await client.get(url, headers=headers)).status_code for _ in range(20)]

        return asyncio.run(scenario())

    assert outcomes(7) == outcomes(7)
    assert set(outcomes(7)) > {200}


# --- data -------------------------------------------------------------------------------------------------


def test_same_seed_same_data_and_plausible_values() -> None:
    def customer(seed: int, n: int) -> dict[str, Any]:
        partition = Sandbox(seed=seed)["servicetitan"].state.partition("1000001")
        found = partition["customers"].get(100001 + n)
        assert found is not None
        return found

    assert customer(0, 5) == customer(0, 5)
    assert customer(0, 5) != customer(1, 5)
    sample = customer(0, 42)
    assert sample["address"]["zip"].isdigit() and len(sample["address"]["state"]) == 2


def test_more_than_ten_thousand_records_per_vendor(sandbox: Sandbox) -> None:
    st = sandbox["servicetitan"].state.partition("1000001")
    sb = sandbox["servicebay"].state.partition("sandbox-org")
    hb = sandbox["homebase360"].state.partition("sandbox-business")
    assert min(st["customers"].seeded, st["jobs"].seeded, sb["customers"].seeded, hb["jobs"].seeded) > 10_000


def test_served_sandbox_prints_connections_and_answers() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "component", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or lines[-1] != "}\n":
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else "no output"
            lines.append(line)
        served = json.loads("".join(lines))
        connection = served["connections"]["homebase360"]
        assert connection["baseUrl"].startswith(served["url"])
        runtime = Runtime(tokens=TokenCache(), budgets=BudgetRegistry())
        result = runtime.run_sync("homebase360.searchCustomers", {"email": "a@example.com"}, connection)
        assert result == {"data": []}
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- engine ---------------------------------------------------------------------------------------------


def test_a_custom_filter_is_compiled_once_per_request_and_may_refuse_the_value() -> None:
    from types import SimpleNamespace

    from component.sandbox.engine import Filter, Resource, SandboxError, select

    compiled: list[str] = []

    def odd_or_even(raw: str, param: str) -> Any:
        compiled.append(raw)
        if raw not in ("odd", "even"):
            raise SandboxError(400, f"{param} must be odd or even")
        return lambda value: isinstance(value, int) and value % 2 == (raw == "odd")

    resource = Resource("things", "/things", filters={"parity": Filter("n|m", custom=odd_or_even)})
    records = [{"id": i, "n": i, "m": None} for i in range(10)]
    context: Any = SimpleNamespace(query={"parity": "odd"})
    assert [r["id"] for r in select(context, resource, records)] == [1, 3, 5, 7, 9]
    assert compiled == ["odd"]
    with pytest.raises(SandboxError):
        select(SimpleNamespace(query={"parity": "prime"}), resource, records)  # type: ignore[arg-type]


def test_an_index_filter_reads_only_the_records_it_names(sandbox: Sandbox) -> None:
    partition = sandbox["servicetitan"].state.partition("1000001")
    found = run(
        sandbox, "servicetitan.listTechnicians", {"ids": [4003, 4001, 4999], "active": "Any"}, "servicetitan"
    )
    assert [t["id"] for t in found["data"]["data"]] == [4001, 4003]
    invoices = run(
        sandbox,
        "servicetitan.rawRequest",
        {"method": "GET", "urlType": "accounting", "path": "/invoices", "query": {"ids": "700005,700002"}},
        "servicetitan",
    )["data"]["data"]
    assert [i["id"] for i in invoices] == [700002, 700005]
    assert len(partition["invoices"].loaded()) == 2  # not the 12,000 seeded


def test_a_resource_may_answer_a_get_with_its_own_detail_shape(sandbox: Sandbox) -> None:
    """Installed equipment: the list shape has no custom fields or attachments, the get shape has both."""
    listed = run(
        sandbox,
        "servicetitan.rawRequest",
        {
            "method": "GET",
            "urlType": "equipmentsystems",
            "path": "/installed-equipment",
            "query": {"ids": "1000001"},
        },
        "servicetitan",
    )["data"]["data"][0]
    got = run(
        sandbox,
        "servicetitan.rawRequest",
        {"method": "GET", "urlType": "equipmentsystems", "path": "/installed-equipment/1000001"},
        "servicetitan",
    )["data"]
    assert "customFields" not in listed and "attachments" not in listed
    assert got["customFields"] == [] and got["id"] == listed["id"]
    assert [a["url"] for a in got["attachments"]] == ["installed-equipment/attachments/sample.txt"]
    assert not any(key.startswith("_") for key in (*listed, *got))


def test_seeded_records_hold_no_change_from_the_future() -> None:
    """A modified-since poll would see a future-dated change forever: seeded stamps stop at today."""
    sandbox = Sandbox()
    today = sandbox["servicetitan"].state.today.isoformat()
    for vendor, partition, stamp in (
        ("servicetitan", "2000002", "modifiedOn"),
        ("homebase360", "sandbox-business", "lastUpdated"),
    ):
        state = sandbox[vendor].state.partition(partition)
        for collection in state.collections.values():
            if collection.resource.timestamps[1] != stamp or collection.seeded == 0:
                continue
            records = [collection.get(collection.seeded_id(n)) for n in range(min(collection.seeded, 300))]
            late = [
                r[stamp] for r in records if r and isinstance(r.get(stamp), str) and r[stamp][:10] > today
            ]
            assert late == [], (vendor, collection.resource.name, late[:3])


# --- a client that hangs up ----------------------------------------------------------------------------


ADDRESS = {"street": "1550 Larimer St", "city": "Denver", "state": "CO", "zip": "80202", "country": "USA"}


def asgi_exchange(
    sandbox: Sandbox, method: str, target: str, headers: dict[str, str], body: bytes, gone: bool
) -> list[dict[str, Any]]:
    """The served sandbox's app (access log included) given one request as uvicorn hands it over;
    ``gone``: the client closed its connection before the app read the request, so every read
    answers ``http.disconnect`` (uvicorn's state for a client that timed out during the latency, or
    whose process died). The messages sent, and the access lines logged."""
    from component.sandbox.access_log import AccessLog

    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1", **headers}.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"} if gone else {"type": "http.request", "body": body}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(AccessLog(sandbox.app)(scope, receive, send))
    return sent


def test_a_request_whose_client_hung_up_is_not_handled_and_not_a_server_error(
    sandbox: Sandbox, client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The customers list as pollChangesTrigger sends it, its client gone before the sandbox read
    it: no 500 (nor any answer: no one is there), no exception for the server to log, one access
    line; a create whose client is gone is not applied."""
    token = asyncio.run(st_token(client))
    headers = st_headers(token)
    customers = "/servicetitan/crm/v2/tenant/1000001/customers"
    poll = f"{customers}?modifiedOnOrAfter=2026-01-01T00%3A00%3A00Z&sort=%2BModifiedOn&page=1&pageSize=1000"
    answered = asgi_exchange(sandbox, "GET", poll, headers, b"", gone=False)
    assert answered[0]["status"] == 200  # the same request, its client still there

    with caplog.at_level("INFO", logger="component.sandbox.access"):
        assert asgi_exchange(sandbox, "GET", poll, headers, b"", gone=True) == []
    assert [r.getMessage().rsplit(" ", 2)[0] for r in caplog.records] == [f"GET {customers} disconnected"]

    count = len(sandbox["servicetitan"].state.partition("1000001")["customers"])
    body = json.dumps(
        {"name": "Gone", "locations": [{"name": "Gone", "address": ADDRESS}], "address": ADDRESS}
    )
    writes = {**headers, "content-type": "application/json"}
    assert asgi_exchange(sandbox, "POST", customers, writes, body.encode(), gone=True) == []
    assert len(sandbox["servicetitan"].state.partition("1000001")["customers"]) == count
    assert asgi_exchange(sandbox, "POST", customers, writes, body.encode(), gone=False)[0]["status"] == 200
    assert len(sandbox["servicetitan"].state.partition("1000001")["customers"]) == count + 1
