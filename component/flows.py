"""Flows: an optional trigger and an ordered list of named steps, each an action or a picklist.

A step's inputs use the mapping language with two more scopes: ``$steps.<name>.…`` reads the output
of an earlier step (``{"data": …}`` for an action, ``{"result": […], "truncated"}`` for a picklist)
and ``$trigger.…`` the event a trigger emitted. The whole flow is checked before the first request:
every step names a known definition, reads only earlier steps, and its literal inputs fit the
definition's schema. Running stops at the first failing step and names it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import events, jsontext, templates
from .catalog import Catalog, LoadedDefinition
from .errors import ComponentError, InputValidationError, UsageError
from .models import Flow, FlowStep, FormatError, parse
from .progress import plural
from .runtime import Runtime

Problem = dict[str, str]


class FlowError(InputValidationError):
    """A flow file is unsound: ``problems`` lists each with its JSON path. Nothing was sent."""

    kind = "invalid_flow"


@dataclass
class StepResult:
    name: str
    kind: str  # "action" or "picklist"
    ref: str
    title: str | None
    inputs: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    needs: list[str] = field(default_factory=list)  # dry run: earlier outputs this step waits for
    ms: float = 0.0

    @property
    def status(self) -> str:
        return "failed" if self.error else "waiting" if self.needs else "ok"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            self.kind: self.ref,
            "status": self.status,
            "ms": round(self.ms, 1),
        }
        if self.title:
            out["title"] = self.title
        out["inputs"] = self.inputs
        if self.error:
            out["error"] = self.error
        elif self.needs:
            out["needs"] = self.needs
        else:
            out["output"] = self.output
        return out


def load_flow(path: str | Path) -> Flow:
    """Read and parse a flow file; errors name the file and the JSON path.

    The file is untrusted text like ``--inputs``: at most 10 MB and 100 levels of nesting, strict
    UTF-8 JSON without duplicate keys or ``NaN`` (:mod:`component.jsontext`).
    """
    file = Path(path)
    try:
        data = jsontext.loads(jsontext.read_bounded(file))
    except FileNotFoundError:
        raise UsageError(f"flow file {str(file)!r} does not exist") from None
    except OSError as exc:
        raise UsageError(
            f"flow file {str(file)!r} cannot be read: {exc.strerror or type(exc).__name__}"
        ) from None
    except jsontext.JsonTextError as exc:
        problems = [{"path": exc.path or "$", "message": str(exc)}]
        raise FlowError(f"flow file {str(file)!r} {exc}", problems=problems) from None
    try:
        return parse(Flow, data)
    except FormatError as exc:
        problems = [{"path": path, "message": message} for path, message in exc.problems]
        raise FlowError(f"flow file {str(file)!r} is not a valid flow", problems=problems) from None


def step_kind(step: FlowStep) -> tuple[str, str]:
    """``("action" | "picklist", ref)``."""
    if step.action and not step.picklist:
        return "action", step.action
    if step.picklist and not step.action:
        return "picklist", step.picklist
    raise FlowError(
        f"step {step.name!r} must name one action or one picklist",
        problems=[
            {"path": f"$.steps.{step.name}", "message": "give action or picklist, not both or neither"}
        ],
    )


def _definition(catalog: Catalog, step: FlowStep) -> LoadedDefinition:
    kind, ref = step_kind(step)
    return catalog.find("actions" if kind == "action" else "dataSources", ref)


def check_flow(flow: Flow, catalog: Catalog) -> list[Problem]:
    """Every problem of ``flow`` that can be known before it runs."""
    problems: list[Problem] = []
    seen: set[str] = set()
    if flow.trigger is not None:
        try:
            catalog.find("triggers", flow.trigger.trigger)
        except UsageError as error:
            problems.append({"path": "$.trigger.trigger", "message": error.message})
    for index, step in enumerate(flow.steps):
        where = f"$.steps[{index}]"
        if step.name in seen:
            problems.append({"path": f"{where}.name", "message": f"step name {step.name!r} is used twice"})
        try:
            definition = _definition(catalog, step)
        except ComponentError as error:
            problems.append({"path": where, "message": error.message})
            seen.add(step.name)
            continue
        unknown = _unknown_filters(step.inputs, f"{where}.inputs")
        if unknown:  # such a step cannot be rendered; its other checks wait until the filters are fixed
            problems += unknown
            seen.add(step.name)
            continue
        referenced: set[str] = set()
        for key, template in step.inputs.items():
            for scope, path, _ in templates.references(template):
                head = path.split(".")[0]
                if scope == "steps" and head not in seen:
                    message = f"$steps.{path} reads step {head!r}, which does not run before this one"
                    problems.append({"path": f"{where}.inputs.{key}", "message": message})
                elif scope == "trigger" and flow.trigger is None:
                    message = "$trigger is only available in a flow with a trigger"
                    problems.append({"path": f"{where}.inputs.{key}", "message": message})
                elif scope not in ("steps", "trigger"):
                    problems.append(
                        {"path": f"{where}.inputs.{key}", "message": f"${scope} is not available in a flow"}
                    )
                referenced.add(key)
        problems += reference_problems(flow, catalog, step, f"{where}.inputs")
        literal = templates.render(step.inputs, {})
        for problem in definition.validator.problems(literal):
            top = problem["path"][2:].split(".")[0].split("[")[0]
            if top not in referenced and not (referenced and problem["path"] == "$"):
                problems.append(
                    {"path": f"{where}.inputs{problem['path'][1:]}", "message": problem["message"]}
                )
        seen.add(step.name)
    return problems


PICKLIST_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "result": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "label": {"type": "string"}},
            },
        },
        "truncated": {"type": "boolean"},
    },
}


def _step_output(catalog: Catalog, step: FlowStep) -> dict[str, Any]:
    """The schema of what ``$steps.<step>`` holds: an action's ``{"data"}`` or a picklist's result."""
    kind, _ = step_kind(step)
    if kind == "picklist":
        return PICKLIST_OUTPUT
    output = _definition(catalog, step).model.output
    return {"type": "object", "properties": {"data": output if output is not None else True}}


def _event(flow: Flow, catalog: Catalog) -> dict[str, Any] | None:
    """The schema of ``$trigger``: the trigger's event, for the variant its literal inputs choose."""
    if flow.trigger is None:
        return None
    try:
        trigger = catalog.find("triggers", flow.trigger.trigger)
        variants = getattr(trigger.model, "variants", None)
        chosen = flow.trigger.inputs.get(variants.input) if variants is not None else None
        connector = catalog.connector(trigger.connector)
        return events.event_schema(connector, trigger, chosen if isinstance(chosen, str) else None)
    except (ComponentError, events.SourceError):
        return None  # an unknown trigger is reported once, elsewhere; no declared event: nothing to check


