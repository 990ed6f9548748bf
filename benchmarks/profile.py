"""Where an action's time goes, and what it costs in instructions.

``python -m benchmarks.profile [N]``: profile N getJob/createJob actions through ``Runtime`` in
process (pyinstrument when installed, ``.[benchmarks]``, else cProfile sorted by own time).

``python -m benchmarks.profile ir [N] [in-process|loopback]``: instructions per action (callgrind's
``Ir``) of the runtime and of bare httpx2 and httpx clients, sequential and 32 at once, in process
and over loopback against the served sandbox. Each figure is the difference between a run of 2N
actions and one of N after the same warm-up, divided by N, so start-up and imports drop out.
Instruction counts do not depend on what else the machine runs: they are the figures to compare
before and after a change on a busy machine. Needs valgrind.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Any

from .actions import BARE, ActionBench, baselines

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
_CHILD = "benchmarks.profile"


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["ir"]:
        instructions(int(args[1]) if len(args) > 1 else 500, args[2:] or ["in-process", "loopback"])
        return
    if args[:1] == ["child"]:
        _child(args[1], args[2], int(args[3]), int(args[4]), args[5] if len(args) > 5 else "")
        return
    count = int(args[0]) if args else 2000
    bench = ActionBench()
    asyncio.run(bench.ours(200, 1))  # warm: token, compiled checks
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, bench.ours(count, 1))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return
    with Profiler(interval=0.0002) as profiler:
        asyncio.run(bench.ours(count, 1))
    profiler.print(show_all=False)


def _child(who: str, where: str, concurrency: int, count: int, connection_file: str) -> None:
    """One measured run, in a process of its own under callgrind: a warm-up, then ``count`` actions."""
    if where == "loopback":
        with open(connection_file, encoding="utf-8") as file:
            connection = json.load(file)
        bench = ActionBench(base_url=connection["baseUrl"], connection=connection)
    else:
        bench = ActionBench()
    library = baselines().get(who)

    async def work(n: int) -> None:
        if library is None:
            await bench.ours(n, concurrency)
        else:
            await bench.bare(n, concurrency, library)

    asyncio.run(work(100))  # imports, compiled checks, the first token
    if count:
        asyncio.run(work(count))


def _ir(args: list[str]) -> int:
    # One hash seed for every run: with a random one, start-up alone differs by about a million
    # instructions from run to run (dict and set layouts), some 5,000 per action in a count of 200.
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return int(_COLLECTED.findall(done.stderr)[-1])


def per_action(who: str, where: str, concurrency: int, count: int, connection_file: str = "") -> float:
    """Instructions per action: (Ir of warm-up + 2N) - (Ir of warm-up + N), over N."""
    base = [sys.executable, "-m", _CHILD, "child", who, where, str(concurrency)]
    subprocess.run([*base, "0", connection_file], check=True)  # bytecode written before either count
    low = _ir([*base, str(count), connection_file])
    high = _ir([*base, str(2 * count), connection_file])
    return (high - low) / count


def instructions(count: int, places: list[str]) -> dict[str, Any]:
    from .served import sandbox

    results: dict[str, Any] = {}
    names = ["ours", *baselines()]
    with sandbox() as served, tempfile.TemporaryDirectory() as work:
        connection_file = os.path.join(work, "connection.json")
        with open(connection_file, "w", encoding="utf-8") as file:
            json.dump(served["connections"]["servicetitan"], file)
        for where in places:
            for concurrency in (1, 32):
                figures = {n: per_action(n, where, concurrency, count, connection_file) for n in names}
                results[f"{where}, {concurrency} at once"] = figures
                bare = figures[BARE]
                shown = ", ".join(
                    f"{name} {value:,.0f} Ir ({value / bare:.3f}x)" for name, value in figures.items()
                )
                print(f"{where}, {concurrency} at once: {shown}", flush=True)
    return results


if __name__ == "__main__":
    main()
