"""``python -m benchmarks.profile [N]``: profile N getJob/createJob actions through ``Runtime`` in process.

Uses pyinstrument when installed (``.[benchmarks]``), else cProfile sorted by own time.
"""

from __future__ import annotations

import asyncio
import sys

from .actions import ActionBench


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
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


if __name__ == "__main__":
    main()
