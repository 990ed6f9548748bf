"""The declared vocabulary: the ``x-`` keywords and formats the catalog's schemas may use.

``component/schema/vocabulary.json`` lists each extension keyword (its JSON type and the schema of
its value), each standard format the definitions use (and whether the runtime asserts it) and each
custom format (``html``, ``phone``…, annotations). A builder's validator registers exactly this list
(Ajv: ``addKeyword``, ``addFormat``) and compiles every schema of the catalog in strict mode;
:func:`problems` makes ``component validate`` refuse a keyword or format the list does not declare,
so the two never drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from .schemas import SchemaValidator, field_path, schema_problems, validator_for

FILE = Path(__file__).resolve().parent / "schema" / "vocabulary.json"
# Where Draft 2020-12 keeps subschemas: one schema, a list of schemas, or schemas by name.
_ONE = frozenset(
    {"items", "additionalProperties", "contains", "not", "if", "then", "else", "propertyNames"}
    | {"unevaluatedItems", "unevaluatedProperties", "contentSchema"}
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_NAMED = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})


@cache
def vocabulary() -> dict[str, Any]:
    """``component/schema/vocabulary.json``: ``keywords``, ``standardFormats``, ``formats``, ``rules``."""
    loaded: dict[str, Any] = json.loads(FILE.read_text(encoding="utf-8"))
    return loaded


@cache
def declared_formats() -> frozenset[str]:
    """Every format a schema may name: the standard ones listed and the custom ones."""
    data = vocabulary()
    return frozenset({*data["standardFormats"], *data["formats"]})


@cache
def _value_validators() -> dict[str, SchemaValidator]:
    """Each declared keyword's value check, built once (nothing compiled or loaded until used)."""
    return {keyword: validator_for(spec["schema"]) for keyword, spec in vocabulary()["keywords"].items()}


ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "examples", "deprecated", "readOnly", "writeOnly"}
)
"""Keywords that describe an instance and never decide whether it is valid (``x-`` keywords neither)."""


def assertions(schema: Any) -> Any:
    """``schema`` without what only annotates it, at any depth (titles, descriptions, ``x-`` keywords):
    what an instance is validated against. Data (``const``, ``enum``, ``default``) is kept as is."""
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in ANNOTATIONS or keyword.startswith("x-"):
            continue
        if keyword in _ONE:
            kept[keyword] = assertions(value)
        elif keyword in _LIST and isinstance(value, list):
            kept[keyword] = [assertions(item) for item in value]
        elif keyword in _NAMED and isinstance(value, dict):
            kept[keyword] = {name: assertions(item) for name, item in value.items()}
        else:
            kept[keyword] = value
    return kept


def subschemas(schema: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """``schema`` and every schema inside it (not data such as ``const`` or ``default``), with paths."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for keyword, value in schema.items():
        where = f"{path}.{keyword}"
        if keyword in _ONE:
            yield from subschemas(value, where)
        elif keyword in _LIST and isinstance(value, list):
            for index, item in enumerate(value):
                yield from subschemas(item, f"{where}[{index}]")
        elif keyword in _NAMED and isinstance(value, dict):
            for name, item in value.items():
                yield from subschemas(item, field_path(where, name))


def used(schema: Any) -> tuple[set[str], set[str]]:
    """The ``x-`` keywords and the formats ``schema`` uses, at any depth."""
    keywords: set[str] = set()
    formats: set[str] = set()
    for _, sub in subschemas(schema):
        keywords.update(k for k in sub if k.startswith("x-"))
        if isinstance(sub.get("format"), str):
            formats.add(sub["format"])
    return keywords, formats


def problems(schema: Any) -> list[dict[str, str]]:
    """Each undeclared ``x-`` keyword, keyword value of the wrong shape, unknown format, unmatched label."""
    keywords = _value_validators()
    formats = declared_formats()
    found: list[dict[str, str]] = []
    for path, sub in subschemas(schema):
        for keyword, value in sub.items():
            if keyword.startswith("x-"):
                if keyword not in keywords:
                    message = f"{keyword} is not declared in component/schema/vocabulary.json"
                    found.append({"path": f"{path}.{keyword}", "message": message})
                    continue
                # a few small schemas: cheaper compiled at once than loading jsonschema to check the
                # one definition an edit changed (jsonschema words a refusal)
                for problem in keywords[keyword].problems(value, compile_now=True):
                    found.append(
                        {"path": f"{path}.{keyword}{problem['path'][1:]}", "message": problem["message"]}
                    )
        labels, values = sub.get("x-enumNames"), sub.get("enum")
        if isinstance(labels, list) and not (isinstance(values, list) and len(values) == len(labels)):
            message = "x-enumNames must give one label per enum value, in order"
            found.append({"path": f"{path}.x-enumNames", "message": message})
        name = sub.get("format")
        if isinstance(name, str) and name not in formats:
            message = f"format {name!r} is not declared in component/schema/vocabulary.json"
            found.append({"path": f"{path}.format", "message": message})
    return found


def self_problems() -> list[str]:
    """Problems of the vocabulary file itself: each keyword's value schema must be a valid schema."""
    return [
        f"{keyword}: {problem['path']}: {problem['message']}"
        for keyword, spec in vocabulary()["keywords"].items()
        for problem in schema_problems(spec["schema"])
    ]
