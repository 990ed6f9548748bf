"""The builder service's own cost, measured side by side in one run on loopback.

1. 2,000 ``homebase360.ping`` calls, 32 at once (and 300 one at a time): through ``component serve``
   (its own process, an HTTP hop to it and back) vs the same calls on an in-process ``Runtime``.
   Both reach the same served sandbox (its own process; Homebase360 has no client-side rate
   budget), so the difference of the per-call latencies at p50 and p99 is what the service adds.
   The two sides alternate which goes first from run to run. The load comes from a minimal
   keep-alive HTTP/1.1 client (:class:`KeepAlive`), so the client's own CPU, on the same two cores,
   stays small next to the service's. Beside the latencies: the CPU each side spends per call (the
   service process's, read from ``/proc``; the in-process runtime's, this process's), the
   client's, and the same 32 at once with the service on one core and this process on the other.
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
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
WARM = 50
BLOCKS = 8  # each measure alternates service and in-process runtime this many times
TARGETS = {"p50": 1.0, "p99": 3.0}  # ms the service may add per call at 32 concurrent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _concurrently(calls: list[Callable[[], Awaitable[Any]]], count: int) -> list[float]:
    """Per-call latencies (ms) of ``count`` calls, one worker per entry of ``calls`` in flight."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker(call: Callable[[], Awaitable[Any]]) -> None:
        for _ in queue:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker(call) for call in calls))
    return latencies


class KeepAlive(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection sending one prepared request again and again: the least a
    client can do per call (no URL, header or JSON handling; one callback per answer), so the CPU
    measured on the machine is the server's."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[bytes] | None = None

    @classmethod
    async def open(cls, url: str, path: str, body: bytes, method: str = "POST") -> KeepAlive:
        host, _, port = url.removeprefix("http://").rpartition(":")
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(
            lambda: cls(head.encode() + body), host.strip("[]"), int(port)
        )
        return client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        length = 0
        for line in self.buffer[:end].lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line[15:])
        if len(self.buffer) < end + 4 + length:
            return
        answer, self.buffer = self.buffer[: end + 4 + length], self.buffer[end + 4 + length :]
        if answer[9:12] != b"200":
            self.waiter.set_exception(AssertionError(answer[:400]))
        else:
            self.waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("the server closed the connection"))

    async def __call__(self) -> bytes:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(self.request)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _through_service(
    url: str, count: int, concurrency: int, path: str = f"/v1/actions/{ACTION}", method: str = "POST"
) -> list[float]:
    body = json.dumps(INPUTS).encode() if method == "POST" else b""
    clients = [await KeepAlive.open(url, path, body, method) for _ in range(concurrency)]
    try:
        await _concurrently(list(clients), WARM)  # warm: connections open, sessions made
        return await _concurrently(list(clients), count)
    finally:
        for client in clients:
            client.close()


def on_client_loop(work: Coroutine[Any, Any, list[float]]) -> list[float]:
    """Run the load client on uvloop where installed: its own CPU per call on the shared cores is
    then about half of asyncio's (the in-process runtime keeps asyncio's loop, as a caller's would)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work)


async def _in_process(
    connection: dict[str, Any], inputs: dict[str, Any], count: int, concurrency: int
) -> list[float]:
    async with Runtime(env={}) as runtime:

        async def call() -> None:
            await runtime.run(ACTION, inputs, connection)

        await _concurrently([call] * concurrency, WARM)
        return await _concurrently([call] * concurrency, count)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far, all its threads (Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def pinned(pid: int, core: int) -> Iterator[bool]:
    """Process ``pid``'s main thread (0: this thread) on one core for the block; False where it cannot be."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        yield False
        return
    before = os.sched_getaffinity(pid)
    os.sched_setaffinity(pid, {sorted(before)[core]})
    try:
        yield True
    finally:
        os.sched_setaffinity(pid, before)


