"""Credentials a vendor refuses are one error whatever the vendor: ``invalid_credentials`` (exit 2),
naming the connection fields to check, with the vendor's status and maybeApplied false."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from component import cli as cli_module
from component.catalog import load
from component.cli import cli
from component.sandbox import Sandbox
from tests.conftest import ROOT

CANARY = "not-the-secret-c4n4ry-0000"
# (connector, action, the field made wrong, its wrong value, the vendor's status, the fields named)
CASES = [
    ("servicetitan", "listTechnicians", "clientSecret", CANARY, 400, ["clientId", "clientSecret"]),
    ("servicetitan", "listTechnicians", "applicationKey", CANARY, 403, ["applicationKey", "tenant"]),
    ("servicetitan", "listTechnicians", "tenant", "2000002", 403, ["applicationKey", "tenant"]),
    ("servicebay", "getOrganisation", "apiKey", CANARY, 401, ["apiKey"]),
    ("servicebay", "getOrganisation", "orgId", "other-org", 403, ["apiKey", "orgId"]),
    ("homebase360", "ping", "apiKey", CANARY, 401, ["apiKey"]),
]


@pytest.mark.parametrize(
    ("connector", "action", "field", "wrong", "status", "named"),
    CASES,
    ids=[f"{c[0]}-{c[2]}" for c in CASES],
)
def test_a_refused_credential_is_invalid_credentials_naming_the_fields(
    connector: str,
    action: str,
    field: str,
    wrong: str,
    status: int,
    named: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = Sandbox()
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: sandbox.runtime())
    file = tmp_path / "connection.json"
    file.write_text(json.dumps({**sandbox.connection(connector), field: wrong}))
    out = CliRunner().invoke(
        cli, ["--root", str(ROOT), "run", f"{connector}.{action}", "--connection", str(file)]
    )
    assert out.exit_code == 2, out.output
    error = json.loads(out.stderr)["error"]
    assert error["type"] == "invalid_credentials", error
    assert error["status"] == status and error["maybeApplied"] is False
    assert all(name in error["fields"] for name in named), error
    assert all(name in error.get("hint", error["message"]) for name in named), error
    assert CANARY not in out.stderr


def test_the_vendors_message_and_status_are_kept() -> None:
    sandbox = Sandbox()
    runtime = sandbox.runtime()
    connection = {**sandbox.connection("servicebay"), "apiKey": CANARY}

    async def scenario() -> None:
        await runtime.run("servicebay.getOrganisation", {}, connection)

    import asyncio

    from component.errors import CredentialsError

    with pytest.raises(CredentialsError) as caught:
        asyncio.run(scenario())
    assert "Invalid API key." in caught.value.message
    assert caught.value.vendor and caught.value.status == 401


def test_every_declared_credential_field_is_a_connection_field(tmp_path: Path) -> None:
    catalog = load(ROOT)
    for name, connector in catalog.connectors.items():
        props = connector.model.connection.schema_["properties"]
        declared = connector.model.envelope.credentials
        assert declared, f"{name} declares no credential statuses"
        assert all(field in props for fields in declared.values() for field in fields)


def test_a_declared_field_that_is_not_a_connection_field_is_a_definition_problem(tmp_path: Path) -> None:
    import shutil

    from component.catalog import check

    for name in ("manifest.json", "actions", "datasources", "triggers"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["connectors"]["servicebay"]["envelope"]["credentials"]["401"] = ["apiKee"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    _, problems = check(tmp_path)
    assert [p.to_dict()["path"] for p in problems] == ["$.connectors.servicebay.envelope.credentials.401[0]"]
