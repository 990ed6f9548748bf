"""``component sandbox serve`` as a real process: an access line per request, one line per
injected fault (no traceback), ``--quiet`` silences both, and Ctrl-C (SIGINT) is a clean exit 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx2
import pytest

from component.sandbox import CREDENTIALS


def start(*switches: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "component", "sandbox", "serve", "--port", "0", *switches],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] != "}\n":
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "no output"
        lines.append(line)
    return process, json.loads("".join(lines))


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    return process.returncode, err


def get(url: str) -> int | str:
    key = CREDENTIALS["homebase360"]["apiKey"]
    try:
        return httpx2.get(url, headers={"x-api-key": key}, timeout=10).status_code
    except httpx2.TransportError:
        return "dropped"


def test_each_request_is_logged_and_ctrl_c_exits_0() -> None:
    process, served = start()
    try:
        assert get(f"{served['url']}/homebase360/api/v1/customers?email=a%40example.com") == 200
        assert get(f"{served['url']}/nowhere") == 404
    finally:
        code, err = interrupt(process)
    assert code == 0, err
    assert "interrupted" not in err and "Traceback" not in err
    lines = err.splitlines()
    assert any(
        line.endswith(" ms") and " GET /homebase360/api/v1/customers 200 " in line for line in lines
    ), err
    assert any(" GET /nowhere 404 " in line for line in lines), err
    assert "a%40example.com" not in err and "example.com" not in err  # no query string in the log


def test_an_injected_drop_is_one_line_not_a_traceback() -> None:
    process, served = start("--drop-rate", "1", "--fault-rate", "0")
    try:
        assert get(f"{served['url']}/homebase360/api/v1/customers?email=b%40example.com") == "dropped"
    finally:
        code, err = interrupt(process)
    assert code == 0, err
    assert "Traceback" not in err and "Exception in ASGI" not in err, err
    assert sum("fault: dropped" in line for line in err.splitlines()) == 1, err
    assert " GET /homebase360/api/v1/customers dropped " in err, err


def test_quiet_logs_nothing() -> None:
    process, served = start("--quiet", "--fault-rate", "1")
    try:
        assert get(f"{served['url']}/homebase360/api/v1/customers?email=c%40example.com") in (500, 502, 503)
    finally:
        code, err = interrupt(process)
    assert code == 0 and err == "", err


def test_a_client_that_hangs_up_during_the_latency_is_one_line_not_a_server_error() -> None:
    """A client gone before the sandbox read its request (here: its read timeout far shorter than the
    latency) gets nothing, and the server logs no 500 and no traceback; the next client is answered."""
    process, served = start("--latency-ms", "500")
    key = CREDENTIALS["homebase360"]["apiKey"]
    url = f"{served['url']}/homebase360/api/v1/customers?email=d%40example.com"
    try:
        with pytest.raises(httpx2.ReadTimeout):
            httpx2.get(url, headers={"x-api-key": key}, timeout=httpx2.Timeout(10, read=0.05))
        assert get(url) == 200  # served after the first request's latency ended: its line is logged
    finally:
        code, err = interrupt(process)
    assert code == 0, err
    assert "Traceback" not in err and "Exception in ASGI" not in err and " 500 " not in err, err
    lines = [line for line in err.splitlines() if " GET /homebase360/api/v1/customers " in line]
    assert [line.split()[3] for line in lines] == ["disconnected", "200"], err
