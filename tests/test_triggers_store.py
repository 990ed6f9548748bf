"""The state stores: leases, commits only under a held lease, WAL, default path, no secrets.

The interface's tests run against both backends: SQLite (the default) and a real PostgreSQL
server started for the session (skipped, saying why, where PostgreSQL is not installed).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from component.errors import UsageError
from component.triggers import (
    LeaseLostError,
    SQLiteStateStore,
    StateStoreError,
    default_path,
    open_state_store,
)
from tests.conftest import CANARIES, ST_CONNECTION, FakeVendor, make_runtime
from tests.servers import PostgresServer
from tests.trigger_timeline import Harness, read_only, small_page_catalog


class Wall:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "deep" / "folder" / "triggers.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.database()


@pytest.fixture
def opener(where: str, wall: Wall) -> Iterator[Callable[[], Any]]:
    """Opens another connection to the same store (as another process would); all closed at the end."""
    opened: list[Any] = []

    def open_one() -> Any:
        opened.append(open_state_store(where, clock=wall))
        return opened[-1]

    yield open_one
    for one in opened:
        one.close()


@pytest.fixture
def store(opener: Callable[[], Any]) -> Any:
    return opener()


def raw(store: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """SQL on the store's own connection, past its interface (``?`` placeholders, either backend)."""
    if isinstance(store, SQLiteStateStore):
        return store._db.execute(sql, params).fetchall()
    cursor = store._db.execute(sql.replace("?", "%s"), params)
    return cursor.fetchall() if cursor.description else []


def stored(store: Any) -> list[tuple[Any, ...]]:
    """The state rows as (state text, commits); PostgreSQL's jsonb gives the text back normalised."""
    return raw(store, "SELECT CAST(state AS TEXT), commits FROM trigger_state")


def refuse_writes(store: Any) -> str:
    """Make the store's connection refuse every write, as a read-only file or server would; returns
    the words the refusal says it with."""
    if isinstance(store, SQLiteStateStore):
        raw(store, "PRAGMA query_only = ON")
        return "readonly database"
    raw(store, "SET default_transaction_read_only = on")
    return "read-only transaction"


def test_a_lease_is_exclusive_until_released_or_expired(store: Any, wall: Wall) -> None:
    first = store.lease("i", "a", ttl=30)
    assert first is not None
    assert store.lease("i", "b", ttl=30) is None
    assert store.lease("other", "b", ttl=30) is not None  # instances are independent
    store.release(first)
    second = store.lease("i", "b", ttl=30)
    assert second is not None
    wall.t += 31  # b crashed without releasing
    third = store.lease("i", "c", ttl=30)
    assert third is not None and third.token != second.token


def test_commit_needs_the_lease_still_held(store: Any, wall: Wall) -> None:
    lease = store.lease("i", "a", ttl=30)
    assert lease is not None
    store.commit(lease, {"watermark": "2026-01-01T00:00:00Z"})
    assert store.load("i") == {"watermark": "2026-01-01T00:00:00Z"}
    wall.t += 31
    taken = store.lease("i", "b", ttl=30)
    assert taken is not None
    with pytest.raises(LeaseLostError, match="ran out before commit"):
        store.commit(lease, {"watermark": "2099-01-01T00:00:00Z"})
    with pytest.raises(LeaseLostError):
        store.renew(lease, 30)
    assert store.load("i") == {"watermark": "2026-01-01T00:00:00Z"}
    store.release(lease)  # releasing a lost lease leaves the new holder alone
    assert store.lease("i", "c", ttl=30) is None


def test_renew_extends_a_held_lease(store: Any, wall: Wall) -> None:
    lease = store.lease("i", "a", ttl=30)
    assert lease is not None
    wall.t += 20
    lease = store.renew(lease, 30)
    wall.t += 20
    store.commit(lease, {"n": 1})
    assert store.load("i") == {"n": 1}


