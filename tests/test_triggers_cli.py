"""``component poll``: JSON lines out, state committed, --dry-run commits nothing, Ctrl-C stops cleanly."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result

from component import cli as cli_module
from component.catalog import Catalog
from component.cli import cli
from component.policy import SYSTEM_CLOCK
from component.runtime import Runtime
from component.triggers import SQLiteStateStore
from component.triggers.watch import watch
from tests.conftest import (
    CANARIES,
    HB_API,
    HB_CONNECTION,
    ROOT,
    SB_CONNECTION,
    ST_API,
    ST_CONNECTION,
    FakeClock,
    FakeVendor,
    make_runtime,
)  # fmt: skip
from tests.servers import sandbox_process
from tests.trigger_timeline import read_only

JOBS = f"{ST_API}/jpm/v2/tenant/{ST_CONNECTION['tenant']}/jobs"
LOOK_BACK = '{"resourceType": "jobs", "lookBack": "2026-01-01"}'


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--root", str(ROOT), *args], catch_exceptions=False)


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def st_file(tmp_path: Path) -> Path:
    path = tmp_path / "st.json"
    path.write_text(json.dumps(ST_CONNECTION))
    return path


@pytest.fixture
def st_vendor(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> FakeVendor:
    """The CLI's runtime sends to a fake ServiceTitan that serves two jobs."""
    jobs = [
        {"id": 1, "createdOn": "2026-02-01T00:00:00Z", "modifiedOn": "2026-02-01T00:00:00Z"},
        {"id": 2, "createdOn": "2025-06-01T00:00:00Z", "modifiedOn": "2026-02-02T00:00:00Z"},
    ]
    vendor = FakeVendor().route(
        "GET",
        JOBS,
        lambda request: httpx2.Response(
            200,
            json={
                "page": 1,
                "pageSize": 1000,
                "hasMore": False,
                "data": [j for j in jobs if j["modifiedOn"] >= request.url.params["modifiedOnOrAfter"]],
            },
        ),
    )
    runtime = make_runtime(catalog, vendor, SYSTEM_CLOCK)
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: runtime)
    return vendor


def test_poll_prints_json_lines_and_commits_state(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path
) -> None:
    db = tmp_path / "state.db"
    args = ["poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", "flow-1"]
    first = invoke(*args, "--state", str(db), "--connection", str(st_file))
    assert first.exit_code == 0, first.stderr
    assert [(e["type"], e["id"]) for e in lines(first)] == [("created", "1"), ("updated", "2")]
    assert "poll 1: 2 events, 1 request; state committed" in first.stderr
    second = invoke(*args, "--state", str(db), "--connection", str(st_file))
    assert lines(second) == []
    assert (
        st_vendor.api_requests[-1].url.params["modifiedOnOrAfter"] == "2026-02-01T23:59:00Z"
    )  # the watermark less the 60 s overlap
    output = first.stdout + first.stderr + second.stdout + second.stderr
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*")).decode("latin-1")
    for canary in CANARIES:
        assert canary not in output and canary not in stored


