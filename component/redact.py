"""Keep secrets out of everything a person or a log can read.

One registry, :class:`Redactor`, knows the secrets in play: a connection's secret fields whatever
their source (the connection file, a ``${VAR}`` reference, an ``x-env`` variable) and the tokens the
auth layer fetched for it. Each connection has one (:meth:`Connection.redactor
<component.connection.Connection.redactor>`), and a registry can be linked to a wider one (the CLI's,
or a runtime's: :meth:`Runtime.track_secrets <component.runtime.Runtime.track_secrets>`) that then
learns every secret added to it, fetched tokens included.

:func:`redact` is the one function every result and error goes through before it leaves the process
(the CLI, a service answer, a worker's result). A secret is found raw, percent-encoded and
JSON-escaped (``\\u0041``, ``\\/``: any of its characters, up to three layers deep, mixed),
base64-encoded (standard or URL-safe, at any offset in a longer value), and cut short: any start of
8 characters or more (the whole secret when it is shorter). Text with no start of any secret, even
once decoded, is returned as it is after a few substring checks.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import unquote

REDACTED = "***"
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "st-app-key"}
)
_MIN_SECRET_LENGTH = 4
PREFIX_LENGTH = 8  # a start of a secret this long (or the whole of a shorter one) is redacted
_TOKENS_KEPT = 32  # fetched tokens remembered per registry: the newest; older ones have expired
_URLSAFE = str.maketrans("+/", "-_")
# One escaped character: percent-encoded (ASCII), or a JSON \u or \/ escape however many backslashes
# a value nested in JSON text gathered; undone (up to _DECODE_PASSES layers deep) before secrets are
# sought. (\" and \\ are left alone: a secret holding them is also sought JSON-escaped.)
_ESCAPE = re.compile(r"%([0-7][0-9a-fA-F])|\\+(?:u([0-9a-fA-F]{4})|(/))")
_JSON_ESCAPE = re.compile(r"\\+(?:u([0-9a-fA-F]{4})|(/))")
_DECODE_PASSES = 3


def base64_forms(secret: str) -> set[str]:
    """What every base64 text holding ``secret`` contains, whatever the bytes before and after it.

    Base64 turns 3 bytes into 4 characters, so a secret encodes differently at each offset modulo 3
    within a longer value (``Basic`` credentials, a JSON blob); for each offset this is the run of
    characters that depends on the secret's bytes alone (standard and URL-safe alphabets).
    """
    raw = secret.encode()
    forms: set[str] = set()
    for offset, mixed in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * offset + raw).decode().rstrip("=")
        core = encoded[mixed : len(encoded) - (1 if (offset + len(raw)) % 3 else 0)]
        if len(core) >= _MIN_SECRET_LENGTH:
            forms.update({core, core.translate(_URLSAFE)})
    return forms


def _unescape(escape: re.Match[str]) -> str:
    code = escape[1] or escape[2]
    return chr(int(code, 16)) if code else escape[3]


def _decoded(text: str) -> str:
    """``text`` with percent-encoding and JSON escapes undone, layer by layer (a quick check: it
    undoes at least what :func:`_decoded_mapped` does)."""
    for _ in range(_DECODE_PASSES):
        before = text
        if "\\" in text:
            text = _JSON_ESCAPE.sub(_unescape_json, text)
        if "%" in text:
            text = unquote(text)
        if text == before:
            break
    return text


def _unescape_json(escape: re.Match[str]) -> str:
    return chr(int(escape[1], 16)) if escape[1] else escape[2]


def _decoded_mapped(text: str) -> tuple[str, list[int]]:
    """``text`` decoded, with where each decoded character starts in ``text`` (and where it ends)."""
    starts = list(range(len(text) + 1))
    for _ in range(_DECODE_PASSES):
        pieces: list[str] = []
        mapped: list[int] = []
        add, extend = pieces.append, mapped.extend
        kept = 0
        for escape in _ESCAPE.finditer(text):
            start = escape.start()
            add(text[kept:start])
            add(_unescape(escape))
            extend(starts[kept : start + 1])
            kept = escape.end()
        if not pieces:
            break
        add(text[kept:])
        extend(starts[kept:])
        text, starts = "".join(pieces), mapped
    return text, starts


@functools.lru_cache(maxsize=256)
def _literals(secret: str) -> tuple[str, ...]:
    """The texts that betray ``secret`` once decoded: itself (JSON-escaped too) and its base64 runs."""
    return tuple(sorted({secret, json.dumps(secret)[1:-1], *base64_forms(secret)}))


class _Matcher:
    """A snapshot of a registry's secrets; never changed once made (threads share it).

    A secret is found by its first ``PREFIX_LENGTH`` characters (all of a shorter one), in the
    text and in the text decoded; the match runs on as far as the secret does, and is replaced in
    the text as it stands, escapes and all.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        secrets = tuple(secrets)
        literals = {literal for secret in secrets for literal in _literals(secret)}
        self.literals = tuple(sorted(literals, key=len, reverse=True))
        # a secret written out (not base64) counts as cut short only where the text's word ends
        # too: "sandbox-org" shares its first 8 characters with a key "sandbox-servicebay-key"
        # and betrays none of the rest, while "sandbox-servi…" and "sandbox-servicebay-k" do
        self.written = frozenset(form for secret in secrets for form in (secret, json.dumps(secret)[1:-1]))
        self.anchors = tuple(sorted({literal[:PREFIX_LENGTH] for literal in literals}))

    def could_hold(self, text: str) -> bool:
        """A cheap check that rules out most text: no start of any secret, even once decoded."""
        return self._raw(text) or self._encoded(text)

    def _raw(self, text: str) -> bool:
        return any(anchor in text for anchor in self.anchors)

    def _encoded(self, text: str) -> bool:
        if "%" not in text and "\\" not in text:
            return False
        decoded = _decoded(text)
        return decoded != text and self._raw(decoded)

    def _spans(self, text: str, starts: list[int] | None) -> list[tuple[int, int]]:
        spans = []
        for literal in self.literals:
            head = min(PREFIX_LENGTH, len(literal))
            anchor, rest = literal[:head], literal[head:]
            found = text.find(anchor)
            while found >= 0:
                end = found + head
                if text.startswith(rest, end):
                    end += len(rest)
                else:
                    index = head
                    while end < len(text) and index < len(literal) and text[end] == literal[index]:
                        end, index = end + 1, index + 1
                    if end < len(text) and text[end].isalnum() and literal in self.written:
                        found = text.find(anchor, found + 1)
                        continue  # the text goes on with other letters: a shared start, not a cut
                spans.append((starts[found], starts[end]) if starts else (found, end))
                found = text.find(anchor, end)
        return spans

    def text(self, text: str) -> str:
        spans = self._spans(text, None) if self._raw(text) else []
        if self._encoded(text):
            decoded, starts = _decoded_mapped(text)
            spans += self._spans(decoded, starts)
        if not spans:
            return text
        pieces: list[str] = []
        kept = 0
        for start, end in sorted(spans):
            if end <= kept:
                continue
            pieces += [text[kept:start], REDACTED] if start >= kept else []
            kept = end
        pieces.append(text[kept:])
        return "".join(pieces)


