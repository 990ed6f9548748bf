"""Measuring: repeated runs, medians with min-max, ratios against a baseline measured in the same run."""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Sample:
    """Several runs of one measure, in one unit (``s``, ``ms``, ``µs``, ``MB``, ``KB``, ``rec/s``, ``n``)."""

    values: list[float]
    unit: str

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self) -> str:
        if len(self.values) == 1:
            return f"{fmt(self.values[0])} {self.unit}"
        low, high = min(self.values), max(self.values)
        return f"{fmt(self.median)} {self.unit} ({fmt(low)}-{fmt(high)})"


def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3g}"


@dataclass
class Row:
    """One line of the results table: ours vs a baseline, the target and whether it was met."""

    benchmark: str
    measure: str
    ours: Sample
    baseline: Sample | None = None
    baseline_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.median or not self.ours.median:
            return None
        return self.ours.median / self.baseline.median

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "benchmark": self.benchmark,
            "measure": self.measure,
            "ours": self.ours.text(),
            "baseline": f"{self.baseline_name}: {self.baseline.text()}" if self.baseline else "",
            "ratio": f"{ratio:.2f}x" if ratio is not None else "",
            "target": self.target,
            "met": "" if self.met is None else ("yes" if self.met else "**no**"),
            "note": self.note,
        }


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # paragraphs written under the table

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  {text}", flush=True)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print_row(row)
        return row


COLUMNS = ("benchmark", "measure", "ours", "baseline", "ratio", "target", "met", "note")


def print_row(row: Row) -> None:
    data = row.as_dict()
    print("  " + " | ".join(f"{data[c]}" for c in COLUMNS if data[c]), flush=True)


def markdown_table(rows: Iterable[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in COLUMNS) + " |")
    return "\n".join(lines)


def interleaved(
    runs: int, measures: dict[str, Callable[[], float]], warmup: int = 1
) -> dict[str, list[float]]:
    """Run each measure ``runs`` times, alternating between them so drift hits all alike."""
    for _ in range(warmup):
        for measure in measures.values():
            measure()
    results: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            gc.collect()
            results[name].append(measure())
    return results


def timed_async(make: Callable[[], Awaitable[Any]]) -> float:
    """Seconds to run one coroutine to completion in a fresh event loop."""

    async def main() -> float:
        started = time.perf_counter()
        await make()
        return time.perf_counter() - started

    return asyncio.run(main())


def timed_process(
    args: list[str], env: dict[str, str] | None = None, *, check: bool = True, cwd: Path = ROOT
) -> float:
    """Whole-process wall time of a command (seconds); fails loudly if the command fails (``check``)."""
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return elapsed


def rss_kb(field: str = "VmRSS") -> int:
    """Resident set size of this process now (Linux); ``VmHWM``: its peak.

    The peak is read here rather than from ``getrusage``: Linux carries ``ru_maxrss`` across
    ``exec``, so a child started by a large benchmark process would report the parent's peak.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def machine() -> dict[str, str]:
    import httpx2

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
            cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            memory = f"{int(info.readline().split()[1]) / 1024 / 1024:.1f} GB"
    except OSError:
        memory = "?"
    from component.version import __version__

    return {
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "memory": memory,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "httpx2": httpx2.__version__,
        "component": __version__,
    }
