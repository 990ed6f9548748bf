"""Keep secrets out of everything a person or a log can read."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "***"
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "st-app-key"}
)
_MIN_SECRET_LENGTH = 4
_URLSAFE = str.maketrans("+/", "-_")


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


class Redactor:
    """Replaces every known secret (raw, URL-encoded and base64-encoded) with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if isinstance(secret, str) and len(secret) >= _MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets.update({secret, quote(secret, safe=""), quote_plus(secret), *base64_forms(secret)})

    @property
    def empty(self) -> bool:
        """Whether no secret is known, so that nothing can need redacting."""
        return not self._secrets

    def text(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def data(self, value: Any) -> Any:
        """A deep copy of ``value`` with secrets redacted from every string (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers with sensitive values masked outright and secrets redacted from the rest."""
        return {
            name: REDACTED if name.lower() in SENSITIVE_HEADERS else self.text(value)
            for name, value in headers.items()
        }


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from every record's final message."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.text(record.getMessage())
        record.args = None
        return True
