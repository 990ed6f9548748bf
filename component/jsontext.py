"""Untrusted JSON text (inputs, connection files, vendor bodies) parsed with limits.

Strict UTF-8, no duplicate object keys, no ``NaN``/``Infinity``, at most :data:`MAX_DEPTH` levels
of nesting and :data:`MAX_BYTES` bytes; files and streams are read in bounded chunks so a huge or
endless source (``/dev/zero``) is refused without being read whole.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import compress
from operator import not_
from pathlib import Path
from typing import IO, Any

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 100
_CHUNK = 1024 * 1024


class JsonTextError(ValueError):
    """The text is not acceptable JSON; the message says why, without echoing the text.

    ``path`` is the JSON path of the value at fault where there is one (too deep, not finite).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DuplicateKeyError(JsonTextError):
    def __init__(self, key: str) -> None:
        super().__init__(f"has a duplicate key {key!r}")
        self.key = key


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing duplicate keys (json would silently keep the last)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise JsonTextError(f"holds {name}, which is not a JSON number")


def _walk(value: Any, path: str = "$", depth: int = 1) -> Iterator[tuple[str, Any, int]]:
    stack = [(path, value, depth)]
    while stack:
        path, value, depth = stack.pop()
        yield path, value, depth
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}", v, depth + 1) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(value))


PLAIN = frozenset({str, int, bool, type(None)})
"""The types of leaves that hold nothing :func:`value_problem` refuses (a float may be NaN)."""
_SEQUENCES = (list, tuple)  # a tuple, not ``list | tuple``: that union would be made on every check


def _clean(value: Any, depth: int) -> bool:
    """Whether ``value`` is free of what :func:`value_problem` refuses (the common case, without paths).

    Level by level, one loop for all the containers of a level: leaves of the plain kinds are told
    apart from the rest by ``map`` and ``compress`` without a Python-level step per item; only
    containers, floats and unusual values are visited, and no call or generator is made per container.
    """
    level = [value]
    while level:
        if depth > MAX_DEPTH:
            return False
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                children: Any = item.values()
            elif isinstance(item, _SEQUENCES):
                children = item
            elif isinstance(item, float):
                if not math.isfinite(item):
                    return False
                continue
            else:
                continue
            if depth == MAX_DEPTH:
                if children:
                    return False  # any child would be one level too deep
                continue
            below.extend(compress(children, map(not_, map(PLAIN.__contains__, map(type, children)))))
        # an object held twice is looked at once: a structure sharing itself (a dict holding itself
        # under two keys) would otherwise double at every level
        level = list({id(item): item for item in below}.values()) if len(below) > 1 else below
        depth += 1
    return True


def value_problem(value: Any) -> tuple[str, str] | None:
    """``(json path, message)`` of the first part of ``value`` no JSON document may hold, if any."""
    if _clean(value, 1):
        return None
    for path, item, depth in _walk(value):
        if depth > MAX_DEPTH:
            return path, f"is nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, float) and not math.isfinite(item):
            return path, "is not a finite number (NaN and Infinity are not JSON)"
    return None


def loads(data: bytes | str) -> Any:
    """Parse ``data`` as strict JSON; raises :class:`JsonTextError` with a reason."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise JsonTextError(f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonTextError(f"is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(data, object_pairs_hook=no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        where = too_deep(data)
        raise JsonTextError(
            f"has a value at {where} that is nested deeper than {MAX_DEPTH} levels", where
        ) from None
    problem = value_problem(value)
    if problem:
        raise JsonTextError(f"has a value at {problem[0]} that {problem[1]}", problem[0])
    return value


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def too_deep(text: str) -> str:
    """The JSON path of the first object or array of ``text`` nested deeper than :data:`MAX_DEPTH`
    levels (``$`` if none is): for text too deep for the parser, which says only that it is."""
    frames: list[list[Any]] = []  # [kind, key or index, expecting a key]
    for match in _TOKEN.finditer(text):
        token = match[0]
        if token in "[{":
            if len(frames) >= MAX_DEPTH:
                return _frames_path(frames)
            frames.append([token, None if token == "{" else 0, token == "{"])
        elif token in "]}":
            if frames:
                frames.pop()
        elif token == ",":
            if frames and frames[-1][0] == "{":
                frames[-1][2] = True
            elif frames:
                frames[-1][1] += 1
        elif token.startswith('"') and frames and frames[-1][0] == "{" and frames[-1][2]:
            frames[-1][1], frames[-1][2] = json.loads(token), False
    return "$"


def _frames_path(frames: list[list[Any]]) -> str:
    return "$" + "".join(f"[{key}]" if kind == "[" else f".{key}" for kind, key, _ in frames)


def read_bounded(source: Path | IO[bytes]) -> bytes:
    """At most :data:`MAX_BYTES` bytes of a file or binary stream; refuses anything longer."""
    if isinstance(source, Path):
        with source.open("rb") as stream:
            return read_bounded(stream)
    chunks: list[bytes] = []
    size = 0
    while chunk := source.read(min(_CHUNK, MAX_BYTES + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BYTES:
            raise JsonTextError(f"is larger than {MAX_BYTES // (1024 * 1024)} MB")
    return b"".join(chunks)
