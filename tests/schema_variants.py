"""Variants of a definition's example for comparing two validators: mostly invalid, some valid edge cases.

From one example and its schema, at every object and array the example reaches: each key removed,
each value of the wrong JSON type, an unknown field where the object is closed, each bound crossed by
one (``minimum``, ``maxLength``, ``maxItems``…), a value outside each ``enum``, and for each
``format`` the wrong shapes and the RFC 3339 spellings a strict reader still accepts. Properties the
example leaves out are added with a wrong-typed value and with each of those edge values. Each
variant is labelled with what was changed where, so a disagreement names itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

Variant = tuple[str, Any]
# One value of each JSON type; a type flip takes the first the schema's ``type`` does not allow.
SAMPLES: tuple[tuple[str, Any], ...] = (
    ("string", "text"),
    ("integer", 7),
    ("number", 2.5),
    ("boolean", True),
    ("array", []),
    ("object", {}),
    ("null", None),
)
FORMAT_VALUES: dict[str, tuple[str, ...]] = {
    "date-time": (
        "2024-01-15 10:00:00Z",  # RFC 3339 allows a space
        "2024-01-15t10:00:00z",  # and lower case
        "2024-01-15T10:00:00.250+05:30",
        "2024-01-15T10:00:00",  # no offset
        "2024-01-15",
        "2024-02-30T10:00:00Z",  # no such day
        "2024-01-15T25:00:00Z",
        "15/01/2024 10:00",
        "not a date-time",
    ),
    "date": ("2024-01-15", "2024-02-30", "2024-13-01", "2024-1-5", "15/01/2024"),
    "time": ("10:00:00Z", "10:00:00", "25:00:00Z"),
    "email": ("jane@example.com", "not-an-email", ""),
    "uuid": (
        "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "3fa85f64-5717-4562-b3fc-2c963f66afa",
        "not-a-uuid",
    ),
}


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    return kinds | ({"number"} if "integer" in kinds else set())


def _wrong_type(schema: dict[str, Any]) -> list[Any]:
    """A value of a JSON type the schema's ``type`` refuses (empty when it has no ``type``)."""
    allowed = _types(schema)
    if "number" in allowed:
        allowed.add("integer")
    found = [copy.deepcopy(value) for name, value in SAMPLES if allowed and name not in allowed]
    return found[:1]


def _edges(schema: dict[str, Any], value: Any) -> Iterator[Variant]:
    """Values just past each bound of ``schema``, outside its enum, and of the wrong format."""
    if isinstance(schema.get("minimum"), int | float):
        yield "below minimum", schema["minimum"] - 1
    if isinstance(schema.get("maximum"), int | float):
        yield "above maximum", schema["maximum"] + 1
    for keyword in ("exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(schema.get(keyword), int | float):
            yield f"at {keyword}", schema[keyword]
    if isinstance(schema.get("minLength"), int) and schema["minLength"] > 0:
        yield "shorter than minLength", "x" * (schema["minLength"] - 1)
    if isinstance(schema.get("maxLength"), int):
        yield "longer than maxLength", "x" * (schema["maxLength"] + 1)
    if isinstance(schema.get("pattern"), str):
        yield "not matching pattern", "\u00a7 no match \u00a7"
    if isinstance(value, list):
        if isinstance(schema.get("minItems"), int) and schema["minItems"] > 0:
            yield "fewer than minItems", value[: schema["minItems"] - 1]
        if isinstance(schema.get("maxItems"), int) and value:
            yield "more than maxItems", (value * (schema["maxItems"] + 1))[: schema["maxItems"] + 1]
        if schema.get("uniqueItems") and value:
            yield "duplicate items", [value[0], value[0]]
    if isinstance(schema.get("enum"), list):
        yield "outside enum", "not-one-of-the-choices"
    if isinstance(schema.get("format"), str):
        for text in FORMAT_VALUES.get(schema["format"], ()):
            yield f"format {schema['format']} {text!r}", text


def _at(path: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _replaced(root: Any, path: tuple[str | int, ...], value: Any) -> Any:
    copied = copy.deepcopy(root)
    target = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copied


def _removed(root: Any, path: tuple[str | int, ...]) -> Any:
    copied = copy.deepcopy(root)
    target = copied
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return copied


def variants(schema: dict[str, Any], example: dict[str, Any]) -> Iterator[Variant]:
    """``(label, instance)`` for each change of ``example`` described in the module's docstring."""
    yield from _walk(schema, example, example, ())


def _walk(schema: Any, value: Any, root: Any, path: tuple[str | int, ...]) -> Iterator[Variant]:
    if not isinstance(schema, dict):
        return
    where = _at(path)
    if path:
        for wrong in _wrong_type(schema):
            yield f"{where}: wrong type", _replaced(root, path, wrong)
        for label, edge in _edges(schema, value):
            yield f"{where}: {label}", _replaced(root, path, edge)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in value:
            yield f"{where}.{name}: removed", _removed(root, (*path, name))
        if schema.get("additionalProperties") is False:
            yield f"{where}: unknown field", _replaced(root, (*path, "unexpectedField"), 1)
        for name, sub in properties.items():
            if name in value:
                yield from _walk(sub, value[name], root, (*path, name))
            elif isinstance(sub, dict):
                for wrong in _wrong_type(sub):
                    yield f"{where}.{name}: added, wrong type", _replaced(root, (*path, name), wrong)
                for label, edge in _edges(sub, None):
                    yield f"{where}.{name}: added, {label}", _replaced(root, (*path, name), edge)
    elif isinstance(value, list) and value and isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], value[0], root, (*path, 0))
