"""Demo (issue item 6): whole-process wall time of ``component demo``."""

from __future__ import annotations

import sys

from .core import Report, Row, Sample, interleaved, timed_process


def run(report: Report, runs: int) -> None:
    samples = interleaved(runs, {"demo": lambda: timed_process([sys.executable, "-m", "component", "demo"])})
    row = Row("demo", "component demo (whole process)", Sample(samples["demo"], "s"), target="< 5 s")
    row.met = row.ours.median < 5
    report.add(row)
