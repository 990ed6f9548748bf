"""Draft 2020-12 validation with cached validators and problems that name each field by JSON path."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

Problem = dict[str, str]


def _field_path(base: str, name: str) -> str:
    return f"{base}.{name}" if name.isidentifier() else f"{base}[{json.dumps(name)}]"


def _problems_of(error: ValidationError) -> list[Problem]:
    """One or more problems for one validation error, with a friendly message where we can."""
    custom = error.schema.get("x-messages", {}) if isinstance(error.schema, dict) else {}
    if isinstance(custom, dict) and isinstance(custom.get(str(error.validator)), str):
        return [{"path": error.json_path, "message": custom[str(error.validator)]}]
    if error.validator == "required" and isinstance(error.instance, dict):
        return [
            {"path": _field_path(error.json_path, name), "message": "is required"}
            for name in cast(list[str], error.validator_value)
            if name not in error.instance
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        return [
            {"path": _field_path(error.json_path, name), "message": "is not a known field"}
            for name in error.instance
            if name not in known
        ]
    return [{"path": error.json_path, "message": error.message}]


_END_ANCHOR = re.compile(r"(?<!\\)\$(?=$|[|)])")


@lru_cache(maxsize=1024)
def _strict_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ``$`` meaning the very end: Python's ``$`` also matches before a final newline."""
    return re.compile(_END_ANCHOR.sub(r"\\Z", pattern))


def _pattern(
    validator: Validator, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _strict_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_Draft202012 = extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


class SchemaValidator:
    """A compiled Draft 2020-12 validator with format checking (``date-time`` is really checked)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = _Draft202012(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def problems(self, instance: Any) -> list[Problem]:
        errors = sorted(self._validator.iter_errors(instance), key=lambda e: (e.json_path, str(e.validator)))
        found: list[Problem] = []
        for error in errors:
            for problem in _problems_of(error):
                if problem not in found:
                    found.append(problem)
        return found

    def with_defaults(self, instance: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``instance`` with top-level ``default`` values filled in."""
        filled = dict(instance)
        for name, prop in self.schema.get("properties", {}).items():
            if name not in filled and isinstance(prop, dict) and "default" in prop:
                filled[name] = copy.deepcopy(prop["default"])
        return filled


@lru_cache(maxsize=4096)
def _cached(schema_text: str) -> SchemaValidator:
    return SchemaValidator(json.loads(schema_text))


def validator_for(schema: dict[str, Any]) -> SchemaValidator:
    """A validator for ``schema``, compiled once per distinct schema."""
    return _cached(json.dumps(schema, sort_keys=True))


def schema_problems(schema: Any) -> list[Problem]:
    """Problems with a schema itself (is it a valid Draft 2020-12 schema?)."""
    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    return [{"path": e.json_path, "message": e.message} for e in meta.iter_errors(schema)]
