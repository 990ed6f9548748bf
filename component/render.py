"""How the command line shows things to a person or a program.

An error is JSON on stderr (the shape tools parse: ``{"error": {"type", "message", …}}``) unless
stderr is a terminal and ``--json`` was not given: then it is a few readable lines (the message,
its type, each field at fault, the fix). The progress line (:class:`ProgressLine`) redraws in place
on a terminal and is erased before anything else is printed, so no line is glued to it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import click

from .progress import plural

if TYPE_CHECKING:
    from rich.console import Console

_active: list[ProgressLine] = []
__all__ = ["ProgressLine", "clear_progress", "console", "echo", "error_text", "plural", "show_error"]


def clear_progress() -> None:
    """Erase an in-place progress line, so the next output starts at the left margin."""
    for line in _active:
        line.clear()


def echo(text: str, err: bool = False) -> None:
    """``click.echo`` after erasing the progress line."""
    clear_progress()
    click.echo(text, err=err)


def console(stderr: bool = False) -> Console:
    """A rich console that wraps lines only on a terminal: piped text keeps its lines whole."""
    from rich.console import Console

    shown = Console(stderr=stderr)
    shown.soft_wrap = not shown.is_terminal
    return shown


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def error_text(payload: dict[str, Any]) -> str:
    """The readable form of an ``{"error": …}`` object."""
    error = payload.get("error", {})
    lines = [f"error: {error.get('message', '')} ({error.get('type', 'error')})"]
    for name, value in error.items():
        if name in ("type", "message", "hint"):
            continue
        if name == "problems" and isinstance(value, list):
            for problem in value:
                if isinstance(problem, dict) and "message" in problem:
                    where = problem.get("path") or problem.get("file") or ""
                    lines.append(f"  {where}: {problem['message']}" if where else f"  {problem['message']}")
                else:
                    lines.append(f"  {json.dumps(problem)}")
        elif isinstance(value, str | int | float | bool) or value is None:
            lines.append(f"  {name}: {value}")
        else:
            lines.append(f"  {name}: {json.dumps(value)}")
    if error.get("hint"):
        lines.append(f"  fix: {error['hint']}")
    return "\n".join(lines)


def show_error(payload: dict[str, Any], *, as_json: bool = False, indent: int | None = 2) -> None:
    """An error on stderr: readable on a terminal, else (or with ``as_json``) JSON as ever."""
    clear_progress()
    if not as_json and _is_tty(sys.stderr):
        click.echo(error_text(payload), err=True)
    else:
        click.echo(json.dumps(payload, indent=indent), err=True)


class ProgressLine(logging.Handler):
    """Shows ``component.progress`` events as one line on stderr: rewritten in place on a terminal
    (and erased before other output, and when done), otherwise printed at most once a second (a
    rate-budget wait is always printed when it starts)."""

    def __init__(self, stream: Any = None, interval: float = 1.0) -> None:
        super().__init__(logging.INFO)
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = float("-inf")
        self._waiting = False
        self._open = False
        _active.append(self)

    def emit(self, record: logging.LogRecord) -> None:
        kind = getattr(record, "progress", {}).get("kind")
        starts_wait = kind == "budget-wait" and not self._waiting
        self._waiting = kind == "budget-wait"
        now = time.monotonic()
        if not starts_wait and now - self._last < self.interval:
            return
        self._last = now
        text = self.format(record)
        try:
            if self.stream.isatty():
                self.stream.write("\r\x1b[2K" + text)
                self._open = True
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def clear(self) -> None:
        """Erase the in-place line, if one is shown."""
        if self._open:
            try:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
            self._open = False

    def finish(self) -> None:
        """Erase the line and stop showing progress."""
        self.clear()
        if self in _active:
            _active.remove(self)
