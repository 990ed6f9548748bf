"""Event schemas and reference paths: what a trigger emits, and whether a flow reads fields that exist.

A trigger names the schema of one emitted record with ``record``: ``ACTION#/json/pointer``, the part
of an action's output that describes one record (``listJobs#/properties/data/items``), or one such
source per variant case. :func:`event_schema` wraps it in the event envelope every trigger emits,
``{"eventId", "type", "id", "changedAt", "record"}``; the catalog shows it as ``event``.

:func:`path_problem` follows a reference path (``data.firstAppointmentId``, ``record.jobNumber``)
through a schema and says where it leaves the fields the schema declares, with a did-you-mean.
A schema that declares no fields at some depth (an open object, a free-form value) accepts any path
below it: only what is declared can be refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import did_you_mean

if TYPE_CHECKING:
    from .catalog import LoadedConnector, LoadedDefinition

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS = frozenset({"string", "number", "integer", "boolean", "null"})


class SourceError(ValueError):
    """A ``record`` source does not name a part of an action's output."""


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def record_source(connector: LoadedConnector, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema ``source`` names and the ``$defs`` of the output it is part of."""
    action, _, pointer = source.partition("#")
    definitions = connector.definitions["actions"]
    if action not in definitions:
        raise SourceError(
            f"{action!r} is not an action of {connector.name}{did_you_mean(action, definitions)}"
        )
    output = definitions[action].model.output
    if not isinstance(output, dict):
        raise SourceError(f"{action} declares no output schema")
    node: Any = output
    for token in [t for t in pointer.split("/") if t][:]:
        key = _unescape(token)
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise SourceError(f"{source}: {pointer} does not point into the output of {action}")
    if not isinstance(node, dict):
        raise SourceError(f"{source}: {pointer} is not a schema")
    schema = {k: v for k, v in node.items() if k not in ("$schema", "$defs")}
    defs = output.get("$defs")
    return schema, dict(defs) if isinstance(defs, dict) else {}


def sources(trigger: LoadedDefinition) -> dict[str | None, str]:
    """The trigger's record sources by variant case (``None``: a trigger without variants)."""
    record = getattr(trigger.model, "record", None)
    if isinstance(record, str):
        return {None: record}
    if isinstance(record, dict):
        return dict(record)
    return {}


def _kinds(trigger: LoadedDefinition, case: str | None = None) -> list[str]:
    """The event types ``trigger`` can fire (for one variant ``case``, or any): ``deactivated`` where
    its deactivations can be turned on."""
    model: Any = trigger.model
    if model.seen is not None:
        return ["created"]
    kinds = [kind for kind in ("created", "updated") if model.emit.get(kind, True) is not False]
    if model.deactivations is not None:
        cases = model.variants.cases if model.variants is not None else {}
        chosen = [cases[case]] if case in cases else list(cases.values())
        if not chosen or any(variant.deactivated is not False for variant in chosen):
            kinds.append("deactivated")
    return kinds


def envelope(record: dict[str, Any], kinds: list[str], defs: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The event every trigger emits, around ``record``."""
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "title": title,
        "type": "object",
        "required": ["eventId", "type", "id", "changedAt", "record"],
        "properties": {
            "eventId": {
                "title": "Event ID",
                "type": "string",
                "pattern": "^[0-9a-f]{32}$",
                "description": "The same every time this change is delivered to this instance: dedupe on it.",
            },
            "type": {
                "title": "Event Type",
                "enum": kinds,
                "description": "What happened to the record: created, updated, or deactivated (listed with "
                "its active field false; only when the trigger's deactivations are turned on).",
            },
            "id": {"title": "Record ID", "type": "string", "description": "The record's id, as text."},
            "changedAt": {
                "title": "Changed At",
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": "The record's change marker (its modified or created time, as the vendor "
                "writes it); null when the vendor gives none.",
            },
            "record": record,
        },
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = dict(defs)
    return schema


def event_schema(
    connector: LoadedConnector, trigger: LoadedDefinition, case: str | None = None
) -> dict[str, Any]:
    """The schema of the events ``trigger`` emits; for one variant ``case``, or every case."""
    found = sources(trigger)
    if not found:
        raise SourceError(f"{trigger.ref} declares no record schema")
    chosen = {case: found[case]} if case is not None and case in found else found
    records: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for name, source in chosen.items():
        schema, more = record_source(connector, source)
        records.append({**schema, "title": f"{schema.get('title') or 'Record'} ({name})"} if name else schema)
        defs.update(more)
    record = records[0] if len(records) == 1 else {"title": "Record", "anyOf": records}
    label = trigger.model.label
    return envelope(record, _kinds(trigger, case), defs, f"{label} event")


# --- reference paths ------------------------------------------------------------------------------


def _expand(schema: Any, root: Mapping[str, Any], depth: int = 0) -> Iterator[Any]:
    """``schema`` with local ``$ref``s followed and ``anyOf``/``oneOf``/``allOf`` branches flattened."""
    if not isinstance(schema, dict) or depth > 20:
        yield schema
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for token in ref[2:].split("/"):
            node = node.get(_unescape(token)) if isinstance(node, dict) else None
        yield from _expand(node if node is not None else True, root, depth + 1)
        return
    branches = [b for k in ("anyOf", "oneOf", "allOf") for b in schema.get(k, []) if isinstance(b, dict)]
    own = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "allOf")}
    if branches:
        if "properties" in own or "items" in own:
            yield own
        for branch in branches:
            yield from _expand(branch, root, depth + 1)
    else:
        yield schema


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    return set(kind) if isinstance(kind, list) else set()


def path_problem(
    schema: Any, segments: list[str], prefix: str = "$", root: Mapping[str, Any] | None = None
) -> str | None:
    """Why ``segments`` leaves what ``schema`` declares, or None.

    ``prefix`` names the value the path starts from, as the message words it: ``"$steps.job.data has
    no field 'firstAppointmentID'; did you mean '$steps.job.data.firstAppointmentId'?"``
    """
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    current = [schema]
    for depth, segment in enumerate(segments):
        following: list[Any] = []
        known: set[str] = set()
        for sub in (s for c in current for s in _expand(c, root)):
            if not isinstance(sub, dict):  # true, or an unresolved reference: anything goes
                return None
            properties = sub.get("properties") if isinstance(sub.get("properties"), dict) else None
            items = sub.get("items") if isinstance(sub.get("items"), dict) else None
            extra = sub.get("additionalProperties")
            if segment.isdigit() and (items is not None or "array" in _types(sub)):
                if items is None:
                    return None
                following.append(items)
            elif properties is not None and segment in properties:
                following.append(properties[segment])
            elif isinstance(extra, dict) or sub.get("patternProperties"):
                if isinstance(extra, dict):
                    following.append(extra)
                else:
                    return None
            elif properties is None and items is None and not (_types(sub) and _types(sub) <= _SCALARS):
                return None  # an object that declares no fields: open
            else:
                known.update(properties or {})
        if not following:
            where = ".".join([prefix, *segments[:depth]])
            hint = did_you_mean(segment, sorted(known), prefix=f"{where}.")
            if known:
                return f"{where} has no field {segment!r}{hint}"
            return f"{where} holds no fields (nothing is under {segment!r})"
        current = following
    return None
