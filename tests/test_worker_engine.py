"""The worker's engine in process, on a real PostgreSQL: how it treats its store connections."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.servers import PostgresServer, served
from tests.worker_cluster import INPUTS, TRIGGER, Receiver

pytest.importorskip(
    "psycopg", reason="psycopg is not installed (pip install 'fieldservice-component[scale]')"
)

SECRET = "sink-secret-for-tests"


@pytest.fixture
def engine(postgres_server: PostgresServer) -> Iterator[tuple[object, str]]:
    from component.app import Application
    from component.worker.config import WorkerConfig
    from component.worker.engine import Engine

    state = postgres_server.database()
    with served(Receiver(SECRET)) as url:
        config = WorkerConfig.from_env(
            {"COMPONENT_STATE": state, "COMPONENT_SINK": f"{url}/hook", "COMPONENT_SINK_SECRET": SECRET}
        )
        made = Engine(config, print, application=Application.create(sandbox=True))
        try:
            yield made, state
        finally:
            made.close()


def test_a_bad_state_row_fails_its_poll_and_keeps_the_connection_every_poll_shares(
    engine: tuple[object, str],
) -> None:
    import psycopg

    from component.worker.engine import Engine
    from component.worker.instances import InstanceTable

    made, state = engine
    assert isinstance(made, Engine)
    with InstanceTable(state) as table:
        table.add_many([("flow-1", TRIGGER, INPUTS, None, 60), ("flow-2", TRIGGER, INPUTS, None, 60)])
    assert made.poll("flow-1")["status"] == "polled"
    store, table_connection = made.store(), made.table()
    with psycopg.connect(state, autocommit=True) as db:
        db.execute("UPDATE trigger_state SET state = '[1]'::jsonb WHERE instance = 'flow-1'")

    failed = made.poll("flow-1")
    assert failed["error"]["type"] == "state_store", failed
    assert made.store() is store and made.table() is table_connection and not store.broken
    assert made.poll("flow-2")["status"] == "polled"  # on the same connection
    with psycopg.connect(state, autocommit=True) as db:
        held = db.execute("SELECT count(*) FROM trigger_lease WHERE expires > %s", (time.time(),)).fetchone()
    assert held == (0,)  # both leases released


def test_a_cut_connection_is_reopened_on_the_next_poll(engine: tuple[object, str]) -> None:
    from component.worker.engine import Engine
    from component.worker.instances import InstanceTable
    from tests.worker_cluster import terminate_backends

    made, state = engine
    assert isinstance(made, Engine)
    with InstanceTable(state) as table:
        table.add("flow-1", TRIGGER, INPUTS, None, 60)
    assert made.poll("flow-1")["status"] == "polled"
    before = made.table()
    assert terminate_backends(state) > 0
    answers = [made.poll("flow-1") for _ in range(3)]  # the table's connection, then the state's
    assert answers[0]["error"]["type"] == "state_store"
    assert answers[-1]["status"] == "polled", answers
    assert made.table() is not before


def test_a_statement_that_hangs_is_cancelled_and_a_bad_url_names_the_variable(
    postgres_server: PostgresServer,
) -> None:
    from component.errors import StateStoreError, UsageError
    from component.triggers.postgres import PostgresDatabase
    from component.triggers.store import open_state_store
    from component.worker.config import WorkerConfig

    with PostgresDatabase(postgres_server.database(), statement_timeout=0.2) as db:
        with pytest.raises(StateStoreError, match="statement timeout"), db._tx("sleep") as connection:
            connection.execute("SELECT pg_sleep(5)")
        assert not db.broken
    assert WorkerConfig.from_env({}).db_timeout == 30.0
    assert WorkerConfig.from_env({"COMPONENT_STATE_TIMEOUT": "5"}).db_timeout == 5.0

    with pytest.raises(UsageError, match="COMPONENT_STATE is not a valid postgresql:// URL"):
        WorkerConfig.from_env({"COMPONENT_STATE": "postgresql://[bad"}).state_url()
    with pytest.raises(StateStoreError, match="not a valid URL"):
        open_state_store("postgresql://[bad")
