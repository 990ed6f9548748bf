"""Everything the service shows passes through :func:`redacted`: response bodies, error bodies,
headers and log lines. It is the one function to change when the project's redaction changes."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from ..redact import Redactor

_encode = msgspec.json.Encoder().encode  # UTF-8 as it is (no \u escapes), compact; NaN and ±inf as null
_JSON_TYPE = (b"content-type", b"application/json")


def redacted(redactor: Redactor, value: Any) -> Any:
    """``value`` (text or JSON data) with every secret the service knows replaced by ``***``."""
    if redactor.empty:
        return value
    if isinstance(value, str):
        return redactor.text(value)
    return redactor.data(value)


class JSONBody(Response):
    """A JSON response whose body is redacted before it is encoded.

    Its headers are built here directly (content type and length, then any ``headers``) rather
    than by :class:`~starlette.responses.Response`, which would look through them again.
    """

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        redactor: Redactor,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = _encode(redacted(redactor, content))
        raw = [_JSON_TYPE, (b"content-length", str(len(self.body)).encode())]
        if headers:
            for name, value in headers.items():
                raw.append((name.lower().encode("latin-1"), redacted(redactor, value).encode("latin-1")))
        self.raw_headers = raw
