"""``component demo``: the example flows of ``flows/`` on the embedded sandbox, in process.

A ServiceTitan booking becomes a customer, location and job, a technician picked from the picklist
is assigned, the job's invoice is read and a payment recorded; a Servicebay customer is found by
phone, a job booked, a quote and an invoice made and the invoice paid; a Homebase360 customer and
job are created and the job rescheduled; and one intake runs across all three. No account and no
network are needed: every request goes to the sandbox inside this process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from .flows import FlowError, StepResult, describe, flow_files, load_flow, run_flow, step_kind
from .models import Flow
from .redact import redact
from .runtime import Runtime
from .sandbox import Sandbox


def demo_flows(root: Path) -> list[Path]:
    files = flow_files(root / "flows")
    if not files:
        raise FileNotFoundError(f"no example flows under {root / 'flows'}")
    return files


def unsound(flow: Flow, error: FlowError) -> dict[str, Any]:
    """The summary of a flow that was not run: each step listed, with the problems found in it."""
    steps = []
    for index, step in enumerate(flow.steps):
        kind, ref = step_kind(step)
        found = [p for p in error.problems if p["path"].startswith(f"$.steps[{index}]")]
        entry: dict[str, Any] = {"name": step.name, kind: ref, "status": "not run"}
        if found:
            entry["error"] = {"type": error.kind, "problems": found}
        steps.append(entry)
    failed = next((s["name"] for s in steps if "error" in s), steps[0]["name"] if steps else None)
    return {"flow": flow.name, "ok": False, "dryRun": False, "steps": steps, "failed": failed}


async def run_demo(runtime: Runtime, sandbox: Sandbox, console: Console | None) -> dict[str, Any]:
    """Run every example flow against ``sandbox``; a summary per flow, ``ok`` only if all passed."""
    started = time.perf_counter()
    secrets = runtime.track_secrets()  # what this prints passes the redactor, like the CLI's output
    connections = sandbox.connections()
    summaries = []

    def show(number: int, total: int, result: StepResult) -> None:
        if console is None:
            return
        mark = "[red]✗[/red]" if result.error else "[green]✓[/green]"
        title = result.title or result.ref
        timing = f"[dim]({result.ref}, {result.ms:.0f} ms)[/dim]"
        console.print(
            f"  {mark} {number}/{total} {title} {timing}: {redact(describe(result), secrets)}",
            soft_wrap=True,
            highlight=False,
        )

    async with runtime:  # one connection pool per vendor for every flow
        for path in demo_flows(runtime.catalog.root):
            flow = load_flow(path)
            if console is not None:
                console.print(f"[bold]{flow.name}[/bold] — {flow.description}", highlight=False)
            try:
                summary = await run_flow(runtime, flow, connections, on_step=show)
            except FlowError as error:  # an unsound flow is a failed flow: reported, not a crash
                summary = unsound(flow, error)
                if console is not None:
                    why = redact(str(error), secrets)
                    console.print(f"  [red]✗[/red] not run: {why}", soft_wrap=True, highlight=False)
            summaries.append(summary)
            if not summary["ok"]:
                break
    ok = all(s["ok"] for s in summaries)
    seconds = time.perf_counter() - started
    if console is not None:
        steps = sum(len(s["steps"]) for s in summaries)
        verdict = (
            "[green]all flows passed[/green]" if ok else f"[red]flow {summaries[-1]['flow']!r} failed[/red]"
        )
        console.print(f"{verdict}: {len(summaries)} flows, {steps} steps in {seconds:.2f} s", highlight=False)
    shown: dict[str, Any] = redact({"ok": ok, "seconds": round(seconds, 3), "flows": summaries}, secrets)
    return shown
