"""The ServiceTitan sandbox refuses what the official request schemas refuse, in the vendor's error
format, before anything is stored; its rules file is what tools/sandbox_requests.py generates."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from component.sandbox import Sandbox
from component.sandbox.rules import EMPTY_BODY
from component.sandbox.servicetitan import CLIENTS, OTHER_TENANT, TENANT
from component.sandbox.servicetitan.dialect import RULES_FILE
from tests.conftest import REFERENCE, ROOT
from tests.test_sandbox_servicetitan import Client

TECHNICIAN = {
    "name": "Avery Stone",
    "accountCreationMethod": "CreateLater",
    "roleId": 5001,
    "positions": ["Service"],
    "licenseType": "NonManagedTech",
}
ADDRESS = {"street": "12 Elm St", "city": "Denver", "state": "CO", "zip": "80202", "country": "USA"}
PROBLEM = {"type", "title", "status", "traceId", "errors", "data"}


@pytest.fixture(scope="module")
def st() -> Client:
    return Client(Sandbox(rate_limits={"servicetitan": None}), OTHER_TENANT)


def refused(st: Client, method: str, module: str, path: str, **options: Any) -> dict[str, Any]:
    error: dict[str, Any] = st(method, module, path, 400, **options)
    assert set(error) == PROBLEM and error["status"] == 400
    assert error["title"] == "One or more validation errors occurred."
    return error


def test_a_wrong_typed_id_in_a_body_is_a_400_naming_it_not_a_500(st: Client) -> None:
    error = refused(st, "POST", "settings", "/technicians", json={**TECHNICIAN, "roleId": {}})
    assert list(error["errors"]) == ["roleId"]
    error = refused(
        st,
        "POST",
        "dispatch",
        "/appointment-assignments/assign-technicians",
        json={
            "jobAppointmentId": "500001",
            "technicianIds": [4001, [1]],
        },
    )
    assert set(error["errors"]) == {"jobAppointmentId", "technicianIds[1]"}


def test_an_invalid_write_is_refused_and_nothing_is_stored(st: Client) -> None:
    before = st("GET", "crm", "/customers/100001")
    error = refused(
        st, "PATCH", "crm", "/customers/100001", json={"name": "Changed", "creditLimitBalance": {}}
    )
    assert list(error["errors"]) == ["creditLimitBalance"]
    assert st("GET", "crm", "/customers/100001") == before
    project = st("GET", "jpm", "/projects/600001")
    error = refused(st, "PATCH", "jpm", "/projects/600001", json={"targetCompletionDate": "next spring"})
    assert list(error["errors"]) == ["targetCompletionDate"]
    assert st("GET", "jpm", "/projects/600001") == project
    assert st.page("settings", "/technicians", name="Avery Stone") == []


def test_wrong_types_in_the_path_and_query_are_400s(st: Client) -> None:
    assert refused(st, "GET", "jpm", "/jobs/abc")["errors"] == {"id": ["The value 'abc' is not valid."]}
    huge = str(2**63)
    assert list(refused(st, "GET", "jpm", f"/jobs/{huge}")["errors"]) == ["id"]
    for query in (
        {"page": "two"},
        {"includeTotal": "maybe"},
        {"modifiedOnOrAfter": "yesterday"},
        {"page": ""},
    ):
        (name,) = query
        assert refused(st, "GET", "jpm", "/jobs", params=query)["errors"] == {
            name: [f"The value '{query[name]}' is not valid."]
        }
    for ids in ("\u00b3", "400001,x"):  # a superscript three is a digit to str.isdigit, not to int()
        assert list(refused(st, "GET", "settings", "/business-units", params={"ids": ids})["errors"]) == [
            "ids"
        ]
    error = refused(st, "GET", "jpm", "/jobs", params={"jobStatus": "Sleeping"})
    assert list(error["errors"]) == ["jobStatus"]
    # what the vendor's binder reads: an enum name in any case, True/False, a date where a date-time
    # is wanted, an unknown parameter ignored
    assert st("GET", "settings", "/technicians", params={"modifiedOnOrAfter": "2000-01-01"})["data"]
    assert st("GET", "jpm", "/jobs", params={"jobStatus": "scheduled", "includeTotal": "True", "x": "{}"})


def test_a_body_is_required_where_the_operation_takes_one(st: Client) -> None:
    error = refused(st, "POST", "jpm", "/jobs")
    assert error["errors"] == {"": [EMPTY_BODY]}
    url = f"http://api.servicetitan.sandbox/jpm/v2/tenant/{OTHER_TENANT}/jobs"
    raw = st._send("POST", url, content=b"name=x", headers={**st.headers, "content-type": "text/plain"})
    assert raw.status_code == 400
    error = raw.json()
    assert list(error["errors"]) == ["body"]


def test_a_missing_record_named_in_a_body_is_a_400_where_the_operation_declares_no_404(st: Client) -> None:
    body = {"jobAppointmentId": 987654321, "technicianIds": [4001]}
    error = st("POST", "dispatch", "/appointment-assignments/assign-technicians", 400, json=body)
    assert "987654321" in error["title"]
    # a record the path names is not there: 404, whatever the operation declares
    st("PATCH", "accounting", "/payments/987654321", 404, json={"typeId": 9001, "splits": []})
    st("GET", "jpm", "/jobs/987654321", 404)


def test_an_unserved_method_is_a_405_with_allow(st: Client) -> None:
    response = st("PATCH", "equipmentsystems", "/installed-equipment/attachments", 405, json={})
    assert response["status"] == 405
    raw = st._send(
        "TRACE",
        f"http://api.servicetitan.sandbox/jpm/v2/tenant/{OTHER_TENANT}/jobs/400001/cancel",
        headers=st.headers,
    )
    assert raw.status_code == 405 and raw.headers["allow"] == "PUT"
    raw = st._send(
        "HEAD",
        f"http://api.servicetitan.sandbox/jpm/v2/tenant/{OTHER_TENANT}/jobs/400001",
        headers=st.headers,
    )
    assert raw.status_code == 200


def test_every_served_operation_has_rules_and_every_rule_is_served() -> None:
    table = json.loads(RULES_FILE.read_text(encoding="utf-8"))["operations"]
    from component.sandbox.rules import shape

    served = {
        f"{method} {shape(path)}"
        for path, methods in Sandbox()["servicetitan"].served.items()
        for method in methods
        if path != "/connect/token"
    }
    assert set(table) == served
    assert CLIENTS and TENANT  # the first tenant has the same rules (one vendor app)


@pytest.mark.skipif(
    not (REFERENCE / "servicetitan").is_dir(), reason="ServiceTitan reference specs are not available"
)
def test_the_rules_file_is_what_the_tool_generates_from_the_specs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "sandbox_requests.py"),
            "--reference",
            str(REFERENCE),
            "--check",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"stale rules: run python tools/sandbox_requests.py\n{result.stderr}"


def test_a_path_no_route_can_read_is_a_404_in_the_vendors_format() -> None:
    import asyncio

    import httpx2

    sandbox = Sandbox()

    async def get(url: str) -> httpx2.Response:
        async with httpx2.AsyncClient(transport=sandbox.transport()) as client:
            return await client.get(url)

    served = asyncio.run(get(f"http://127.0.0.1/servicetitan/jpm/v2/tenant/{TENANT}/jobs/a%0Ab"))
    assert served.status_code == 404 and set(served.json()) == PROBLEM
