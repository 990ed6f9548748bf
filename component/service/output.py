"""Everything the service shows passes through :func:`redacted`: response bodies, error bodies,
headers and log lines. It is the one function to change when the project's redaction changes."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..redact import Redactor


def redacted(redactor: Redactor, value: Any) -> Any:
    """``value`` (text or JSON data) with every secret the service knows replaced by ``***``."""
    if redactor.empty:
        return value
    if isinstance(value, str):
        return redactor.text(value)
    return redactor.data(value)


class JSONBody(Response):
    """A JSON response whose body is redacted before it is encoded."""

    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        redactor: Redactor,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._redactor = redactor
        safe_headers = {k: redacted(redactor, v) for k, v in (headers or {}).items()}
        super().__init__(content, status_code, safe_headers)

    def render(self, content: Any) -> bytes:
        text = json.dumps(redacted(self._redactor, content), ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8")