def reference_problems(flow: Flow, catalog: Catalog, step: FlowStep, where: str) -> list[Problem]:
    """Each ``$steps.…``/``$trigger.…`` reference of ``step`` that reads a field its schema does not
    declare (the output schema of the step it reads, or the trigger's event schema), with a did-you-mean."""
    problems: list[Problem] = []
    earlier = {s.name: s for s in flow.steps[: flow.steps.index(step)]}
    event = _event(flow, catalog)
    for key, template in step.inputs.items():
        for scope, path, _ in templates.references(template):
            segments = path.split(".") if path else []
            if scope == "steps" and segments and segments[0] in earlier:
                try:
                    schema = _step_output(catalog, earlier[segments[0]])
                except ComponentError:
                    continue
                message = events.path_problem(schema, segments[1:], f"$steps.{segments[0]}")
            elif scope == "trigger" and event is not None:
                message = events.path_problem(event, segments, "$trigger")
            else:
                continue
            if message:
                problems.append({"path": f"{where}.{key}", "message": message})
    return problems


def ensure_sound(flow: Flow, catalog: Catalog) -> None:
    """Raise :class:`FlowError` listing every problem :func:`check_flow` finds (nothing is sent)."""
    problems = check_flow(flow, catalog)
    if problems:
        listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise FlowError(f"flow {flow.name!r} is not sound: {listed}", problems=problems)


def _unknown_filters(template: Any, where: str) -> list[Problem]:
    """A problem for each reference in ``template`` whose filter (``|name``) does not exist."""
    problems: list[Problem] = []
    if isinstance(template, str):
        for _, _, name in templates.references(template):
            if name and name not in templates.FILTERS:
                known = ", ".join(sorted(templates.FILTERS))
                problems.append({"path": where, "message": f"unknown filter {name!r}; known: {known}"})
    elif isinstance(template, dict):
        for key, value in template.items():
            problems += _unknown_filters(key, where) + _unknown_filters(value, f"{where}.{key}")
    elif isinstance(template, list):
        for index, value in enumerate(template):
            problems += _unknown_filters(value, f"{where}[{index}]")
    return problems