def test_a_progress_line_on_a_terminal_is_erased_before_the_events_and_the_summary(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout and stderr on one terminal: a budget-wait line shown in place during the poll is
    wiped (carriage return, erase line) before the first event and the poll's summary line."""
    from component import progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Tty()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    (jobs,) = st_vendor.routes[("GET", JOBS)]

    def waited_for(request: httpx2.Request) -> httpx2.Response:
        progress.report("budget-wait", "servicetitan: rate budget full; waiting 0.5 s")
        return jobs(request)

    st_vendor.route("GET", JOBS, waited_for)
    args = ["poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", "tty"]
    with pytest.raises(SystemExit) as exited:
        cli.main(
            ["--root", str(ROOT), *args, "--state", str(tmp_path / "s.db"), "--connection", str(st_file)]
        )
    assert exited.value.code == 0, screen.getvalue()
    raw = screen.getvalue()
    shown = "\r\x1b[2Kservicetitan: rate budget full; waiting 0.5 s"
    assert raw.startswith(shown + "\r\x1b[2K{"), raw[:200]  # wiped before the first event
    assert raw.count(shown) == 1 and "\npoll 1: 2 events, 1 request; state committed\n" in raw
    for line in raw.split("\r\x1b[2K")[2].splitlines():
        assert "waiting" not in line  # nothing printed after it is glued to the progress text


def test_dry_run_shows_what_would_fire_and_commits_nothing(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path
) -> None:
    args = ["poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", "flow-1"]
    common = ["--state", str(tmp_path / "s.db"), "--connection", str(st_file)]
    for _ in range(2):
        dry = invoke(*args, *common, "--dry-run")
        assert [e["id"] for e in lines(dry)] == ["1", "2"]
        assert "dry run, nothing committed" in dry.stderr
    assert [e["id"] for e in lines(invoke(*args, *common))] == ["1", "2"]
    assert lines(invoke(*args, *common)) == []


def test_user_mistakes_are_clear_errors_and_send_nothing(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path
) -> None:
    missing = CliRunner().invoke(cli, ["--root", str(ROOT), "poll", "servicetitan.pollChangesTrigger"])
    assert missing.exit_code == 2 and "--instance" in missing.output
    bad = invoke(
        "poll", "servicetitan.pollChangesTrigger", "--inputs", '{"resourceType": "widgets"}',
        "--instance", "x", "--state", str(tmp_path / "s.db"), "--connection", str(st_file),
    )  # fmt: skip
    assert bad.exit_code == 2
    assert json.loads(bad.stderr)["error"]["type"] == "invalid_input"
    unknown = invoke("poll", "servicetitan.pollChanges", "--instance", "x", "--state", str(tmp_path / "s.db"))
    assert unknown.exit_code == 2 and "pollChangesTrigger" in json.loads(unknown.stderr)["error"]["message"]
    assert not st_vendor.requests


def test_watch_keeps_polling_until_stopped_and_commits_each_poll(tmp_path: Path) -> None:
    calls: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(200, json={"success": True, "data": []})

    runtime = Runtime(transport=httpx2.MockTransport(answer), env={})
    stop = asyncio.Event()
    store = SQLiteStateStore(tmp_path / "w.db")

    def on_poll(number: int, outcome: Any) -> None:
        assert outcome.status == "polled"
        if number == 3:
            stop.set()

    polls = asyncio.run(
        watch(
            runtime, "homebase360.newJob", {}, HB_CONNECTION, store, "w",
            deliver=lambda events: None, every=0.01, on_poll=on_poll, stop=stop,
        )
    )  # fmt: skip
    assert polls == 3
    assert len(calls) == 3  # the first poll records where the instance starts and checks the connection
    state = store.load("w")
    assert state is not None and state["mode"] == "watermark"


def test_the_application_watch_stops_when_its_stop_event_is_set(tmp_path: Path) -> None:
    """What a worker or the service calls: no signal needed, setting ``stop`` ends it between polls."""
    from component.app import Application

    calls: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(200, json={"success": True, "data": []})

    app = Application(Runtime(transport=httpx2.MockTransport(answer), env={}))
    stop = asyncio.Event()

    def on_poll(number: int, outcome: Any) -> None:
        asyncio.get_running_loop().call_later(0.05, stop.set)  # set while it waits for the next poll

    with SQLiteStateStore(tmp_path / "w.db") as store:
        polls = asyncio.run(
            asyncio.wait_for(
                app.watch(
                    "homebase360.newJob", {}, HB_CONNECTION, store, "w",
                    deliver=lambda events: None, every=3600, on_poll=on_poll, stop=stop,
                ),
                timeout=30,
            )
        )  # fmt: skip
        assert store.load("w") is not None
    assert polls == 1 and len(calls) == 1  # the stop ended the hour's wait at once


class _Jobs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"success": True, "data": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_stops_every_cleanly_after_committing(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jobs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = tmp_path / "hb.json"
    connection.write_text(
        json.dumps({**HB_CONNECTION, "baseUrl": f"http://127.0.0.1:{server.server_port}/api/v1"})
    )
    db = tmp_path / "s.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "component", "--root", str(ROOT), "poll", "homebase360.newJob",
         "--instance", "hb-1", "--state", str(db), "--connection", str(connection), "--every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith("poll 2:"):
                break
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    finally:
        process.kill()
        server.shutdown()
    assert process.returncode == 0, "".join(seen) + rest
    assert "stopping after the current request; Ctrl-C again to abort" in rest
    assert "stopped; the state of every delivered poll is committed" in rest
    with SQLiteStateStore(db) as store:
        state = store.load("hb-1")
    assert state is not None and state["floor"]
    assert HB_API not in rest


def _commits(db: Path, instance: str) -> int:
    """How many times ``instance``'s state was committed (0: never)."""
    if not db.exists():
        return 0
    with SQLiteStateStore(db) as store:
        row = store._db.execute(
            "SELECT commits FROM trigger_state WHERE instance = ?", (instance,)
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_once_finishes_the_request_and_commits_twice_aborts_and_commits_nothing(
    tmp_path: Path, presses: int
) -> None:
    """A real ``component poll --every`` against a real ``component sandbox serve`` whose every
    answer takes 6 s: Ctrl-C while the second poll's only request is in flight (2 s after it is sent,
    4 s before its answer, margins a busy machine keeps)."""
    with sandbox_process("--latency-ms", "6000") as served:
        connection = tmp_path / "sb.json"
        connection.write_text(json.dumps(served["connections"]["servicebay"]))
        db = tmp_path / "s.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "component", "--root", str(ROOT), "poll", "servicebay.quoteAccepted",
             "--instance", "q", "--state", str(db), "--connection", str(connection), "--every", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        try:
            assert process.stderr is not None
            seen = []
            for line in process.stderr:
                seen.append(line)
                if line.startswith("poll 1:"):
                    break
            assert _commits(db, "q") == 1, "".join(seen)
            time.sleep(3.0)  # the next poll starts 1 s on; its request is answered 6 s after that
            process.send_signal(signal.SIGINT)
            acknowledged = process.stderr.readline()
            if presses == 2:
                process.send_signal(signal.SIGINT)
            _, rest = process.communicate(timeout=30)
        finally:
            process.kill()
    assert acknowledged == "stopping after the current request; Ctrl-C again to abort\n", "".join(seen)
    if presses == 1:  # the request in flight is answered, that poll handed on and committed
        assert process.returncode == 0, rest
        assert rest.startswith("poll 2: 0 events, 1 request; state committed\n"), rest
        assert "stopped; the state of every delivered poll is committed" in rest
        assert _commits(db, "q") == 2
    else:  # aborted at once: that poll neither finishes nor commits
        assert process.returncode == 130, rest
        assert json.loads(rest.splitlines()[-1])["error"]["type"] == "interrupted"
        assert "poll 2" not in rest and "committed" not in rest
        assert _commits(db, "q") == 1


BLANK_IDS = ["", "  ", "\t", "flow\n1", "\x1b[2J", "a\u200bb"]


@pytest.mark.parametrize("instance", BLANK_IDS)
def test_an_instance_id_no_one_can_see_is_refused_up_front(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path, instance: str
) -> None:
    db = tmp_path / "s.db"
    result = invoke(
        "poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", instance,
        "--state", str(db), "--connection", str(st_file),
    )  # fmt: skip
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["type"] == "usage" and "'--instance'" in error["message"]
    assert not st_vendor.requests and not db.exists()


@pytest.mark.parametrize("instance", BLANK_IDS[1:])  # an empty one is refused as missing already
def test_flow_run_refuses_the_same_instance_ids(tmp_path: Path, instance: str) -> None:
    flow = tmp_path / "flow.json"
    flow.write_text(
        json.dumps(
            {
                "name": "f",
                "trigger": {"trigger": "servicetitan.pollChangesTrigger", "inputs": {"resourceType": "jobs"}},
                "steps": [{"name": "t", "picklist": "servicetitan.selectTechnician", "inputs": {}}],
            }
        )
    )
    db = tmp_path / "s.db"
    result = invoke("flow", "run", str(flow), "--sandbox", "--instance", instance, "--state", str(db))
    assert result.exit_code == 2
    assert "'--instance'" in json.loads(result.stderr)["error"]["message"] and not db.exists()


@pytest.mark.parametrize(
    "row",
    [
        "[]",
        "{}",
        "null",
        '{"floor":"2026-01-01","mode":"watermark","recent":{},"variant":"jobs","version":1,"watermark":1e308}',
        '{"floor":"2026-01-01","mode":"watermark","recent":{},"variant":"jobs","version":1,"watermark":Infinity}',
        '{"floor":"2026-01-01","mode":"seen","seen":[],"variant":null,"version":1}',
    ],
)
def test_a_state_row_that_is_not_this_triggers_is_exit_2_and_changes_nothing(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path, row: str
) -> None:
    db = tmp_path / "s.db"
    with SQLiteStateStore(db) as store:
        store._db.execute("INSERT INTO trigger_state VALUES ('flow-1', ?, 4, 0)", (row,))
    args = ["poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", "flow-1"]
    result = invoke(*args, "--state", str(db), "--connection", str(st_file))
    assert result.exit_code == 2, result.stderr
    assert json.loads(result.stderr)["error"]["type"] in ("state_store", "state_mismatch")
    assert not st_vendor.requests and result.stdout == ""
    with SQLiteStateStore(db) as store:
        assert store._db.execute("SELECT state, commits FROM trigger_state").fetchall() == [(row, 4)]


def test_a_read_only_state_file_is_exit_2_not_internal(
    st_file: Path, st_vendor: FakeVendor, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    SQLiteStateStore(db).close()
    args = ["poll", "servicetitan.pollChangesTrigger", "--inputs", LOOK_BACK, "--instance", "flow-1"]
    with read_only(db):
        result = invoke(*args, "--state", str(db), "--connection", str(st_file))
    assert result.exit_code == 2, result.stderr
    error = json.loads(result.stderr)["error"]
    assert error["type"] == "state_store" and "readonly database" in error["message"]
    assert not st_vendor.requests


def _watch_jobs(
    tmp_path: Path, answers: list[Any], stop: asyncio.Event, **options: Any
) -> tuple[int, list[httpx2.Request], list[tuple[str, float]]]:
    """watch() every 1 s over Homebase360 jobs answered by ``answers`` in turn (the last repeats)."""
    calls: list[httpx2.Request] = []
    retries: list[tuple[str, float]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        reply = answers[min(len(calls) - 1, len(answers) - 1)]
        if isinstance(reply, Exception):
            raise reply
        return reply if isinstance(reply, httpx2.Response) else reply(request)

    runtime = Runtime(
        transport=httpx2.MockTransport(answer), env={}, clock=FakeClock()
    )  # no real retry waits
    with SQLiteStateStore(tmp_path / "w.db") as store:
        polls = asyncio.run(
            watch(
                runtime, "homebase360.newJob", {}, HB_CONNECTION, store, "w",
                deliver=lambda events: None, every=0.01, stop=stop, draw=lambda: 0.0,
                on_retry=lambda error, wait: retries.append((error.kind, wait)), **options,
            )
        )  # fmt: skip
    return polls, calls, retries


def test_watch_carries_on_after_transient_failures_with_a_growing_back_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from component.triggers import watch as watch_module

    monkeypatch.setattr(watch_module, "FIRST_BACKOFF", 0.01)
    ok = httpx2.Response(200, json={"success": True, "data": []})
    stop = asyncio.Event()
    done: list[int] = []

    def on_poll(number: int, outcome: Any) -> None:
        done.append(number)
        if number == 2:
            stop.set()

    dropped = httpx2.ConnectError("connection refused")
    http = Runtime(env={}).catalog.connector("homebase360").model.http
    attempts = http.retry.maxAttempts  # a poll fails once the session has tried this many times
    answers = [ok, *[dropped] * (2 * attempts), ok]
    polls, calls, retries = _watch_jobs(tmp_path, answers, stop, on_poll=on_poll)
    assert polls == 2 and done == [1, 2] and len(calls) == len(answers)
    assert [kind for kind, _ in retries] == ["transport", "transport"]
    assert retries[1][1] == 2 * retries[0][1]  # doubling (no jitter drawn here)


def test_watch_stops_on_bad_credentials_with_the_error(tmp_path: Path) -> None:
    from component.errors import AuthError

    refused = httpx2.Response(401, json={"success": False, "error": "Invalid API key"})
    with pytest.raises(AuthError):
        _watch_jobs(tmp_path, [refused], asyncio.Event())


def test_a_stop_during_a_poll_ends_it_before_its_next_request_and_commits_nothing(tmp_path: Path) -> None:
    from component.triggers.core import STOP, PollStoppedError

    stop = asyncio.Event()

    async def scenario() -> None:
        calls: list[httpx2.Request] = []

        def answer(request: httpx2.Request) -> httpx2.Response:
            calls.append(request)
            stop.set()  # Ctrl-C while the first request is answered
            page = {
                "customers": [{"id": "a"}],
                "pagination": {"limit": 100, "hasMore": True, "nextCursor": "a"},
            }
            return httpx2.Response(200, json={"success": True, "data": page})

        runtime = Runtime(transport=httpx2.MockTransport(answer), env={})
        token = STOP.set(stop)
        try:
            with pytest.raises(PollStoppedError):
                async with runtime:
                    state = {
                        "mode": "seen", "floor": "2027-01-01T00:00:00Z", "seen": [],
                        "version": 1, "trigger": "servicebay.newCustomer", "variant": None,
                    }  # fmt: skip
                    await runtime.poll("servicebay.newCustomer", {}, SB_CONNECTION, state)
        finally:
            STOP.reset(token)
        assert len(calls) == 1

    asyncio.run(scenario())


def test_the_retry_policy_is_a_function_of_the_error_and_the_failures() -> None:
    """``transient`` and ``backoff`` are what any poller (a worker too) decides with."""
    from component.errors import (
        AuthError,
        BadRequestError,
        InputValidationError,
        NotFoundError,
        RateLimitedError,
        ServerError,
        StateStoreError,
        TransportError,
    )
    from component.triggers.core import TriggerError
    from component.triggers.store import LeaseLostError
    from component.triggers.watch import MAX_BACKOFF, backoff, transient

    again = [
        TransportError("reset", vendor="x"),
        RateLimitedError("429", status=429, vendor="x"),
        ServerError("503", status=503, vendor="x"),
        TriggerError("the list shifted", vendor="x"),
        LeaseLostError("paused"),
    ]
    stop = [
        AuthError("401", status=401, vendor="x"),
        BadRequestError("400", status=400, vendor="x"),
        NotFoundError("404", status=404, vendor="x"),
        InputValidationError("bad", problems=[]),
        StateStoreError("read-only"),
    ]
    assert [transient(error) for error in again] == [True] * len(again)
    assert [transient(error) for error in stop] == [False] * len(stop)
    assert [backoff(n, 0.0) for n in (1, 2, 3, 7, 8, 40)] == [5, 10, 20, 300, 300, 300]
    for failures in range(1, 12):  # jitter takes up to half off, never adds
        step = backoff(failures, 0.0)
        assert step / 2 < backoff(failures, 0.999) <= step <= MAX_BACKOFF
