"""Request rules: every request's path, query and body checked before its handler runs.

A vendor's rules are a table keyed by ``"METHOD /path/{}/shape"`` (the route path with each
placeholder written ``{}``), each entry JSON Schema (Draft 2020-12) for:

- ``path``: the path parameters in order, after the partition (ServiceTitan's tenant, checked by
  authentication);
- ``query``: ``{name: {"schema", "required"}}``; query text is read as the schema's type first
  (``"12"`` as an integer, ``"True"`` as a boolean, an enum name in any case, repeated keys as an
  array, an ISO date or date-time where the schema wants a date-time), so ``page=abc`` is refused
  as not an integer, and so is ``page=`` (an empty value is a
  value: what the schema refuses is refused; unknown parameters are ignored, as the vendor does);
- ``body``: the JSON body (null: the operation takes none, or not as JSON);
- ``statuses``: the statuses the operation declares (optional): where the operation declares 400 but
  not a handler's 404 or 409, that answer is a 400 (a reference in the body or query that does not
  exist is a validation error there). A 404 for a record the path names stays a 404 whatever the
  operation declares: the record is not there.

Anything refused is a 400 in the vendor's own error format (``refuse`` renders the problems), before
the handler reads the request, so a wrong type never reaches code that would trip on it and nothing
invalid is stored. Schemas are compiled once per operation, on its first request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..schemas import SchemaValidator
from .data import iso, parse_time
from .engine import Context, Operation, SandboxError

Problem = tuple[str, str]  # (field, what is wrong)
Refuse = Callable[[list[Problem]], SandboxError]
_INTEGER = re.compile(r"[+-]?[0-9]+")
_PLACEHOLDER = re.compile(r"\{[^}]+\}")
EMPTY_BODY = "A non-empty request body is required."


def shape(path: str) -> str:
    """``/jobs/{id}`` -> ``/jobs/{}``: the key of a route in a rules table."""
    return _PLACEHOLDER.sub("{}", path)


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    if kind is None:
        options = schema.get("anyOf") or schema.get("oneOf") or ()
        return {t for option in options for t in _types(option)}
    return {kind} if isinstance(kind, str) else set(kind)


def _read(text: str, schema: Mapping[str, Any]) -> Any:
    """Query or path text as the value its schema describes (unchanged when it cannot be read so:
    the schema then refuses it, naming the type it wanted)."""
    kinds = _types(schema)
    if "integer" in kinds and _INTEGER.fullmatch(text.strip()):
        return int(text)
    if "number" in kinds:
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    if "boolean" in kinds and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    if "enum" in schema:
        return next((v for v in schema["enum"] if isinstance(v, str) and v.lower() == text.lower()), text)
    if schema.get("format") == "date-time":  # the binder reads an ISO date or date-time, as the sandbox does
        moment = parse_time(text)
        return iso(moment) if moment else text
    return text


def _not_valid(text: str) -> str:
    """How ASP.NET's model binding words a path or query value it cannot take."""
    return f"The value '{text}' is not valid."


def _field(json_path: str, base: str) -> str:
    rest = json_path[1:].lstrip(".") if json_path.startswith("$") else json_path
    return f"{base}.{rest}" if base and rest else base or rest


@dataclass(frozen=True)
class _Query:
    name: str
    validator: SchemaValidator
    required: bool
    array: bool
    item_schema: Mapping[str, Any]
    opaque: bool  # an object in the query: how it is spelt is the vendor's business, not checked


class OperationCheck:
    """One operation's compiled rules."""

    def __init__(
        self, rules: Mapping[str, Any], path_names: list[str], refuse: Refuse, body_required: bool
    ) -> None:
        self.refuse = refuse
        self.body_required = body_required
        self.path = [
            (name, SchemaValidator(schema), schema)
            for name, schema in zip(path_names, rules.get("path") or [], strict=False)
        ]
        self.query = []
        for name, rule in (rules.get("query") or {}).items():
            schema = rule["schema"]
            kinds = _types(schema)
            self.query.append(
                _Query(
                    name=name,
                    validator=SchemaValidator(schema),
                    required=bool(rule.get("required")),
                    array="array" in kinds,
                    item_schema=schema.get("items") or {},
                    opaque=kinds <= {"object", "null"} and bool(kinds - {"null"}),
                )
            )
        body = rules.get("body")
        self.body = None if body is None else SchemaValidator(body)
        self.statuses = frozenset(rules.get("statuses") or ())

    def check(self, context: Context) -> None:
        """Raise the vendor's 400 naming every problem of the request, or return."""
        problems: list[Problem] = []
        params = context.params
        for name, validator, schema in self.path:
            if name in params:
                text = str(params[name])
                if validator.problems(_read(text, schema)):
                    problems.append((name, _not_valid(text)))
        request = context.request
        if request is not None:
            problems += self._query_problems(request.query_params)
        if self.body is not None:
            problems += self._body_problems(context.body)
        if problems:
            raise self.refuse(problems)

    def _query_problems(self, query: Any) -> list[Problem]:
        problems: list[Problem] = []
        for rule in self.query:
            texts = query.getlist(rule.name)
            if not texts:
                if rule.required:
                    problems.append((rule.name, "is required"))
                continue
            if rule.opaque:
                continue
            if rule.array:
                value: Any = [_read(text, rule.item_schema) for text in texts]
            else:
                value = _read(texts[-1], rule.validator.schema)
            if rule.validator.problems(value):
                problems.append((rule.name, _not_valid(",".join(texts) if rule.array else texts[-1])))
        return problems

    def _body_problems(self, body: Any) -> list[Problem]:
        assert self.body is not None
        if body is None:
            return [("", EMPTY_BODY)] if self.body_required else []
        if isinstance(body, bytes):
            return [("body", "must be JSON (Content-Type: application/json)")]
        return [(_field(p["path"], ""), p["message"]) for p in self.body.problems(body)]

    def declared(self, error: SandboxError) -> SandboxError:
        """``error`` as the operation declares it: an undeclared 404/409 is a 400 where 400 is declared."""
        if (
            self.statuses
            and error.status in (404, 409)
            and error.status not in self.statuses
            and 400 in self.statuses
            and not (error.status == 404 and self.path)
        ):
            return SandboxError(400, error.message, error.errors, error.headers)
        return error


class Rules:
    """A vendor's request rules: a table loaded on first use, each operation compiled on first request."""

    def __init__(
        self, table: Callable[[], Mapping[str, Mapping[str, Any]]], refuse: Refuse, body_required: bool = True
    ) -> None:
        self._table = table
        self._loaded: Mapping[str, Mapping[str, Any]] | None = None
        self.refuse = refuse
        self.body_required = body_required
        self._checks: dict[tuple[str, str], OperationCheck | None] = {}

    @property
    def table(self) -> Mapping[str, Mapping[str, Any]]:
        if self._loaded is None:
            self._loaded = self._table()
        return self._loaded

    def checker(self, operation: Operation) -> OperationCheck | None:
        key = (operation.method, operation.path)
        if key not in self._checks:
            rules = self.table.get(f"{operation.method} {shape(operation.path)}")
            names = [name for name in re.findall(r"\{([^}]+)\}", operation.path) if name not in ("tenant",)]
            self._checks[key] = (
                None if rules is None else OperationCheck(rules, names, self.refuse, self.body_required)
            )
        return self._checks[key]


__all__ = ["EMPTY_BODY", "OperationCheck", "Problem", "Rules", "shape"]
