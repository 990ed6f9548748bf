"""The wheel carries the manifest and every definition, so an installed component works anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("fieldservice_component-*.whl")
    return built


def test_wheel_contains_manifest_definitions_and_schemas(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "component/_definitions/manifest.json" in names
    manifest = json.loads((ROOT / "manifest.json").read_text())
    for connector in manifest["connectors"].values():
        for kind in ("actions", "dataSources", "triggers"):
            for relative in connector.get(kind, []):
                assert f"component/_definitions/{relative}" in names
    assert "component/schema/action.schema.json" in names
    for migration in (ROOT / "component" / "migrations" / "postgresql").glob("*.sql"):
        assert f"component/migrations/postgresql/{migration.name}" in names
    assert any(name.endswith("entry_points.txt") for name in names)


def test_installed_wheel_works_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "COMPONENT_ROOT"} | {"PYTHONPATH": str(site)}

    def component(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "component", *args], cwd=elsewhere, env=env, capture_output=True, text=True
        )

    where = subprocess.run(
        [sys.executable, "-c", "import component; print(component.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site))
    catalog = component("catalog", "--json")
    assert catalog.returncode == 0, catalog.stderr
    assert "createJob" in json.loads(catalog.stdout)["connectors"]["servicetitan"]["actions"]
    validate = component("validate")
    assert validate.returncode == 0, validate.stderr
    assert "_definitions" in validate.stdout
