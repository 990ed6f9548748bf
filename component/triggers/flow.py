"""A flow that starts from a trigger: one durable poll, then the flow's steps once per event.

The trigger's state is committed only after every event's run succeeded. If a run fails, nothing
is committed and the next poll hands the same events on again, so no event is lost; steps of
events before the failing one then run a second time (make such steps idempotent, or key them on
the event's ``eventId``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ComponentError
from .runner import poll_once
from .store import StateStore

if TYPE_CHECKING:
    from ..flows import StepCallback
    from ..models import Flow
    from ..runtime import Runtime


class FlowRunFailedError(ComponentError):
    """A flow run for one event failed; the trigger's state was not committed."""

    kind = "flow_failed"


async def run_triggered_flow(
    runtime: Runtime,
    flow: Flow,
    connections: Mapping[str, Mapping[str, Any]],
    store: StateStore,
    instance: str,
    *,
    dry_run: bool = False,
    on_step: StepCallback | None = None,
    ttl: float = 300.0,
) -> dict[str, Any]:
    """Poll ``flow.trigger`` for ``instance`` and run the steps once per event, oldest first.

    ``{"flow", "instance", "status", "events", "ok", "committed", "runs": [run summaries]}``; a
    ``dry_run`` sends nothing and adds ``"trigger": {"trigger", "request"}`` (see :func:`_dry_run`).
    """
    from ..flows import ensure_sound, run_flow

    assert flow.trigger is not None
    ensure_sound(flow, runtime.catalog)  # before the poll: a bad reference fails before any request
    ref = flow.trigger.trigger
    runs: list[dict[str, Any]] = []

    async def deliver(events: list[dict[str, Any]]) -> None:
        for event in events:
            summary = await run_flow(runtime, flow, connections, trigger=event, on_step=on_step)
            runs.append(summary)
            if not summary["ok"]:
                raise FlowRunFailedError(
                    f"the run for event {event.get('id')!r} failed at step {summary.get('failed')!r}; "
                    "the trigger's state was not committed, so the next poll repeats these events"
                )

    connection = connections.get(ref.split(".")[0])
    if dry_run:
        return await _dry_run(runtime, flow, connections, store, instance, on_step)
    status, committed, count = "polled", False, 0
    try:
        outcome = await poll_once(
            runtime, ref, flow.trigger.inputs, connection, store, instance, deliver=deliver, ttl=ttl
        )
        status, committed, count = outcome.status, outcome.committed, len(outcome.events)
    except FlowRunFailedError:
        status = "failed"
        count = len(runs)
    return {
        "flow": flow.name,
        "instance": instance,
        "status": status,
        "events": count,
        "ok": status != "failed" and all(run["ok"] for run in runs),
        "committed": committed,
        "runs": runs,
    }


async def _dry_run(
    runtime: Runtime,
    flow: Flow,
    connections: Mapping[str, Mapping[str, Any]],
    store: StateStore,
    instance: str,
    on_step: StepCallback | None,
) -> dict[str, Any]:
    """A dry run sends nothing, not even the poll: it shows the poll's first request from the
    instance's stored state (``null`` when that poll would send none) and one run of the steps with
    their ``$trigger`` references left as they are (such steps wait for an event)."""
    from ..flows import run_flow

    assert flow.trigger is not None
    ref = flow.trigger.trigger
    connection = connections.get(ref.split(".")[0])
    request = await runtime.poll_preview(ref, flow.trigger.inputs, connection, store.load(instance))
    run = await run_flow(runtime, flow, connections, dry_run=True, on_step=on_step)
    return {
        "flow": flow.name,
        "instance": instance,
        "status": "dry-run",
        "events": 0,
        "ok": run["ok"],
        "committed": False,
        "trigger": {"trigger": ref, "request": request},
        "runs": [run],
    }
