"""Trigger durability across a real crash: a poller process killed (SIGKILL) after handing over
part or all of a batch and before committing loses no event. The next poll re-emits at most that
uncommitted batch, and the consumer's dedupe by event (id, changedAt) drops what it already took.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from component.triggers import poll_once
from tests.conftest import ROOT, ST_CONNECTION
from tests.durability_child import INPUTS, RECORDS, harness
from tests.trigger_timeline import TRIGGER

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("accepted_before_the_kill", [0, 3, RECORDS] if SLOW else [3])
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_poller_killed_between_fetch_and_commit_loses_nothing(
    tmp_path: Path, accepted_before_the_kill: int, backend: str, request: pytest.FixtureRequest
) -> None:
    import asyncio

    accepted = tmp_path / "accepted.txt"
    db: Path | str = tmp_path / "state.db"
    if backend == "postgresql":  # the state on a real server the test session started
        db = request.getfixturevalue("postgres_server").database()
    accepted.touch()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.durability_child",
            str(db),
            str(accepted),
            str(accepted_before_the_kill),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    taken = {tuple(line.split(" ", 1)) for line in accepted.read_text().splitlines()}
    assert len(taken) == accepted_before_the_kill

    h = harness(db)  # the same vendor timeline; a new process, only the state file carried over
    h.advance(h.ttl + 1)  # the killed poller's lease has run out
    again: list[dict[str, Any]] = []

    async def poll() -> str:
        outcome = await poll_once(
            h.runtime(),
            TRIGGER,
            INPUTS,
            ST_CONNECTION,
            h.store(),
            h.instance,
            deliver=again.extend,
            ttl=h.ttl,
        )
        return outcome.status

    assert asyncio.run(poll()) == "polled"
    reemitted = {(event["id"], event["changedAt"]) for event in again}
    assert len(reemitted) <= RECORDS  # at most the uncommitted batch
    new = reemitted - taken  # the consumer's dedupe
    assert len(taken | new) == RECORDS  # no event lost
    assert taken <= reemitted  # what was taken but not committed comes again, and is dropped
    assert asyncio.run(poll()) == "polled" and len(again) == len(reemitted)  # committed now: nothing more