class Redactor:
    """A registry of the secrets in play; replaces each of them, in every form, with ``***``.

    ``add`` is cheap for a secret already known (the auth layer adds its token before each request).
    Fetched tokens are kept ``_TOKENS_KEPT`` at a time, newest first, so that a long-lived
    connection's registry does not grow with every renewal. Safe to share between threads.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: dict[str, None] = {}
        self._tokens: dict[str, None] = {}
        self._links: list[weakref.ref[Redactor]] = []  # weak: a wider registry dropped is forgotten
        self._lock = threading.Lock()
        self._matcher: _Matcher | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None, *, token: bool = False) -> None:
        """Register ``secret`` (a fetched token with ``token=True``) here and in every linked registry."""
        if not isinstance(secret, str) or len(secret) < _MIN_SECRET_LENGTH:
            return
        if secret in self._secrets or secret in self._tokens:
            return
        with self._lock:
            if token:
                self._tokens[secret] = None
                while len(self._tokens) > _TOKENS_KEPT:
                    del self._tokens[next(iter(self._tokens))]
            else:
                self._secrets[secret] = None
            self._matcher = None
            alive = [(ref, ref()) for ref in self._links]
            self._links = [ref for ref, link in alive if link is not None]
            links = [link for _, link in alive if link is not None]
        for link in links:
            link.add(secret, token=token)

    def link(self, wider: Redactor) -> None:
        """Let ``wider`` learn every secret known here, now and later (tokens fetched later too)."""
        if wider is self or any(link() is wider for link in self._links):
            return
        with self._lock:
            self._links.append(weakref.ref(wider))
            secrets, tokens = list(self._secrets), list(self._tokens)
        for secret in secrets:
            wider.add(secret)
        for secret in tokens:
            wider.add(secret, token=True)

    @property
    def empty(self) -> bool:
        """Whether no secret is known, so that nothing can need redacting."""
        return not self._secrets and not self._tokens

    def _compiled(self) -> _Matcher | None:
        matcher = self._matcher
        if matcher is None and not self.empty:
            with self._lock:
                matcher = self._matcher = _Matcher([*self._secrets, *self._tokens])
        return matcher

    def could_hold(self, text: str) -> bool:
        """Whether ``text`` may hold a secret (false: it certainly holds none)."""
        matcher = self._compiled()
        return matcher is not None and matcher.could_hold(text)

    def text(self, text: str) -> str:
        matcher = self._compiled()
        return text if matcher is None else matcher.text(text)

    def data(self, value: Any) -> Any:
        """A deep copy of ``value`` with secrets redacted from every string (keys included); ``value``
        itself when no secret is known. :func:`redact` also skips the copy when none is in it."""
        matcher = self._compiled()
        return value if matcher is None else _walk(value, matcher)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with sensitive values masked outright and secrets redacted from the rest."""
        return {
            name: REDACTED if name.lower() in SENSITIVE_HEADERS else self.text(value)
            for name, value in headers.items()
        }


