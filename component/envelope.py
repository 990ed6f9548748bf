"""Decode a vendor response: unwrap the payload, or turn the error body into a typed error."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import msgspec

from .errors import CredentialsError, UnexpectedBodyError, VendorError, vendor_error_class
from .jsontext import MAX_DEPTH, value_problem
from .models import Envelope, ResponseSpec
from .redact import Redactor
from .templates import MISSING, get_path

_MAX_TEXT = 500
_decode = msgspec.json.Decoder().decode
JSON_RESPONSE = ResponseSpec()


class _NotJson:
    """A body that should have been JSON and is not: its text and why it is refused."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason


def _parse(response: httpx2.Response) -> Any:
    """JSON when the body parses as JSON, :class:`_NotJson` otherwise, None when empty.

    msgspec reads a body in about half of json's time (a 5,000-record page: 3 ms, not 7).
    What it refuses and json may still take (NaN, Infinity, a byte-order mark, UTF-16, escaped
    lone surrogates) goes to json, so every body reads as json reads it.
    """
    content = response.content
    if not content:
        return None
    try:
        try:
            return _decode(content)
        except msgspec.DecodeError:
            return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _NotJson(response.text, "is not JSON")
    except RecursionError:
        return _NotJson("", f"is JSON nested deeper than {MAX_DEPTH} levels")


def body_of(response: httpx2.Response) -> Any:
    """JSON when the body parses as JSON, text otherwise, None when empty."""
    body = _parse(response)
    return body.text if isinstance(body, _NotJson) else body


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


def _wants_json(response: httpx2.Response, spec: ResponseSpec) -> bool:
    if spec.body == "any":
        content_type = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
        return content_type == "application/json" or content_type.endswith("+json")
    return spec.body == "json"


def decode(
    envelope: Envelope,
    response: httpx2.Response,
    *,
    vendor: str,
    redactor: Redactor,
    spec: ResponseSpec = JSON_RESPONSE,
) -> Any:
    """The payload of a success response; raises a :class:`VendorError` subclass otherwise.

    A success whose body is not what ``spec`` declares (an HTML page or cut-off JSON where JSON is
    due) is an :class:`UnexpectedBodyError`, never a result.
    """
    if response.is_success and spec.body == "text":
        return response.text
    body = _parse(response)
    if isinstance(body, _NotJson):
        if response.is_success and not _wants_json(response, spec):
            return body.text
        if response.is_success:
            content_type = response.headers.get("content-type") or "no content type"
            raise UnexpectedBodyError(
                redactor.text(
                    f"{vendor} answered {response.status_code} with a body that {body.reason} "
                    f"({content_type}): {body.text.strip()[:200]}"
                ),
                status=response.status_code,
                vendor=vendor,
                trace_id=_trace_header(envelope, response, redactor),
                maybe_applied=True,
            )
        body = body.text
    failed = (
        envelope.success is not None
        and isinstance(body, dict)
        and get_path(body, envelope.success, None) is False
    )
    if response.is_success and not failed:
        if spec.unwrap and envelope.data and isinstance(body, dict):
            payload = get_path(body, envelope.data)
            return None if payload is MISSING else payload
        return body
    raise error_from(envelope, response, body, vendor=vendor, redactor=redactor)


def _trace_header(envelope: Envelope, response: httpx2.Response, redactor: Redactor) -> str | None:
    found = next((response.headers[h] for h in envelope.traceHeaders if h in response.headers), None)
    return None if found is None else redactor.text(found)


def error_from(
    envelope: Envelope, response: httpx2.Response, body: Any, *, vendor: str, redactor: Redactor
) -> VendorError:
    status = response.status_code if not response.is_success else 502
    problem = value_problem(body)
    if problem:  # too deep to read safely: report that instead of its contents
        body = f"an error body whose value at {problem[0]} {problem[1]}"
    body = redactor.data(body)  # before any truncation, so a cut can never keep part of a secret
    found = _first(body, envelope.message) if isinstance(body, dict) else None
    if response.is_redirect:  # never followed: a credential would go on to wherever it points
        try:
            host = httpx2.URL(response.headers["location"]).host
        except httpx2.InvalidURL:
            host = ""
        message = (
            f"{vendor} answered {status} {response.reason_phrase}, a redirect"
            + (f" to {host}" if host else "")
            + "; redirects are not followed, so nothing was sent there (credentials go only to the "
            "connection's own hosts)"
        )
    elif found is not None:
        message = _message_text(found)
    elif isinstance(body, str) and body.strip():
        message = body.strip()[:_MAX_TEXT]
    elif response.is_success:
        message = f"{vendor} reported a failure ({envelope.success}: false) without a message"
    else:
        message = response.reason_phrase or f"HTTP {status}"
    trace = _first(body, envelope.traceId) if isinstance(body, dict) else None
    trace_id = redactor.text(str(trace)) if trace is not None else _trace_header(envelope, response, redactor)
    errors = get_path(body, envelope.errors, None) if envelope.errors and isinstance(body, dict) else None
    fields = envelope.credentials.get(str(status)) if not response.is_success else None  # type: ignore[call-overload]
    if fields:
        return CredentialsError(
            redactor.text(message),
            hint=f"{vendor} refused the connection's credentials: check {' and '.join(fields)} "
            "in the connection",
            status=status,
            vendor=vendor,
            trace_id=trace_id,
            errors=errors or None,
            fields=fields,
        )
    error_class = vendor_error_class(status)
    return error_class(
        redactor.text(message),
        status=status,
        vendor=vendor,
        trace_id=trace_id,
        errors=errors or None,
        # a success status that reports a failure: the vendor answered, and says it did not act
        maybe_applied=False if response.is_success else None,
    )
