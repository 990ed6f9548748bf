"""The builder service's own cost, measured side by side in one run on loopback.

1. 2,000 ``homebase360.ping`` calls, 32 at once (and 300 one at a time): through ``component serve``
   (its own process, an HTTP hop to it and back) vs the same calls on an in-process ``Runtime``.
   Both reach the same served sandbox (its own process; Homebase360 has no client-side rate
   budget), so the difference of the per-call latencies at p50 and p99 is what the service adds.
2. 200 concurrent ``servicetitan.selectTechnician`` requests on one connection through the service
   (here on a thread, its transport counted): token requests, vendor requests against the
   connector's budget (60 a second) and the picklist cache's hit rate.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from component.auth import TokenCache
from component.runtime import Runtime

from .core import ROOT, Report, Row, Sample
from .served import Unavailable, sandbox

CALLS = 2_000
CONCURRENCY = 32
PICKLIST_REQUESTS = 200
ACTION = "homebase360.ping"  # GET /ping: the vendor does least, so the service's cost shows
INPUTS: dict[str, Any] = {}
SEQUENTIAL = 300


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _concurrently(call: Any, count: int, concurrency: int) -> list[float]:
    """Per-call latencies (ms) of ``count`` calls, ``concurrency`` in flight at once."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _through_service(url: str, inputs: dict[str, Any], count: int, concurrency: int) -> list[float]:
    limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def call() -> None:
            response = await client.post(f"/v1/actions/{ACTION}", json=inputs)
            assert response.status_code == 200, response.text[:300]

        await _concurrently(call, 50, concurrency)  # warm: connections open, sessions made
        return await _concurrently(call, count, concurrency)


async def _in_process(
    connection: dict[str, Any], inputs: dict[str, Any], count: int, concurrency: int
) -> list[float]:
    async with Runtime(env={}) as runtime:

        async def call() -> None:
            await runtime.run(ACTION, inputs, connection)

        await _concurrently(call, 50, concurrency)
        return await _concurrently(call, count, concurrency)


@contextmanager
def _service(args: list[str], log: Path) -> Iterator[dict[str, Any]]:
    """``component serve`` in its own process, its access log to a file (a pipe nobody reads fills)."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert process.stdout is not None
            text = ""
            while not text.endswith("}\n"):
                line = process.stdout.readline()
                if not line:
                    raise Unavailable(f"the builder service did not start: {log.read_text()[-500:]}")
                text += line
            yield json.loads(text)
        finally:
            process.terminate()
            process.wait(timeout=30)


def overhead(report: Report, runs: int) -> None:
    shapes = {"one at a time": (SEQUENTIAL, 1), f"{CONCURRENCY} concurrent": (CALLS, CONCURRENCY)}
    measured: dict[tuple[str, str, str], list[float]] = {}
    with sandbox() as served, tempfile.TemporaryDirectory() as folder:
        connections = served["connections"]
        file = Path(folder) / "connections.json"
        file.write_text(json.dumps(connections))
        state = Path(folder) / "service.db"
        args = ["-m", "component", "serve", "--port", "0", "--connections", str(file), "--state", str(state)]
        with _service(args, Path(folder) / "service.log") as announced:
            url = announced["url"]
            for _ in range(runs):
                for shape, (count, concurrency) in shapes.items():
                    service = asyncio.run(_through_service(url, INPUTS, count, concurrency))
                    runtime = asyncio.run(_in_process(connections["homebase360"], INPUTS, count, concurrency))
                    for side, values in (("service", service), ("runtime", runtime)):
                        measured.setdefault((shape, "p50", side), []).append(statistics.median(values))
                        measured.setdefault((shape, "p99", side), []).append(percentile(values, 0.99))
    for shape, (count, _) in shapes.items():
        for label, limit in (("p50", 1.0), ("p99", 3.0)):
            ours, base = measured[(shape, label, "service")], measured[(shape, label, "runtime")]
            added = statistics.median(s - r for s, r in zip(ours, base, strict=True))
            row = Row(
                "service",
                f"{label} per call, {count:,} {ACTION}, {shape}",
                Sample(ours, "ms"),
                Sample(base, "ms"),
                "in-process Runtime, same calls",
                f"adds ≤ {limit:g} ms" if shape != "one at a time" else "",
                note=f"service adds {added:.2f} ms",
            )
            if shape != "one at a time":
                row.met = added <= limit
            report.add(row)


class _Counting(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.tokens = 0
        self.sent: list[float] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/connect/token"):
            self.tokens += 1
        else:
            self.sent.append(time.monotonic())
        return await self.inner.handle_async_request(request)


def picklist_burst(report: Report, runs: int) -> None:
    from tests.service_server import live_service

    results: list[dict[str, float]] = []
    with sandbox() as served, tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            state = Path(folder) / f"service-{run}.db"
            connections = {"servicetitan": served["connections"]["servicetitan"]}
            with live_service(state, sandbox=False, connections=connections, mcp=False) as live:
                counting = _Counting()
                live.service.app.runtime.transport = counting
                live.service.app.runtime.tokens = TokenCache()  # each run starts without a token
                started = time.perf_counter()
                asyncio.run(_burst(live.url))
                seconds = time.perf_counter() - started
                windows = [sum(1 for t in counting.sent if s <= t < s + 1) for s in counting.sent]
                results.append(
                    {
                        "tokens": counting.tokens,
                        "requests": len(counting.sent),
                        "peak": max(windows, default=0),
                        "hit": 1 - len(counting.sent) / PICKLIST_REQUESTS,
                        "seconds": seconds,
                    }
                )
    tokens = Row(
        "service",
        f"{PICKLIST_REQUESTS} concurrent selectTechnician on one connection: token requests",
        Sample([r["tokens"] for r in results], "n"),
        target="1",
    )
    tokens.met = all(r["tokens"] == 1 for r in results)
    report.add(tokens)
    peak = Row(
        "service",
        "vendor requests in the busiest second (budget 60/s)",
        Sample([r["peak"] for r in results], "n"),
        target="≤ 60",
        note=f"{statistics.median(r['requests'] for r in results):.0f} vendor request(s) in all",
    )
    peak.met = all(r["peak"] <= 60 for r in results)
    report.add(peak)
    report.add(
        Row(
            "service",
            "picklist cache hit rate",
            Sample([r["hit"] * 100 for r in results], "%"),
            note=f"wall time {statistics.median(r['seconds'] for r in results):.2f} s",
        )
    )


async def _burst(url: str) -> None:
    limits = httpx2.Limits(max_connections=PICKLIST_REQUESTS)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/picklists/servicetitan.selectTechnician") for _ in range(PICKLIST_REQUESTS))
        )
    assert all(a.status_code == 200 and a.json()["result"] for a in answers)


def run(report: Report, runs: int) -> None:
    overhead(report, runs)
    picklist_burst(report, runs)
