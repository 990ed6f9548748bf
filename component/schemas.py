"""Draft 2020-12 validation with cached validators and problems that name each field by JSON path.

jsonschema is imported on first use: a cached catalog and commands that validate nothing never load it.
"""

from __future__ import annotations

import copy
import json
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, cast

from .formats import format_checker

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

Problem = dict[str, str]


def _field_path(base: str, name: str) -> str:
    return f"{base}.{name}" if name.isidentifier() else f"{base}[{json.dumps(name)}]"


def _problems_of(error: ValidationError) -> list[Problem]:
    """One or more problems for one validation error, with a friendly message where we can."""
    custom = error.schema.get("x-messages", {}) if isinstance(error.schema, dict) else {}
    message = custom.get(str(error.validator)) if isinstance(custom, dict) else None
    if isinstance(message, str) and error.validator != "additionalProperties":
        return [{"path": error.json_path, "message": message}]
    if error.validator == "required" and isinstance(error.instance, dict):
        return [
            {"path": _field_path(error.json_path, name), "message": "is required"}
            for name in cast(list[str], error.validator_value)
            if name not in error.instance
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        return [
            {"path": _field_path(error.json_path, name), "message": message or "is not a known field"}
            for name in error.instance
            if name not in known
        ]
    return [{"path": error.json_path, "message": error.message}]


class SchemaValidator:
    """A compiled Draft 2020-12 validator with format checking (``date-time`` is really checked)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator

        self.schema = schema
        self._validator = Draft202012Validator(schema, format_checker=format_checker())

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


@cache
def _meta_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA)


def schema_problems(schema: Any) -> list[Problem]:
    """Problems with a schema itself (is it a valid Draft 2020-12 schema?)."""
    return [{"path": e.json_path, "message": e.message} for e in _meta_validator().iter_errors(schema)]
