"""Cold start (issue item 3): whole-process wall time of the CLI vs ``python -c "import httpx2"``
(the client the runtime sends with: a script that does nothing but import it).

The package's bytecode is compiled first, as installing the wheel does (pip compiles every module at
install) and as the first run of a checkout leaves it: ``PYTHONDONTWRITEBYTECODE`` in the
environment would otherwise charge every measured run for compiling the runtime's source, while
the baseline's httpx2 is read from the bytecode pip compiled.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .core import ROOT, Report, Row, Sample, interleaved, timed_process

PYTHON = sys.executable
LOAD_PROBE = (
    "import time, component.catalog as c, component.catalog_cache as cc\n"
    "root = c.default_root()\n"
    "started = time.perf_counter()\n"
    "c.load(root)\n"
    "print(time.perf_counter() - started, len(cc.definition_files(root)))\n"
)

FLOOR = "import component.cli, component.catalog, jsonschema"


def _baseline() -> str:
    """``import httpx2``: the client the runtime sends with, as a script that only imports it starts."""
    return "import httpx2"


def _installed(work: Path) -> Path:
    """The project built into a wheel and installed into a folder of its own, as ``pip install``
    leaves it (bytecode compiled, the checked catalog the wheel ships beside the definitions)."""
    import subprocess

    pip = [PYTHON, "-m", "pip", "--quiet"]
    wheels, site = work / "wheel", work / "site"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(ROOT)],
        check=True,
    )
    (wheel,) = wheels.glob("fieldservice_component-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True
    )
    return site


AFTER_EDIT = "catalog --json (first run after a definition's label changed)"
AFTER_DESCRIPTION_EDIT = "catalog --json (first run after an input's description changed)"
AFTER_SCHEMA_EDIT = "catalog --json (first run after an input's maxLength changed)"


def _edited_tree(work: Path, part: str) -> Callable[[], float]:
    """A measure: edit one definition of a copy of the tree (its cache warm), then time ``catalog
    --json``, the first run after that change. ``part``: ``label``; ``description``, of an input (the
    schemas are checked again); ``maxLength``, of an input (the schemas and the examples are)."""
    import shutil

    tree, edits = work / part, iter(range(1, 1_000_000))
    for name in ("actions", "datasources", "triggers"):
        shutil.copytree(ROOT / name, tree / name)
    shutil.copy(ROOT / "manifest.json", tree / "manifest.json")
    env = {"COMPONENT_ROOT": str(tree), "COMPONENT_CACHE_DIR": str(work / f"{part}-cache")}
    args = [PYTHON, "-m", "component", "catalog", "--json"]
    timed_process(args, env)  # every file checked once, as any earlier run leaves the cache
    job = tree / "actions" / "servicetitan" / "createJob.json"
    definition = json.loads(job.read_text())

    def measure() -> float:
        edited = json.loads(json.dumps(definition))
        summary = edited["inputs"]["properties"]["summary"]
        if part == "label":
            edited["label"] = f"Create Job ({next(edits)})"
        elif part == "description":
            summary["description"] = f"What it is about ({next(edits)})."
        else:
            summary["maxLength"] = 1000 + next(edits)
        job.write_text(json.dumps(edited, indent=2))
        return timed_process(args, env)

    return measure


def _load_seconds(env: dict[str, str]) -> tuple[float, int]:
    import subprocess

    done = subprocess.run(
        [PYTHON, "-c", LOAD_PROBE], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    seconds, files = done.stdout.split()
    return float(seconds), int(files)


def run(report: Report, runs: int) -> None:
    import compileall
    import os

    from component.catalog import load

    compileall.compile_dir(ROOT / "component", quiet=1)

    catalog = load()
    job = catalog.find("actions", "servicetitan.createJob").model.examples[0]
    work = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    inputs, connection = work / "inputs.json", work / "st.json"
    inputs.write_text(json.dumps(job))
    connection.write_text(
        json.dumps(
            {
                "clientId": "bench",
                "clientSecret": "bench-secret",
                "tenant": "1000001",
                "applicationKey": "bench-key",
                "environment": "integration",
            }
        )
    )
    warm = {"COMPONENT_CACHE_DIR": str(work / "cache")}
    cold = {"COMPONENT_CACHE_DIR": "off"}
    component = [PYTHON, "-m", "component"]
    dry_run = ["servicetitan.createJob", f"--inputs=@{inputs}", f"--connection={connection}", "--dry-run"]
    timed_process([*component, "catalog", "--json"], warm)  # fill the cache once
    baseline = _baseline()
    commands = {
        baseline: ([PYTHON, "-c", baseline], {}),
        "--version": ([*component, "--version"], warm),
        "--help": ([*component, "--help"], warm),
        "catalog --json (cache warm)": ([*component, "catalog", "--json"], warm),
        "catalog --json (no cache)": ([*component, "catalog", "--json"], cold),
        "imports of an uncached catalog": ([PYTHON, "-c", FLOOR], cold),
        "run createJob --dry-run (cache warm)": ([*component, "run", *dry_run], warm),
    }
    edited = {
        AFTER_EDIT: _edited_tree(work, "label"),
        AFTER_DESCRIPTION_EDIT: _edited_tree(work, "description"),
        AFTER_SCHEMA_EDIT: _edited_tree(work, "maxLength"),
    }
    installed = {"PYTHONPATH": str(_installed(work)), "COMPONENT_CACHE_DIR": "off", "COMPONENT_ROOT": ""}
    elsewhere = work / "elsewhere"  # not the checkout, whose component/ would be imported first
    elsewhere.mkdir()
    first_run = "catalog --json (first run after install)"
    commands[first_run] = ([*component, "catalog", "--json"], installed)
    measures = {
        name: (lambda a=args, e=env, w=(elsewhere if name == first_run else ROOT): timed_process(a, e, cwd=w))
        for name, (args, env) in commands.items()
    }
    measures.update(edited)
    samples = interleaved(runs, measures)
    base = Sample([v * 1000 for v in samples.pop(baseline)], "ms")
    targets = {
        "--version": ("< 1.5x", 1.5),
        "--help": ("< 1.5x", 1.5),
        "catalog --json (cache warm)": ("< 1x", 1.0),
        first_run: ("< 2x", 2.0),
        AFTER_EDIT: ("< 2x", 2.0),
        AFTER_DESCRIPTION_EDIT: ("< 2x", 2.0),
        AFTER_SCHEMA_EDIT: ("< 2x", 2.0),
    }
    for name, values in samples.items():
        target, limit = targets.get(name, ("", 0.0))
        row = Row("cold start", f"component {name}", Sample([v * 1000 for v in values], "ms"), base)
        row.baseline_name, row.target = f'python -c "{baseline}"', target
        if limit:
            row.met = row.ratio is not None and row.ratio < limit
        if name == "catalog --json (no cache)":
            row.note = (
                "every check of every file: the cache off, or a checkout's first run after a change to the "
                "runtime's own source"
            )
        if name == AFTER_EDIT:
            row.note = "createJob's label edited before each run: its cheap checks and the cross-file ones"
        if name == AFTER_DESCRIPTION_EDIT:
            row.note = "createJob's summary description edited before each run: its schemas checked again"
        if name == AFTER_SCHEMA_EDIT:
            row.note = "createJob's summary maxLength edited before each run: its schemas and its example "
            row.note += "checked again (by compiled checks: jsonschema is loaded only to word a refusal)"
        if name == first_run:
            row.note = "an installed wheel, no cache: the catalog checked when the wheel was built"
        if "dry-run" in name:
            row.note = "opens no HTTP client (tests/test_cold_start.py)"
        if name == "imports of an uncached catalog":
            row.measure = "imports alone: the CLI, the definition models, jsonschema"
            row.note = "what checking every definition needs before any check runs"
        report.add(row)
    env = dict(os.environ)
    for label, extra in (("cache warm", warm), ("no cache", cold)):
        results = [_load_seconds({**env, **extra}) for _ in range(runs)]
        files = results[0][1]
        row = Row(
            "cold start",
            f"load manifest + {files} definition files ({label})",
            Sample([seconds * 1000 for seconds, _ in results], "ms"),
            target="< 150 ms",
        )
        row.met = row.ours.median < 150
        report.add(row)
