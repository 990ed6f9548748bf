"""The state stores: leases, commits only under a held lease, WAL, default path, no secrets.

The interface's tests run against both backends: SQLite (the default) and a real PostgreSQL
server started for the session (skipped, saying why, where PostgreSQL is not installed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from component.triggers import (
    LeaseLostError,
    SQLiteStateStore,
    StateStoreError,
    default_path,
    open_state_store,
)
from tests.conftest import CANARIES
from tests.servers import PostgresServer
from tests.trigger_timeline import Harness, small_page_catalog


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

    async def answer(request: httpx2.Request) -> httpx2.Response:
        for _ in range(4):
            await asyncio.sleep(0.05)
            rivals.append(store.lease("slow", "rival", 0.06))
        return httpx2.Response(200, json={"success": True, "data": []})

    runtime = Runtime(transport=httpx2.MockTransport(answer), env={})
    inputs: dict[str, object] = {}
    first = asyncio.run(
        poll_once(runtime, "homebase360.newJob", inputs, HB_CONNECTION, store, "slow", ttl=0.06)
    )
    assert first.status == "polled"  # records the start: no request
    second = asyncio.run(
        poll_once(runtime, "homebase360.newJob", inputs, HB_CONNECTION, store, "slow", ttl=0.06)
    )
    assert second.status == "polled" and second.requests == 1
    assert rivals and all(rival is None for rival in rivals)
