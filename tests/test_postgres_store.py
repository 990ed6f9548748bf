"""What only the PostgreSQL state store has: many connections racing for one lease, the numbered
migrations, a foreign row refused, an unreachable server, ``--state postgresql://`` on the CLI.

The interface's own tests (tests/test_triggers_store.py) and the generated trigger timelines
(tests/test_triggers_timelines.py) run against this store too.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from component.migrations import migrations
from component.triggers import StateStoreError, open_state_store
from tests.conftest import CANARIES
from tests.servers import PostgresServer, free_port
from tests.test_triggers_cli import LOOK_BACK, invoke, lines, st_file, st_vendor  # noqa: F401

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")


@pytest.fixture
def url(postgres_server: PostgresServer) -> str:
    return postgres_server.database()


def test_racing_workers_never_both_hold_an_instance(url: str) -> None:
    """Eight connections ask for the same instance's lease at the same moment, round after round:
    exactly one gets it each time (the others are told None at once, not made to wait)."""
    workers, rounds = 8, 25
    stores = [open_state_store(url) for _ in range(workers)]
    start = threading.Barrier(workers)
    won: list[list[Any]] = [[] for _ in range(rounds)]

    def work(number: int) -> None:
        for turn in range(rounds):
            start.wait()
            lease = stores[number].lease(f"i-{turn}", f"w{number}", 30)
            if lease is not None:
                won[turn].append(lease)
            start.wait()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [len(winners) for winners in won] == [1] * rounds
    for store in stores:
        store.close()


def test_migrations_are_applied_once_in_order_and_recorded(url: str) -> None:
    known = migrations()
    assert [m.number for m in known] == list(range(1, len(known) + 1))
    open_state_store(url).close()
    open_state_store(url).close()  # a second open applies nothing again
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT number, name FROM schema_migrations ORDER BY number").fetchall()
        assert rows == [(m.number, m.name) for m in known]
        db.execute("INSERT INTO schema_migrations (number, name) VALUES (9999, 'from_a_newer_release')")
    with pytest.raises(StateStoreError, match=r"migrations \[9999\] that this release does not know"):
        open_state_store(url)


def test_concurrent_first_opens_migrate_once(url: str) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_state_store(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with psycopg.connect(url) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone() == (len(migrations()),)


def test_a_foreign_state_row_is_an_error_not_a_fresh_start(url: str) -> None:
    with open_state_store(url) as store:
        with psycopg.connect(url) as db:
            db.execute("""INSERT INTO trigger_state VALUES ('i', '["not", "an", "object"]', 1, 0)""")
        with pytest.raises(StateStoreError, match="not a trigger state"):
            store.load("i")


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    secret = CANARIES[0]
    started = time.monotonic()
    with pytest.raises(StateStoreError) as caught:
        open_state_store(f"postgresql://worker:{secret}@127.0.0.1:{free_port()}/state")
    message = str(caught.value)
    assert "cannot open the trigger state store 'postgresql://worker:***@127.0.0.1:" in message
    assert secret not in message and secret not in repr(caught.value)
    assert time.monotonic() - started < 30


def test_the_cli_polls_with_state_on_postgresql(
    url: str,
    st_file: Any,  # noqa: F811
    st_vendor: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", "flow-1"]
    first = invoke(*args, "--state", url, "--connection", str(st_file))
    assert first.exit_code == 0, first.stderr
    assert [(e["type"], e["id"]) for e in lines(first)] == [("created", "1"), ("updated", "2")]
    monkeypatch.setenv("COMPONENT_STATE", url)  # the same store, named by the environment
    second = invoke(*args, "--connection", str(st_file))
    assert second.exit_code == 0, second.stderr
    assert lines(second) == []
    with psycopg.connect(url) as db:  # both polls committed there
        assert db.execute("SELECT instance, commits FROM trigger_state").fetchall() == [("flow-1", 2)]
        stored = str(db.execute("SELECT state FROM trigger_state").fetchall())
    for canary in CANARIES:
        assert canary not in stored


def test_component_state_in_the_environment_leaves_flows_without_a_trigger_alone(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's environment names the shared store for every command; a flow with no trigger
    (which takes no --state) still runs."""
    import json

    from click.testing import CliRunner

    from component.cli import cli
    from tests.test_flows import FLOW

    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps(FLOW))
    monkeypatch.setenv("COMPONENT_STATE", f"postgresql://nobody@127.0.0.1:{free_port()}/state")
    result = CliRunner().invoke(cli, ["flow", "run", str(flow), "--sandbox"])
    assert result.exit_code == 0, result.output
