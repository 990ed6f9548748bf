"""The command line contract: JSON on stdout, JSON errors on stderr, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from component.cli import cli
from component.sandbox import CREDENTIALS
from tests.conftest import ROOT, ST_CONNECTION


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--root", str(ROOT), *args], input=input, env=env, catch_exceptions=False)


def error_of(result: Result) -> dict[str, Any]:
    assert "Traceback" not in result.output
    return json.loads(result.stderr)["error"]


@pytest.fixture
def st_file(tmp_path: Path) -> Path:
    path = tmp_path / "st.json"
    path.write_text(json.dumps(ST_CONNECTION))
    return path


def test_python_dash_m_component_from_another_directory(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "component", "catalog", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["connectors"]) == {"servicetitan", "servicebay", "homebase360"}


def test_catalog_table_and_json() -> None:
    table = invoke("catalog")
    assert table.exit_code == 0 and "assignTechnicians" in table.stdout
    data = json.loads(invoke("catalog", "--json").stdout)
    assert data["connectors"]["servicebay"]["actions"]["lookupCustomer"]["label"] == "Look Up Customer"


def test_run_dry_run(st_file: Path) -> None:
    inputs = '{"jobAppointmentId": 4401, "technicianIds": [501]}'
    result = invoke(
        "run", "servicetitan.assignTechnicians", "--inputs", inputs, "--connection", str(st_file), "--dry-run"
    )
    assert result.exit_code == 0, result.output
    request = json.loads(result.stdout)
    assert set(request) == {"method", "url", "query", "headers", "json", "host", "token"}
    assert request["host"] == "api-integration.servicetitan.io"
    assert request["token"]["host"] == "auth-integration.servicetitan.io"
    assert request["json"] == {"jobAppointmentId": 4401, "technicianIds": [501]}
    assert request["headers"]["Authorization"] == "Bearer ***"


def test_inputs_from_a_file_and_from_stdin(st_file: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in.json"
    inputs.write_text('{"typeId": 3, "amount": 10.5}')
    from_file = invoke(
        "run",
        "servicetitan.createPayment",
        "--inputs",
        f"@{inputs}",
        "--connection",
        str(st_file),
        "--dry-run",
    )
    assert json.loads(from_file.stdout)["json"] == {"typeId": 3, "amount": 10.5}
    args = ["run", "servicetitan.createPayment", "--inputs", "@-", "--connection", str(st_file), "--dry-run"]
    from_stdin = invoke(*args, input='{"typeId": 4}')
    assert json.loads(from_stdin.stdout)["json"] == {"typeId": 4}


def test_picklist_dry_run(st_file: Path) -> None:
    result = invoke("picklist", "servicetitan.selectTechnician", "--connection", str(st_file), "--dry-run")
    assert json.loads(result.stdout)["query"] == {"page": 1, "pageSize": 5000, "includeTotal": "true"}


def test_connection_from_environment_variables() -> None:
    env = {
        "SERVICEBAY_API_KEY": "env-key-123456",
        "SERVICEBAY_ORG_ID": "org-env",
    }
    result = invoke(
        "run", "servicebay.lookupCustomer", "--inputs", '{"phone": "+1555"}', "--dry-run", env=env
    )
    assert result.exit_code == 0, result.output
    assert "/organisations/org-env/customers/lookup" in json.loads(result.stdout)["url"]
    assert "env-key-123456" not in result.output


@pytest.mark.parametrize(
    ("args", "kind", "fragment"),
    [
        (["run", "servicetitan.creatJob"], "usage", "did you mean 'servicetitan.createJob'"),
        (["run", "nope.createJob"], "usage", "unknown connector 'nope'"),
        (
            ["run", "servicetitan.createPayment", "--inputs", "{typeId: 1}"],
            "usage",
            "--inputs is not valid JSON",
        ),
        (
            ["run", "servicetitan.createPayment", "--inputs", "@/no/such/file"],
            "usage",
            "cannot read --inputs file",
        ),
        (["run", "servicetitan.createPayment", "--inputs", '{"typeId": "x"}'], "invalid_input", "$.typeId"),
        (
            ["run", "servicetitan.createPayment", "--inputs", '{"typeId": 1}'],
            "invalid_connection",
            "clientId",
        ),
        (
            [
                "run",
                "servicetitan.createPayment",
                "--inputs",
                '{"typeId": 1}',
                "--connection",
                "/no/such.json",
            ],
            "usage",
            "does not exist",
        ),
        (["picklist", "servicetitan.selectNothing"], "usage", "unknown data source"),
    ],
)
def test_user_mistakes_give_a_json_error_and_exit_2(args: list[str], kind: str, fragment: str) -> None:
    result = invoke(*args, env={})
    assert result.exit_code == 2
    assert result.stdout == ""
    error = error_of(result)
    assert error["type"] == kind
    assert fragment in error["message"]


def test_invalid_inputs_are_reported_before_the_connection_is_read() -> None:
    result = invoke("run", "servicetitan.createPayment", "--inputs", "{}", "--connection", "/no/such.json")
    assert error_of(result)["problems"] == [{"path": "$.typeId", "message": "is required"}]


def test_refused_raw_request_exits_2(st_file: Path) -> None:
    for path, kind in (("/x?evil=1", "request_refused"), ("/x/../../evil", "invalid_input")):
        inputs = json.dumps({"urlType": "jpm", "path": path})
        result = invoke("run", "servicetitan.rawRequest", "--inputs", inputs, "--connection", str(st_file))
        assert result.exit_code == 2
        assert error_of(result)["type"] == kind


def test_unsound_definitions_exit_3(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    result = CliRunner().invoke(cli, ["--root", str(tmp_path), "catalog", "--json"])
    assert result.exit_code == 3
    assert error_of(result)["type"] == "definition"


def test_demo_prints_a_summary_and_no_credential() -> None:
    result = invoke("demo", "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == (0 if out["ok"] else 1), result.output
    assert out["flows"] and all(flow["steps"] for flow in out["flows"])
    assert "dry run" not in result.output
    for connection in CREDENTIALS.values():
        for field in ("clientSecret", "applicationKey", "apiKey"):
            if field in connection:
                assert connection[field] not in result.output


def test_version() -> None:
    assert "component, version 0.1.0" in invoke("--version").stdout
