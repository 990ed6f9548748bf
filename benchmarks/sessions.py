"""Open sessions: memory and time to open 1,000 sessions (one HTTP client each) in a fresh process.

Ours share one TLS context; the baseline is httpx2's default, a context (and certificate store) per
client. Each measure runs ``python -m benchmarks.sessions MODE N`` so the RSS is the process's own.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from .core import ROOT, Report, Row, Sample, rss_kb

SESSIONS = 1000
BASELINE_SESSIONS = 100  # a TLS context each costs ~150 ms here: 1,000 would take minutes per run


async def _open(mode: str, count: int) -> dict[str, Any]:
    import httpx2

    from component.runtime import Runtime

    from .fixtures import ST_CONNECTION

    runtime = Runtime(env={})
    connections = [
        runtime.connection("servicetitan", {**ST_CONNECTION, "tenant": str(1000 + n)}) for n in range(count)
    ]
    opened: list[Any] = []
    before = rss_kb()
    started = time.perf_counter()
    for connection in connections:
        if mode == "ours":
            opened.append(await runtime.session(connection).__aenter__())
        else:
            opened.append(await httpx2.AsyncClient().__aenter__())
    seconds = time.perf_counter() - started
    after = rss_kb()
    for item in opened:
        await item.__aexit__(None, None, None)
    return {"seconds": seconds, "kb": after - before}


def probe(mode: str, count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.sessions", mode, str(count)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(report: Report, runs: int) -> None:
    ours = [probe("ours", SESSIONS) for _ in range(runs)]
    bare = [probe("httpx2-default", BASELINE_SESSIONS) for _ in range(runs)]
    baseline = f"httpx2.AsyncClient() each, own TLS context ({BASELINE_SESSIONS} opened)"
    per = Row(
        "open sessions",
        f"memory per open session ({SESSIONS:,} sessions opened)",
        Sample([r["kb"] / SESSIONS for r in ours], "KB"),
        Sample([r["kb"] / BASELINE_SESSIONS for r in bare], "KB"),
        baseline,
        "< 100 KB",
    )
    per.met = per.ours.median < 100
    report.add(per)
    total = Row(
        "open sessions",
        f"RSS of {SESSIONS:,} open sessions",
        Sample([r["kb"] / 1024 for r in ours], "MB"),
        target="(was 895 MB)",
    )
    report.add(total)
    report.add(
        Row(
            "open sessions",
            "time to open one session",
            Sample([r["seconds"] / SESSIONS * 1000 for r in ours], "ms"),
            Sample([r["seconds"] / BASELINE_SESSIONS * 1000 for r in bare], "ms"),
            baseline,
        )
    )


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_open(sys.argv[1], int(sys.argv[2])))))
