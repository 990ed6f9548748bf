"""Real processes for the worker's tests and benchmark: the served sandbox (its own process, counting
every status it answers), a webhook receiver that checks each batch's signature, Celery workers and
beat started as ``component worker run`` / ``component worker beat``, scripted vendor changes and
the tally of what the receiver got.

    python -m tests.worker_cluster sandbox [--latency-ms N]   # the counting sandbox (prints its JSON)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from component.worker.sinks import SIGNATURE_HEADER, verify
from tests.conftest import ROOT

TRIGGER = "servicetitan.pollChangesTrigger"
INPUTS = {"resourceType": "customers"}
CUSTOMER = json.loads((ROOT / "actions/servicetitan/createCustomer.json").read_text())["examples"][0]


# --- the sandbox, served in its own process ---------------------------------------------------------


def serve_sandbox(latency_ms: float) -> None:
    """Serve the sandbox with the vendors' rate limits; ``GET /_counts`` answers the statuses sent."""
    import uvicorn

    from component.sandbox import VENDORS, Faults, Sandbox
    from component.service.listening import listen
    from tests.servers import Counting

    faults = {name: Faults(latency_ms=latency_ms) for name in VENDORS}
    sandbox = Sandbox(faults=faults)
    counting = Counting(sandbox.app)

    failures: Counter[str] = Counter()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_counts":
            counts = {"statuses": {str(k): v for k, v in counting.statuses.items()}, "failures": failures}
            body = json.dumps(counts).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def noted(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                failures[f"{message['status']} {scope['method']} {scope['path']}"] += 1
            await send(message)

        await counting(scope, receive, noted if scope["type"] == "http" else send)

    listener = listen("127.0.0.1", 0)  # listening before its address is printed
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    print(json.dumps({"url": base, "connections": sandbox.connections(base)}), flush=True)
    config = uvicorn.Config(app, log_level="critical", lifespan="off", backlog=4096)
    uvicorn.Server(config).run(sockets=[listener])


@contextlib.contextmanager
def sandbox_process(latency_ms: float = 0.0) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.worker_cluster", "sandbox", str(latency_ms)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


def statuses(sandbox: dict[str, Any], key: str = "statuses") -> dict[str, int]:
    """The sandbox's responses by status (``failures``: each status of 400 or more by request)."""
    import httpx2

    found: dict[str, int] = httpx2.get(sandbox["url"] + "/_counts", timeout=10).json()[key]
    return found


# --- the webhook receiver ---------------------------------------------------------------------------


class Receiver:
    """An ASGI app that takes signed batches (answers 401 to a bad signature, 503 to the first
    ``fail_first`` good ones) and keeps them."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.batches: list[dict[str, Any]] = []
        self.refused = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        header = dict(scope["headers"]).get(SIGNATURE_HEADER.lower().encode(), b"").decode()
        status = 200
        with self.lock:
            if not verify(self.secret, body, header):
                status, self.refused = 401, self.refused + 1
            elif self.fail_first > 0:
                status, self.fail_first = 503, self.fail_first - 1
            else:
                self.batches.append(json.loads(body))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(batch["instance"], event) for batch in self.batches for event in batch["events"]]


# --- workers and beat -------------------------------------------------------------------------------


class Cluster:
    """Worker and beat processes sharing one PostgreSQL, one Redis and one sink; logs in ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        state: str,
        redis: str,
        sink: str,
        secret: str,
        connections: dict[str, Any],
        ttl: float = 5.0,
        jitter: float = 0.2,
        max_in_flight: int = 8,
        loglevel: str = "INFO",
    ) -> None:
        self.folder = folder
        self.loglevel = loglevel
        (folder / "connections.json").write_text(json.dumps(connections))
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "COMPONENT_STATE": state,
            "COMPONENT_REDIS_URL": redis,
            "COMPONENT_CONNECTIONS": str(folder / "connections.json"),
            "COMPONENT_SINK": sink,
            "COMPONENT_SINK_SECRET": secret,
            "COMPONENT_LEASE_TTL": str(ttl),
            "COMPONENT_POLL_JITTER": str(jitter),
            "COMPONENT_MAX_IN_FLIGHT": str(max_in_flight),
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(
            [sys.executable, "-m", "component", "worker", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes[name] = process
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self._start(
            name,
            "run",
            "--loglevel",
            self.loglevel,
            "--hostname",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        )

    def beat(self) -> subprocess.Popen[bytes]:
        schedule = str(self.folder / "beat.db")
        return self._start("beat", "beat", "--loglevel", self.loglevel, "--schedule", schedule)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes.clear()

    def logs(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.folder.glob("*.log")))


# --- the database's view ----------------------------------------------------------------------------


def commits(state: str) -> dict[str, int]:
    """Commits per trigger instance so far."""
    import psycopg

    with psycopg.connect(state, autocommit=True) as db:
        return dict(db.execute("SELECT instance, commits FROM trigger_state").fetchall())


def wait_for(condition: Any, seconds: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def wait_polled_again(state: str, instances: list[str], times: int, seconds: float) -> None:
    """Wait until every instance committed ``times`` more polls than it had now (so at least one
    started after now)."""
    before = commits(state)

    def done() -> bool:
        now = commits(state)
        return all(now.get(i, 0) >= before.get(i, 0) + times for i in instances)

    wait_for(done, seconds, f"every instance polled {times} more times")


def leases_held_by(state: str, pid: int) -> int:
    import psycopg

    with psycopg.connect(state, autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM trigger_lease WHERE owner LIKE %s AND expires > %s",
            (f"{pid}-%", time.time()),
        ).fetchone()
    return int(row[0]) if row else 0


def terminate_backends(state: str) -> int:
    """Cut every other connection to the database (as a server restart would); how many."""
    import psycopg

    with psycopg.connect(state, autocommit=True) as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


# --- scripted changes and the tally -----------------------------------------------------------------


async def create_customers(connection: dict[str, Any], redis: str, count: int, every: float) -> list[str]:
    """Create ``count`` customers through the component, ``every`` seconds apart, on the workers'
    shared budget (waiting out a Redis restart); their ids."""
    from component.runtime import Runtime
    from component.shared import SharedStateError

    created = []
    async with Runtime(env={"COMPONENT_REDIS_URL": redis}) as runtime:
        for n in range(count):
            if n:
                await asyncio.sleep(every)
            while True:
                try:
                    result = await runtime.run(
                        "servicetitan.createCustomer", {**CUSTOMER, "name": f"C{n}"}, connection
                    )
                    break
                except SharedStateError:  # Redis is away (restarted): nothing was sent, so try again
                    await asyncio.sleep(0.2)
            created.append(str(result["data"]["id"]))
    return created


def tally(
    events: list[tuple[str, dict[str, Any]]], instances: list[str], created: list[str]
) -> dict[str, int]:
    """``missed``: (instance, created record) pairs never delivered; ``duplicated``: pairs delivered
    under more than one ``eventId`` (a consumer could not drop the repeat); ``redelivered``: events
    delivered again with an ``eventId`` already delivered (dropped by the consumer's dedupe);
    ``unexpected``: events of records the script did not create."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen: set[tuple[str, str]] = set()
    redelivered = unexpected = 0
    wanted = set(created)
    for instance, event in events:
        if event["id"] not in wanted:
            unexpected += 1
            continue
        key = (instance, event["eventId"])
        redelivered += key in seen
        seen.add(key)
        ids[(instance, event["id"])].add(event["eventId"])
    missed = sum(1 for i in instances for record in created if not ids.get((i, record)))
    duplicated = sum(len(found) - 1 for found in ids.values())
    return {
        "missed": missed,
        "duplicated": duplicated,
        "redelivered": redelivered,
        "unexpected": unexpected,
        "delivered": len(events),
    }


if __name__ == "__main__" and sys.argv[1:2] == ["sandbox"]:
    serve_sandbox(float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
