"""``validate`` checks the checkout it is run in (or ``--root``), not the installed copy, and names the
folder it checked and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from component import catalog_cache
from component.cli import cli
from tests.conftest import ROOT


@pytest.fixture
def broken_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with one unregistered definition; the 'installed' copy (the real tree) is sound."""
    checkout = tmp_path / "checkout"
    for name in ("manifest.json", "actions", "datasources", "triggers"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name)
        else:
            checkout.mkdir(exist_ok=True)
            shutil.copy(source, checkout / name)
    shutil.copy(
        checkout / "actions/servicetitan/createJob.json", checkout / "actions/servicetitan/extra.json"
    )
    monkeypatch.delenv(catalog_cache.ROOT_ENV, raising=False)
    monkeypatch.setattr(catalog_cache, "default_root", lambda: ROOT)
    return checkout


def validate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args])


def test_inside_a_checkout_validate_checks_the_checkout(
    broken_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken_checkout / "actions" / "servicetitan")  # anywhere below it
    out = validate()
    assert out.exit_code == 3, out.output
    assert "extra.json" in out.stderr
    assert f"under {broken_checkout.resolve()} (the checkout around the current directory)" in out.stderr
    as_json = json.loads(validate("--json").stdout)
    assert as_json["ok"] is False and as_json["rootFrom"] == "checkout"
    assert as_json["root"] == str(broken_checkout.resolve())


def test_outside_a_checkout_validate_checks_the_installed_definitions(
    broken_checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = validate()
    assert out.exit_code == 0, out.output
    assert out.stdout.rstrip().endswith(f"under {ROOT.resolve()} (the installed definitions)")


@pytest.mark.parametrize("where", ["before", "after"])
def test_root_wins_over_the_checkout_before_or_after_the_subcommand(
    where: str, broken_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken_checkout)
    args = ["--root", str(ROOT), "validate"] if where == "before" else ["validate", "--root", str(ROOT)]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert f"under {ROOT.resolve()} (--root)" in out.stdout


def test_the_environment_root_is_named(broken_checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(broken_checkout)
    out = CliRunner().invoke(cli, ["validate", "--json"], env={catalog_cache.ROOT_ENV: str(ROOT)})
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rootFrom"] == "COMPONENT_ROOT"


def test_a_folder_without_actions_is_not_a_checkout(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    assert catalog_cache.checkout_root(tmp_path) is None
    (tmp_path / "actions").mkdir()
    assert catalog_cache.checkout_root(tmp_path / "actions") == tmp_path
