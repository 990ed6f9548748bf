"""Trigger state behind a small interface: lease, load, commit, release.

State is keyed by a trigger-instance id the caller chooses (never derived from the definition or
its version, so republishing a flow keeps its place). A lease with an expiry makes concurrent
polls of one instance emit once; a crashed poller's lease simply runs out. ``commit`` writes only
while the lease is still held, in one transaction, so state and lease cannot disagree.

:class:`SQLiteStateStore` (WAL mode) is the default; :func:`open_state_store` opens the PostgreSQL
store (component/triggers/postgres.py) for a ``postgresql://`` URL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ComponentError, UsageError
from ..errors import StateStoreError as StateStoreError  # re-exported: it was defined here

if TYPE_CHECKING:
    from .postgres import PostgresStateStore

APP_DIR = "fieldservice-component"
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # control, format, unassigned, line breaks


class LeaseLostError(ComponentError):
    """The lease ran out (or was taken over) before the state was committed; nothing was written."""

    kind = "lease_lost"


@dataclass(frozen=True)
class Lease:
    instance: str
    owner: str
    token: str
    expires: float


class StateStore(Protocol):
    def lease(self, instance: str, owner: str, ttl: float) -> Lease | None:
        """Take the instance's lease for ``ttl`` seconds, or None while another owner holds it."""

    def renew(self, lease: Lease, ttl: float) -> Lease:
        """Extend a lease still held; raises :class:`LeaseLostError` otherwise."""

    def load(self, instance: str) -> dict[str, Any] | None:
        """The last committed state, or None for a new instance."""

    def commit(self, lease: Lease, state: dict[str, Any]) -> None:
        """Write ``state`` if ``lease`` is still held; raises :class:`LeaseLostError` otherwise."""

    def release(self, lease: Lease) -> None:
        """Give the lease up (nothing happens if it was lost meanwhile)."""


