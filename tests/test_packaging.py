"""The wheel carries the manifest and every definition, so an installed component works anywhere, and
their catalog checked at build time, so its first run needs no check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from component import catalog_cache
from tests.conftest import ROOT


def build_wheel(source: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
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
            str(source),
        ],
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = build_wheel(ROOT, out)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("fieldservice_component-*.whl")
    return built


def install(wheel: Path, site: Path) -> None:
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
    install(wheel, site)
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


_HEAVY_PROBE = """
import sys
from component.cli import main
sys.argv = ["component", "catalog", "--json"]
try:
    main()
except SystemExit:
    pass
print("\\nLOADED", sorted({m.split(".")[0] for m in sys.modules} & {"pydantic", "jsonschema"}))
"""


def test_the_wheel_ships_its_catalog_checked_so_the_first_run_checks_nothing(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    install(wheel, site)
    installed = site / "component" / "_definitions"
    shipped = installed / catalog_cache.SHIPPED.name
    header, _, body = shipped.read_bytes().partition(b"\n")
    assert json.loads(header)["key"] == catalog_cache.content_key(installed)  # the key the runtime computes
    from component import catalog

    assert json.loads(body) == catalog.load(ROOT).to_json()
    env = {k: v for k, v in os.environ.items() if k != "COMPONENT_ROOT"}
    env |= {"PYTHONPATH": str(site), catalog_cache.CACHE_ENV: "off"}  # no cache at all: a first run

    def first_run() -> tuple[str, str]:
        done = subprocess.run(
            [sys.executable, "-c", _HEAVY_PROBE], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        output, _, loaded = done.stdout.rpartition("\nLOADED ")
        assert loaded, done.stderr
        return output, loaded.strip()

    output, loaded = first_run()
    assert loaded == "[]"  # neither the models nor the schema checker: nothing was checked again
    assert json.loads(output) == json.loads(body)
    # an installed definition changed afterwards is not covered by the shipped catalog: checked again
    job = installed / "actions" / "servicetitan" / "createJob.json"
    job.write_text(json.dumps({**json.loads(job.read_text()), "label": "Book a Job"}))
    output, loaded = first_run()
    assert loaded == "['jsonschema']"
    assert json.loads(output)["connectors"]["servicetitan"]["actions"]["createJob"]["label"] == "Book a Job"


def test_a_wheel_of_unsound_definitions_ships_no_checked_catalog(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "__pycache__", "*.egg-info", "build", "dist", ".*cache"
        ),
    )
    job = source / "actions" / "servicetitan" / "createJob.json"
    job.write_text(json.dumps({**json.loads(job.read_text()), "label": 42}))
    done = build_wheel(source, tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = (tmp_path / "out").glob("fieldservice_component-*.whl")
    names = zipfile.ZipFile(built).namelist()
    assert "component/_definitions/actions/servicetitan/createJob.json" in names
    assert f"component/_definitions/{catalog_cache.SHIPPED.name}" not in names


def test_the_build_hook_asks_for_what_the_project_pins() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {line.split(">")[0].split("<")[0]: line for line in project["project"]["dependencies"]}
    hook = project["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]["dependencies"]
    for requirement in hook:
        name = requirement.split(">")[0].split("<")[0]
        assert pins.get(name) == requirement, f"{requirement} (the project asks for {pins.get(name)})"
