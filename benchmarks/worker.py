"""The Celery workers on one machine, as real processes (``python -m benchmarks worker``).

1. Reliability: 1,000 ServiceTitan trigger instances (every 15 s: more than the tenant's 60
   requests a second would allow, so the shared budget binds) polled by 3 workers and beat against
   the served sandbox for ``COMPONENT_BENCH_WORKER_SECONDS`` (default 180) while a script creates a
   customer every 5 s; a third of the way in one worker is SIGKILLed holding leases (a new one
   takes its place), two thirds in Redis is killed and restarted without its data. Then every
   instance is polled twice more and the webhook's batches are tallied: missed, duplicated (one
   change under two ``eventId``), redelivered (same ``eventId`` again), and the sandbox's 429s.
2. Scaling: 1,000 ServiceTitan instances every 2 s, each a tenant of its own on the stand-in
   (benchmarks/standin.py: one budget per tenant, so no vendor limit binds and the workers are the
   bottleneck), with 1, 2 and 3 workers: committed polls per second, and the ratio to one worker.

PostgreSQL and Redis come from Debian's packages (tests/servers.py); without them it is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .core import Report, Row, Sample
from .served import Unavailable

SECONDS = float(os.environ.get("COMPONENT_BENCH_WORKER_SECONDS", "180"))
INSTANCES = int(os.environ.get("COMPONENT_BENCH_WORKER_INSTANCES", "1000"))
EVERY = 15.0
CHANGE_EVERY = 5.0
SCALE_EVERY = 2.0
SCALE_SECONDS = float(os.environ.get("COMPONENT_BENCH_WORKER_SCALE_SECONDS", "30"))
SECRET = "benchmark-sink-secret"
NAME = "worker"
TRIGGER = "servicetitan.pollChangesTrigger"


@contextlib.contextmanager
def servers() -> Iterator[tuple[Any, Any]]:
    import pytest

    from tests.servers import PostgresServer, RedisServer

    try:
        import celery  # noqa: F401
        import psycopg  # noqa: F401
        import redis  # noqa: F401

        pg = PostgresServer()
    except (ImportError, pytest.skip.Exception) as exc:
        raise Unavailable(f"needs the scale extra and Debian's postgresql and redis-server: {exc}") from None
    try:
        rd = RedisServer()
    except pytest.skip.Exception as exc:
        pg.stop()
        raise Unavailable(str(exc)) from None
    try:
        yield pg, rd
    finally:
        rd.stop()
        pg.stop()


def make_cluster(
    folder: str, state: str, rd: Any, hook: str, connections: dict[str, Any], **options: Any
) -> Any:
    """Workers on ``state`` and ``rd`` with 16 polls in flight each, events to the receiver at ``hook``."""
    from tests.worker_cluster import Cluster

    return Cluster(
        Path(folder),
        state=state,
        redis=rd.url,
        sink=f"{hook}/hook",
        secret=SECRET,
        connections=connections,
        max_in_flight=16,
        **options,
    )


def run(report: Report, runs: int) -> None:
    with servers() as (pg, rd):
        reliability(report, pg, rd)
        scaling(report, pg, rd)


def reliability(report: Report, pg: Any, rd: Any) -> None:
    from component.worker.instances import InstanceTable
    from tests.servers import served
    from tests.worker_cluster import (
        INPUTS,
        Receiver,
        commits,
        create_customers,
        leases_held_by,
        sandbox_process,
        statuses,
        tally,
        wait_for,
        wait_polled_again,
    )

    state = pg.database()
    receiver = Receiver(SECRET)
    names = [f"st-{n:04d}" for n in range(INSTANCES)]
    folder = tempfile.mkdtemp(prefix="bench-worker-")  # the processes' logs, kept when it fails
    with sandbox_process(latency_ms=20) as sandbox, served(receiver) as hook:
        connection = sandbox["connections"]["servicetitan"]
        cluster = make_cluster(folder, state, rd, hook, {"servicetitan": connection}, ttl=10.0)
        try:
            workers = {name: cluster.worker(name) for name in ("w1", "w2", "w3")}
            cluster.beat()
            with InstanceTable(state) as table:
                table.add_many([(name, TRIGGER, INPUTS, None, EVERY) for name in names])
            wait_polled_again(state, names, 1, EVERY * 8 + 60)  # every instance has its starting point
            print(f"  {INSTANCES} instances started; running {SECONDS:.0f} s", flush=True)
            created: list[str] = []
            writer = threading.Thread(
                target=lambda: created.extend(
                    asyncio.run(
                        create_customers(connection, rd.url, int(SECONDS / CHANGE_EVERY), CHANGE_EVERY)
                    )
                )
            )
            before = sum(commits(state).values())
            start = time.monotonic()
            writer.start()
            time.sleep(SECONDS / 3)
            victim = workers["w1"].pid
            wait_for(lambda: leases_held_by(state, victim) > 0, 60, "a poll in progress on w1", step=0.005)
            held = leases_held_by(state, victim)
            cluster.kill("w1")
            cluster.worker("w4")
            print(f"  w1 SIGKILLed holding {held} leases; w4 started", flush=True)
            time.sleep(max(0.0, start + 2 * SECONDS / 3 - time.monotonic()))
            rd.restart()
            print("  Redis killed and restarted (its data lost)", flush=True)
            writer.join()
            elapsed = time.monotonic() - start
            polled = sum(commits(state).values()) - before
            wait_polled_again(state, names, 2, EVERY * 8 + 120)
            counts = tally(receiver.events(), names, created)
            answered = statuses(sandbox)
            failures = statuses(sandbox, "failures")
        except BaseException:
            print(f"  logs kept in {folder}", flush=True)
            raise
        finally:
            cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)
    print(f"  {counts}; sandbox statuses {answered}", flush=True)
    measure = (
        f"{INSTANCES:,} instances, 3 workers, {SECONDS:.0f} s, {len(created)} customers created: "
        "missed / duplicated (after dedupe by eventId)"
    )
    row = Row(NAME, measure, Sample([counts["missed"] + counts["duplicated"]], "n"), target="0")
    row.met = counts["missed"] == 0 and counts["duplicated"] == 0 and counts["unexpected"] == 0
    row.note = (
        f"missed {counts['missed']}, duplicated {counts['duplicated']}, {counts['delivered']:,} events "
        f"delivered, {counts['redelivered']} redelivered with a known eventId (the killed worker's "
        f"uncommitted batches), w1 SIGKILLed holding {held} leases, Redis restarted at 2/3"
    )
    report.add(row)
    limited = Row(NAME, "429s answered by the sandbox (every key)", Sample([answered.get("429", 0)], "n"))
    limited.target, limited.met = "0", answered.get("429", 0) == 0
    limited.note = f"{sum(answered.values()):,} responses: {answered}; failed requests: {failures}"
    report.add(limited)
    rate = Row(
        NAME, "instances polled per second during the run (budget-bound)", Sample([polled / elapsed], "n")
    )
    rate.note = (
        f"{polled:,} committed polls in {elapsed:.0f} s; demand {INSTANCES / EVERY:.0f}/s, "
        "ServiceTitan 60 requests/s per tenant"
    )
    report.add(rate)


def throughput(pg: Any, rd: Any, workers: int) -> float:
    """Committed polls per second of ``workers`` workers, saturated: 1,000 instances, each a tenant
    of its own on the ServiceTitan stand-in (one budget and token per tenant, so no vendor limit
    binds), every 2 s."""
    from component.worker.instances import InstanceTable
    from tests.servers import served
    from tests.worker_cluster import Receiver, commits, wait_for

    from .polling import connection
    from .served import tenants_standin

    state = pg.database()
    rd.restart()  # an empty broker queue
    names = [f"t-{n:04d}" for n in range(INSTANCES)]
    with (
        tenants_standin() as standin,
        served(Receiver(SECRET)) as hook,
        tempfile.TemporaryDirectory() as folder,
    ):
        tenants = {
            name: {"connector": "servicetitan", "values": connection(standin["url"], n)}
            for n, name in enumerate(names)
        }
        cluster = make_cluster(folder, state, rd, hook, tenants, ttl=30.0, loglevel="WARNING")
        try:
            for n in range(workers):
                cluster.worker(f"w{n + 1}")
            cluster.beat()
            with InstanceTable(state) as table:
                table.add_many(
                    [(name, TRIGGER, {"resourceType": "jobs"}, name, SCALE_EVERY) for name in names]
                )
            wait_for(lambda: sum(commits(state).values()) >= INSTANCES // 2, 180, "the workers warm")
            before, start = sum(commits(state).values()), time.monotonic()
            time.sleep(SCALE_SECONDS)
            return (sum(commits(state).values()) - before) / (time.monotonic() - start)
        finally:
            cluster.stop()


def scaling(report: Report, pg: Any, rd: Any) -> None:
    rates = {}
    for workers in (1, 2, 3):
        rates[workers] = throughput(pg, rd, workers)
        print(f"  {workers} worker(s): {rates[workers]:.1f} instances polled/s", flush=True)
    for workers in (1, 2, 3):
        row = Row(
            NAME,
            f"instances polled per second, {workers} worker(s) ({INSTANCES:,} instances every "
            f"{SCALE_EVERY:.0f} s, a tenant each on the stand-in)",
            Sample([rates[workers]], "n"),
            Sample([rates[1]], "n") if workers > 1 else None,
            "1 worker" if workers > 1 else "",
            higher_is_better=True,
        )
        if workers > 1:
            row.note = (
                f"scaling ratio {rates[workers] / rates[1]:.2f}; {os.cpu_count()} cores shared by the "
                "workers, "
                "PostgreSQL, Redis, the sandbox and the receiver: beyond 2 workers no gain is expected"
            )
        report.add(row)
