"""A long-running server's socket and uvicorn start-up, shared by ``component serve`` and
``component sandbox serve``.

:func:`listen` binds and listens before the caller prints its address, so a client that connects
the moment it reads the address waits in the backlog instead of being refused. :func:`run` serves an
ASGI app on that socket with uvicorn's C parser and event loop where installed, after setting the
loaded objects aside from the garbage collector.
"""

from __future__ import annotations

import gc
import importlib.util
import socket
from typing import Any

from ..errors import UsageError

BACKLOG = 2048  # uvicorn's own default


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: a free port); a clear error when it cannot."""
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it every response waits ~40 ms for a delayed ACK (Nagle) on loopback.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
        listener.listen(BACKLOG)
    except OSError as exc:
        listener.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener


def fast_options() -> dict[str, str]:
    """uvicorn's HTTP parser and event loop in C (httptools, uvloop) where they are installed, its
    pure-Python ones otherwise (uvloop has no Windows build)."""
    options = {}
    if importlib.util.find_spec("httptools") is not None:
        options["http"] = "httptools"
    if importlib.util.find_spec("uvloop") is not None:
        options["loop"] = "uvloop"
    return options


def settled() -> None:
    """Everything loaded so far (the catalog, the definition models, the imports) is set aside from
    the garbage collector: it lives as long as the process, and no collection walks it again while
    requests are served."""
    gc.collect()
    gc.freeze()


def run(app: Any, listener: socket.socket, **config: Any) -> None:
    """Serve ``app`` on ``listener`` until interrupted (uvicorn's graceful stop, then its signal)."""
    import uvicorn

    options = {"log_level": "warning", "backlog": BACKLOG, **fast_options(), **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    settled()
    server.run(sockets=[listener])
