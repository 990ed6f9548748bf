"""The service's store on PostgreSQL, in the trigger state's database: the :class:`ConnectionStore`
interface of :mod:`.store`, for several service processes sharing their stored connections and
pending trigger batches.

The tables come from the numbered migrations in component/migrations/ (``0002_service_store``).
Secrets arrive sealed (a Fernet token made by :mod:`.connections`) and are stored as such.
``take_pending`` is one ``DELETE … RETURNING``: of two processes taking the same batch, exactly one
gets it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..triggers.postgres import connect, first_line, redacted_url
from ..triggers.store import StateStoreError
from .store import StoredConnection

_COLUMNS = "id, connector, vals, sealed, secret_names"


class PostgresServiceStore:
    """One psycopg connection in autocommit mode; each call is its own short transaction, one at a
    time (the service calls it from its event loop and from worker threads)."""

    def __init__(self, url: str) -> None:
        self.url = redacted_url(url)
        self._db, self._errors = connect(url, "service store")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresServiceStore({self.url!r})"

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self, doing: str) -> Iterator[Any]:
        try:
            with self._lock, self._db.transaction():
                yield self._db
        except self._errors as exc:
            raise StateStoreError(
                f"cannot {doing} in the service store {self.url!r}: {first_line(exc)}"
            ) from None

    def get(self, id: str) -> StoredConnection | None:
        with self._tx(f"read connection {id!r}") as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM service_connection WHERE id = %s", (id,)).fetchone()
        return None if row is None else _stored(row)

    def put(self, connection: StoredConnection) -> None:
        with self._tx(f"write connection {connection.id!r}") as db:
            db.execute(
                f"INSERT INTO service_connection ({_COLUMNS}, updated_at) "
                "VALUES (%s, %s, %s::jsonb, %s, %s::jsonb, %s) "
                "ON CONFLICT (id) DO UPDATE SET connector = excluded.connector, vals = excluded.vals, "
                "sealed = excluded.sealed, secret_names = excluded.secret_names, "
                "updated_at = excluded.updated_at",
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
        with self._tx(f"delete connection {id!r}") as db:
            return bool(db.execute("DELETE FROM service_connection WHERE id = %s", (id,)).rowcount)

    def list(self) -> list[StoredConnection]:
        with self._tx("list the connections") as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM service_connection ORDER BY id").fetchall()
        return [_stored(row) for row in rows]

    def put_pending(self, instance: str, token: str, state: dict[str, Any]) -> None:
        with self._tx(f"keep the pending batch of trigger instance {instance!r}") as db:
            db.execute(
                "INSERT INTO trigger_pending (instance, token, state, created_at) "
                "VALUES (%s, %s, %s::jsonb, %s) ON CONFLICT (instance) DO UPDATE SET "
                "token = excluded.token, state = excluded.state, created_at = excluded.created_at",
                (instance, token, json.dumps(state, sort_keys=True), time.time()),
            )

    def take_pending(self, instance: str, token: str) -> dict[str, Any] | None:
        with self._tx(f"take the pending batch of trigger instance {instance!r}") as db:
            row = db.execute(
                "DELETE FROM trigger_pending WHERE instance = %s AND token = %s RETURNING state",
                (instance, token),
            ).fetchone()
        state = row[0] if row is not None else None
        return state if isinstance(state, dict) else None


def _stored(row: tuple[Any, ...]) -> StoredConnection:
    sealed = bytes(row[3]) if row[3] is not None else None
    return StoredConnection(row[0], row[1], dict(row[2]), sealed, tuple(row[4]))
