"""Bounded responses: every body is read as it streams and counted after decompression; past the
connector's ``maxResponseBytes`` it is a ``response_too_large`` error and reading stops there.

The memory proof runs in a child process (``tests/bounded_child.py``) against a hostile server on
127.0.0.1: a 400 MB chunked body, a 400 KB gzip body inflating to 400 MiB, an endless chunked body
and a 300 MB ``Content-Length``, each under the default 32 MiB bound, with the peak resident set
(``VmHWM``) under 200 MB. Each case reads at most 32 MiB, so it takes a fraction of a second.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx2
import msgspec
import pytest

from component.errors import ResponseTooLargeError, UnexpectedBodyError
from component.models import HttpPolicy
from tests.bounded_child import with_limit
from tests.conftest import HB_API, HB_CONNECTION, ROOT, ST_CONNECTION, ST_TOKEN_URL, make_runtime

DEFAULT_BOUND = 32 * 1024 * 1024
PEAK_KB = 200_000  # 200 MB
LIMIT = 4096
PING = f"{HB_API}/ping"


def hb(runtime: Any, method: str = "GET", **inputs: Any) -> Any:
    return runtime.run_sync(
        "homebase360.rawRequest", {"method": method, "path": "/ping", **inputs}, HB_CONNECTION
    )


def json_of_size(size: int) -> bytes:
    """A JSON list of exactly ``size`` bytes."""
    body = b'["' + b"x" * (size - 4) + b'"]'
    assert len(body) == size
    return body


@pytest.fixture
def bounded(catalog, vendor, clock):
    """A runtime on the fake vendor with Homebase360's bound at 4,096 bytes."""
    return make_runtime(with_limit(catalog, LIMIT), vendor, clock, env={})


def test_every_connector_declares_its_bound_in_the_manifest(catalog):
    manifest = json.loads((ROOT / "manifest.json").read_text())
    for name, connector in manifest["connectors"].items():
        assert connector["http"]["maxResponseBytes"] == DEFAULT_BOUND, name
        assert catalog.connector(name).model.http.maxResponseBytes == DEFAULT_BOUND
    assert HttpPolicy().maxResponseBytes == DEFAULT_BOUND  # and the default for a connector that says none


def test_a_body_at_the_bound_is_read_and_one_byte_more_is_refused(bounded, vendor):
    vendor.route("GET", PING, httpx2.Response(200, content=json_of_size(LIMIT)))
    assert len(hb(bounded)["data"][0]) == LIMIT - 4

    vendor.route("GET", PING, httpx2.Response(200, content=json_of_size(LIMIT + 1)))
    with pytest.raises(ResponseTooLargeError) as caught:
        hb(bounded)

    error = caught.value.to_dict()["error"]
    assert error["type"] == "response_too_large"
    assert error["maxResponseBytes"] == LIMIT
    assert error["status"] == 200
    assert "4,096 bytes" in error["message"]
    assert caught.value.exit_code == 1  # a vendor failure, as the README's table says
    assert len(vendor.api_requests) == 2  # the same answer would come back: not asked again


def test_the_bound_counts_the_body_after_decompression(bounded, vendor):
    inflated = json_of_size(LIMIT * 50)
    compressed = gzip.compress(inflated)
    assert len(compressed) < LIMIT / 10
    vendor.route(
        "GET",
        PING,
        httpx2.Response(
            200, content=compressed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        ),
    )

    with pytest.raises(ResponseTooLargeError):
        hb(bounded)


def test_a_compressed_body_inside_the_bound_reads_as_usual(bounded, vendor):
    body = json_of_size(LIMIT - 100)
    vendor.route(
        "GET", PING, httpx2.Response(200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    )

    assert hb(bounded)["data"] == json.loads(body)


class Endless(httpx2.AsyncByteStream):
    """A body that never ends; counts the chunks read from it."""

    def __init__(self) -> None:
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.read += 1
            yield b"0" * 1024


def test_an_endless_body_is_read_only_up_to_the_bound(bounded, vendor):
    stream = Endless()
    vendor.route("GET", PING, lambda request: httpx2.Response(200, stream=stream))

    with pytest.raises(ResponseTooLargeError):
        hb(bounded)

    assert stream.read == LIMIT // 1024 + 1


def test_a_declared_length_past_the_bound_is_refused_before_reading(bounded, vendor):
    stream = Endless()
    vendor.route(
        "GET",
        PING,
        lambda request: httpx2.Response(200, stream=stream, headers={"Content-Length": "300000000"}),
    )

    with pytest.raises(ResponseTooLargeError):
        hb(bounded)

    assert stream.read == 0


@pytest.mark.parametrize(("status", "applied"), [(404, False), (503, True), (201, True)])
def test_an_oversized_answer_says_whether_the_vendor_may_have_acted(bounded, vendor, status, applied):
    vendor.route("POST", PING, httpx2.Response(status, content=json_of_size(LIMIT + 1)))

    with pytest.raises(ResponseTooLargeError) as caught:
        hb(bounded, "POST", json={})

    assert caught.value.to_dict()["error"]["maybeApplied"] is applied
    assert caught.value.status == status


def test_a_token_response_is_bounded_too(catalog, vendor, clock):
    connector = catalog.connector("servicetitan")
    http = msgspec.structs.replace(connector.model.http, maxResponseBytes=LIMIT)
    patched = replace(catalog, connectors=dict(catalog.connectors))
    patched.connectors["servicetitan"] = replace(
        connector, model=msgspec.structs.replace(connector.model, http=http)
    )
    runtime = make_runtime(patched, vendor, clock, env={})
    stream = Endless()
    vendor.route("POST", ST_TOKEN_URL, lambda request: httpx2.Response(200, stream=stream))

    with pytest.raises(ResponseTooLargeError) as caught:
        runtime.run_sync("servicetitan.listTechnicians", {}, ST_CONNECTION)

    assert not isinstance(caught.value, UnexpectedBodyError)
    assert "token request" in caught.value.message
    assert len(vendor.token_requests) == 1
    assert vendor.api_requests == []


def test_the_readme_lists_the_error_among_vendor_failures():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| 1 |"))
    assert "`response_too_large`" in row


@pytest.mark.parametrize("case", ["stream", "bomb", "endless", "declared"])
def test_a_hostile_body_is_refused_at_the_bound_with_memory_bounded(case):
    done = subprocess.run(
        [sys.executable, "-m", "tests.bounded_child", case],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["error"]["type"] == "response_too_large", out
    assert out["error"]["maxResponseBytes"] == DEFAULT_BOUND
    assert out["peakKb"] < PEAK_KB, out
    # what the read kept: the bound itself (and its copy when joined), not the 400 MB sent
    assert out["peakKb"] - out["baselineKb"] < 3 * DEFAULT_BOUND // 1024, out
