"""A poller process for the durability test: it polls, hands part or all of the batch to its
consumer (a file, flushed to disk) and is then killed with SIGKILL before it can commit.

    python -m tests.durability_child STATE_DB_OR_URL ACCEPTED_FILE ACCEPT_COUNT
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tests.trigger_timeline import Harness, small_page_catalog

INPUTS = {"resourceType": "jobs", "lookBack": "2020-01-01"}
RECORDS = 7


def harness(db: Path | str) -> Harness:
    """The same vendor timeline in every process: seven jobs, then one second later. ``db`` is a
    SQLite file or a ``postgresql://`` URL."""
    url = db if isinstance(db, str) and db.startswith("postgresql://") else None
    h = Harness(small_page_catalog(3), Path(db) if url is None else Path("unused.db"), INPUTS, store_url=url)
    h.vendor.insert(RECORDS)
    h.advance(1)
    return h


def main(db: str, accepted: str, count: str) -> None:
    h = harness(db if db.startswith("postgresql://") else Path(db))
    keep = int(count)

    def deliver(events: list[dict[str, Any]]) -> None:
        with open(accepted, "a", encoding="utf-8") as out:
            for event in events[:keep]:
                out.write(f"{event['id']} {event['changedAt']}\n")
            out.flush()
            os.fsync(out.fileno())
        os.kill(os.getpid(), signal.SIGKILL)  # between delivery and commit

    from component.triggers import poll_once
    from tests.conftest import ST_CONNECTION
    from tests.trigger_timeline import TRIGGER

    asyncio.run(
        poll_once(
            h.runtime(), TRIGGER, INPUTS, ST_CONNECTION, h.store(), h.instance, deliver=deliver, ttl=h.ttl
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
