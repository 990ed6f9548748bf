"""One ASGI middleware in front of every route (MCP's included): a request id on every response and
its log line, the bearer token, the body-size limit and the access log, all redacted.

Written as plain ASGI rather than Starlette's ``BaseHTTPMiddleware`` so streamed responses (MCP)
pass through untouched.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..redact import Redactor
from .errors import BodyTooLargeError, MisdirectedError, ServiceError, UnauthorizedError, internal
from .output import JSONBody, redacted
from .playground import is_public

log = logging.getLogger("component.service")
MAX_BODY = 10 * 1024 * 1024
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_READ = frozenset({b"host", b"x-request-id", b"authorization", b"content-length"})


class Guard:
    """Request id, bearer token (constant-time compare), body limit and access log."""

    def __init__(self, app: ASGIApp, redactor: Redactor, token: str | None) -> None:
        self.app = app
        self.redactor = redactor
        self.token = token.encode() if token else None
        if token:
            redactor.add(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        heard = _headers(scope["headers"])
        given = heard.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        stamp = (b"x-request-id", request_id.encode())
        status = 0

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                headers.append(stamp)
                message = {**message, "headers": headers}
            await send(message)

        try:
            error = self._refusal(scope, heard)
            if error is not None:
                extra = {"WWW-Authenticate": "Bearer"} if isinstance(error, UnauthorizedError) else None
                await JSONBody(error.to_dict(), self.redactor, error.status, extra)(scope, receive, stamped)
            else:
                # a body with a length was checked against the limit above; one without is counted
                bounded = receive if heard.get(b"content-length", b"").isdigit() else _limited(receive)
                await self.app(scope, bounded, stamped)
        except Exception as exc:
            # what no route caught (the MCP transport's, say): logged, answered with the request id only
            log.exception("%s unexpected failure", request_id)
            if status:
                raise
            if isinstance(exc, ServiceError):
                body, code = exc.to_dict(), exc.status
            else:
                body, code = internal(request_id), 500
            await JSONBody(body, self.redactor, code)(scope, receive, stamped)
        finally:
            if log.isEnabledFor(logging.INFO):
                elapsed = (time.perf_counter() - started) * 1000
                line = f"{request_id} {scope['method']} {scope['path']} {status or 500} {elapsed:.1f}ms"
                log.info(redacted(self.redactor, line))

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> ServiceError | None:
        if self.token is None and not _loopback_host(headers.get(b"host", b"").decode("latin-1")):
            # without a token the service answers loopback names only: a page that rebinds its own
            # name to 127.0.0.1 (DNS rebinding) gets nothing
            return MisdirectedError("without a service token only 127.0.0.1, localhost or [::1] are served")
        if self.token is not None and scope["path"] not in OPEN_PATHS and not is_public(scope["path"]):
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                return UnauthorizedError("a valid bearer token is required (Authorization: Bearer …)")
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY:
            return BodyTooLargeError(f"the request body is over {MAX_BODY // (1024 * 1024)} MB")
        return None


def _headers(raw: Any) -> dict[bytes, bytes]:
    """The request headers the guard reads, by lower-case name (the last of each)."""
    found: dict[bytes, bytes] = {}
    for name, value in raw:
        name = name.lower()
        if name in _READ:
            found[name] = value
    return found


def _loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in ("127.0.0.1", "localhost", "[::1]") or name.startswith("127.")


def _limited(receive: Receive) -> Receive:
    """``receive`` that fails once more than :data:`MAX_BODY` bytes arrived (a body without a length)."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message: Any = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise BodyTooLargeError(f"the request body is over {MAX_BODY // (1024 * 1024)} MB")
        return message  # type: ignore[no-any-return]

    return limited
