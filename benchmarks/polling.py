"""Polling at scale (issue item 4): 1,000 trigger instances, each a distinct tenant, polled once in one
process vs bare httpx2 sending the same 1,000 token and list requests, 64 at a time, over loopback.

The served sandbox knows two tenants, so this runs against ``benchmarks.standin``, which answers any
tenant. Each side runs in a fresh process (``python -m benchmarks.polling MODE URL N``) so its peak
RSS is its own; ours keeps every tenant's session (client, TLS context share, open connection) open
until the end, as a long-running poller would.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from .core import ROOT, Report, Row, Sample, rss_kb
from .served import tenants_standin

TENANTS = 1000
CONCURRENCY = 64
TRIGGER = "servicetitan.pollChangesTrigger"


def connection(url: str, tenant: int) -> dict[str, str]:
    return {
        "clientId": f"client-{tenant}",
        "clientSecret": "bench-secret-0000",
        "tenant": str(tenant),
        "applicationKey": "bench-app-key-0000",
        "environment": "integration",
        "baseUrl": url,
        "tokenUrl": f"{url}/connect/token",
    }


async def ours(url: str, count: int) -> dict[str, Any]:
    from component.runtime import Runtime

    start_state = (await Runtime(env={}).poll(TRIGGER, {"resourceType": "jobs"}, connection(url, 0))).state
    gate = asyncio.Semaphore(CONCURRENCY)
    before = rss_kb()
    started = time.perf_counter()
    requests = 0
    async with Runtime(env={}) as runtime:

        async def one(tenant: int) -> None:
            nonlocal requests
            async with gate:
                result = await runtime.poll(
                    TRIGGER, {"resourceType": "jobs"}, connection(url, tenant), start_state
                )
                requests += result.requests

        await asyncio.gather(*(one(1 + n) for n in range(count)))
        seconds = time.perf_counter() - started
        open_kb = rss_kb() - before
    return {"seconds": seconds, "open_kb": open_kb, "requests": requests, "peak_kb": _peak_kb()}


async def bare(url: str, count: int) -> dict[str, Any]:
    import httpx2

    from component.version import USER_AGENT

    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    gate = asyncio.Semaphore(CONCURRENCY)
    started = time.perf_counter()
    async with httpx2.AsyncClient(limits=httpx2.Limits(max_connections=CONCURRENCY)) as client:

        async def one(tenant: int) -> None:
            async with gate:
                values = connection(url, tenant)
                form = {"grant_type": "client_credentials", "client_id": values["clientId"]}
                form["client_secret"] = values["clientSecret"]
                token = (await client.post(values["tokenUrl"], data=form)).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}", "ST-App-Key": values["applicationKey"]}
                headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
                query = {"modifiedOnOrAfter": since, "sort": "+ModifiedOn", "page": 1, "pageSize": 1000}
                response = await client.get(
                    f"{url}/jpm/v2/tenant/{tenant}/jobs", params=query, headers=headers
                )
                response.raise_for_status()
                response.json()

        await asyncio.gather(*(one(1 + n) for n in range(count)))
    return {"seconds": time.perf_counter() - started, "peak_kb": _peak_kb()}


def _peak_kb() -> int:
    return rss_kb("VmHWM")


def probe(mode: str, url: str, count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.polling", mode, url, str(count)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode:
        raise RuntimeError(f"polling {mode} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run(report: Report, runs: int) -> None:
    with tenants_standin() as served:
        url = served["url"]
        results: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
        for _ in range(runs):
            for mode in results:
                results[mode].append(probe(mode, url, TENANTS))
    ours_runs, bare_runs = results["ours"], results["bare"]
    time_row = Row(
        "polling at scale",
        f"{TENANTS:,} trigger instances (distinct tenants) polled once, {CONCURRENCY} at a time, loopback",
        Sample([r["seconds"] for r in ours_runs], "s"),
        Sample([r["seconds"] for r in bare_runs], "s"),
        "bare httpx2, one client",
        "<= 1.5x",
        note=f"{ours_runs[0]['requests']} list requests (+{TENANTS} token requests) each side",
    )
    time_row.met = time_row.ratio is not None and time_row.ratio <= 1.5
    report.add(time_row)
    peak = Row(
        "polling at scale",
        f"peak RSS, {TENANTS:,} tenants",
        Sample([r["peak_kb"] / 1024 for r in ours_runs], "MB"),
        Sample([r["peak_kb"] / 1024 for r in bare_runs], "MB"),
        "bare httpx2, one client",
        "< 200 MB",
    )
    peak.met = peak.ours.median < 200
    report.add(peak)
    per = Row(
        "polling at scale",
        f"memory per open connection ({TENANTS:,} sessions kept open)",
        Sample([r["open_kb"] / TENANTS for r in ours_runs], "KB"),
        target="< 100 KB",
    )
    per.met = per.ours.median < 100
    report.add(per)


if __name__ == "__main__":
    work = ours if sys.argv[1] == "ours" else bare
    print(json.dumps(asyncio.run(work(sys.argv[2], int(sys.argv[3])))))
