"""Servers in separate processes on 127.0.0.1: the sandbox (``component sandbox serve``) and, for the
thousand-tenant poll, a stand-in that answers any tenant (the sandbox knows two)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .core import ROOT


class Unavailable(RuntimeError):
    """The server cannot be started here (for example, the sandbox has not landed yet)."""


@contextmanager
def _serving(args: list[str], what: str) -> Iterator[dict[str, Any]]:
    """Start ``args``, read the JSON object it prints first, yield it, stop the process."""
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        text, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                error = process.stderr.read() if process.stderr else ""
                raise Unavailable(f"{what} did not start: {error.strip()[-500:]}")
            text += line
            try:
                announced: dict[str, Any] = json.loads(text)
            except ValueError:
                continue
            yield announced
            return
        raise Unavailable(f"{what} printed no connections within 60 s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def sandbox(latency_ms: float = 0, rate_limits: bool = False) -> Iterator[dict[str, Any]]:
    """``component sandbox serve`` on a free port: ``{"url", "connections": {vendor: connection}}``."""
    # --quiet: its access log would fill the stderr pipe nobody reads while it serves
    args = [sys.executable, "-m", "component", "sandbox", "serve", "--port", "0", "--quiet"]
    args += ["--latency-ms", str(latency_ms)] + ([] if rate_limits else ["--no-rate-limits"])
    with _serving(args, "the served sandbox") as announced:
        yield announced


@contextmanager
def tenants_standin(latency_ms: float = 0) -> Iterator[dict[str, Any]]:
    """The stand-in ServiceTitan for many tenants: ``{"url"}``."""
    args = [sys.executable, "-m", "benchmarks.standin", "--latency-ms", str(latency_ms)]
    with _serving(args, "the tenant stand-in") as announced:
        yield announced