def test_state_survives_reopening_and_other_connections_see_it(opener: Callable[[], Any], where: str) -> None:
    one = opener()
    lease = one.lease("flow-7", "a", 30)
    assert lease is not None
    one.commit(lease, {"seen": ["a", "b"]})
    assert opener().load("flow-7") == {"seen": ["a", "b"]}  # another connection sees it at once
    one.release(lease)
    one.close()
    two = opener()
    assert two.load("flow-7") == {"seen": ["a", "b"]}
    assert two.load("never-polled") is None
    assert two.instances() == ["flow-7"]
    if not where.startswith("postgresql://"):
        assert sqlite3.connect(where).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_default_path_is_per_user_and_honours_xdg_state_home() -> None:
    assert default_path({"XDG_STATE_HOME": "/x/state"}) == Path("/x/state/fieldservice-component/triggers.db")
    assert default_path({"HOME": "/home/u"}) == Path(
        "/home/u/.local/state/fieldservice-component/triggers.db"
    )


def test_an_unusable_store_is_a_clear_error(tmp_path: Path, wall: Wall) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateStoreError, match="cannot open the trigger state store"):
        SQLiteStateStore(blocker / "t.db", clock=wall)
    path = tmp_path / "t.db"
    with SQLiteStateStore(path, clock=wall) as store:
        store._db.execute("INSERT INTO trigger_state VALUES ('i', '{broken', 1, 0)")
        with pytest.raises(StateStoreError, match="not JSON"):
            store.load("i")


def test_no_secret_reaches_the_state_file(tmp_path: Path) -> None:
    h = Harness(
        small_page_catalog(2), tmp_path / "state.db", {"resourceType": "jobs", "lookBack": "2027-01-01"}
    )
    h.vendor.insert(3)
    h.poll()
    h.advance(5)
    h.vendor.insert(2)
    h.poll()
    assert len(h.delivered) == 5
    text = repr(h.store())
    h.restart()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for canary in CANARIES:
        assert canary.encode() not in stored
        assert canary not in text


def test_a_poll_longer_than_the_lease_keeps_it_alive(where: str) -> None:
    """The lease is renewed while a slow poll runs, so the poll still commits; none else gets in."""
    import asyncio
    import time

    import httpx2

    from component.runtime import Runtime
    from component.triggers import poll_once
    from tests.conftest import HB_CONNECTION

    store = open_state_store(where, clock=time.time)
    rivals: list[object] = []
    ttl = 0.3  # the poll below takes 4 x 0.25 s; a real TTL leaves a busy machine's stalls a margin

    async def answer(request: httpx2.Request) -> httpx2.Response:
        for _ in range(4):
            await asyncio.sleep(0.25)
            rivals.append(store.lease("slow", "rival", ttl))
        return httpx2.Response(200, json={"success": True, "data": []})

    runtime = Runtime(transport=httpx2.MockTransport(answer), env={})
    inputs: dict[str, object] = {}
    first = asyncio.run(
        poll_once(runtime, "homebase360.newJob", inputs, HB_CONNECTION, store, "slow", ttl=ttl)
    )
    assert first.status == "polled"  # records the start: no request
    second = asyncio.run(
        poll_once(runtime, "homebase360.newJob", inputs, HB_CONNECTION, store, "slow", ttl=ttl)
    )
    assert second.status == "polled" and second.requests == 1
    assert rivals and all(rival is None for rival in rivals)


def _poll_once(tmp_path: Path, store: Any, instance: str) -> tuple[FakeVendor, object]:
    import asyncio

    from component.catalog import load
    from component.triggers import poll_once
    from tests.conftest import ROOT, FakeClock

    vendor = FakeVendor()
    runtime = make_runtime(load(ROOT), vendor, FakeClock(), env={})
    inputs = {"resourceType": "jobs", "lookBack": "2026-01-01"}
    try:
        return vendor, asyncio.run(
            poll_once(runtime, "servicetitan.pollChangesTrigger", inputs, ST_CONNECTION, store, instance)
        )
    except Exception as error:
        return vendor, error


