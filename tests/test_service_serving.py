"""How the service and the served sandbox listen and encode: the socket accepts before the address
is printed, uvicorn gets its C parser and loop where installed, and JSON bodies are encoded as the
CLI prints them (UTF-8 as it is, compact) with their headers redacted."""

from __future__ import annotations

import importlib.util
import json
import socket

import pytest

from component.errors import UsageError
from component.redact import Redactor
from component.service.listening import fast_options, listen
from component.service.output import JSONBody


def test_the_socket_accepts_a_connection_before_any_server_runs() -> None:
    listener = listen("127.0.0.1", 0)
    try:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # queued in the backlog: a client that reads the address at once is not refused
    finally:
        listener.close()


def test_a_port_in_use_is_a_usage_error_naming_it() -> None:
    taken = listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            listen("127.0.0.1", port).close()
    finally:
        taken.close()


def test_uvicorn_gets_the_c_parser_and_loop_where_installed() -> None:
    options = fast_options()
    assert ("http" in options) == (importlib.util.find_spec("httptools") is not None)
    assert ("loop" in options) == (importlib.util.find_spec("uvloop") is not None)


def test_a_json_body_is_compact_utf8_with_its_length_and_redacted_headers() -> None:
    redactor = Redactor()
    redactor.add("canary-secret-value-1")
    body = JSONBody(
        {"name": "Café ☕", "big": 10**30, "key": "canary-secret-value-1"},
        redactor,
        201,
        {"X-Note": "canary-secret-value-1"},
    )
    assert body.status_code == 201
    assert json.loads(body.body) == {"name": "Café ☕", "big": 10**30, "key": "***"}
    assert "Café ☕".encode() in body.body and b", " not in body.body
    headers = dict(body.raw_headers)
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == str(len(body.body)).encode()
    assert headers[b"x-note"] == b"***"
