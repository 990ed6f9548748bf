"""A live builder service on 127.0.0.1 (a real uvicorn server on a thread), for tests that speak HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from component.service.routes import Service
from component.service.server import build


class LiveService:
    def __init__(self, url: str, service: Service) -> None:
        self.url = url
        self.service = service


@contextmanager
def live_service(state: Path, **options: Any) -> Iterator[LiveService]:
    """Serve the app on a free loopback port until the block ends."""
    options.setdefault("sandbox", True)
    options.setdefault("env", {})
    app, service = build(state=state, **options)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield LiveService(f"http://127.0.0.1:{port}", service)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()
