"""The mapping language of definitions: three forms, nothing more.

* ``"$inputs.customerId"`` — a whole value is a reference. It keeps its JSON type; when the
  referenced value is unset the surrounding key (or list element) is left out. ``"$inputs"`` alone
  is the whole inputs object. A filter may follow: ``"$inputs.ids|join"``. Scopes are ``inputs``,
  ``connection`` and ``state``. ``"$$..."`` is a literal string starting with ``$``.
* ``"/jobs/{inputs.id}"`` — placeholders inside a path are percent-encoded single segments.
* ``"{+inputs.path}"`` — reserved expansion (RFC 6570 style): a relative path inserted as is; the
  URL builder then checks it stays under the connector's base URL.
* ``{"$inputs.extra": "...", "a": ...}`` — spread: a reference as a key with the value ``"..."``
  merges the referenced object into the object at that place (later keys win); unset, it adds nothing.

Dotted paths (``"pagination.nextCursor"``, ``"items.0.id"``) read nested values everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote, unquote


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
SPREAD: Final = "..."
SCOPES: Final = ("inputs", "connection", "state", "steps", "trigger")
_NAME = r"[A-Za-z0-9_\-]+"
REFERENCE = re.compile(rf"^\$(?P<scope>{'|'.join(SCOPES)})(?P<path>(?:\.{_NAME})*)(?:\|(?P<filter>\w+))?$")
PLACEHOLDER = re.compile(rf"\{{(?P<reserved>\+?)(?P<scope>{'|'.join(SCOPES)})(?P<path>(?:\.{_NAME})+)\}}")
ITEM_FIELD = re.compile(r"\{([A-Za-z0-9_.\-]+(?:\|[A-Za-z0-9_.\-]+)*)(?::(date))?\}")
ITEM_SECTION = re.compile(r"\[([^\[\]]*\{[^\[\]]*)\]")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T")
# C0 and C1 controls, DEL and the Unicode line separators: never part of an identifier or a URL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Path separators as servers read them: many (IIS, some proxies and frameworks) take "\" for "/".
SEPARATORS = re.compile(r"[/\\]")
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_~-]+")


def _join(value: Any) -> Any:
    """``[1, 2]`` -> ``"1,2"``; an empty list is nothing to send (a form's untouched list input)."""
    if not isinstance(value, list):
        return value
    return ",".join(as_text(item) for item in value) if value else MISSING


def _integer(value: Any) -> Any:
    """A whole number from a numeric string (a picklist key): "4001" -> 4001; anything else as is."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


FILTERS: Final[dict[str, Callable[[Any], Any]]] = {
    "join": _join,  # [1, 2] -> "1,2" (comma-separated query lists)
    "string": lambda value: as_text(value),
    "int": _integer,  # "4001" -> 4001 (picklist keys are strings; many ids are integers)
}


class TemplateError(ValueError):
    """A template cannot be rendered; ``field`` names the input or connection field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def as_text(value: Any) -> str:
    """JSON-ish text of a scalar: booleans as ``true``/``false``, ``None`` as empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def get_path(data: Any, path: str | None, default: Any = MISSING) -> Any:
    """Read a dotted path (``a.b.0.c``) from nested dicts and lists; ``default`` when absent."""
    return _read(data, path.split("."), default) if path else data


def _read(data: Any, parts: Iterable[str], default: Any = MISSING) -> Any:
    """:func:`get_path` over a path already split."""
    current = data
    for part in parts:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return default
    return current


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in nested dicts, creating objects on the way."""
    *parents, last = path.split(".")
    current = data
    for part in parents:
        current = current.setdefault(part, {})
    current[last] = value


def render(template: Any, scope: Mapping[str, Any]) -> Any:
    """Render a template against ``scope``; returns :data:`MISSING` for an unset reference.

    One-off renders use the compiled form too (:func:`compile_template`), so the mapping language
    has one implementation.
    """
    return compile_template(template)(scope)


Renderer = Callable[[Mapping[str, Any]], Any]


def compile_template(template: Any) -> Renderer:
    """``template`` compiled once into a function of the scope, equal to :func:`render` on every scope.

    Definitions render the same templates on every request; compiled, a request pays no regex match
    per string and no walk over the template's shape.
    """
    if isinstance(template, str):
        if template.startswith("$$"):
            literal = template[1:]
            return lambda scope: literal
        match = REFERENCE.match(template)
        if not match:
            return lambda scope: template
        name, path = match["scope"], match["path"].lstrip(".")
        parts = tuple(path.split(".")) if path else None
        convert = FILTERS[match["filter"]] if match["filter"] else None

        def reference(scope: Mapping[str, Any]) -> Any:
            data = scope.get(name, {})
            value = _read(data, parts) if parts else data
            return value if value is MISSING or convert is None else convert(value)

        return reference
    if isinstance(template, dict):
        entries = [
            (key, compile_template(key), True)
            if value == SPREAD and REFERENCE.match(key)
            else (key, compile_template(value), False)
            for key, value in template.items()
        ]

        def mapping(scope: Mapping[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, part, spread in entries:
                rendered = part(scope)
                if spread:
                    if isinstance(rendered, Mapping):
                        out.update(rendered)
                    elif rendered is not MISSING and rendered is not None:
                        raise TemplateError(f"{key} must be an object to spread", key.partition(".")[2])
                elif rendered is not MISSING:
                    out[key] = rendered
            return out

        return mapping
    if isinstance(template, list):
        items = [compile_template(item) for item in template]
        return lambda scope: [value for value in (item(scope) for item in items) if value is not MISSING]
    return lambda scope: template


def decoded(text: str) -> str:
    """``text`` percent-decoded until nothing changes: ``%252e`` -> ``%2e`` -> ``.``.

    A server or proxy may decode a path more than once; checks look at what the last one would see.
    Each round that changes the text shortens it, so this ends.
    """
    while "%" in text:
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def path_problem(text: str, *, segment: bool) -> str | None:
    """Why ``text`` may not go into a request path, or None.

    Checked on the decoded text with ``\\`` as a separator: control characters, and ``.`` or ``..``
    segments anywhere (``..``, ``%2e%2e``, ``\\..\\admin``, ``%2F..%2F``). A ``segment`` (an encoded
    placeholder) may otherwise hold anything, encoded into its one segment; a verbatim path may not
    decode into a backslash or an empty segment (``%5c``, ``%2F%2F``; written plainly, the session
    refuses them as leaving the host: :meth:`component.http.Session.url_for`).
    """
    plain = decoded(text)
    if CONTROL_CHARACTERS.search(plain):
        return "may not contain control characters such as line breaks (encoded or not)"
    parts = SEPARATORS.split(plain)
    if "." in parts or ".." in parts:
        return "may not contain '.' or '..' path segments (encoded or not; '\\' counts as '/')"
    if not segment and plain != text and ("\\" in plain or "" in parts[1:-1]):
        return "may not contain an encoded backslash or an encoded empty segment ('%5c', '%2F%2F')"
    return None


def _encode_segment(text: str) -> str:
    """One path segment: everything but letters, digits and ``-._~`` percent-encoded (``.`` and
    ``..`` never get here: :func:`path_problem` refuses them)."""
    return quote(text, safe="")


@lru_cache(maxsize=1024)
def _path_template(template: str) -> tuple[tuple[str, ...], tuple[tuple[bool, str, str], ...]]:
    """``template`` split once: its literal text and each placeholder's ``(reserved, scope, path)``."""
    if REFERENCE.match(template):
        template = "{+" + template[1:] + "}"
    literals: list[str] = []
    fields: list[tuple[bool, str, str]] = []
    end = 0
    for match in PLACEHOLDER.finditer(template):
        literals.append(template[end : match.start()])
        fields.append((bool(match["reserved"]), match["scope"], match["path"].lstrip(".")))
        end = match.end()
    literals.append(template[end:])
    return tuple(literals), tuple(fields)


def render_path(template: str, scope: Mapping[str, Any]) -> str:
    """Fill ``{scope.path}`` (encoded) and ``{+scope.path}`` (verbatim) placeholders of a path."""
    literals, fields = _path_template(template)
    if not fields:
        return template
    parts = [literals[0]]
    for (reserved, name, path), literal in zip(fields, literals[1:], strict=True):
        value = get_path(scope.get(name, {}), path)
        if value is MISSING or value is None or value == "":
            raise TemplateError(f"a value is needed to build the request path ({name}.{path})", path)
        text = as_text(value)
        # letters, digits, "-", "_" and "~" (most ids) need neither check nor encoding
        if not (text.isascii() and text.isalnum()) and not _PLAIN_SEGMENT.fullmatch(text):
            problem = path_problem(text, segment=not reserved)
            if problem:
                raise TemplateError(f"{name}.{path} {problem}", path)
            text = text if reserved else _encode_segment(text)
        parts.append(text)
        parts.append(literal)
    return "".join(parts)


def format_item(template: str, item: Any) -> str:
    """Fill ``{field.path}`` placeholders from one record (picklist keys and labels).

    ``{phone.mobile|email.0}`` takes the first of the paths with a non-empty value; ``{start:date}``
    keeps the date of an ISO date-time. A ``[section]`` holding placeholders is left out when any
    of them is empty: ``"{name}[, {address.city}]"``.
    """
    return item_formatter(template)(item)


def _walk(data: Any, parts: tuple[str, ...]) -> Any:
    """:func:`get_path` over a path split once; None when absent."""
    current = data
    for part in parts:
        if type(current) is dict or isinstance(current, Mapping):
            current = current.get(part)
            if current is None:
                return None
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


_READ_FAILS: Final = (KeyError, IndexError, TypeError)
# What generated code may name besides its own locals and literals: no builtins, nothing else.
_GENERATED_NAMES: Final[dict[str, Any]] = {
    "__builtins__": {},
    "_walk": _walk,
    "_as_text": as_text,
    "_iso": ISO_DATE.match,
    "_fails": _READ_FAILS,
    "_str": str,
    "_int": int,
    "_type": type,
    "_len": len,
}


class _FormatterSource:
    """Python source filling one item template: a few statements per distinct field, then an
    expression of the whole text (:meth:`text_of`), at any indent and with its own variable prefix so
    that two templates can share one function.

    Template text never reaches the source: literal text is passed in as constants (``_L0``…) of
    the function's namespace, and field paths (``[A-Za-z0-9_-]`` names by :data:`ITEM_FIELD`) appear
    as ``repr`` of strings, which Python reads back as the same strings.
    """

    def __init__(self, constants: dict[str, str], prefix: str = "t", indent: str = "    ") -> None:
        self.lines: list[str] = []
        self.fields: dict[str, str] = {}
        self.constants = constants
        self.prefix = prefix
        self.indent = indent

    def literal(self, text: str) -> str:
        name = f"_L{len(self.constants)}"
        self.constants[name] = text
        return name

    def field(self, match: re.Match[str]) -> str:
        """The variable holding the text of the field ``match`` (each distinct field is read once)."""
        name = self.fields.get(match[0])
        if name is None:
            name = self.fields[match[0]] = f"{self.prefix}{len(self.fields)}"
            for number, path in enumerate(match[1].split("|")):
                indent = self.indent
                if number:  # ``{a|b}``: the next path only while the text is still empty
                    self.lines.append(f"{indent}if not {name}:")
                    indent += "    "
                self._read(name, tuple(path.split(".")), indent)
            if match[2] == "date":
                self.lines += [f"{self.indent}if _iso({name}):", f"{self.indent}    {name} = {name}[:10]"]
        return name

    def _read(self, name: str, parts: tuple[str, ...], indent: str) -> None:
        """``item["a"]["b"]`` for the usual record; the general walk where that fails (an absent
        field, a list index, a value that is not an object), which gives the same answer for JSON."""
        subscripts = "".join(f"[{part!r}]" for part in parts)
        self.lines += [
            f"{indent}try:",
            f"{indent}    {name} = item{subscripts}",
            f"{indent}except _fails:",
            f"{indent}    {name} = _walk(item, {parts!r})",
            f"{indent}if _type({name}) is not _str:",
            f"{indent}    {name} = _str({name}) if _type({name}) is _int else _as_text({name})",
        ]

    def pieces(self, text: str, needed: str = "") -> list[str]:
        """Expressions of the literal text and fields of ``text`` (no sections), in order; with
        ``needed``, each is its text only when ``needed`` is true (the fields of a section)."""
        out: list[str] = []
        end = 0
        for match in ITEM_FIELD.finditer(text):
            if match.start() > end:
                out.append(self.literal(text[end : match.start()]))
            out.append(self.field(match))
            end = match.end()
        if end < len(text):
            out.append(self.literal(text[end:]))
        # a section's only field is empty exactly when the section is: it needs no condition itself
        return [piece if not needed or piece == needed else f"({piece} if {needed} else '')" for piece in out]

    def section(self, inner: str) -> list[str]:
        """``[inner]``: its text when every field in it has one, else nothing."""
        fields = list(dict.fromkeys(self.field(match) for match in ITEM_FIELD.finditer(inner)))
        if len(fields) > 1:
            needed = f"{self.prefix}_{len(self.lines)}"
            self.lines.append(f"{self.indent}{needed} = {' and '.join(fields)}")
            return self.pieces(inner, needed)
        return self.pieces(inner, fields[0] if fields else "")

    def text_of(self, template: str) -> str:
        """The expression of the filled template (after :attr:`lines` have run)."""
        parts: list[str] = []
        end = 0
        for match in ITEM_SECTION.finditer(template):
            parts += self.pieces(template[end : match.start()])
            parts += self.section(match[1])
            end = match.end()
        parts += self.pieces(template[end:])
        if len(parts) == 1 and parts[0].isidentifier():
            return parts[0]  # ``{id}``: the field's text itself
        return 'f"' + "".join(f"{{{part}}}" for part in parts) + '"'  # built at once


def _generated(source: str, constants: dict[str, str], name: str) -> Any:
    namespace = {**_GENERATED_NAMES, **constants}
    exec(compile(source, "<item template>", "exec"), namespace)
    return namespace[name]


@lru_cache(maxsize=1024)
def item_formatter(template: str) -> Callable[[Any], str]:
    """``template`` compiled once into a Python function of one record (see :func:`format_item`).

    The function reads each field once with plain indexing, so 10,000 keys and labels cost a few
    milliseconds, not a regex substitution and a chain of calls per item.
    """
    constants: dict[str, str] = {}
    body = _FormatterSource(constants)
    text = body.text_of(template)
    source = "def _format(item):\n" + "".join(f"{line}\n" for line in body.lines) + f"    return {text}\n"
    formatter: Callable[[Any], str] = _generated(source, constants, "_format")
    return formatter


Take = Callable[[list[Any], set[str], list[Any], int], bool]
"""``take(page, seen, kept, room)`` appends to ``kept`` what it keeps of each item of ``page`` whose
key is neither empty nor in ``seen`` (adding the key to ``seen``) until ``kept`` holds ``room``;
True when it stopped there with items of the page left."""


@lru_cache(maxsize=256)
def picklist_entries(key: str, label: str) -> Take:
    """A :data:`Take` keeping ``{"key", "label"}`` entries of the templates ``key`` and ``label``
    (a blank label falls back to the key): one generated loop over a page, the two templates'
    field reads inline, so a 10,000-item picklist makes no call per item."""
    constants: dict[str, str] = {}
    keys = _FormatterSource(constants, "k", " " * 8)
    key_text = keys.text_of(key)
    labels = _FormatterSource(constants, "l", " " * 8)
    label_text = labels.text_of(label)
    source = "\n".join(
        [
            "def _take(page, seen, kept, room):",
            "    left, add, append = room - _len(kept), seen.add, kept.append",
            "    for item in page:",
            *keys.lines,
            f"        key = {key_text}",
            "        if not key or key in seen:",
            "            continue",
            "        if left <= 0:",
            "            return True",
            "        left -= 1",
            "        add(key)",
            *labels.lines,
            f"        append({{'key': key, 'label': ({label_text}).strip() or key}})",
            "    return False",
            "",
        ]
    )
    take: Take = _generated(source, constants, "_take")
    return take


def references(template: Any) -> Iterator[tuple[str, str, str | None]]:
    """Every ``(scope, path, filter)`` a template refers to, for static checks."""
    if isinstance(template, str):
        match = REFERENCE.match(template)
        if match:
            yield match["scope"], match["path"].lstrip("."), match["filter"]
        for placeholder in PLACEHOLDER.finditer(template):
            yield placeholder["scope"], placeholder["path"].lstrip("."), None
    elif isinstance(template, dict):
        for key, value in template.items():
            if value == SPREAD:
                yield from references(key)
            yield from references(value)
    elif isinstance(template, list):
        for value in template:
            yield from references(value)
