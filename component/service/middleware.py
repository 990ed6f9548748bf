"""One ASGI middleware in front of every route (MCP's included): a request id on every response and
its log line, the bearer token, the body-size limit and the access log, all redacted.

Written as plain ASGI rather than Starlette's ``BaseHTTPMiddleware`` so streamed responses (MCP)
pass through untouched.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*raw, (b"x-request-id", request_id.encode())]}
            await send(message)

        started_response = False

        async def send_tracked(message: Message) -> None:
            nonlocal started_response
            started_response = started_response or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            error = self._refusal(scope, headers)
            if error is not None:
                extra = {"WWW-Authenticate": "Bearer"} if isinstance(error, UnauthorizedError) else None
                response = JSONBody(error.to_dict(), self.redactor, error.status, extra)
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, _limited(receive), send_tracked)
        except Exception as exc:
            # what no route caught (the MCP transport's, say): logged, answered with the request id only
            log.exception("%s unexpected failure", request_id)
            if started_response:
                raise
            if isinstance(exc, ServiceError):
                body, code = exc.to_dict(), exc.status
            else:
                body, code = internal(request_id), 500
            await JSONBody(body, self.redactor, code)(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            line = f"{request_id} {scope['method']} {scope['path']} {status} {elapsed:.1f}ms"
            log.info(redacted(self.redactor, line))

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> ServiceError | None:
        if self.token is None and not _loopback_host(headers.get("host", "")):
            # without a token the service answers loopback names only: a page that rebinds its own
            # name to 127.0.0.1 (DNS rebinding) gets nothing
            return MisdirectedError("without a service token only 127.0.0.1, localhost or [::1] are served")
        if self.token is not None and scope["path"] not in OPEN_PATHS and not is_public(scope["path"]):
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
                return UnauthorizedError("a valid bearer token is required (Authorization: Bearer …)")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return BodyTooLargeError(f"the request body is over {MAX_BODY // (1024 * 1024)} MB")
        return None


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
