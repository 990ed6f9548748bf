"""``python -m benchmarks [NAME ...] [--runs N]``: run benchmarks, print a table, write RESULTS.md.

Every figure is a median over ``--runs`` runs (at least 5 by default) with min-max, next to its
baseline measured in the same run. Results of each benchmark are kept in ``results.json`` so running
one benchmark refreshes its own section of RESULTS.md and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import actions, cold_start, demo, peer, picklists, polling, service, sessions, worker
from .core import Report, machine, markdown_table
from .served import Unavailable

BENCHMARKS: dict[str, Callable[[Report, int], None]] = {
    "cold-start": cold_start.run,
    "actions": actions.run,
    "sessions": sessions.run,
    "picklists": picklists.run,
    "polling": polling.run,
    "peer": peer.run,
    "demo": demo.run,
    "service": service.run,
    "worker": worker.run,
}
HERE = Path(__file__).resolve().parent


def load_average() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "?"


def write_results(results: dict[str, Any]) -> Path:
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (see `benchmarks/README.md`). Each figure is the median over the",
        "runs with min-max in brackets; each ratio is ours / the baseline measured in the same run.",
        "",
    ]
    for name in BENCHMARKS:
        entry = results.get(name)
        if not entry:
            continue
        lines += [f"## {name}", ""]
        info = entry["machine"]
        client = f"httpx2 {info['httpx2']}" if "httpx2" in info else f"httpx {info.get('httpx', '?')}"
        lines.append(
            f"{entry['date']}, {entry['runs']} runs; {info['cpu']}, {info['memory']}, {info['os']}; "
            f"Python {info['python']}, {client}, component {info['component']}; "
            f"load average before/after: {entry['load']}"
        )
        lines.append("")
        if entry.get("skipped"):
            lines += [f"Not measured: {entry['skipped']}", ""]
        if entry["rows"]:
            lines += [markdown_table(entry["rows"]), ""]
        for note in entry.get("notes", []):
            lines += [note, ""]
    path = HERE / "RESULTS.md"
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], help="which (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measure (default 5)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    options = parser.parse_args()
    names = options.names or list(BENCHMARKS)
    store = HERE / "results.json"
    results: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    info = machine()
    print(f"{info}\n")
    for name in names:
        print(f"{name}:", flush=True)
        report = Report()
        load_before = load_average()
        skipped = ""
        try:
            BENCHMARKS[name](report, options.runs)
        except Unavailable as exc:
            skipped = str(exc)
            print(f"  skipped: {skipped}")
        except Exception as exc:  # one broken benchmark must not lose the others' results
            skipped = f"failed: {type(exc).__name__}: {exc}"[:500]
            print(f"  {skipped}")
        results[name] = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "runs": options.runs,
            "machine": info,
            "load": f"{load_before} / {load_average()}",
            "rows": [row.as_dict() for row in report.rows],
            "notes": report.notes,
            "skipped": skipped,
        }
        if not options.no_write:  # after each benchmark, so an interrupted run keeps what it measured
            latest = json.loads(store.read_text()) if store.exists() else {}
            results = {**latest, name: results[name]}  # keep what another run wrote meanwhile
            store.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
            write_results(results)
    if not options.no_write:
        print(f"\nwrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