def state_text(lease: Lease, state: dict[str, Any]) -> str:
    """``state`` as the stores keep it (compact, sorted JSON); a state that is not JSON is refused."""
    try:
        return json.dumps(state, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StateStoreError(
            f"the state of trigger instance {lease.instance!r} is not JSON: {exc}"
        ) from None


def checked_state(instance: str, state: Any, shown: str) -> dict[str, Any]:
    """A row's state when it is a trigger state (a JSON object with fields); anything else (``[]``,
    ``{}``, ``null``) is refused, never taken for a new instance. ``shown``: the row as stored."""
    if not isinstance(state, dict) or not state:
        raise StateStoreError(
            f"the state of trigger instance {instance!r} is {shown[:40]!r}, not a trigger state "
            "(a JSON object of its fields); nothing was changed (repair the row or poll under a "
            "new instance id)"
        )
    return state


def lease_lost(lease: Lease) -> LeaseLostError:
    return LeaseLostError(
        f"the lease on trigger instance {lease.instance!r} ran out before commit; "
        "the state was not written and the next poll repeats this one"
    )


def default_path(env: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/fieldservice-component/triggers.db`` (``~/.local/state/...`` by default)."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / APP_DIR / "triggers.db"


def check_instance(instance: object) -> str:
    """``instance`` if it can name a trigger instance: a string with a visible character and no
    control, format or line-break characters (which no one can see, type or tell apart)."""
    if not isinstance(instance, str) or not instance.strip():
        raise UsageError(f"a trigger instance id must have a visible character (got {instance!r:.40})")
    hidden = next((c for c in instance if unicodedata.category(c) in _UNSEEN), None)
    if hidden is not None:
        raise UsageError(
            f"a trigger instance id must not hold control or invisible characters (U+{ord(hidden):04X})"
        )
    return instance


def open_state_store(
    where: str | Path | None = None, *, clock: Callable[[], float] = time.time
) -> SQLiteStateStore | PostgresStateStore:
    """The store at ``where``: a ``postgresql://`` URL, else a SQLite file (the default path when None)."""
    if str(where or "").startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStateStore

        return PostgresStateStore(str(where), clock=clock)
    return SQLiteStateStore(where, clock=clock)


def new_owner() -> str:
    """A poller id unique to this process and call."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS trigger_state (
    instance TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    commits INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trigger_lease (
    instance TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    token TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


class SQLiteStateStore:
    """SQLite in WAL mode; each call is its own short transaction (``BEGIN IMMEDIATE`` for writes)."""

    def __init__(self, path: str | Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.clock = clock
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(f"cannot open the trigger state store {str(self.path)!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"SQLiteStateStore({str(self.path)!r})"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """SQLite's and the file system's failures (a read-only file or folder, a full disk, a
        corrupt file) as :class:`StateStoreError`."""
        try:
            yield
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(
                f"cannot {doing} in the trigger state store {str(self.path)!r}: {exc}"
            ) from None

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._guard(doing):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _held(self, db: sqlite3.Connection, lease: Lease) -> bool:
        row = db.execute(
            "SELECT token, expires FROM trigger_lease WHERE instance = ?", (lease.instance,)
        ).fetchone()
        return row is not None and row[0] == lease.token and row[1] > self.clock()

    def lease(self, instance: str, owner: str, ttl: float) -> Lease | None:
        now = self.clock()
        with self._write(f"take the lease on trigger instance {instance!r}") as db:
            row = db.execute(
                "SELECT owner, expires FROM trigger_lease WHERE instance = ?", (instance,)
            ).fetchone()
            if row is not None and row[1] > now:
                return None
            lease = Lease(instance, owner, uuid.uuid4().hex, now + ttl)
            db.execute(
                "INSERT OR REPLACE INTO trigger_lease (instance, owner, token, expires) VALUES (?, ?, ?, ?)",
                (instance, owner, lease.token, lease.expires),
            )
        return lease

    def renew(self, lease: Lease, ttl: float) -> Lease:
        with self._write(f"renew the lease on trigger instance {lease.instance!r}") as db:
            if not self._held(db, lease):
                raise LeaseLostError(f"the lease on trigger instance {lease.instance!r} was lost")
            renewed = Lease(lease.instance, lease.owner, lease.token, self.clock() + ttl)
            db.execute(
                "UPDATE trigger_lease SET expires = ? WHERE instance = ?", (renewed.expires, lease.instance)
            )
        return renewed

    def load(self, instance: str) -> dict[str, Any] | None:
        """The committed state, or None when there is no row; a row that is not a JSON object with
        fields (``[]``, ``{}``, ``null``, not JSON) is refused, never taken for a new instance."""
        with self._guard(f"read the state of trigger instance {instance!r}"):
            row = self._db.execute(
                "SELECT state FROM trigger_state WHERE instance = ?", (instance,)
            ).fetchone()
        if row is None:
            return None
        try:
            state = json.loads(row[0]) if isinstance(row[0], str | bytes) else row[0]
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise StateStoreError(f"the state of trigger instance {instance!r} is not JSON: {exc}") from None
        return checked_state(instance, state, row[0] if isinstance(row[0], str) else repr(row[0]))

    def commit(self, lease: Lease, state: dict[str, Any]) -> None:
        text = state_text(lease, state)
        with self._write(f"commit the state of trigger instance {lease.instance!r}") as db:
            if not self._held(db, lease):
                raise lease_lost(lease)
            db.execute(
                "INSERT INTO trigger_state (instance, state, commits, updated_at) VALUES (?, ?, 1, ?) "
                "ON CONFLICT(instance) DO UPDATE SET state = excluded.state, "
                "commits = trigger_state.commits + 1, updated_at = excluded.updated_at",
                (lease.instance, text, self.clock()),
            )

    def release(self, lease: Lease) -> None:
        with self._write(f"release the lease on trigger instance {lease.instance!r}") as db:
            db.execute(
                "DELETE FROM trigger_lease WHERE instance = ? AND token = ?", (lease.instance, lease.token)
            )

    def instances(self) -> list[str]:
        with self._guard("list the trigger instances"):
            rows = self._db.execute("SELECT instance FROM trigger_state ORDER BY instance").fetchall()
        return [row[0] for row in rows]
