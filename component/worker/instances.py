"""The table of trigger instances the workers poll, on PostgreSQL (migration 0003).

Each row names a trigger, its inputs, its connection (by name: an entry of the connections file or
a stored connection's id, never its secrets) and its interval. :meth:`InstanceTable.claim_due` is
the scheduler: one statement takes the rows that are due (``FOR UPDATE SKIP LOCKED``, so two
dispatchers never take one row) and moves their ``next_due`` on by the interval plus a random
jitter. Adding or removing a row needs no restart of anything: the next dispatch reads it.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import UsageError
from ..triggers.postgres import PostgresDatabase
from ..triggers.store import check_instance

MAX_EVERY = 7 * 86400.0
Row = tuple[str, str, dict[str, Any], str | None, float]  # instance, ref, inputs, connection, every
SELECT = (
    "SELECT instance, ref, inputs, connection, every, next_due FROM trigger_instance"  # a TriggerInstance
)


@dataclass(frozen=True)
class TriggerInstance:
    instance: str
    ref: str
    inputs: dict[str, Any]
    connection: str | None
    every: float
    next_due: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "ref": self.ref,
            "inputs": self.inputs,
            "connection": self.connection,
            "every": self.every,
            "nextDue": self.next_due,
        }


def check_every(every: float) -> float:
    if not (isinstance(every, int | float) and math.isfinite(every) and 0 < every <= MAX_EVERY):
        raise UsageError(f"every must be a number of seconds above 0 and at most {MAX_EVERY:.0f}: {every!r}")
    return float(every)


class InstanceTable(PostgresDatabase):
    """The table, in the trigger state's database; each call is one short transaction."""

    what = "trigger instance table"

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
        statement_timeout: float | None = None,
    ) -> None:
        super().__init__(url, clock=clock, statement_timeout=statement_timeout)
        self.draw = draw

    def add(
        self, instance: str, ref: str, inputs: dict[str, Any], connection: str | None, every: float
    ) -> TriggerInstance:
        """Add (or replace) an instance; its first poll comes within one interval, at random, so
        many instances added at once do not all fall due together."""
        return self.add_many([(instance, ref, inputs, connection, every)])[0]

    def add_many(self, rows: list[Row]) -> list[TriggerInstance]:
        """Add (or replace) many instances in one transaction, as :meth:`add`."""
        now = self.clock()
        added = [
            TriggerInstance(check_instance(instance), ref, dict(inputs), connection, check_every(every), 0.0)
            for instance, ref, inputs, connection, every in rows
        ]
        added = [replace(row, next_due=now + self.draw() * row.every) for row in added]
        with self._tx(f"add {len(added)} trigger instance(s)") as db, db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO trigger_instance "
                "(instance, ref, inputs, connection, every, next_due, created_at) "
                "VALUES (%s, %s, %s::jsonb, %s, %s, %s, %s) ON CONFLICT (instance) DO UPDATE SET "
                "ref = excluded.ref, inputs = excluded.inputs, connection = excluded.connection, "
                "every = excluded.every, next_due = excluded.next_due",
                [
                    (r.instance, r.ref, json.dumps(r.inputs), r.connection, r.every, r.next_due, now)
                    for r in added
                ],
            )
        return added

    def remove(self, instance: str) -> bool:
        """Stop polling ``instance`` (its trigger state is kept); whether it was there."""
        with self._tx(f"remove trigger instance {instance!r}") as db:
            gone = db.execute("DELETE FROM trigger_instance WHERE instance = %s", (instance,)).rowcount
        return bool(gone)

    def get(self, instance: str) -> TriggerInstance | None:
        with self._tx(f"read trigger instance {instance!r}") as db:
            row = db.execute(
                f"{SELECT} WHERE instance = %s",
                (instance,),
            ).fetchone()
        return None if row is None else TriggerInstance(*row)

    def stored_trigger(self, instance: str) -> str | None:
        """The trigger whose state is stored for ``instance`` (None when it has none)."""
        with self._tx(f"read the state of trigger instance {instance!r}") as db:
            row = db.execute(
                "SELECT state->>'trigger' FROM trigger_state WHERE instance = %s AND jsonb_typeof(state) = "
                "'object'",
                (instance,),
            ).fetchone()
        return None if row is None else row[0]

    def all(self) -> list[TriggerInstance]:
        with self._tx("list the trigger instances") as db:
            rows = db.execute(f"{SELECT} ORDER BY instance").fetchall()
        return [TriggerInstance(*row) for row in rows]

    def claim_due(self, limit: int, jitter: float) -> list[tuple[str, float]]:
        """Take up to ``limit`` instances that are due, oldest first, and move each one's ``next_due``
        to now + its interval * (1 + ``jitter`` * a random draw), in one statement. Returns
        ``(instance, every)`` pairs. Rows another dispatcher is claiming are skipped, not waited for."""
        with self._tx("claim the due trigger instances") as db:
            rows = db.execute(
                "WITH due AS (SELECT instance FROM trigger_instance WHERE next_due <= %(now)s "
                "ORDER BY next_due LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
                "UPDATE trigger_instance t SET next_due = %(now)s + t.every * (1 + %(jitter)s * random()) "
                "FROM due WHERE t.instance = due.instance RETURNING t.instance, t.every",
                {"now": self.clock(), "limit": limit, "jitter": jitter},
            ).fetchall()
        return [(row[0], float(row[1])) for row in rows]
