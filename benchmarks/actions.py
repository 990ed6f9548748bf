"""Action overhead (issue item 1): 2,000 getJob/createJob actions through ``async with Runtime()`` vs
the same 2,000 requests from one bare ``AsyncClient`` (same keep-alive, same concurrency): httpx2's,
the client the runtime sends with (the runtime's own cost), and httpx 0.28's where it is installed
(``pip install -e ".[benchmarks]"``), the client the issue names."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import httpx2

from component.auth import TokenCache
from component.http import _LIMITS
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.version import USER_AGENT

from .core import Report, Row, Sample, interleaved, timed_async
from .fixtures import ST_API, ST_CONNECTION, TOKEN, job_actions, st_handler, unthrottled
from .served import sandbox

ACTIONS = 2000


async def spread(count: int, concurrency: int, work: Callable[[int], Awaitable[Any]]) -> None:
    """``count`` calls of ``work(i)`` by ``concurrency`` workers."""

    async def worker(start: int) -> None:
        for index in range(start, count, concurrency):
            await work(index)

    await asyncio.gather(*(worker(start) for start in range(concurrency)))


class ActionBench:
    """Our runtime and the bare client against one target: in process (MockTransport) or a served URL."""

    def __init__(self, base_url: str | None = None, connection: dict[str, Any] | None = None) -> None:
        self.catalog = unthrottled()
        self.connection = dict(connection or ST_CONNECTION)
        self.base_url = base_url or ST_API
        self.in_process = base_url is None
        get, create = job_actions(self.catalog)
        self.calls = [get, create]
        runtime = Runtime(self.catalog, env={})
        # the exact requests the runtime sends, for the bare client to send too
        self.requests = [
            runtime.run_sync(ref, inputs, self.connection, dry_run=True) for ref, inputs in self.calls
        ]
        self.token_url = self.base_url + "/connect/token"

    def transport(self, client: ModuleType = httpx2) -> Any:
        return client.MockTransport(st_handler(client)) if self.in_process else None

    async def ours(self, count: int, concurrency: int) -> None:
        # as a caller runs it: the process environment read, the connection passed as a dict
        runtime = Runtime(
            self.catalog, transport=self.transport(), tokens=TokenCache(), budgets=BudgetRegistry()
        )
        async with runtime:

            async def one(index: int) -> None:
                ref, inputs = self.calls[index % 2]
                await runtime.run(ref, inputs, self.connection)

            await spread(count, concurrency, one)

    async def bare(self, count: int, concurrency: int, library: ModuleType = httpx2) -> None:
        """The same requests as a user sends them: ``client.request`` with the headers and a JSON body,
        the body read with ``response.json()``."""
        transport = self.transport(library)
        # the runtime's connection limits, read from it so that the two cannot drift apart
        most, idle = _LIMITS.max_connections, _LIMITS.max_keepalive_connections
        limits = library.Limits(max_connections=most, max_keepalive_connections=idle)
        async with library.AsyncClient(transport=transport, limits=limits, follow_redirects=False) as client:
            token = await self._token(client)
            headers = {
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                "ST-App-Key": self.connection["applicationKey"],
                "Authorization": f"Bearer {token}",
            }
            urls = [self._url(r["url"]) for r in self.requests]

            async def one(index: int) -> None:
                request = self.requests[index % 2]
                body = {"json": request["json"]} if "json" in request else {}
                method, url, query = request["method"], urls[index % 2], request["query"] or None
                try:
                    response = await client.request(method, url, params=query, headers=headers, **body)
                except library.TransportError:  # a kept-alive connection the server closed: once more
                    response = await client.request(method, url, params=query, headers=headers, **body)
                response.raise_for_status()
                response.json()

            await spread(count, concurrency, one)

    async def _token(self, client: Any) -> str:
        if self.in_process:
            response = await client.post(self.token_url, data={"grant_type": "client_credentials"})
            return TOKEN if response.is_success else ""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.connection["clientId"],
            "client_secret": self.connection["clientSecret"],
        }
        response = await client.post(self.connection.get("tokenUrl") or self.token_url, data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def _url(self, url: str) -> str:
        return url


def baselines() -> dict[str, ModuleType]:
    """The bare clients measured, named with their versions: httpx2 (the library and version the
    runtime sends with, so the difference is the runtime's own cost), and httpx where it is installed."""
    found = {BARE: httpx2}
    try:
        import httpx
    except ImportError:
        return found
    return {**found, f"bare httpx {httpx.__version__}": httpx}


BARE = f"bare httpx2 {httpx2.__version__}"
SWEEP = (1, 16, 64, 256)


def timings(
    runs: int, bench: ActionBench, concurrency: int, clients: dict[str, ModuleType]
) -> dict[str, list[float]]:
    """Seconds for ``ACTIONS`` actions, ours and each bare client's, interleaved run by run."""
    measures: dict[str, Callable[[], float]] = {
        "ours": lambda: timed_async(lambda: bench.ours(ACTIONS, concurrency))
    }
    for name, library in clients.items():
        measures[name] = lambda lib=library: timed_async(lambda: bench.bare(ACTIONS, concurrency, lib))
    return interleaved(runs, measures)


def measure(report: Report, runs: int, target: str, bench: ActionBench, where: str, limit: float) -> None:
    clients = baselines()
    for concurrency in (1, 32):
        how = "sequential" if concurrency == 1 else "32 at once"
        samples = timings(runs, bench, concurrency, clients)
        ours = Sample([v / ACTIONS * 1e6 for v in samples["ours"]], "µs/action")
        for name in clients:
            bare = Sample([v / ACTIONS * 1e6 for v in samples[name]], "µs/action")
            row = Row(
                "action overhead",
                f"{ACTIONS:,} getJob/createJob, {where}, {how}",
                ours,
                bare,
                name,
                target,
            )
            row.met = row.ratio is not None and row.ratio <= limit
            row.note = f"{ours.median - bare.median:+.0f} µs/action"
            report.add(row)


def sweep(report: Report, runs: int, bench: ActionBench) -> None:
    """Actions per second at 1, 16, 64 and 256 at once against the served sandbox, ours and each bare
    client's; the ratio is ours / the client's (above 1: we complete more per second)."""
    clients = baselines()
    for concurrency in SWEEP:
        samples = timings(runs, bench, concurrency, clients)
        ours = Sample([ACTIONS / v for v in samples["ours"]], "actions/s")
        for name in clients:
            bare = Sample([ACTIONS / v for v in samples[name]], "actions/s")
            row = Row(
                "action sweep",
                f"{ACTIONS:,} getJob/createJob, loopback (served sandbox), {concurrency} at once",
                ours,
                bare,
                name,
                higher_is_better=True,
            )
            row.note = "ratio: ours / bare actions per second"
            report.add(row)


def run(report: Report, runs: int) -> None:
    measure(report, runs, "<= 1.3x", ActionBench(), "in process (MockTransport)", 1.3)
    with sandbox() as served:
        connection = served["connections"]["servicetitan"]
        bench = ActionBench(base_url=connection["baseUrl"], connection=connection)
        measure(report, runs, "<= 1.1x", bench, "loopback (served sandbox)", 1.1)
        sweep(report, max(3, runs // 2), bench)
