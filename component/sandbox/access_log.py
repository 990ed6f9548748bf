"""The served sandbox's log: one line per request and one per injected fault, on stderr.

:class:`AccessLog` wraps the sandbox's ASGI app and logs ``METHOD /path STATUS 1.2 ms`` to
``component.sandbox.access`` (the path without its query string, which may carry a customer's
phone or email). A dropped connection is a fault the sandbox injects on purpose: it is logged as
one line, and :class:`QuietDrops` keeps the server from logging it again as a traceback. A request
whose client hung up before it was read is not answered at all; its line says ``disconnected``.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import DroppedConnection

log = logging.getLogger("component.sandbox.access")


class AccessLog:
    """ASGI middleware: one access line per HTTP request once it ends, dropped or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        outcome = "-"
        try:
            await self.app(scope, receive, sending)
            outcome = str(status[0]) if status else "disconnected"  # the only request left unanswered
        except DroppedConnection:
            outcome = "dropped"
            raise
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %s %.1f ms", scope.get("method", "-"), scope.get("path", "-"), outcome, ms)


class QuietDrops(logging.Filter):
    """Drops the server's traceback for a connection the sandbox dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DroppedConnection)


def serve_logging(quiet: bool) -> None:
    """Access and fault lines to stderr (none with ``quiet``); no traceback for a dropped connection."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    for name in ("component.sandbox.access", "component.sandbox.faults"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING if quiet else logging.INFO)
        logger.propagate = False
    logging.getLogger("uvicorn.error").addFilter(QuietDrops())
