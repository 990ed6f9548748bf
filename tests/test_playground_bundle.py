"""The committed playground bundle matches its sources.

Always: ``build-info.json`` (written by the build) records the SHA-256 of every source file and the
lock file, recomputed here, so a source changed without rebuilding fails without Node.js. Where
``node`` and ``npm`` are installed (CI installs them from Debian): the one build command,
``npm ci && npm run build``, is run on a copy of the sources and its output must equal the committed
bundle byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from component.service.playground import STATIC
from tests.conftest import ROOT

SOURCES = ROOT / "playground"
TOP = ["index.html", "package.json", "package-lock.json", "stamp.mjs", "vite.config.js"]
REBUILD = "npm ci && npm run build (in playground/)"


def source_digest(folder: Path) -> tuple[str, int]:
    """What ``playground/stamp.mjs`` computes: names and contents, the top files then ``src/`` sorted."""
    files = [folder / name for name in TOP]
    files += sorted((p for p in (folder / "src").rglob("*") if p.is_file()), key=lambda p: p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest(), len(files)


def bundle(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_the_bundle_was_built_from_these_sources() -> None:
    info = json.loads((STATIC / "build-info.json").read_text())
    digest, count = source_digest(SOURCES)
    assert (info["sources"], info["files"]) == (digest, count), f"the bundle is stale: run {REBUILD}"


def test_the_digest_sees_a_changed_source(tmp_path: Path) -> None:
    copy = tmp_path / "playground"
    shutil.copytree(SOURCES, copy, ignore=shutil.ignore_patterns("node_modules"))
    before = source_digest(copy)
    (copy / "src" / "styles.css").write_text((copy / "src" / "styles.css").read_text() + "\n")
    assert source_digest(copy) != before


def node_version() -> tuple[int, ...] | None:
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=60)
    return tuple(int(n) for n in done.stdout.strip().lstrip("v").split(".")[:2])


def test_a_fresh_build_equals_the_committed_bundle(tmp_path: Path) -> None:
    version = node_version()
    if version is None:
        pytest.skip("Node.js and npm are not installed: the bundle cannot be rebuilt here (CI installs them)")
    if version < (20, 19):
        pytest.skip(f"Node.js {'.'.join(map(str, version))} is older than the build needs (20.19 or later)")
    copy = tmp_path / "playground"
    shutil.copytree(SOURCES, copy, ignore=shutil.ignore_patterns("node_modules"))
    out = tmp_path / "out"
    env = {**os.environ, "PLAYGROUND_OUT": str(out), "npm_config_audit": "false", "npm_config_fund": "false"}
    for command in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (
            f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    fresh, committed = bundle(out), bundle(STATIC)
    assert sorted(fresh) == sorted(committed), f"the bundle is stale: run {REBUILD}"
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert changed == [], f"the bundle is stale ({', '.join(changed)}): run {REBUILD}"