_REGISTRIES: weakref.WeakValueDictionary[str, Redactor] = weakref.WeakValueDictionary()
_REGISTRIES_LOCK = threading.Lock()


def registry_for(key: str, secrets: Iterable[str]) -> Redactor:
    """The one registry of the connection whose values hash to ``key``, while any holder keeps it:
    equal connections made apart (a service making one per request) share the tokens fetched for
    either of them."""
    with _REGISTRIES_LOCK:
        registry = _REGISTRIES.get(key)
        if registry is None:
            registry = _REGISTRIES[key] = Redactor(secrets)
        return registry


def _walk(value: Any, matcher: _Matcher) -> Any:
    if isinstance(value, str):
        return matcher.text(value)
    if isinstance(value, Mapping):
        return {matcher.text(str(k)): _walk(v, matcher) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, matcher) for v in value]
    return value


class _AsDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


Secrets = Redactor | Iterable[str]


def redact(value: Any, secrets: Secrets) -> Any:
    """``value`` as it may leave the process: every secret in ``secrets`` replaced by ``***``.

    The one way out for results and errors: the CLI prints only what passed here, and a service or a
    worker answers with it. ``value`` is anything JSON-able (returned unchanged, not copied, when no
    secret can be in it) or an exception: a component error becomes its ``{"error": …}`` object,
    any other exception an ``internal`` error naming its type. ``secrets`` is a registry (a
    connection's, a runtime's) or the secret strings themselves.
    """
    registry = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    if isinstance(value, BaseException):
        to_dict = getattr(value, "to_dict", None)
        value = (
            to_dict()
            if callable(to_dict)
            else {"error": {"type": "internal", "message": f"{type(value).__name__}: {value}"}}
        )
    matcher = registry._compiled()
    if matcher is None:
        return value
    if isinstance(value, str):
        return matcher.text(value)
    try:  # one pass of C over the whole value rules out most results without walking them
        if not matcher.could_hold(json.dumps(value, ensure_ascii=False, default=str)):
            return value
    except (TypeError, ValueError, RecursionError):
        pass
    return _walk(value, matcher)


def redact_json(value: Any, secrets: Secrets, *, indent: int | None = None) -> str:
    """``value`` as JSON text (UTF-8 kept), redacted as by :func:`redact`; serialised once when no
    secret can be in it, which the text itself tells."""
    text = json_text(value, indent)
    matcher = _matcher_if_held(text, secrets)
    return text if matcher is None else json_text(_walk(value, matcher), indent)


def redact_json_text(text: str, secrets: Secrets, *, indent: int | None = None) -> str:
    """JSON ``text`` already written by :func:`json_text` with this ``indent``, redacted as
    :func:`redact_json` redacts its value: as it is when no secret can be in it, else decoded,
    redacted and written again."""
    matcher = _matcher_if_held(text, secrets)
    return text if matcher is None else json_text(_walk(json.loads(text), matcher), indent)


def _matcher_if_held(text: str, secrets: Secrets) -> _Matcher | None:
    """The matcher of ``secrets`` when ``text`` may hold one of them, else None (nothing to redact)."""
    registry = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    matcher = registry._compiled()
    return matcher if matcher is not None and matcher.could_hold(text) else None


def json_text(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON text, UTF-8 kept: ``json.dumps(value, indent=indent, ensure_ascii=False)``,
    character for character, in a fraction of the time where ``indent`` is set. json's indenting
    encoder is pure Python (250 ms for the whole catalog); here json's C encoder writes the text on
    one line and msgspec indents it, keeping every token as json wrote it. NaN and Infinity, which
    the one-line pass refuses, go to json's own indenting encoder."""
    if indent is not None:
        try:
            flat = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except ValueError:  # NaN or Infinity (or a circular value: json says so below)
            pass
        else:
            import msgspec

            try:
                return msgspec.json.format(flat, indent=indent)
            except (msgspec.DecodeError, UnicodeError):  # a lone surrogate: not UTF-8 msgspec can read
                pass
    return json.dumps(value, indent=indent, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from every record's final message."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.text(record.getMessage())
        record.args = None
        return True
