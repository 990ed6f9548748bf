"""Draft 2020-12 validation with cached validators and problems that name each field by JSON path.

Valid inputs are the hot path: a schema whose keywords mean the same in Draft 7 and 2020-12 (every
definition's so far) is compiled to Python once by fastjsonschema, which accepts a valid instance in
microseconds. jsonschema stays the authority: it checks what the compiled code refuses, and every
other schema, and its errors name each field. Both are imported on first use, so a cached catalog
and commands that validate nothing load neither.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import cache, cached_property, lru_cache
from operator import is_not
from typing import TYPE_CHECKING, Any, TypeGuard, cast

from .formats import CANONICAL, KNOWN_FORMATS, format_checker, format_functions
from .jsontext import MAX_DEPTH, PLAIN

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

Problem = dict[str, str]
# Keywords with one meaning in Draft 7 (what fastjsonschema implements) and Draft 2020-12. A schema
# with any other keyword (``$ref``, ``prefixItems``, ``dependentRequired``, ``unevaluated*``…) is
# checked by jsonschema alone. ``x-`` keywords are ours and annotations to both.
_PORTABLE = frozenset(
    {
        *("type", "enum", "const", "minimum", "maximum", "exclusiveMinimum"),
        *("exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "items", "minItems"),
        *("maxItems", "uniqueItems", "properties", "required", "additionalProperties", "minProperties"),
        *("maxProperties", "propertyNames", "contains", "anyOf", "oneOf", "allOf", "not", "if", "then"),
        *("else", "title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated"),
        *("$comment", "contentEncoding", "contentMediaType"),
    }
)
_SUBSCHEMA = frozenset(
    {"items", "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else"}
)
_SUBSCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf"})


def _portable(schema: Any) -> bool:
    """Whether ``schema`` means the same to a Draft 7 validator as to a Draft 2020-12 one."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for keyword, value in schema.items():
        if keyword.startswith("x-"):
            continue
        if keyword not in _PORTABLE:
            return False
        if keyword in ("enum", "const") and not _strict_equality(schema):
            return False
        if keyword in _SUBSCHEMA and not _portable(value):
            return False
        if keyword in _SUBSCHEMA_LISTS and not (isinstance(value, list) and all(map(_portable, value))):
            return False
        if keyword == "properties" and not (isinstance(value, dict) and all(map(_portable, value.values()))):
            return False
    return True


