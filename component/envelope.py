"""Decode a vendor response: unwrap the payload, or turn the error body into a typed error."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .errors import VendorError, vendor_error_class
from .models import Envelope
from .redact import Redactor
from .templates import MISSING, get_path

_MAX_TEXT = 500


def body_of(response: httpx.Response) -> Any:
    """JSON when the body parses as JSON, text otherwise, None when empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def _first(body: Any, paths: list[str]) -> Any:
    for path in paths:
        value = get_path(body, path, None)
        if value not in (None, ""):
            return value
    return None


def _message_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("message") or value.get("title") or value.get("error")
        if isinstance(inner, str):
            return inner
    return json.dumps(value)[:_MAX_TEXT]


def decode(envelope: Envelope, response: httpx.Response, *, vendor: str, redactor: Redactor) -> Any:
    """The payload of a success response; raises a :class:`VendorError` subclass otherwise."""
    body = body_of(response)
    failed = (
        envelope.success is not None
        and isinstance(body, dict)
        and get_path(body, envelope.success, None) is False
    )
    if response.is_success and not failed:
        if envelope.data and isinstance(body, dict):
            payload = get_path(body, envelope.data)
            return None if payload is MISSING else payload
        return body
    raise error_from(envelope, response, body, vendor=vendor, redactor=redactor)


def error_from(
    envelope: Envelope, response: httpx.Response, body: Any, *, vendor: str, redactor: Redactor
) -> VendorError:
    status = response.status_code if not response.is_success else 502
    body = redactor.data(body)  # before any truncation, so a cut can never keep part of a secret
    found = _first(body, envelope.message) if isinstance(body, dict) else None
    if found is not None:
        message = _message_text(found)
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:_MAX_TEXT]
    else:
        message = response.reason_phrase or f"HTTP {status}"
    trace = _first(body, envelope.traceId) if isinstance(body, dict) else None
    if trace is None:
        trace = next((response.headers[h] for h in envelope.traceHeaders if h in response.headers), None)
    errors = get_path(body, envelope.errors, None) if envelope.errors and isinstance(body, dict) else None
    error_class = vendor_error_class(status)
    return error_class(
        message,
        status=status,
        vendor=vendor,
        trace_id=None if trace is None else str(trace),
        errors=errors or None,
    )