@pytest.mark.parametrize("row", ["[]", "{}", "null", '"state"', "7", "true"])
def test_a_row_that_is_json_but_not_a_state_is_refused_and_left_alone(
    tmp_path: Path, store: Any, row: str
) -> None:
    """Never taken for a new instance: that would restart it and lose the changes since its last poll."""
    raw(store, "INSERT INTO trigger_state VALUES ('i', ?, 3, 0)", (row,))
    before = stored(store)
    with pytest.raises(StateStoreError, match="not a trigger state"):
        store.load("i")
    vendor, outcome = _poll_once(tmp_path, store, "i")
    assert isinstance(outcome, StateStoreError) and outcome.kind == "state_store" and outcome.exit_code == 2
    assert vendor.requests == []
    assert stored(store) == before and [json.loads(text) for text, _ in before] == [json.loads(row)]
    assert before[0][1] == 3
    assert store.lease("i", "next", 30) is not None  # the failed poll gave its lease back


def test_a_foreign_state_changes_nothing(tmp_path: Path, store: Any) -> None:
    row = (
        '{"floor":"2026-01-01","mode":"watermark","recent":{},"version":1,"watermark":1e308,"variant":"jobs"}'
    )
    raw(store, "INSERT INTO trigger_state VALUES ('i', ?, 3, 0)", (row,))
    before = stored(store)
    vendor, outcome = _poll_once(tmp_path, store, "i")
    # (PostgreSQL keeps the number exact: it reads back as 1 and 308 zeros)
    assert isinstance(outcome, StateStoreError) and re.search(
        r"watermark 1\S+ is not a time", outcome.message
    )
    assert vendor.requests == []
    assert stored(store) == before and before[0][1] == 3
    if isinstance(store, SQLiteStateStore):
        assert before == [(row, 3)]


def test_a_store_that_will_not_write_is_a_state_store_error(tmp_path: Path, store: Any) -> None:
    lease = store.lease("i", "a", 30)
    assert lease is not None
    refusal = refuse_writes(store)  # the database's own refusal, as for a read-only file or server
    for write in (
        lambda: store.lease("j", "a", 30),
        lambda: store.renew(lease, 30),
        lambda: store.commit(lease, {"mode": "seen"}),
        lambda: store.release(lease),
    ):
        with pytest.raises(StateStoreError, match=refusal):
            write()
    store.close()
    with pytest.raises(StateStoreError, match="cannot read"):
        store.load("i")


def test_a_read_only_state_file_is_a_state_store_error_and_nothing_is_sent(
    tmp_path: Path, wall: Wall
) -> None:
    path = tmp_path / "ro.db"
    SQLiteStateStore(path, clock=wall).close()
    with read_only(path), SQLiteStateStore(path) as store:
        vendor, outcome = _poll_once(tmp_path, store, "i")
    assert isinstance(outcome, StateStoreError), outcome
    assert "readonly database" in outcome.message
    assert vendor.requests == []


def test_a_read_only_state_folder_is_a_state_store_error(tmp_path: Path, wall: Wall) -> None:
    folder = tmp_path / "ro"
    SQLiteStateStore(folder / "t.db", clock=wall).close()
    with read_only(folder), pytest.raises(StateStoreError, match="cannot open the trigger state store"):
        SQLiteStateStore(folder / "t.db", clock=wall)


@pytest.mark.parametrize(
    "instance", ["", "   ", "\t", "flow\n1", "flow\x00", "\x1b[31m", "a\u200bb", "\u2028"]
)
def test_an_instance_id_no_one_can_see_is_refused_before_the_store_is_touched(
    tmp_path: Path, store: Any, instance: str
) -> None:
    vendor, outcome = _poll_once(tmp_path, store, instance)
    assert isinstance(outcome, UsageError) and outcome.exit_code == 2
    assert "trigger instance id" in outcome.message
    assert vendor.requests == []
    assert raw(store, "SELECT COUNT(*) FROM trigger_lease") == [(0,)]
