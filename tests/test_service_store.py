"""The service's store (stored connections, pending trigger batches) on SQLite and on PostgreSQL:
several service processes on one store, an atomic take of a pending batch, what only PostgreSQL has
(the URL's password kept out of reprs and errors, the missing client named), and ``component serve
--state postgresql://…`` keeping everything in the database.

The routes' connection tests (tests/test_service.py) also run on both stores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.fernet import Fernet

from component.errors import StateStoreError
from component.service.store import StoredConnection, open_service_store
from tests.conftest import ROOT, leaks
from tests.servers import PostgresServer, free_port

SECRET = "CANARY-pgstore-secret-3c9d"  # a canary of this file's own
PASSWORD = "pw-CANARY-e71f0b"


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "service.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.database()


@pytest.fixture
def opener(where: str) -> Iterator[Callable[[], Any]]:
    """Opens the store again, as another service process would; all closed at the end."""
    opened: list[Any] = []

    def open_one() -> Any:
        opened.append(open_service_store(where))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def test_two_service_processes_see_each_others_writes(opener: Callable[[], Any]) -> None:
    one, two = opener(), opener()
    sealed = b"gAAAAAB-sealed-token"
    one.put(StoredConnection("shop-1", "servicebay", {"orgId": "o", "n": 1}, sealed, ("apiKey",)))
    assert two.get("shop-1") == StoredConnection(
        "shop-1", "servicebay", {"orgId": "o", "n": 1}, sealed, ("apiKey",)
    )
    two.put(StoredConnection("shop-1", "servicebay", {"orgId": "p"}, None))
    two.put(StoredConnection("a-first", "homebase360", {}, None))
    assert one.get("shop-1") == StoredConnection("shop-1", "servicebay", {"orgId": "p"}, None, ())
    assert [c.id for c in one.list()] == ["a-first", "shop-1"]
    assert one.delete("shop-1") is True and two.delete("shop-1") is False
    assert two.get("shop-1") is None and one.get("never") is None
    one.put_pending("i", "t1", {"cursor": 1})
    assert two.take_pending("i", "t0") is None  # another batch's token: nothing taken
    assert two.take_pending("i", "t1") == {"cursor": 1}
    assert one.take_pending("i", "t1") is None


def test_a_pending_batch_is_taken_by_exactly_one_of_two_racing_takers(opener: Callable[[], Any]) -> None:
    rounds = 30
    stores = [opener(), opener()]
    start = threading.Barrier(2)
    taken: list[list[Any]] = [[] for _ in range(rounds)]

    def take(number: int) -> None:
        for turn in range(rounds):
            if number == 0:
                stores[0].put_pending(f"i-{turn}", "t", {"turn": turn})
            start.wait()
            state = stores[number].take_pending(f"i-{turn}", "t")
            if state is not None:
                taken[turn].append(state)
            start.wait()

    threads = [threading.Thread(target=take, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert taken == [[{"turn": turn}] for turn in range(rounds)]


def test_the_urls_password_is_kept_out_of_reprs_and_errors(postgres_server: PostgresServer) -> None:
    url = postgres_server.database().replace("postgres@", f"postgres:{PASSWORD}@")
    store = open_service_store(url)  # trust authentication: the password is not checked
    try:
        assert PASSWORD not in repr(store) and ":***@" in repr(store)
    finally:
        store.close()
    with pytest.raises(StateStoreError) as refused:
        open_service_store(f"postgresql://someone:{PASSWORD}@127.0.0.1:{free_port()}/nothing")
    assert PASSWORD not in str(refused.value) and "service store" in str(refused.value)
    store = open_service_store(url)
    store._db.close()  # the server went away under it
    with pytest.raises(StateStoreError) as failed:
        store.get("c")
    assert PASSWORD not in str(failed.value) and "read connection 'c'" in str(failed.value)


def test_without_psycopg_the_error_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    with pytest.raises(StateStoreError, match=r"psycopg is missing; install the scale extra") as refused:
        open_service_store(f"postgresql://u:{PASSWORD}@127.0.0.1:5432/db")
    assert PASSWORD not in str(refused.value)


def test_component_serve_keeps_connections_and_batches_in_postgresql(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A real ``component serve --state postgresql://…``: a stored connection (its secret sealed in
    every row) and a pending batch land in the database, and no SQLite file is made."""
    import psycopg

    url = postgres_server.database()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_STATE_HOME": str(tmp_path / "xdg"),
        "COMPONENT_SECRET_KEY": Fernet.generate_key().decode(),
    }
    env.pop("COMPONENT_SERVICE_TOKEN", None)
    command = [sys.executable, "-m", "component", "--root", str(ROOT), "serve", "--sandbox", "--port", "0"]
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [*command, "--state", url], env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline()]
            while not lines[-1].startswith("}") and lines[-1]:
                lines.append(process.stdout.readline())
            errors.seek(0)
            assert lines[-1], errors.read()
            base = json.loads("".join(lines))["url"]
            for _ in range(100):
                try:
                    httpx2.get(f"{base}/healthz", timeout=5)
                    break
                except httpx2.TransportError:
                    time.sleep(0.1)
            values = {
                "apiKey": SECRET,
                "orgId": "org-in-the-clear",
                "baseUrl": "http://servicebay.sandbox/api/v1",
            }
            put = httpx2.put(
                f"{base}/v1/connections/shop-pg",
                json={"connector": "servicebay", "values": values},
                timeout=30,
            )
            assert put.status_code == 201, put.text
            poll = f"{base}/v1/triggers/servicetitan.pollChangesTrigger/instances/techs/poll"
            inputs = {"resourceType": "technicians", "lookBack": "2000-01-01"}
            batch = httpx2.post(poll, json=inputs, timeout=60).json()
            assert batch["events"] and batch["commit"], batch
            with psycopg.connect(url) as db:  # held in the database until committed
                assert db.execute("SELECT instance FROM trigger_pending").fetchall() == [("techs",)]
            done = httpx2.post(poll.replace("/poll", "/commit"), json={"commit": batch["commit"]}, timeout=30)
            assert done.json()["committed"] is True, done.text
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert not (tmp_path / "xdg").exists()  # nothing went to the default SQLite file
    with psycopg.connect(url) as db:
        stored = db.execute("SELECT id, vals->>'orgId', sealed FROM service_connection").fetchall()
        assert [(row[0], row[1]) for row in stored] == [("shop-pg", "org-in-the-clear")]
        assert bytes(stored[0][2]).startswith(b"gAAAAA")  # a Fernet token
        assert db.execute("SELECT instance FROM trigger_pending").fetchall() == []
        assert db.execute("SELECT instance FROM trigger_state").fetchall() == [("techs",)]
        rows: list[str] = []
        for (table,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
            for row in db.execute(f"SELECT * FROM {table}"):
                rows.extend(bytes(v).decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
    text = "\n".join(rows)
    assert "org-in-the-clear" in text and SECRET not in text and SECRET[:12] not in text and not leaks(text)


def test_a_batch_polled_through_one_service_is_committed_through_another(
    postgres_server: PostgresServer,
) -> None:
    """Two services on one database, as two processes behind one address would be: the commit
    lands on the one that did not poll, a stored connection made on one is used on the other."""
    from starlette.testclient import TestClient

    from component.service.server import build

    url = postgres_server.database()
    key = Fernet.generate_key().decode()
    built = [build(root=ROOT, sandbox=True, state=url, env={}, secret_key=key, mcp=False) for _ in range(2)]
    sandbox = built[0][1].app.sandbox
    assert sandbox is not None
    with (
        TestClient(built[0][0], base_url="http://127.0.0.1") as one,
        TestClient(built[1][0], base_url="http://127.0.0.1") as two,
    ):
        poll = "/v1/triggers/servicetitan.pollChangesTrigger/instances/techs/poll"
        inputs = {"resourceType": "technicians", "lookBack": "2000-01-01"}
        batch = one.post(poll, json=inputs).json()
        assert batch["events"] and batch["commit"]
        commit = poll.replace("/poll", "/commit")
        assert two.post(commit, json={"commit": batch["commit"]}).json()["committed"] is True
        assert one.post(commit, json={"commit": batch["commit"]}).status_code == 409  # taken already
        assert one.post(poll, json=inputs).json()["events"] == []  # the committed state is shared
        values = dict(sandbox.connection("servicebay"))
        assert (
            one.put("/v1/connections/shop", json={"connector": "servicebay", "values": values}).status_code
            == 201
        )
        used = two.post("/v1/picklists/servicebay.selectService?connection=shop")
        assert used.status_code == 200 and used.json()["result"]
