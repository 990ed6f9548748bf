"""The SQLite state store: leases, commits only under a held lease, WAL, default path, no secrets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from component.errors import UsageError
from component.triggers import LeaseLostError, SQLiteStateStore, StateStoreError, default_path
from tests.conftest import CANARIES, ST_CONNECTION, FakeVendor, make_runtime
from tests.trigger_timeline import Harness, read_only, small_page_catalog


class Wall:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def store(tmp_path: Path, wall: Wall) -> SQLiteStateStore:
    return SQLiteStateStore(tmp_path / "triggers.db", clock=wall)


def test_a_lease_is_exclusive_until_released_or_expired(store: SQLiteStateStore, wall: Wall) -> None:
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


def test_commit_needs_the_lease_still_held(store: SQLiteStateStore, wall: Wall) -> None:
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


def test_renew_extends_a_held_lease(store: SQLiteStateStore, wall: Wall) -> None:
    lease = store.lease("i", "a", ttl=30)
    assert lease is not None
    wall.t += 20
    lease = store.renew(lease, 30)
    wall.t += 20
    store.commit(lease, {"n": 1})
    assert store.load("i") == {"n": 1}


def test_state_survives_reopening_and_other_connections_see_it(tmp_path: Path, wall: Wall) -> None:
    path = tmp_path / "deep" / "folder" / "t.db"
    with SQLiteStateStore(path, clock=wall) as one:
        lease = one.lease("flow-7", "a", 30)
        assert lease is not None
        one.commit(lease, {"seen": ["a", "b"]})
        one.release(lease)
    with SQLiteStateStore(path, clock=wall) as two:
        assert two.load("flow-7") == {"seen": ["a", "b"]}
        assert two.load("never-polled") is None
        assert two.instances() == ["flow-7"]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


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


def test_a_poll_longer_than_the_lease_keeps_it_alive(tmp_path: Path) -> None:
    """The lease is renewed while a slow poll runs, so the poll still commits; none else gets in."""
    import asyncio
    import time

    import httpx2

    from component.runtime import Runtime
    from component.triggers import poll_once
    from tests.conftest import HB_CONNECTION

    store = SQLiteStateStore(tmp_path / "slow.db", clock=time.time)
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


def _poll_once(tmp_path: Path, store: SQLiteStateStore, instance: str) -> tuple[FakeVendor, object]:
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
    tmp_path: Path, store: SQLiteStateStore, row: str
) -> None:
    """Never taken for a new instance: that would restart it and lose the changes since its last poll."""
    store._db.execute("INSERT INTO trigger_state VALUES ('i', ?, 3, 0)", (row,))
    with pytest.raises(StateStoreError, match="not a trigger state"):
        store.load("i")
    vendor, outcome = _poll_once(tmp_path, store, "i")
    assert isinstance(outcome, StateStoreError) and outcome.kind == "state_store" and outcome.exit_code == 2
    assert vendor.requests == []
    assert store._db.execute("SELECT state, commits FROM trigger_state").fetchall() == [(row, 3)]
    assert store.lease("i", "next", 30) is not None  # the failed poll gave its lease back


def test_a_foreign_state_changes_nothing(tmp_path: Path, store: SQLiteStateStore) -> None:
    row = (
        '{"floor":"2026-01-01","mode":"watermark","recent":{},"version":1,"watermark":1e308,"variant":"jobs"}'
    )
    store._db.execute("INSERT INTO trigger_state VALUES ('i', ?, 3, 0)", (row,))
    vendor, outcome = _poll_once(tmp_path, store, "i")
    assert isinstance(outcome, StateStoreError) and "watermark 1e+308 is not a time" in outcome.message
    assert vendor.requests == []
    assert store._db.execute("SELECT state, commits FROM trigger_state").fetchall() == [(row, 3)]


def test_a_store_sqlite_will_not_write_is_a_state_store_error(
    tmp_path: Path, store: SQLiteStateStore
) -> None:
    lease = store.lease("i", "a", 30)
    assert lease is not None
    store._db.execute("PRAGMA query_only = ON")  # SQLite's own refusal, as for a read-only file
    for write in (
        lambda: store.lease("j", "a", 30),
        lambda: store.renew(lease, 30),
        lambda: store.commit(lease, {"mode": "seen"}),
        lambda: store.release(lease),
    ):
        with pytest.raises(StateStoreError, match="readonly database"):
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
    tmp_path: Path, store: SQLiteStateStore, instance: str
) -> None:
    vendor, outcome = _poll_once(tmp_path, store, instance)
    assert isinstance(outcome, UsageError) and outcome.exit_code == 2
    assert "trigger instance id" in outcome.message
    assert vendor.requests == []
    assert store._db.execute("SELECT COUNT(*) FROM trigger_lease").fetchone() == (0,)
