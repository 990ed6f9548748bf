"""Build the service (:func:`build`) and serve it under uvicorn (:func:`serve`)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from ..app import Application
from ..errors import UsageError
from ..redact import Redactor
from ..triggers.store import open_state_store
from . import playground
from .connections import Connections
from .errors import MethodNotAllowedError, ServiceError, UnknownError
from .listening import listen, run
from .middleware import Guard
from .openapi import document
from .output import JSONBody, redacted
from .routes import BudgetWaits, Service, routes
from .store import open_service_store

TOKEN_ENV = "COMPONENT_SERVICE_TOKEN"
CORS_ENV = "COMPONENT_SERVICE_CORS_ORIGINS"


class RedactingFormatter(logging.Formatter):
    """The whole formatted record (tracebacks included) redacted."""

    def __init__(self, redactor: Redactor, fmt: str) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return str(redacted(self.redactor, super().format(record)))


def log_handler(redactor: Redactor, stream: Any = None) -> logging.Handler:
    """The service log's handler: one line a record, everything in it redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(redactor, "%(asctime)s %(levelname)s %(message)s"))
    return handler


def build(
    *,
    root: Path | None = None,
    sandbox: bool = False,
    state: str | Path | None = None,
    connections: Mapping[str, Any] | None = None,
    token: str | None = None,
    cors_origins: Sequence[str] = (),
    secret_key: str | None = None,
    env: Mapping[str, str] | None = None,
    mcp: bool = True,
) -> tuple[Starlette, Service]:
    """The Starlette app and what its routes share. ``connections``: the ``--connections`` file's data.

    The runtime reads no environment: read-only connections take theirs here, once.
    """
    app = Application.create(root, sandbox=sandbox, env={})
    read_only = Connections.sources(app, connections, env)
    store = open_service_store(state)
    service = Service(
        app=app,
        connections=Connections(app, store, read_only, secret_key),
        store=store,
        open_states=lambda: open_state_store(state),
    )
    doc: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not doc:
            doc.update(document(app, secured=bool(token)))
        return doc

    service.openapi = openapi
    progress = logging.getLogger("component.progress")
    if not any(isinstance(h, BudgetWaits) for h in progress.handlers):
        progress.addHandler(BudgetWaits())
    if progress.level == logging.NOTSET or progress.level > logging.INFO:
        progress.setLevel(logging.INFO)

    mcp_app = None
    if mcp:
        from .mcp import McpFace

        mcp_app = McpFace(service)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with app.runtime, contextlib.AsyncExitStack() as stack:
            if mcp_app is not None:
                await stack.enter_async_context(mcp_app.running())
            yield

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        error: ServiceError = (
            MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
            if status == 405
            else UnknownError(f"no route {request.url.path}")
        )
        return JSONBody(error.to_dict(), app.redactor, error.status)

    middleware = []
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "PUT", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=["ETag", "Retry-After", "X-Request-Id"],
            )
        )
    middleware.append(Middleware(Guard, redactor=app.redactor, token=token))
    all_routes: list[Any] = routes(service)
    if mcp_app is not None:
        all_routes.append(mcp_app.route())
    all_routes.extend(playground.routes(service))
    starlette = Starlette(
        routes=all_routes,
        middleware=middleware,
        exception_handlers={HTTPException: not_found},
        lifespan=lifespan,
    )
    return starlette, service


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    *,
    host: str,
    port: int,
    root: Path | None,
    sandbox: bool,
    state: str | Path | None,
    connections: Mapping[str, Any] | None,
    cors_origins: Sequence[str] = (),
    announce: Any = None,
) -> None:
    """Serve until interrupted. Without ``$COMPONENT_SERVICE_TOKEN`` only a loopback address is served."""
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without a token: set {TOKEN_ENV} (callers then send "
            "Authorization: Bearer TOKEN), or listen on 127.0.0.1"
        )
    origins = list(cors_origins) or [o for o in os.environ.get(CORS_ENV, "").split(",") if o.strip()]
    starlette, service = build(
        root=root, sandbox=sandbox, state=state, connections=connections, token=token, cors_origins=origins
    )
    service_log = logging.getLogger("component.service")
    service_log.addHandler(log_handler(service.app.redactor))
    service_log.setLevel(logging.INFO)
    service_log.propagate = False
    listener = listen(host, port)
    bound = listener.getsockname()[1]
    if announce is not None:
        announce({"url": f"http://{f'[{host}]' if ':' in host else host}:{bound}", "auth": bool(token)})
    # no proxy-header rewriting (nothing here reads the client's address or scheme) and no Server header
    run(starlette, listener, access_log=False, lifespan="on", proxy_headers=False, server_header=False)
