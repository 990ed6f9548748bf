"""Demo (issue item 6): whole-process wall time of ``component demo``."""

from __future__ import annotations

import subprocess
import sys

from .core import ROOT, Report, Row, Sample, interleaved, timed_process

DEMO = [sys.executable, "-m", "component", "demo"]


def run(report: Report, runs: int) -> None:
    samples = interleaved(runs, {"demo": lambda: timed_process(DEMO, check=False)})
    row = Row("demo", "component demo (whole process)", Sample(samples["demo"], "s"), target="< 5 s")
    row.met = row.ours.median < 5
    done = subprocess.run(DEMO, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        failed = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("✗")]
        row.note = f"exit {done.returncode}: {'; '.join(failed)[:300]}"
    report.add(row)
