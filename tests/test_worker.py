"""The Celery workers as real processes: two ``component worker run`` and one ``component worker
beat`` on a real PostgreSQL and Redis, polling trigger instances of the served sandbox (its own
process, with 200 ms of latency so polls take time) and handing events to a signed webhook.

One run checks, in order: every instance is polled (scheduled from the table, added while the
workers run); customers created by a script while a worker is SIGKILLed holding leases, every
database connection is cut and Redis restarts without its data all arrive, each once per instance
under one ``eventId`` (0 missed, 0 duplicated), with 0 429s from the sandbox; an action and a
picklist run as tasks; no secret in any worker's log. It skips, saying why, without Debian's
postgresql and redis-server.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SB_KEY
from tests.servers import PostgresServer, RedisServer, served
from tests.worker_cluster import (
    INPUTS,
    TRIGGER,
    Cluster,
    Receiver,
    create_customers,
    leases_held_by,
    sandbox_process,
    statuses,
    tally,
    terminate_backends,
    wait_for,
    wait_polled_again,
)

pytest.importorskip("celery", reason="Celery is not installed (pip install 'fieldservice-component[scale]')")

INSTANCES = 30
EVERY = 2.0
SECRET = "sink-secret-for-tests"


def test_workers_poll_every_instance_and_lose_nothing(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    from component.worker.app import make_app
    from component.worker.config import WorkerConfig
    from component.worker.instances import InstanceTable

    state = postgres_server.database()
    receiver = Receiver(SECRET)
    with sandbox_process(latency_ms=200) as sandbox, served(receiver) as hook:
        connection = sandbox["connections"]["servicetitan"]
        connections = {
            "servicetitan": connection,
            "canary": {
                "connector": "servicebay",
                "values": {**sandbox["connections"]["servicebay"], "apiKey": SB_KEY},
            },
        }
        cluster = Cluster(
            tmp_path,
            state=state,
            redis=redis_server.url,
            sink=f"{hook}/hook",
            secret=SECRET,
            connections=connections,
            ttl=4.0,
        )
        names = [f"flow-{n}" for n in range(INSTANCES)]
        try:
            workers = [cluster.worker("w1"), cluster.worker("w2")]
            cluster.beat()
            with InstanceTable(state) as table:  # added while the workers start: no restart needed
                table.add_many([(name, TRIGGER, INPUTS, None, EVERY) for name in names])
                assert [row.instance for row in table.all()] == sorted(names)
            wait_polled_again(state, names, 1, 60)  # every instance has its starting point

            # scripted changes; meanwhile a worker dies holding leases, the database cuts every
            # connection (as a restart would) and Redis restarts without its data
            writer = asyncio.new_event_loop()
            script = writer.create_task(create_customers(connection, redis_server.url, 6, 1.0))
            writer.run_until_complete(asyncio.sleep(0.5))
            victim = workers[0].pid
            wait_for(lambda: leases_held_by(state, victim) > 0, 20, "a poll in progress on w1", step=0.01)
            cluster.kill("w1")
            writer.run_until_complete(asyncio.sleep(1.5))
            assert terminate_backends(state) > 0
            writer.run_until_complete(asyncio.sleep(1.0))
            redis_server.restart()  # broker, budgets and tokens lost at once
            created = writer.run_until_complete(script)
            writer.close()

            wait_polled_again(state, names, 2, 60)  # w2 alone, after w1's leases ran out
            counts = tally(receiver.events(), names, created)
            assert counts["missed"] == 0, counts
            assert counts["duplicated"] == 0, counts
            assert counts["unexpected"] == 0, counts
            assert receiver.refused == 0
            answered = statuses(sandbox)  # w1's request in flight when it was killed is no 500 either
            assert answered.get("429", 0) == 0 and answered.get("500", 0) == 0, statuses(sandbox, "failures")

            # an action and a picklist as tasks, by connection name (no secret in the message)
            env = dict(cluster.env)
            client = make_app(WorkerConfig.from_env(env))
            action = client.send_task(
                "component.worker.run_action", args=["servicetitan.listTechnicians", {}]
            )
            assert "data" in action.get(timeout=30)
            picklist = client.send_task(
                "component.worker.run_picklist", args=["servicetitan.selectTechnician", {}, "servicetitan"]
            )
            assert picklist.get(timeout=30)["result"]
            failed = client.send_task(
                "component.worker.run_action",
                args=["servicebay.lookupCustomer", {"phone": "+13035550123"}, "canary"],
            ).get(timeout=30)
            assert failed["error"]["type"] == "invalid_credentials", failed
            assert SB_KEY not in str(failed)
        finally:
            cluster.stop()
    logs = cluster.logs()
    assert "component.worker.poll" in logs and "component.worker.dispatch" in logs
    assert " succeeded in " not in logs  # task results (customer data) are not logged
    for secret in (connection["clientSecret"], connection["applicationKey"], SB_KEY, SECRET):
        assert secret not in logs


def test_instances_cli_adds_lists_and_removes(postgres_server: PostgresServer, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    import psycopg

    from tests.conftest import ROOT

    state = postgres_server.database()

    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"servicetitan": {}}))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "component", "worker", "instances", *args, "--state", state],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COMPONENT_CONNECTIONS": str(connections)},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def component(*args: str) -> Any:
        done = run(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def refused(*args: str) -> str:
        done = run(*args)
        assert done.returncode == 2 and not done.stdout, done.stderr
        return done.stderr

    before = time.time()
    added = component("add", "flow-1", "--trigger", TRIGGER, "--inputs", json.dumps(INPUTS), "--every", "30")
    assert added["instance"] == "flow-1" and before <= added["nextDue"] <= before + 31
    assert [row["instance"] for row in component("list")] == ["flow-1"]
    assert component("remove", "flow-1") == {"instance": "flow-1", "removed": True}
    assert component("list") == []

    # a connection the workers would not find, and an instance id whose state is another trigger's
    add = ["add", "flow-2", "--trigger", TRIGGER, "--inputs", json.dumps(INPUTS)]
    message = refused(*add, "--connection", "nosuch")
    assert "no connection 'nosuch' for servicetitan" in message and str(connections) in message
    assert component(*add, "--connection", "servicetitan")["connection"] == "servicetitan"
    with psycopg.connect(state, autocommit=True) as db:
        db.execute(
            "INSERT INTO trigger_state (instance, state, commits, updated_at) VALUES "
            """('flow-3', '{"trigger": "servicebay.newJob", "mode": "seen"}', 1, 0)"""
        )
    message = refused("add", "flow-3", "--trigger", TRIGGER, "--inputs", json.dumps(INPUTS))
    assert "has the stored state of 'servicebay.newJob'" in message


def test_a_worker_without_its_settings_is_refused_naming_the_variable(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPONENT_")}
    started = {"COMPONENT_STATE": "postgresql://nowhere/x", "COMPONENT_SINK": "task:consumer.take"}
    for extra, named in [
        ({}, "COMPONENT_STATE must be a postgresql:// URL"),
        ({"COMPONENT_STATE": "postgresql://nowhere/x"}, "COMPONENT_SINK is not set"),
        (
            {"COMPONENT_STATE": "postgresql://nowhere/x", "COMPONENT_SINK": "https://h/x"},
            "COMPONENT_SINK_SECRET",
        ),
        ({**started, "COMPONENT_CONNECTIONS": str(tmp_path / "nosuch.json")}, "COMPONENT_CONNECTIONS: "),
        (
            {**started, "COMPONENT_CONNECTION_STORE": str(tmp_path / "s.db")},
            "COMPONENT_SECRET_KEY is not set",
        ),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "component", "worker", "run", "--json"],
            cwd=ROOT,
            env={**env, **extra, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert named in done.stderr and '"type": "usage"' in done.stderr
