"""The command line as a person sees it: driven under a pseudo-terminal, the screen is read back.

Errors are readable lines on a terminal (message, type, the field at fault) and JSON with ``--json``
or when piped; the in-place progress line is erased before the result is printed, so no line is
glued to it; a count of one is singular.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pty = pytest.importorskip("pty", reason="pseudo-terminals need a POSIX system")


def on_terminal(*args: str) -> tuple[int, str]:
    """Runs ``component ARGS`` with stdout and stderr on one pseudo-terminal; returns the raw text."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "component", *args], stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode()


def screen(raw: str) -> list[str]:
    """The lines left on screen: a tiny terminal (carriage return, erase line, newline)."""
    lines = [""]
    column = 0
    index = 0
    while index < len(raw):
        if raw.startswith("\x1b[2K", index):
            lines[-1] = ""
            index += 4
            continue
        char = raw[index]
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("")
            column = 0
        else:
            line = lines[-1]
            lines[-1] = line[:column] + char + line[column + 1 :]
            column += 1
        index += 1
    return [line for line in lines if line]


def test_an_error_on_a_terminal_reads_as_text_naming_the_field() -> None:
    code, raw = on_terminal("run", "servicetitan.getJob", "--inputs", '{"id": "x"}', "--sandbox")
    shown = screen(raw)
    assert code == 2
    assert (
        shown[0].startswith("error: invalid inputs for servicetitan.getJob") and "(invalid_input)" in shown[0]
    )
    assert "  $.id: 'x' is not of type 'integer'" in shown
    assert not any('"error"' in line for line in shown)


def test_a_hint_is_shown_as_the_fix() -> None:
    code, raw = on_terminal("run", "servicetitan.getJb", "--sandbox")
    assert code == 2
    assert screen(raw) == [
        "error: unknown action 'servicetitan.getJb'; did you mean 'servicetitan.getJob'? (usage)"
    ]


def test_json_on_a_terminal_with_json_and_when_piped() -> None:
    code, raw = on_terminal("catalog", "--json", "--root", "/nonexistent")
    assert code != 0
    assert json.loads("\n".join(screen(raw)))["error"]["type"]
    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "component",
            "run",
            "servicetitan.getJob",
            "--inputs",
            '{"id": "x"}',
            "--sandbox",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 2
    assert json.loads(piped.stderr)["error"]["problems"] == [
        {"path": "$.id", "message": "'x' is not of type 'integer'"}
    ]


def test_the_progress_line_is_erased_before_the_result() -> None:
    code, raw = on_terminal(
        "picklist", "servicebay.selectCustomer", "--sandbox", "--inputs", '{"search": "smith"}'
    )
    assert code == 0
    assert "1 page, 100 items so far" in raw  # it was shown, in place, singular where one
    shown = screen(raw)
    assert shown[0] == "{", shown[:3]  # the result starts on a clean line: nothing glued before it
    assert not any("so far" in line for line in shown)  # and no progress is left on screen
    assert json.loads("\n".join(shown))["result"]


def test_the_demo_piped_keeps_its_lines_whole_and_counts_right() -> None:
    piped = subprocess.run(
        [sys.executable, "-m", "component", "demo"], capture_output=True, text=True, check=False, timeout=120
    )
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert max(map(len, lines)) > 80  # a flow's description is one line, not wrapped at 80 columns
    steps = [line for line in lines if line.startswith("  ")]
    assert steps and all(line.startswith(("  ✓", "  ✗")) for line in steps)  # no wrapped continuation
    assert not any(" 1 records" in line for line in lines)


def test_counts_of_one_are_singular() -> None:
    from component.flows import StepResult, describe

    def step(output: object) -> StepResult:
        return StepResult(name="s", kind="action", ref="x.y", title=None, output=output)

    assert describe(step({"data": [{"a": 1}]})) == "1 record"
    assert describe(step([{}, {}])) == "2 records"
