"""Schema migrations for the PostgreSQL database: numbered SQL files applied in order, each once.

``postgresql/NNNN_name.sql`` files are applied in number order, with their rows in
``schema_migrations``, in one transaction under a transaction-level advisory lock: workers starting
at the same time apply each file exactly once, and a failing file leaves the schema as it was.
A file already applied is never re-read: a change to the schema is a new file.
A database that records a number this code does not know
(a newer release migrated it) is refused rather than used with the wrong schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK = 0x66736300_0001  # pg_advisory_xact_lock key for migrations ("fsc", 1)


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The packaged migrations, in order; numbers are unique and contiguous from 1."""
    folder = resources.files(__package__).joinpath("postgresql")
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the packaged migrations are not numbered 1..n: {numbers}")
    return found


class NewerSchemaError(Exception):
    """The database holds migrations this release does not know."""


def migrate(connection: Any) -> list[int]:
    """Apply the migrations ``connection`` (a psycopg connection in autocommit mode) lacks.

    Returns the numbers applied now (empty when the schema is current).
    """
    known = migrations()
    applied: list[int] = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "number INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in connection.execute("SELECT number FROM schema_migrations")}
        unknown = sorted(done - {m.number for m in known})
        if unknown:
            raise NewerSchemaError(
                f"the database has schema migrations {unknown} that this release does not know; "
                "upgrade the component before using this database"
            )
        for migration in known:
            if migration.number in done:
                continue
            connection.execute(migration.sql)
            connection.execute(
                "INSERT INTO schema_migrations (number, name) VALUES (%s, %s)",
                (migration.number, migration.name),
            )
            applied.append(migration.number)
    return applied
