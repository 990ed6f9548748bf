"""The generators in tools/ without the vendor reference specs: one line naming what is missing and
how to point at it, and exit 66 (EX_NOINPUT), never 1, which ``--check`` keeps for drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TOOLS = ("servicetitan_definitions.py", "sandbox_requests.py")


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("check", [True, False], ids=["check", "write"])
@pytest.mark.parametrize("folder", ["absent", "empty"])
def test_a_generator_without_the_specs_names_them_and_exits_66(
    tool: str, check: bool, folder: str, tmp_path: Path
) -> None:
    reference = tmp_path / "reference"
    if folder == "empty":
        reference.mkdir()
    before = (ROOT / "manifest.json").stat().st_mtime_ns
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / tool), "--reference", str(reference)]
        + (["--check"] if check else []),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 66, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"tools/{tool}: ")
    assert str(reference) in lines[0] and "--reference DIR" in lines[0]
    assert ("does not exist" if folder == "absent" else "holds no servicetitan/") in lines[0]
    assert done.stdout == ""
    assert (ROOT / "manifest.json").stat().st_mtime_ns == before  # nothing written
