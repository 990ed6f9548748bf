"""A process that asks a hostile local server for one huge answer and reports its peak memory.

The server (a thread in this process, on 127.0.0.1) sends each body lazily, so what this process
holds at its peak is what the client kept:

* ``stream``: a 400 MB chunked body (no ``Content-Length``);
* ``bomb``: 400 KB of gzip that inflates to 400 MiB (the ``Content-Encoding`` is honoured);
* ``endless``: a chunked body that never ends;
* ``declared``: a body announcing ``Content-Length`` of 300 MB;
* ``small``: an ordinary JSON answer, for the baseline.

    python -m tests.bounded_child CASE [MAX_RESPONSE_BYTES]

prints ``{"case", "result" | "error", "baselineKb", "peakKb", "seconds"}`` as JSON.
"""

from __future__ import annotations

import json
import struct
import sys
import threading
import time
import zlib
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

MIB = 1 << 20
CHUNK = 64 * 1024
STREAM_BYTES = 400 * 1000 * 1000
BOMB_BYTES = 400 * MIB


def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    """A valid gzip member of ``size`` bytes of ``"0"`` in about a thousandth of that.

    Each MiB is deflated after a full flush, so every block is the same bytes: built in milliseconds
    where compressing 400 MiB takes seconds.
    """
    block = b"0" * MIB
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // MIB):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = deflate.flush(zlib.Z_FINISH) + struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + piece * (size // MIB) + trailer


class Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bomb = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _chunks(self, chunks: Any) -> None:
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped reading and closed the connection
            self.close_connection = True

    def do_GET(self) -> None:
        case = self.path.rsplit("/", 1)[-1]
        self.send_response(200)
        filler = b"[" + b"0," * (CHUNK // 2 - 1) + b"0"
        if case == "stream":
            self._chunks(filler for _ in range(STREAM_BYTES // len(filler)))
        elif case == "endless":
            self._chunks(filler for _ in iter(int, 1))
        elif case == "bomb":
            self.send_header("Content-Encoding", "gzip")
            self._chunks(self.bomb[i : i + CHUNK] for i in range(0, len(self.bomb), CHUNK))
        elif case == "declared":
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(300 * 1000 * 1000))
            self.end_headers()
            try:
                for _ in range(300 * 1000 * 1000 // CHUNK):
                    self.wfile.write(b" " * CHUNK)
            except OSError:
                self.close_connection = True
        else:
            body = json.dumps({"ok": True}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


class Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a body it refused


def with_limit(catalog: Any, limit: int) -> Any:
    """``catalog`` with Homebase360's ``maxResponseBytes`` set to ``limit``."""
    connector = catalog.connector("homebase360")
    http = msgspec.structs.replace(connector.model.http, maxResponseBytes=limit)
    patched = replace(catalog, connectors=dict(catalog.connectors))
    patched.connectors["homebase360"] = replace(
        connector, model=msgspec.structs.replace(connector.model, http=http)
    )
    return patched


def rss_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def main(case: str, limit: str | None = None) -> None:
    from component import catalog as catalog_module
    from component.auth import TokenCache
    from component.errors import ComponentError
    from component.policy import BudgetRegistry
    from component.runtime import Runtime

    Hostile.bomb = gzip_bomb() if case == "bomb" else b""
    server = Quiet(("127.0.0.1", 0), Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    catalog = catalog_module.load()
    if limit is not None:  # another bound for this run
        catalog = with_limit(catalog, int(limit))
    runtime = Runtime(catalog, tokens=TokenCache(), budgets=BudgetRegistry())
    connection = {"apiKey": "bounded-child-key", "baseUrl": f"http://127.0.0.1:{server.server_address[1]}"}
    inputs = {"method": "GET", "path": f"/{case}"}
    runtime.run_sync("homebase360.rawRequest", {"method": "GET", "path": "/small"}, connection)
    baseline = rss_kb("VmHWM")
    started = time.perf_counter()
    out: dict[str, Any] = {"case": case}
    try:
        result = runtime.run_sync("homebase360.rawRequest", inputs, connection)
        out["result"] = {"type": type(result["data"]).__name__}
    except ComponentError as error:
        out["error"] = error.to_dict()["error"]
    out.update(baselineKb=baseline, peakKb=rss_kb("VmHWM"), seconds=round(time.perf_counter() - started, 2))
    print(json.dumps(out))
    server.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
