"""Static checks of trigger definitions that the JSON format alone cannot express."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .. import templates
from ..models import CursorPagination, NoPagination, PagePagination, Trigger, plain


def _references(
    template: Any, where: str, inputs: Mapping[str, Any], connection: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    for scope, path, _ in templates.references(template):
        head = path.split(".")[0]
        if scope == "inputs" and path and head not in inputs:
            yield where, f"$inputs.{path} does not name an input"
        elif scope == "connection" and head not in connection:
            yield where, f"$connection.{path} does not name a connection field"


def problems(trigger: Trigger, connection: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(JSON path, message)`` for each problem of ``trigger``."""
    inputs = trigger.inputs.get("properties", {})
    required = set(trigger.inputs.get("required", []))
    if trigger.variants:
        name = trigger.variants.input
        prop = inputs.get(name)
        if not isinstance(prop, dict):
            yield "$.variants.input", f"{name!r} does not name an input"
        else:
            choices = prop.get("enum")
            if not isinstance(choices, list) or {str(c) for c in choices} != set(trigger.variants.cases):
                yield "$.variants.cases", f"the cases must be exactly the enum of input {name!r}"
            if name not in required and "default" not in prop:
                yield "$.variants.input", f"input {name!r} must be required or have a default"
        for case, variant in trigger.variants.cases.items():
            where = f"$.variants.cases.{case}"
            yield from _references(variant.path, f"{where}.path", inputs, connection)
            yield from _references(variant.query, f"{where}.query", inputs, connection)
            if variant.deactivated is not None and trigger.deactivations is None:
                yield f"{where}.deactivated", "applies only to a trigger with deactivations"
            if isinstance(variant.deactivated, dict):
                yield from _references(variant.deactivated, f"{where}.deactivated", inputs, connection)
    if trigger.deactivations is not None:
        name = trigger.deactivations.input
        prop = inputs.get(name)
        if not isinstance(prop, dict) or prop.get("type") != "boolean":
            yield "$.deactivations.input", f"{name!r} does not name a boolean input"
        elif prop.get("default", False) is not False:
            yield "$.deactivations.input", f"input {name!r} must default to false (off unless asked for)"
        if trigger.seen is not None:
            yield "$.deactivations", "deactivations apply to watermark polling only"
        yield from _references(trigger.deactivations.query, "$.deactivations.query", inputs, connection)
    for kind, template in trigger.emit.items():
        yield from _references(template, f"$.emit.{kind}", inputs, {})
    yield from _references(trigger.start, "$.start", inputs, {})
    if trigger.window:
        yield from _references(plain(trigger.window), "$.window", inputs, {})
    if trigger.sorted and not isinstance(trigger.pagination, PagePagination):
        yield "$.sorted", "keyset paging (sorted) needs page pagination"
    if trigger.sorted and trigger.seen is not None:
        yield "$.sorted", "sorted applies to watermark polling only"
    query = trigger.request.query if isinstance(trigger.request.query, dict) else {}
    limit_param = trigger.pagination.limitParam if isinstance(trigger.pagination, NoPagination) else None
    paged = isinstance(trigger.pagination, PagePagination | CursorPagination)
    if trigger.capped is None and not paged and (limit_param or "limit" in query):
        yield "$.capped", "a list with no pages that asks for a limit may be cut short: declare capped"
    if trigger.capped is not None:
        if paged:
            yield "$.capped", "a capped list has no pages; a paged list is not cut short"
        if trigger.capped.split == "window" and trigger.window is None:
            yield "$.capped.split", "splitting by window needs a window"
        query = trigger.request.query
        limit = query.get("limit") if isinstance(query, dict) else None
        if isinstance(limit, int) and limit != trigger.capped.limit:
            yield "$.capped.limit", f"the request asks for {limit} records a page, not {trigger.capped.limit}"
