"""Cassette filters for pytest-recording (vcrpy): no credential ever lands in a recorded cassette.

Headers ``authorization``, ``x-api-key`` and ``st-app-key`` are dropped; ``client_secret`` in
form bodies and ``access_token`` in JSON bodies are replaced. Bodies take part in matching, so a
replayed request must send the same body it was recorded with.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

FILTERED = "REDACTED"
SECRET_HEADERS = ["authorization", "x-api-key", "st-app-key"]
SECRET_FORM_FIELDS = ("client_secret",)
SECRET_JSON_FIELDS = ("access_token",)


def _scrub_form(body: bytes | str | None) -> bytes | str | None:
    if not body:
        return body
    text = body.decode() if isinstance(body, bytes) else body
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(key in SECRET_FORM_FIELDS for key, _ in pairs):
        return body
    scrubbed = urlencode([(k, FILTERED if k in SECRET_FORM_FIELDS else v) for k, v in pairs])
    return scrubbed.encode() if isinstance(body, bytes) else scrubbed


def _scrub_json(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and any(field in data for field in SECRET_JSON_FIELDS):
        data = {k: (FILTERED if k in SECRET_JSON_FIELDS else v) for k, v in data.items()}
        return json.dumps(data)
    return text


def before_record_request(request: Any) -> Any:
    request.body = _scrub_form(request.body)
    return request


def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = _scrub_json(body.decode("utf-8", "replace")).encode()
    elif isinstance(body, str):
        response["body"]["string"] = _scrub_json(body)
    return response


def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": SECRET_HEADERS,
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
    }
