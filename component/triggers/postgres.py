"""Trigger state on PostgreSQL, for many workers on many machines: the :class:`StateStore` interface.

The semantics are the SQLite store's (component/triggers/store.py): a lease with an expiry per
instance, ``commit`` only while the lease is held, in the same transaction that checks it.
Taking a lease locks the instance's lease row with ``SELECT ... FOR UPDATE SKIP LOCKED``: a worker
that finds another one deciding about the same instance at that moment gets None at once instead
of waiting, and two workers never both hold an instance. Expiry times come from the pollers'
clocks (``clock``, Unix seconds), as with SQLite; keep the workers' clocks in sync (NTP) and the
lease ``ttl`` well above their skew.

The schema is created and upgraded by the numbered migrations in component/migrations/ when the
store opens. A state row that is not a JSON object is a :class:`StateStoreError`, never a silent
restart of the instance.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from ..migrations import NewerSchemaError, migrate
from .store import Lease, LeaseLostError, StateStoreError, checked_state, lease_lost, state_text

SCHEMES = ("postgresql", "postgres")


def redacted_url(url: str) -> str:
    """``url`` without its password (for messages and reprs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://?"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


KEEPALIVE: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
SCALE_HINT = "install the scale extra: pip install 'fieldservice-component[scale]'"


def connect(
    url: str, what: str, statement_timeout: float | None = None
) -> tuple[Any, tuple[type[BaseException], ...]]:
    """A psycopg connection to ``url`` in autocommit mode with the schema migrated, and the errors
    psycopg raises. Failures are :class:`StateStoreError` naming ``what`` and the URL without its
    password; without psycopg the error says which extra to install.

    The connection gives up connecting after 10 s, sends TCP keepalives (a server that vanished is
    noticed in about a minute) and, with ``statement_timeout`` (seconds), has the server cancel a
    statement running longer (a lock held elsewhere, a hung server cannot hold a caller forever)."""
    shown = redacted_url(url)
    try:
        import psycopg
    except ImportError:
        raise StateStoreError(f"cannot open the {what} {shown!r}: psycopg is missing; {SCALE_HINT}") from None
    try:
        secret = urlsplit(url).password if "://" in url else None
    except ValueError as exc:
        raise StateStoreError(f"cannot open the {what} {shown!r}: not a valid URL ({exc})") from None
    try:
        db = psycopg.connect(url, autocommit=True, **KEEPALIVE)
        if statement_timeout:
            db.execute(f"SET statement_timeout = {round(statement_timeout * 1000)}")
    except (psycopg.Error, ValueError) as exc:
        text = str(exc).strip()
        if secret:
            text = text.replace(secret, "***")
        raise StateStoreError(f"cannot open the {what} {shown!r}: {text}") from None
    try:
        migrate(db)
    except (psycopg.Error, NewerSchemaError) as exc:
        db.close()
        raise StateStoreError(f"cannot prepare the {what} {shown!r}: {exc}") from None
    return db, (psycopg.Error,)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresDatabase:
    """One psycopg connection in autocommit mode to the migrated database; each call is its own short
    transaction, whose failures are :class:`StateStoreError` naming :attr:`what`."""

    what = "trigger state store"

    def __init__(
        self, url: str, *, clock: Callable[[], float] = time.time, statement_timeout: float | None = None
    ) -> None:
        self.url = redacted_url(url)
        self.clock = clock
        self._db, self._errors = connect(url, self.what, statement_timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def close(self) -> None:
        self._db.close()

    @property
    def broken(self) -> bool:
        """Whether the connection itself failed (closed, or cut by the server): only then is it
        worth reopening. A failure of the data (a foreign state row) leaves it in use."""
        return bool(self._db.closed or self._db.broken)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, doing: str) -> Iterator[Any]:
        """One transaction; the server's and the connection's failures as :class:`StateStoreError`."""
        try:
            with self._db.transaction():
                yield self._db
        except self._errors as exc:
            shown = f"the {self.what} {self.url!r}"
            raise StateStoreError(f"cannot {doing} in {shown}: {first_line(exc)}") from None


class PostgresStateStore(PostgresDatabase):
    """The :class:`StateStore` on PostgreSQL."""

    def _held(self, db: Any, lease: Lease) -> bool:
        row = db.execute(
            "SELECT token, expires FROM trigger_lease WHERE instance = %s FOR UPDATE", (lease.instance,)
        ).fetchone()
        return row is not None and row[0] == lease.token and row[1] > self.clock()

    def lease(self, instance: str, owner: str, ttl: float) -> Lease | None:
        now = self.clock()
        with self._tx(f"take the lease on trigger instance {instance!r}") as db:
            db.execute(
                "INSERT INTO trigger_lease (instance, owner, token, expires) VALUES (%s, '', '', 0) "
                "ON CONFLICT (instance) DO NOTHING",
                (instance,),
            )
            row = db.execute(
                "SELECT expires FROM trigger_lease WHERE instance = %s FOR UPDATE SKIP LOCKED", (instance,)
            ).fetchone()
            if row is None or row[0] > now:  # another worker is taking it right now, or holds it
                return None
            lease = Lease(instance, owner, uuid.uuid4().hex, now + ttl)
            db.execute(
                "UPDATE trigger_lease SET owner = %s, token = %s, expires = %s WHERE instance = %s",
                (owner, lease.token, lease.expires, instance),
            )
        return lease

    def renew(self, lease: Lease, ttl: float) -> Lease:
        with self._tx(f"renew the lease on trigger instance {lease.instance!r}") as db:
            if not self._held(db, lease):
                raise LeaseLostError(f"the lease on trigger instance {lease.instance!r} was lost")
            renewed = Lease(lease.instance, lease.owner, lease.token, self.clock() + ttl)
            db.execute(
                "UPDATE trigger_lease SET expires = %s WHERE instance = %s", (renewed.expires, lease.instance)
            )
        return renewed

    def load(self, instance: str) -> dict[str, Any] | None:
        with self._tx(f"read the state of trigger instance {instance!r}") as db:
            row = db.execute("SELECT state FROM trigger_state WHERE instance = %s", (instance,)).fetchone()
        if row is None:
            return None
        return checked_state(instance, row[0], json.dumps(row[0]))

    def commit(self, lease: Lease, state: dict[str, Any]) -> None:
        text = state_text(lease, state)
        with self._tx(f"commit the state of trigger instance {lease.instance!r}") as db:
            if not self._held(db, lease):
                raise lease_lost(lease)
            db.execute(
                "INSERT INTO trigger_state (instance, state, commits, updated_at) "
                "VALUES (%s, %s::jsonb, 1, %s) "
                "ON CONFLICT (instance) DO UPDATE SET state = excluded.state, "
                "commits = trigger_state.commits + 1, updated_at = excluded.updated_at",
                (lease.instance, text, self.clock()),
            )

    def release(self, lease: Lease) -> None:
        with self._tx(f"release the lease on trigger instance {lease.instance!r}") as db:
            db.execute(
                "DELETE FROM trigger_lease WHERE instance = %s AND token = %s", (lease.instance, lease.token)
            )

    def instances(self) -> list[str]:
        with self._tx("list the trigger instances") as db:
            return [row[0] for row in db.execute("SELECT instance FROM trigger_state ORDER BY instance")]