@dataclass
class Side:
    """One side's measures over the runs: per-call latency percentiles and CPU per call (ms)."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the serving process's (service) or this one's
    client: list[float] = field(default_factory=list)  # this process's while the service served

    def add(self, latencies: list[float]) -> None:
        self.p50.append(statistics.median(latencies))
        self.p99.append(percentile(latencies, 0.99))


@contextmanager
def _service(args: list[str], log: Path) -> Iterator[tuple[dict[str, Any], subprocess.Popen[str]]]:
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
            yield json.loads(text), process  # it listens before it says where: no wait needed
        finally:
            process.terminate()
            process.wait(timeout=30)


def overhead(report: Report, runs: int) -> None:
    shapes = {"one at a time": (SEQUENTIAL, 1), f"{CONCURRENCY} concurrent": (CALLS, CONCURRENCY)}
    pinned_shape = f"{CONCURRENCY} concurrent, service and client on a core each"
    measured: dict[tuple[str, str], Side] = {}
    with sandbox() as served, tempfile.TemporaryDirectory() as folder:
        connections = served["connections"]
        file = Path(folder) / "connections.json"
        file.write_text(json.dumps(connections))
        state = Path(folder) / "service.db"
        args = ["-m", "component", "serve", "--port", "0", "--connections", str(file), "--state", str(state)]
        with _service(args, Path(folder) / "service.log") as (announced, process):
            url = announced["url"]

            def through_service(count: int, concurrency: int) -> tuple[list[float], float, float]:
                cpu, client = cpu_seconds(process.pid), time.process_time()
                latencies = on_client_loop(_through_service(url, count, concurrency))
                after = cpu_seconds(process.pid)
                used = after - cpu if cpu is not None and after is not None else float("nan")
                return latencies, used, time.process_time() - client

            def in_process(count: int, concurrency: int) -> tuple[list[float], float, float]:
                cpu = time.process_time()
                latencies = asyncio.run(_in_process(connections["homebase360"], INPUTS, count, concurrency))
                return latencies, time.process_time() - cpu, 0.0

            def paired(shape: str, count: int, concurrency: int) -> None:
                """Both sides in :data:`BLOCKS` alternating blocks, so load that comes and goes on the
                machine meets both alike; each side's latencies pooled over its blocks."""
                pooled: dict[str, list[float]] = {"service": [], "runtime": []}
                spent = {"service": 0.0, "runtime": 0.0, "client": 0.0}
                for block in range(BLOCKS):
                    sides = [("service", through_service), ("runtime", in_process)]
                    for name, measure in sides if block % 2 == 0 else sides[::-1]:
                        latencies, cpu, client = measure(count // BLOCKS, concurrency)
                        pooled[name] += latencies
                        spent[name] += cpu
                        spent["client"] += client
                calls = BLOCKS * (count // BLOCKS + WARM)
                for name in ("service", "runtime"):
                    side = measured.setdefault((shape, name), Side())
                    side.add(pooled[name])
                    if spent[name] == spent[name]:  # not NaN: the service's CPU could be read
                        side.cpu.append(spent[name] / calls * 1000)
                measured[(shape, "service")].client.append(spent["client"] / calls * 1000)

            def floor() -> None:
                cpu = cpu_seconds(process.pid)
                on_client_loop(_through_service(url, CALLS, CONCURRENCY, "/healthz", "GET"))
                if cpu is not None and (after := cpu_seconds(process.pid)) is not None:
                    healthz.append((after - cpu) / (CALLS + WARM) * 1000)

            healthz: list[float] = []
            for _ in range(runs):
                floor()
                for shape, (count, concurrency) in shapes.items():
                    paired(shape, count, concurrency)
                with pinned(process.pid, 1) as apart, pinned(0, 0):
                    if apart:
                        paired(pinned_shape, CALLS, CONCURRENCY)
    for shape, (count, _) in [*shapes.items(), (pinned_shape, (CALLS, CONCURRENCY))]:
        if (shape, "service") not in measured:
            continue
        _latency_rows(report, shape, count, measured[(shape, "service")], measured[(shape, "runtime")])
    for shape, (count, concurrency) in shapes.items():
        ours, base = measured[(shape, "service")], measured[(shape, "runtime")]
        _cpu_row(report, shape, count, concurrency, ours, base)
    if healthz:
        report.add(
            Row(
                "service",
                f"the floor: CPU per request of {CALLS:,} GET /healthz, {CONCURRENCY} concurrent",
                Sample(healthz, "ms"),
                note="uvicorn, the guard and the access log; no runtime work",
            )
        )
    concurrent = f"{CONCURRENCY} concurrent"
    if measured[(concurrent, "service")].cpu:
        _arithmetic(report, measured[(concurrent, "service")], measured[(concurrent, "runtime")], healthz)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _arithmetic(report: Report, ours: Side, base: Side, healthz: list[float]) -> None:
    """What the p50 target needs at 32 concurrent, from this run's figures, under the table."""
    cores = _cores()
    added = statistics.median(s - r for s, r in zip(ours.cpu, base.cpu, strict=True))
    client = statistics.median(ours.client)
    latency = statistics.median(s - r for s, r in zip(ours.p50, base.p50, strict=True))
    budget = TARGETS["p50"] * cores / CONCURRENCY
    floor = f"{statistics.median(healthz) * 1000:.0f} µs" if healthz else "not measured"
    verdict = "met" if latency <= TARGETS["p50"] else "not met"
    report.note(
        f"**What the p50 target needs.** With {CONCURRENCY} calls in flight on {cores} cores the machine "
        f"is saturated, so each call waits behind the CPU of the calls ahead of it: CPU a call adds "
        f"anywhere on the machine adds about {CONCURRENCY} / {cores} = {CONCURRENCY / cores:g} times as "
        f"much latency. For the service to add ≤ {TARGETS['p50']:g} ms at p50, the service and its "
        f"client together may add ≤ {TARGETS['p50']:g} ms x {cores} / {CONCURRENCY} = "
        f"{budget * 1000:.1f} µs of CPU per call. Measured here: the service process adds "
        f"{added * 1000:.0f} µs per call over the in-process runtime and the minimal client spends "
        f"{client * 1000:.0f} µs, so the queueing predicts {CONCURRENCY / cores:g} x "
        f"{(added + client) * 1000:.0f} µs = {CONCURRENCY / cores * (added + client):.1f} ms added at p50; "
        f"measured {latency:.1f} ms (other work on the machine takes its share of the cores too). "
        f"The floor, a GET /healthz through uvicorn and the guard with no runtime work, is {floor} of "
        f"CPU per request alone. The target is {verdict} on this machine. Instruction counts, which a "
        "busy machine does not move: `benchmarks/README.md` (`python -m benchmarks.service_instructions`)."
    )


def _latency_rows(report: Report, shape: str, count: int, ours: Side, base: Side) -> None:
    for label, limit in TARGETS.items():
        mine, theirs = getattr(ours, label), getattr(base, label)
        added = statistics.median(s - r for s, r in zip(mine, theirs, strict=True))
        row = Row(
            "service",
            f"{label} per call, {count:,} {ACTION}, {shape}",
            Sample(mine, "ms"),
            Sample(theirs, "ms"),
            "in-process Runtime, same calls",
            f"adds ≤ {limit:g} ms" if shape != "one at a time" else "",
            note=f"service adds {added:.2f} ms",
        )
        if added < 0:
            # the service does all the runtime's work and more: a negative difference is other load
            # on the machine that came and went between the sides, not a measure of the service
            row.note += " (below zero: the machine's other load, not the service; no verdict)"
        elif shape != "one at a time":
            row.met = added <= limit
        report.add(row)


def _cpu_row(report: Report, shape: str, count: int, concurrency: int, ours: Side, base: Side) -> None:
    """CPU per call: the service process's vs the in-process runtime's, and what the latency target
    needs. With ``concurrency`` calls in flight on ``cores`` busy cores, each call waits behind the
    others' CPU: the service may add at most ``target * cores / concurrency`` of CPU per call
    (service and client together) for the latency it adds to stay within the target."""
    if not ours.cpu:
        return
    added = statistics.median(s - r for s, r in zip(ours.cpu, base.cpu, strict=True))
    client = statistics.median(ours.client)
    note = f"service adds {added * 1000:.0f} µs CPU per call; the load client spends {client * 1000:.0f} µs"
    cores = _cores()
    target = ""
    if concurrency > 1:
        budget = TARGETS["p50"] * min(cores, concurrency) / concurrency
        target = f"≤ {budget * 1000:.0f} µs added for ≤ {TARGETS['p50']:g} ms at p50 ({cores} cores)"
    row = Row(
        "service",
        f"CPU per call, {count:,} {ACTION}, {shape}",
        Sample(ours.cpu, "ms"),
        Sample(base.cpu, "ms"),
        "in-process Runtime (this process), same calls",
        target,
        note=note,
    )
    if concurrency > 1:
        row.met = added + client <= budget
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
