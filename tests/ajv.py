"""Ajv 2020 (strict) under Node.js, as a builder would run it: installed once, run once per batch.

``tests/js/package.json`` and ``package-lock.json`` pin Ajv and ajv-formats. :func:`install` runs
``npm ci`` into a cache folder named after the lock file's hash (``$COMPONENT_NODE_CACHE``, else
``node-<hash>`` in the user's cache folder of the component), so the registry is asked once per
pinned set; :func:`run` sends every schema and instance of a batch to one ``node`` process
(``tests/js/ajv_check.cjs``) and returns its answer. :func:`form_states` runs react-jsonschema-form's
form-state logic (``tests/js/form_state.cjs``) over the actions' schemas and examples the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

JS = Path(__file__).resolve().parent / "js"
SCRIPT = JS / "ajv_check.cjs"
FORM_SCRIPT = JS / "form_state.cjs"
CACHE_ENV = "COMPONENT_NODE_CACHE"
PACKAGES = ("ajv", "ajv-formats", "@rjsf/utils", "@rjsf/validator-ajv8")


class Unavailable(Exception):
    """Node.js or npm is not on this machine (the reason is the message)."""


def missing_tools() -> str | None:
    """Why Ajv cannot run here, or None when ``node`` and ``npm`` are both on the PATH."""
    absent = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if absent:
        return f"{' and '.join(absent)} not found on PATH (Debian: apt-get install nodejs npm)"
    return None


def _home() -> Path:
    lock = (JS / "package-lock.json").read_bytes() + (JS / "package.json").read_bytes()
    name = "node-" + hashlib.sha256(lock).hexdigest()[:16]
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / name
    # the user's cache, not the per-run catalog cache the test suite points COMPONENT_CACHE_DIR at
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fieldservice-component" / name


def install() -> Path:
    """The ``node_modules`` folder holding the pinned packages, installed on first use."""
    reason = missing_tools()
    if reason:
        raise Unavailable(reason)
    home = _home()
    modules = home / "node_modules"
    if all((modules / name / "package.json").is_file() for name in PACKAGES):
        return modules
    home.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".node-", dir=home.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(JS / name, work / name)
        done = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci failed in {work}:\n{done.stdout}\n{done.stderr}")
        try:
            os.replace(work, home)
        except OSError:  # another run installed the same pinned set meanwhile
            if not all((modules / name / "package.json").is_file() for name in PACKAGES):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return modules


def run(
    vocabulary: dict[str, Any], schemas: dict[str, Any], instances: list[tuple[str, Any]] | None = None
) -> dict[str, Any]:
    """``{"versions", "compiled": {id: None | [problems]}, "verdicts": [bool | None]}`` from one node run."""
    modules = install()
    payload = json.dumps({"vocabulary": vocabulary, "schemas": schemas, "instances": instances or []})
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=payload,
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(modules)},
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"node {SCRIPT.name} failed:\n{done.stderr}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def form_states(actions: dict[str, Any]) -> dict[str, Any]:
    """``{"versions", "forms": {ref: {"untouched", "examples"}}, "warnings"}`` from react-jsonschema-form.

    ``actions`` is ``{ref: {"inputs": <schema>, "examples": [...]}}``; each form state is what a form
    drawn from the schema holds untouched, and with each example loaded, before it is submitted.
    """
    modules = install()
    done = subprocess.run(
        ["node", str(FORM_SCRIPT)],
        input=json.dumps({"actions": actions}),
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(modules)},
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"node {FORM_SCRIPT.name} failed:\n{done.stderr}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