def _strict_equality(schema: dict[str, Any]) -> bool:
    """Whether a compiled ``enum``/``const`` compares like JSON Schema, where ``true`` is not ``1``.

    Python's ``True == 1`` would let compiled code accept a boolean for a number (or the reverse),
    unless the values are strings and nulls or the schema's ``type`` rules the other kind out.
    """
    values = schema.get("enum", []) if "enum" in schema else [schema.get("const")]
    if not isinstance(values, list) or any(isinstance(v, dict | list) for v in values):
        return False
    has_bool = any(isinstance(v, bool) for v in values)
    has_number = any(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not (has_bool or has_number):
        return True
    declared = schema.get("type")
    types = (
        {declared} if isinstance(declared, str) else set(declared) if isinstance(declared, list) else set()
    )
    numeric = bool(types & {"number", "integer"})
    return bool(types) and not (has_bool and numeric) and not (has_number and "boolean" in types)


def _compiled(schema: dict[str, Any]) -> Callable[[Any], Any] | None:
    """fastjsonschema's compiled check of a portable ``schema`` (raises on an invalid instance)."""
    if not _portable(schema):
        return None
    import fastjsonschema

    try:
        check: Callable[[Any], Any] = fastjsonschema.compile(
            _for_compiling(schema), formats=format_functions(), use_default=False
        )
    except Exception:  # a schema it cannot compile (JsonSchemaDefinitionException, re.error): jsonschema only
        return None
    return check


def _for_compiling(schema: Any) -> Any:
    """A copy of a portable ``schema`` as the compiled check must read it.

    ``pattern`` strings mean what :func:`_pattern` checks (``$`` = the end), and a ``format`` jsonschema
    does not assert (``html``, ``hostname``…) is dropped: it is an annotation on both paths. Only
    subschema places are rewritten; ``const``, ``enum``, ``default`` and the like are data.
    """
    if not isinstance(schema, dict):
        return schema
    copied: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "format" and isinstance(value, str) and value not in KNOWN_FORMATS:
            continue
        if key == "pattern" and isinstance(value, str):
            copied[key] = _strict_pattern(value).pattern
        elif key == "properties" and isinstance(value, dict):
            copied[key] = {name: _for_compiling(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            copied[key] = [_for_compiling(sub) for sub in value]
        else:
            copied[key] = _for_compiling(value) if key in _SUBSCHEMA else value
    return copied


def field_path(base: str, name: Any) -> str:
    """A field's JSON path (a key that is not text, which only a caller's own object can hold, quoted)."""
    plain = isinstance(name, str) and name.isidentifier()
    return f"{base}.{name}" if plain else f"{base}[{json.dumps(name)}]"


def problems_of(error: ValidationError, *, unknown: str = "is not a known field") -> list[Problem]:
    """One or more problems for one validation error, with a friendly message where we can: a missing
    field or one not allowed is a problem at that field (``unknown``: what the latter says)."""
    custom = error.schema.get("x-messages", {}) if isinstance(error.schema, dict) else {}
    message = custom.get(str(error.validator)) if isinstance(custom, dict) else None
    if isinstance(message, str) and error.validator != "additionalProperties":
        return [{"path": error.json_path, "message": message}]
    if error.validator == "required" and isinstance(error.instance, dict):
        return [
            {"path": field_path(error.json_path, name), "message": "is required"}
            for name in cast(list[str], error.validator_value)
            if name not in error.instance
        ]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        return [
            {"path": field_path(error.json_path, name), "message": message or unknown}
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
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _strict_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _validator_class() -> type[Draft202012Validator]:
    """Draft 2020-12 with :func:`_pattern` for ``pattern`` (built on first use: jsonschema loads lazily)."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    extended: type[Draft202012Validator] = extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]
    return extended


Rewrite = Callable[[Any], Any]
_BRANCHES = ("allOf", "anyOf", "oneOf")


def _rewriter(schema: Any) -> Rewrite | None:
    """What puts an instance of ``schema`` in canonical form (:data:`formats.CANONICAL`), or None.

    None when no ``format`` with a canonical spelling is reachable, so most schemas cost nothing.
    Follows ``properties``, ``additionalProperties``, ``items``, ``allOf``/``anyOf``/``oneOf`` and
    ``then``/``else``; a value a canonical form does not apply to (not a valid date-time, say) is
    left as it is. A container is copied only when something in it changes (never changed in place):
    an instance already in canonical form, the usual one, comes back as itself.
    """
    found = _Canonical.of(schema)
    return None if found is None else found.apply


class _Canonical:
    """:func:`_rewriter`'s plan of one schema, read once. A field or item whose schema is a canonical
    format and nothing else (``{"type": "string", "format": "date-time"}``) is a leaf: its spelling
    function is called directly."""

    __slots__ = ("branches", "extra", "fields", "items", "leaf", "leaves", "named", "own", "properties")

    def __init__(self, schema: dict[str, Any], own: Callable[[str], str] | None) -> None:
        self.own = own
        self.leaf: Callable[[str], str] | None = None
        raw_properties = schema.get("properties")
        self.named: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
        self.properties = {name: found for name, sub in self.named.items() if (found := _Canonical.of(sub))}
        self.leaves = [(name, found.leaf) for name, found in self.properties.items() if found.leaf]
        self.fields = [(name, found) for name, found in self.properties.items() if not found.leaf]
        self.extra = _Canonical.of(schema.get("additionalProperties"))
        self.items = _Canonical.of(schema.get("items"))
        listed = [
            sub for keyword in _BRANCHES if isinstance(schema.get(keyword), list) for sub in schema[keyword]
        ]
        self.branches = [found for sub in listed if (found := _Canonical.of(sub))]
        self.branches += [
            found for keyword in ("then", "else") if (found := _Canonical.of(schema.get(keyword)))
        ]
        inside = self.properties or self.extra or self.items or self.branches
        self.leaf = None if inside else own  # only a canonical spelling: called without this plan

    @classmethod
    def of(cls, schema: Any) -> _Canonical | None:
        if not isinstance(schema, dict):
            return None
        own = CANONICAL.get(schema["format"]) if isinstance(schema.get("format"), str) else None
        plan = cls(schema, own)
        return plan if own or plan.properties or plan.extra or plan.items or plan.branches else None

    def plain(self) -> bool:
        """Whether it follows only ``properties`` and ``items`` (no ``additionalProperties``, no
        branches), so a walk of the declared fields meets every string it would spell."""
        inside = [*self.properties.values(), *([self.items] if self.items is not None else [])]
        return self.extra is None and not self.branches and all(sub.plain() for sub in inside)

    def apply(self, value: Any) -> Any:
        if self.own is not None and isinstance(value, str):
            value = self.own(value)
        elif isinstance(value, dict) and self.extra is not None:
            changed = {}
            for key, item in value.items():
                found = self.properties.get(key) or (self.extra if key not in self.named else None)
                if found is not None and (new := found.apply(item)) is not item:
                    changed[key] = new
            value = {**value, **changed} if changed else value
        elif isinstance(value, dict) and self.properties:
            changed = {}
            for key, own in self.leaves:
                if isinstance(item := value.get(key), str) and (new := own(item)) is not item:
                    changed[key] = new
            for key, found in self.fields:
                if key in value and (new := found.apply(item := value[key])) is not item:
                    changed[key] = new
            value = {**value, **changed} if changed else value
        elif isinstance(value, list) and self.items is not None:
            rewritten = [self.items.apply(item) for item in value]
            value = rewritten if any(map(is_not, rewritten, value)) else value
        for branch in self.branches:
            value = branch.apply(value)
        return value


_LEAF_TYPES = frozenset({"string", "integer", "boolean", "null"})


def _levels(schema: Any) -> int | None:
    """How many levels deep an instance the compiled check accepts can be, or None: no bound known.

    The instance itself is level 1, a field of it level 2. None too when an accepted instance may
    hold a non-finite number. So where this is at most :data:`jsontext.MAX_DEPTH`, an instance the
    compiled check accepts holds nothing :func:`jsontext.value_problem` refuses. Every keyword
    narrows what is accepted, so one that bounds is enough: ``type`` with what it allows inside
    (``string``, ``integer``, ``boolean`` and ``null`` are leaves: an integer is never NaN or
    Infinity; a ``number`` may be either, as no comparison refuses NaN; an object's fields are bounded
    by ``properties`` and ``additionalProperties``, an array's items by ``items``), an ``enum`` or
    ``const`` of plain values, any one schema of ``allOf``, every schema of ``anyOf``/``oneOf``.
    """
    if schema is False:
        return 0  # accepts nothing
    if not isinstance(schema, dict):
        return None
    bounds = [_type_levels(schema)]
    values = schema["enum"] if "enum" in schema else [schema["const"]] if "const" in schema else None
    if isinstance(values, list) and all(type(value) in PLAIN for value in values):
        bounds.append(1)
    if isinstance(schema.get("allOf"), list):
        bounds += map(_levels, schema["allOf"])
    for keyword in ("anyOf", "oneOf"):
        listed = schema.get(keyword)
        if isinstance(listed, list) and listed:
            each = list(map(_levels, listed))
            bounds.append(None if None in each else max(cast(list[int], each)))
    found = [bound for bound in bounds if bound is not None]
    return min(found) if found else None


def _type_levels(schema: dict[str, Any]) -> int | None:
    """What ``type`` and the keywords under it bound (:func:`_levels`), or None."""
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else None
    if not types:
        return None
    deepest = 1
    for kind in types:
        if kind in _LEAF_TYPES:
            continue
        if kind == "object" and isinstance(schema.get("properties", {}), dict):
            inside = [*schema.get("properties", {}).values(), schema.get("additionalProperties", True)]
        elif kind == "array":
            inside = [schema.get("items", True)]
        else:
            return None
        for sub in inside:
            found = _levels(sub)
            if found is None or found >= MAX_DEPTH:
                return None
            deepest = max(deepest, found + 1)
    return deepest


class SchemaValidator:
    """A compiled Draft 2020-12 validator with format checking (``date-time`` is really checked)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._fast: Callable[[Any], Any] | None = None
        self._uses = 0
        properties = schema.get("properties", {})
        self._defaults = [
            (name, prop["default"])
            for name, prop in (properties.items() if isinstance(properties, dict) else [])
            if isinstance(prop, dict) and "default" in prop
        ]

    def is_valid_fast(self, instance: Any) -> bool:
        """True when the compiled check accepts ``instance`` (False means: ask jsonschema).

        Compiling costs more than one jsonschema pass, so it happens on a schema's second use: a
        one-shot command never pays for it, a runtime sending many requests pays once.
        """
        self._uses += 1
        if self._uses == 2:
            self._fast = _compiled(self.schema)
        if self._fast is None:
            return False
        try:
            self._fast(instance)
        except Exception:  # refused (JsonSchemaValueException) or not understood: jsonschema decides
            return False
        return True

    def problems(self, instance: Any, *, compiled: bool = True, compile_now: bool = False) -> list[Problem]:
        """Each problem of ``instance``; ``compiled=False`` skips the compiled check (one-off checks).
        ``compile_now``: build the compiled check at this use, not the second, where a few schemas are
        checked and loading jsonschema (which words a refusal) would cost more than compiling them."""
        if compile_now and self._uses == 0:
            self._uses = 1
        if compiled and self.is_valid_fast(instance):
            return []
        errors = sorted(self._validator.iter_errors(instance), key=lambda e: (e.json_path, str(e.validator)))
        found: list[Problem] = []
        for error in errors:
            for problem in problems_of(error):
                if problem not in found:
                    found.append(problem)
        return found

    @cached_property
    def _validator(self) -> Draft202012Validator:
        """jsonschema's validator of the schema, built on first use (a valid instance the compiled
        check accepted never needs it, and nothing then loads jsonschema)."""
        return _validator_class()(self.schema, format_checker=format_checker())

    def canonical(self, instance: Any) -> Any:
        """A valid ``instance`` spelled as requests carry it (``2024-01-15 10:00:00z`` -> ``…T…Z``)."""
        return instance if self._rewrite is None else self._rewrite(instance)

    @cached_property
    def valid_means_safe(self) -> bool:
        """Whether an instance :meth:`is_valid_fast` accepts is free of what
        :func:`jsontext.value_problem` refuses (:func:`_levels`), so a check of that can be skipped.

        Inputs are JSON values (what decoding JSON gives, or a caller's dicts and lists): a mapping of
        the caller's own making that shows the compiled check other contents than its ``items()`` (a
        ``dict`` subclass overriding ``keys`` or ``__getitem__``) is outside what this rules out."""
        levels = _levels(self.schema)
        return levels is not None and levels <= MAX_DEPTH

    @cached_property
    def _rewrite(self) -> Rewrite | None:
        return _rewriter(self.schema)

    def without_untouched(self, instance: Any) -> Any:
        """``instance`` without the optional fields a form leaves untouched, at any depth.

        A form renderer fills an optional list with ``[]`` and an optional object holding a list with
        ``{"list": []}``; sent, they would change the record (a PATCH with ``tagTypeIds: []`` clears the
        tags) or be refused (an object missing its required fields). An optional list of declared items
        or object of declared fields (one its object does not list in ``required``) whose value holds
        nothing (``[]``, ``{}``, an object of such) is left out, so it is unset: nothing is sent.
        ``null`` and ``false`` are values and stay; free-form JSON is data and stays.
        """
        return self.prepared(instance)[0]

    def prepared(self, instance: Any) -> tuple[Any, bool]:
        """In one walk, :meth:`without_untouched` of ``instance`` and whether :meth:`canonical` may
        change it (when False, ``canonical`` of it, or of it with :meth:`with_defaults` adding nothing,
        gives it back as it is)."""
        walk, always = self._walk
        respell: list[bool] = []
        out = instance if walk is None else walk.walk(instance, respell)
        return out, always or bool(respell)

    @cached_property
    def _walk(self) -> tuple[_Walk | None, bool]:
        untouched = _untouched_walk(self.schema)
        canonical = _Canonical.of(self.schema)
        if canonical is None:
            return untouched, False
        if canonical.plain():
            return _with_spellings(untouched, canonical), False
        return untouched, True  # it follows additionalProperties or branches: canonical() walks it

    def with_defaults(self, instance: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``instance`` with top-level ``default`` values filled in."""
        filled = dict(instance)
        for name, default in self._defaults:
            if name not in filled:
                filled[name] = copy.deepcopy(default) if isinstance(default, dict | list) else default
        return filled


def _holds_nothing(value: Any) -> bool:
    """``[]``, ``{}`` or an object whose every value holds nothing: what an untouched form field sends.

    Without recursion, and no deeper than :data:`jsontext.MAX_DEPTH` levels (an object nested deeper
    holds something), so hostile nesting or a cycle ends here whatever checked the instance before.
    """
    if isinstance(value, list):
        return not value
    if not isinstance(value, dict):
        return False
    level = [value]
    for _ in range(MAX_DEPTH):
        below = []
        for item in level:
            for inner in item.values():
                if isinstance(inner, dict):
                    below.append(inner)
                elif not isinstance(inner, list) or inner:
                    return False
        if not below:
            return True
        level = list({id(item): item for item in below}.values())  # one object held twice: looked at once
    return False


def _is_form_field(schema: Any) -> TypeGuard[dict[str, Any]]:
    """A list of declared items or an object of declared fields, which a form draws (and pre-fills).

    Free-form JSON (a raw request's ``json`` body, an object of extra query parameters) is data:
    an empty one is sent as given.
    """
    return isinstance(schema, dict) and (isinstance(schema.get("properties"), dict) or "items" in schema)


class _Walk:
    """One walk of an instance before it is checked, planned once per schema: it leaves out the
    optional fields a form left untouched (:meth:`SchemaValidator.without_untouched`) and tries each
    string that has a canonical spelling, to tell whether :meth:`SchemaValidator.canonical` would
    change anything. Per field: whether it may be left out when it holds nothing, the spelling of a
    string there, the plan inside; the same for a list's items. A field that must stay and has nothing
    inside that could go or be spelled otherwise is not listed: an instance is walked only there."""

    __slots__ = ("fields", "items", "own")

    def __init__(
        self,
        fields: list[tuple[str, bool, Callable[[str], str] | None, _Walk | None]],
        items: _Walk | None,
        own: Callable[[str], str] | None,
    ) -> None:
        self.fields = fields
        self.items = items
        self.own = own

    def walk(self, instance: Any, respell: list[bool]) -> Any:
        """``instance`` without its untouched optional fields (``instance`` itself when none goes); a
        string whose canonical spelling differs appends to ``respell``."""
        if isinstance(instance, dict):
            out = instance
            for name, optional, spell, inner in self.fields:
                value = instance.get(name)  # None where absent: nothing to do, as for null
                if isinstance(value, str):
                    if spell is not None and spell(value) is not value:
                        respell.append(True)
                    continue
                if isinstance(value, list):
                    gone = optional and not value
                elif isinstance(value, dict):
                    gone = optional and _holds_nothing(value)
                else:
                    continue
                if gone:
                    if out is instance:
                        out = dict(instance)
                    del out[name]
                elif inner is not None and (new := inner.walk(value, respell)) is not value:
                    if out is instance:
                        out = dict(instance)
                    out[name] = new
            return out
        if isinstance(instance, list) and self.items is not None:
            walked = [self.items.walk(item, respell) for item in instance]
            return walked if any(map(is_not, walked, instance)) else instance
        if isinstance(instance, str) and self.own is not None and self.own(instance) is not instance:
            respell.append(True)
        return instance


def _untouched_walk(schema: dict[str, Any]) -> _Walk | None:
    """The walk that leaves untouched optional fields out, or None where nothing could go."""
    fields: list[tuple[str, bool, Callable[[str], str] | None, _Walk | None]] = []
    properties = schema.get("properties")
    required = schema.get("required", [])
    if isinstance(properties, dict):
        for name, sub in properties.items():
            if _is_form_field(sub):
                optional, inner = name not in required, _untouched_walk(sub)
                if optional or inner is not None:
                    fields.append((name, optional, None, inner))
    items = schema.get("items")
    inside = _untouched_walk(items) if isinstance(items, dict) and _is_form_field(items) else None
    return _Walk(fields, inside, None) if fields or inside is not None else None


def _with_spellings(walk: _Walk | None, canonical: _Canonical) -> _Walk:
    """``walk`` also trying every string ``canonical`` (a plan that follows only ``properties`` and
    ``items``, :meth:`_Canonical.plain`) would spell, at the same places."""
    fields = {name: (optional, spell, inner) for name, optional, spell, inner in walk.fields} if walk else {}
    for name, sub in canonical.properties.items():
        optional, _, inner = fields.get(name, (False, None, None))
        if sub.properties or sub.items is not None:
            inner = _with_spellings(inner, sub)
        fields[name] = (optional, sub.own, inner)
    inside = walk.items if walk else None
    if canonical.items is not None:
        inside = _with_spellings(inside, canonical.items)
    return _Walk([(name, *entry) for name, entry in fields.items()], inside, canonical.own)


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
    """Problems with a schema itself (is it a valid Draft 2020-12 schema?).

    The meta-schema compiled to Python (:mod:`._meta_schema`, generated by ``tools/meta_schema.py``)
    accepts a valid schema in microseconds, without loading jsonschema; what it refuses, jsonschema
    checks against the meta-schema itself and words each problem.
    """
    from ._meta_schema import accepts

    if accepts(schema):
        return []
    return [{"path": e.json_path, "message": e.message} for e in _meta_validator().iter_errors(schema)]
