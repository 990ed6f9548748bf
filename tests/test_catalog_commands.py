"""`component catalog` filters, `component describe REF` and `component test-connection CONNECTOR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from component import cli as cli_module
from component.catalog import Catalog
from component.cli import cli
from component.sandbox import Sandbox
from tests.conftest import ROOT

CONNECTORS = ("servicetitan", "servicebay", "homebase360")
SECRET = {"servicetitan": "clientSecret", "servicebay": "apiKey", "homebase360": "apiKey"}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["--root", str(ROOT), *args])


# --- catalog -----------------------------------------------------------------------------------------------


def test_catalog_filters_by_connector_and_kind() -> None:
    out = invoke("catalog", "--json", "--connector", "servicebay", "--kind", "triggers")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)["connectors"]
    assert list(data) == ["servicebay"]
    assert "actions" not in data["servicebay"] and "dataSources" not in data["servicebay"]
    assert set(data["servicebay"]["triggers"]) == {
        "newCustomer",
        "newJob",
        "quoteAccepted",
        "invoicePaid",
        "newCalendarEvent",
    }
    assert "connection" in data["servicebay"] and "testConnection" in data["servicebay"]


def test_catalog_kind_accepts_singular_and_picklist_names() -> None:
    out = invoke("catalog", "--json", "--kind", "picklist", "--kind", "action")
    data = json.loads(out.output)["connectors"]["homebase360"]
    assert set(data) >= {"actions", "dataSources"} and "triggers" not in data


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--connector", "servicetitn"), "did you mean 'servicetitan'"),
        (("--kind", "webhooks"), "unknown kind 'webhooks'"),
    ],
)
def test_catalog_refuses_an_unknown_filter(args: tuple[str, ...], message: str) -> None:
    out = invoke("catalog", *args)
    assert out.exit_code == 2
    assert message in json.loads(out.stderr)["error"]["message"]


def test_piped_catalog_is_never_truncated(catalog: Catalog) -> None:
    out = invoke("catalog", "--connector", "servicetitan", "--kind", "actions")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    actions = catalog.connectors["servicetitan"].definitions["actions"]
    assert len(lines) == len(actions) + sum(len(a.model.aliases) for a in actions.values())  # type: ignore[attr-defined]
    longest = max(actions.values(), key=lambda d: len(d.model.label))
    row = f"servicetitan\tactions\t{longest.key}\t{longest.model.label}"
    assert row in lines and len(row) > 40


# --- describe ----------------------------------------------------------------------------------------------


def test_describe_shows_inputs_outputs_and_picklist_links() -> None:
    out = invoke("describe", "servicetitan.updateCustomerContact")
    assert out.exit_code == 0, out.output
    text = out.output
    assert text.startswith("servicetitan.updateCustomerContact: Update Customer Contact (action)")
    assert (
        "  contactId *: integer  Contact ID [≥ 1; picklist selectCustomerContact (id = $inputs.id)]" in text
    )
    assert (
        "Picklist links:\n  id <- selectCustomers\n  contactId <- selectCustomerContact (id = $inputs.id)"
        in text
    )
    assert "Output (data):" in text and "phoneSettings *: object" in text


def test_describe_a_picklist_and_a_trigger() -> None:
    picklist = invoke("describe", "servicetitan.selectCustomerContact")
    assert (
        "(data source)" in picklist.output
        and "Result: {result: [{key, label}], truncated}" in picklist.output
    )
    trigger = invoke("describe", "servicebay.newJob")
    assert "(trigger)" in trigger.output
    assert "Event:" in trigger.output and "record *: object" in trigger.output


def test_describe_json_lists_the_links() -> None:
    out = invoke("describe", "servicetitan.createJob", "--json")
    data = json.loads(out.output)
    assert data["kind"] == "actions" and "inputs" in data and "output" in data
    links = {entry["path"]: entry["dataSource"] for entry in data["picklists"]}
    assert links["$.properties.jobTypeId"] == "selectJobType"
    assert links["$.properties.campaignId"] == "selectCampaign"


def test_describe_an_unknown_ref_suggests_one() -> None:
    out = invoke("describe", "servicetitan.creatJob")
    assert out.exit_code == 2
    assert "did you mean 'servicetitan.createJob'" in json.loads(out.stderr)["error"]["message"]


# --- test-connection ---------------------------------------------------------------------------------


def test_every_connector_declares_a_connection_test(catalog: Catalog) -> None:
    shown = catalog.to_json()["connectors"]
    for name in CONNECTORS:
        test = shown[name]["testConnection"]
        assert test["action"] in catalog.connectors[name].definitions["actions"]
        assert test["description"]


@pytest.mark.parametrize("connector", CONNECTORS)
def test_a_connection_test_passes_on_the_sandbox(connector: str) -> None:
    out = invoke("test-connection", connector, "--sandbox")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["connector"] == connector and data["ok"] is True and data["ms"] >= 0


@pytest.mark.parametrize("connector", CONNECTORS)
def test_refused_credentials_are_invalid_credentials(
    connector: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox()
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: sandbox.runtime())
    wrong = {**sandbox.connection(connector), SECRET[connector]: "not-the-secret-0000"}
    file = tmp_path / "connection.json"
    file.write_text(json.dumps(wrong))
    out = invoke("test-connection", connector, "--connection", str(file))
    assert out.exit_code == 2, out.output
    error = json.loads(out.stderr)["error"]
    assert error["type"] == "invalid_credentials"
    assert "not-the-secret-0000" not in out.stderr


def test_servicebay_on_another_organisation_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox()
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: sandbox.runtime())
    file = tmp_path / "connection.json"
    file.write_text(json.dumps({**sandbox.connection("servicebay"), "orgId": "other-org"}))
    out = invoke("test-connection", "servicebay", "--connection", str(file))
    assert out.exit_code == 2, out.output
    assert json.loads(out.stderr)["error"]["type"] == "invalid_credentials"


def test_an_unreachable_vendor_is_a_transport_error(tmp_path: Path) -> None:
    file = tmp_path / "connection.json"
    file.write_text(json.dumps({"apiKey": "k", "baseUrl": "http://127.0.0.1:9"}))
    out = invoke("test-connection", "homebase360", "--connection", str(file))
    assert out.exit_code == 1, out.output
    error = json.loads(out.stderr)["error"]
    assert error["type"] == "transport" and error["maybeApplied"] is False


def test_an_unknown_connector_is_a_usage_error() -> None:
    out = invoke("test-connection", "servicetitn", "--sandbox")
    assert out.exit_code == 2
    assert "did you mean 'servicetitan'" in json.loads(out.stderr)["error"]["message"]
