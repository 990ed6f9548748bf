"""``python -m benchmarks.service_instructions [ROOT]``: instructions per call (valgrind's callgrind),
a measure a busy machine does not move, of:

- ``component serve`` (from the checkout ``ROOT``, default this one) answering 500
  ``homebase360.ping`` calls and 2,000 ``GET /healthz``, 32 concurrent, counted only while those calls
  run (``callgrind_control`` switches counting on after a warm-up and off after);
- the same calls on an in-process ``Runtime``: the difference of two whole runs (200 and 700 calls),
  so start-up cancels out.

The service's minus the runtime's is what the service adds per call in instructions. Takes a few
minutes (the programs run some 50 times slower under valgrind). Not part of ``python -m benchmarks``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .core import ROOT
from .served import sandbox
from .service import ACTION, CONCURRENCY, INPUTS, KeepAlive, _concurrently

SERVICE_CALLS = 500
HEALTHZ_CALLS = 2_000
IN_PROCESS = (200, 700)


def _total(out: Path) -> int:
    """The instructions a callgrind output file counted (its ``summary``/``totals`` line)."""
    total = 0
    for name in out.parent.glob(out.name + "*"):
        for line in name.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


async def _load(url: str, path: str, method: str, count: int) -> None:
    body = json.dumps(INPUTS).encode() if method == "POST" else b""
    clients = [await KeepAlive.open(url, path, body, method) for _ in range(CONCURRENCY)]
    try:
        await _concurrently(list(clients), count)
    finally:
        for client in clients:
            client.close()


def service(root: Path, connections: Path, folder: Path) -> dict[str, float]:
    """Instructions per call in the service process, for each measured path."""
    out = folder / "service.callgrind"
    process = subprocess.Popen(
        [
            *("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"),
            *(sys.executable, "-m", "component", "serve", "--port", "0", "--connections", str(connections)),
            *("--state", str(folder / "service.db")),
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    text = ""
    while not text.endswith("}\n"):
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the service did not start under valgrind")
        text += line
    url = json.loads(text)["url"]
    counted: dict[str, float] = {}
    try:
        for path, method, count in (
            (f"/v1/actions/{ACTION}", "POST", SERVICE_CALLS),
            ("/healthz", "GET", HEALTHZ_CALLS),
        ):
            asyncio.run(_wait_and_load(url, path, method, 100))  # warm, uncounted
            control = ["callgrind_control", "--instr=on", str(process.pid)]
            subprocess.run(control, check=True, capture_output=True)
            asyncio.run(_load(url, path, method, count))
            subprocess.run([*control[:1], "--instr=off", str(process.pid)], check=True, capture_output=True)
            subprocess.run([*control[:1], "--dump", str(process.pid)], check=True, capture_output=True)
            total = _total(out)
            counted[f"{method} {path}"] = total / count
            for dumped in out.parent.glob(out.name + "*"):
                dumped.unlink()
    finally:
        process.terminate()
        process.wait(timeout=300)
    return counted


async def _wait_and_load(url: str, path: str, method: str, count: int) -> None:
    """The load, retried until the address answers (an older checkout announces before it listens)."""
    for _ in range(600):
        try:
            await _load(url, path, method, count)
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


def in_process(connections: Path, folder: Path) -> float:
    """Instructions per call on an in-process ``Runtime``: two whole runs, their difference."""
    totals = []
    for count in IN_PROCESS:
        out = folder / f"runtime-{count}.callgrind"
        subprocess.run(
            [
                *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable),
                *("-m", "benchmarks.service_instructions", "--in-process", str(connections), str(count)),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
            capture_output=True,
        )
        totals.append(_total(out))
    return (totals[1] - totals[0]) / (IN_PROCESS[1] - IN_PROCESS[0])


def _run_in_process(connections: Path, count: int) -> None:
    from component.runtime import Runtime

    connection: dict[str, Any] = json.loads(connections.read_text())["homebase360"]

    async def main() -> None:
        async with Runtime(env={}) as runtime:

            async def call() -> None:
                await runtime.run(ACTION, INPUTS, connection)

            await _concurrently([call] * CONCURRENCY, 100 + count)

    asyncio.run(main())


def main() -> None:
    if sys.argv[1:2] == ["--in-process"]:
        _run_in_process(Path(sys.argv[2]), int(sys.argv[3]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    with sandbox() as served, tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        connections = folder / "connections.json"
        connections.write_text(json.dumps(served["connections"]))
        counted = service(root, connections, folder)
        runtime = in_process(connections, folder)
    print(f"component serve from {root}, {CONCURRENCY} concurrent:")
    for what, count in counted.items():
        print(f"  {what}: {count / 1e6:.3f} M instructions per call")
    print(
        f"in-process Runtime, {ACTION}, {CONCURRENCY} concurrent: {runtime / 1e6:.3f} M instructions per call"
    )
    action = counted[f"POST /v1/actions/{ACTION}"]
    print(f"the service adds {(action - runtime) / 1e6:.3f} M instructions per call")


if __name__ == "__main__":
    main()
