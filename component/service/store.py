"""The service's own state on SQLite, in the trigger state's database file: stored connections
(non-secret values in the clear, secrets only as a Fernet token sealed by :mod:`.connections`) and
the pending state of polled trigger batches waiting for their commit.

The interface is small on purpose (get, put, delete, list; put and take a pending state) so that a
server database implements it the same way: :class:`~.postgres.PostgresServiceStore`, opened by
:func:`open_service_store` for a ``postgresql://`` URL.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..triggers.store import StateStoreError, default_path

if TYPE_CHECKING:
    from .postgres import PostgresServiceStore


@dataclass(frozen=True)
class StoredConnection:
    id: str
    connector: str
    values: dict[str, Any]  # non-secret fields only
    sealed: bytes | None  # the secret fields, encrypted; None when none are set
    secret_names: tuple[str, ...] = ()  # which secret fields are set (names only, in the clear)


class ConnectionStore(Protocol):
    def get(self, id: str) -> StoredConnection | None: ...

    def put(self, connection: StoredConnection) -> None: ...

    def delete(self, id: str) -> bool: ...

    def list(self) -> list[StoredConnection]: ...

    def put_pending(self, instance: str, token: str, state: dict[str, Any]) -> None: ...

    def take_pending(self, instance: str, token: str) -> dict[str, Any] | None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS service_connection (
    id TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    vals TEXT NOT NULL,
    sealed BLOB,
    secret_names TEXT NOT NULL DEFAULT '[]',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trigger_pending (
    instance TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


class SQLiteServiceStore:
    """SQLite in WAL mode, beside (by default, in the same file as) the trigger state."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # made on one thread, used on the one that serves (one at a time)
            self._db = sqlite3.connect(
                str(self.path), timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(f"cannot open the service store {str(self.path)!r}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def get(self, id: str) -> StoredConnection | None:
        row = self._db.execute(
            "SELECT id, connector, vals, sealed, secret_names FROM service_connection WHERE id = ?", (id,)
        ).fetchone()
        return None if row is None else _stored(row)

    def put(self, connection: StoredConnection) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO service_connection "
            "(id, connector, vals, sealed, secret_names, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                connection.id,
                connection.connector,
                json.dumps(connection.values, sort_keys=True),
                connection.sealed,
                json.dumps(sorted(connection.secret_names)),
                time.time(),
            ),
        )

    def delete(self, id: str) -> bool:
        return self._db.execute("DELETE FROM service_connection WHERE id = ?", (id,)).rowcount > 0

    def list(self) -> list[StoredConnection]:
        rows = self._db.execute(
            "SELECT id, connector, vals, sealed, secret_names FROM service_connection ORDER BY id"
        )
        return [_stored(row) for row in rows]

    def put_pending(self, instance: str, token: str, state: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO trigger_pending (instance, token, state, created_at) VALUES (?, ?, ?, ?)",
            (instance, token, json.dumps(state, sort_keys=True), time.time()),
        )

    def take_pending(self, instance: str, token: str) -> dict[str, Any] | None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute(
                "SELECT state FROM trigger_pending WHERE instance = ? AND token = ?", (instance, token)
            ).fetchone()
            if row is not None:
                self._db.execute("DELETE FROM trigger_pending WHERE instance = ?", (instance,))
        finally:
            self._db.execute("COMMIT")
        state = json.loads(row[0]) if row is not None else None
        return state if isinstance(state, dict) else None


def open_service_store(where: str | Path | None = None) -> SQLiteServiceStore | PostgresServiceStore:
    """The store at ``where``: a ``postgresql://`` URL (the trigger state's database), else a SQLite
    file (the default path when None)."""
    if str(where or "").startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresServiceStore

        return PostgresServiceStore(str(where))
    return SQLiteServiceStore(where)


def _stored(row: tuple[Any, ...]) -> StoredConnection:
    return StoredConnection(row[0], row[1], json.loads(row[2]), row[3], tuple(json.loads(row[4])))
