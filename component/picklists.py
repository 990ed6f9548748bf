"""Picklist links: which data source offers an input's values, and where that picklist's own inputs come from.

An input names its picklist with ``x-datasource``: the data source's key (``"selectTechnician"``), or a
link for a picklist that needs inputs of its own, ``{"dataSource": "selectCustomerContact", "inputs":
{"id": "$inputs.customerId"}}``: the picklist's ``id`` is the form's top-level ``customerId``.
:func:`links` finds every link of a schema; :func:`problems` checks one against the data sources
of its connector (it exists, it gets every input it requires and only inputs it has, and each
``$inputs.NAME`` is a field of the same form).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import did_you_mean

KEYWORD = "x-datasource"
PREFIX = "$inputs."
# What the user types in the dropdown: the builder fills it, so a link need not name it.
SEARCH = "search"


@dataclass(frozen=True)
class Link:
    """An input's picklist: the data source's key and, per input of the picklist, the form field it reads."""

    data_source: str
    inputs: Mapping[str, str] = field(default_factory=dict)  # picklist input -> this form's field name

    def to_dict(self) -> dict[str, Any]:
        if not self.inputs:
            return {"dataSource": self.data_source}
        return {"dataSource": self.data_source, "inputs": {k: PREFIX + v for k, v in self.inputs.items()}}


def parse(value: Any) -> Link | None:
    """The link an ``x-datasource`` value spells (the vocabulary has checked its shape), or None."""
    if isinstance(value, str):
        return Link(value)
    if isinstance(value, dict) and isinstance(value.get("dataSource"), str):
        raw = value.get("inputs")
        inputs: dict[str, Any] = raw if isinstance(raw, dict) else {}
        fields = {
            name: ref[len(PREFIX) :]
            for name, ref in inputs.items()
            if isinstance(ref, str) and ref.startswith(PREFIX)
        }
        return Link(value["dataSource"], fields)
    return None


def links(schema: Any, path: str = "$") -> Iterator[tuple[str, Link]]:
    """Each ``x-datasource`` under ``schema`` with the JSON path of the schema that carries it."""
    if isinstance(schema, dict):
        link = parse(schema.get(KEYWORD))
        if link is not None:
            yield path, link
        for key, value in schema.items():
            if key != KEYWORD and isinstance(value, dict | list):
                yield from links(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from links(value, f"{path}[{index}]")


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    found = schema.get("properties")
    return found if isinstance(found, dict) else {}


def problems(
    inputs: Mapping[str, Any],
    sources: Mapping[str, Mapping[str, Any]],
    connector: str,
    path: str = "$.inputs",
) -> list[tuple[str, str]]:
    """``(path, message)`` for each link of the form ``inputs`` that does not resolve.

    ``sources`` maps each data source key of the connector to its ``inputs`` schema.
    """
    found: list[tuple[str, str]] = []
    fields = _properties(inputs)
    for where, link in links(inputs, path):
        at = f"{where}.{KEYWORD}"
        if link.data_source not in sources:
            hint = did_you_mean(link.data_source, sources)
            found.append((at, f"{link.data_source!r} is not a data source of {connector}{hint}"))
            continue
        own = sources[link.data_source]
        offered = _properties(own)
        needed = [name for name in own.get("required", []) if name not in link.inputs and name != SEARCH]
        if needed:
            wanted = ", ".join(needed)
            sample = {"dataSource": link.data_source, "inputs": {n: PREFIX + "…" for n in needed}}
            example = json.dumps(sample, ensure_ascii=False)
            found.append((at, f"{link.data_source} needs {wanted}: name where it comes from, as {example}"))
        for name, source in link.inputs.items():
            if name not in offered:
                found.append(
                    (
                        f"{at}.inputs.{name}",
                        f"{link.data_source} has no input {name!r}{did_you_mean(name, offered)}",
                    )
                )
            if source not in fields:
                message = f"$inputs.{source} is not a field of this form{did_you_mean(source, fields)}"
                found.append((f"{at}.inputs.{name}", message))
    return found