def _as_written(template: Any, scope: str) -> Any:
    """``template`` with each whole reference to ``scope`` escaped (``$$trigger.id``), so that it
    renders as the reference itself (``"$trigger.id"``) rather than a value."""
    if isinstance(template, str):
        match = templates.REFERENCE.match(template)
        return "$" + template if match and match["scope"] == scope else template
    if isinstance(template, dict):
        return {key: _as_written(value, scope) for key, value in template.items()}
    if isinstance(template, list):
        return [_as_written(value, scope) for value in template]
    return template


StepCallback = Callable[[int, int, StepResult], None]


async def run_flow(
    runtime: Runtime,
    flow: Flow,
    connections: Mapping[str, Mapping[str, Any]],
    *,
    trigger: Any = None,
    dry_run: bool = False,
    on_step: StepCallback | None = None,
) -> dict[str, Any]:
    """Run the steps in order; ``{"flow", "ok", "steps": [...], "failed"?}``. Checks everything first.

    Call it inside ``async with runtime`` so that every step shares one connection pool per vendor.
    """
    ensure_sound(flow, runtime.catalog)
    for step in flow.steps:
        connector = _definition(runtime.catalog, step).connector
        runtime.connection(connector, connections.get(connector))  # every connection is valid up front
    scope: dict[str, Any] = {"steps": {}, "trigger": trigger}
    results: list[StepResult] = []
    failed: str | None = None
    waiting: set[str] = set()
    # a dry run of a triggered flow has no event: steps reading it wait, their references shown as is
    no_event = dry_run and trigger is None and flow.trigger is not None
    for number, step in enumerate(flow.steps, start=1):
        kind, ref = step_kind(step)
        result = StepResult(step.name, kind, ref, step.title)
        read = list(templates.references(step.inputs))
        needs = sorted({path.split(".")[0] for s, path, _ in read if s == "steps"} & waiting)
        inputs: Any = step.inputs
        if no_event and any(s == "trigger" for s, _, _ in read):
            needs = ["$trigger", *needs]
            inputs = _as_written(inputs, "trigger")
        result.inputs = templates.render(inputs, scope)
        started = time.perf_counter()
        if needs:
            result.needs = needs
            waiting.add(step.name)
        else:
            try:
                call = runtime.run if kind == "action" else runtime.picklist
                connection = connections.get(_definition(runtime.catalog, step).connector)
                result.output = await call(ref, result.inputs, connection, dry_run=dry_run)
            except ComponentError as error:
                result.error = error.to_dict()["error"]
                failed = step.name
            if dry_run:
                waiting.add(step.name)
        result.ms = (time.perf_counter() - started) * 1000
        scope["steps"][step.name] = result.output
        results.append(result)
        if on_step:
            on_step(number, len(flow.steps), result)
        if failed:
            break
    summary: dict[str, Any] = {
        "flow": flow.name,
        "ok": failed is None,
        "dryRun": dry_run,
        "steps": [r.to_dict() for r in results],
    }
    if failed:
        summary["failed"] = failed
    return summary


def flow_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def describe(result: StepResult) -> str:
    """A one-line account of a finished step, for people."""
    if result.error:
        return f"{result.error.get('type')}: {result.error.get('message')}"
    if result.needs:
        return f"waits for {', '.join(result.needs)}"
    output = result.output
    if isinstance(output, dict) and "result" in output:
        return f"{len(output['result'])} choices" + (" (truncated)" if output.get("truncated") else "")
    if isinstance(output, dict) and set(output) >= {"method", "url"}:
        return f"{output['method']} {output['url']}"
    data = output.get("data") if isinstance(output, dict) else output
    if isinstance(data, dict):
        for key in ("id", "customerId", "jobId", "jobNumber", "number"):
            if key in data:
                return f"{key} {data[key]}"
        if isinstance(data.get("data"), list):
            return plural(len(data["data"]), "record")
    if isinstance(data, list):
        return plural(len(data), "record")
    return "no content" if data is None else json.dumps(data)[:60]
