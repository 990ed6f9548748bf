"""Reading a response body within a size bound, counted after decompression, while it streams.

A vendor (or whatever answers in its place) may send a body far larger than any real answer: a huge
one, a small gzip body that inflates to hundreds of megabytes, or a chunked one that never ends.
httpx2 inflates in bounded pieces; here the pieces are counted as they come and reading stops at the
connector's ``maxResponseBytes``, so memory never holds more than that.
"""

from __future__ import annotations

import contextlib

import httpx2

from .errors import ResponseTooLargeError

_IDENTITY = frozenset({b"", b"identity"})


def size_text(size: int) -> str:
    """``33554432`` as ``33,554,432 bytes (32 MiB)``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size:,} bytes ({size / scale:.3g} {unit})"
    return f"{size:,} bytes"


async def read_bounded(response: httpx2.Response, limit: int, *, vendor: str, what: str) -> bytes:
    """Read the body of ``response`` (sent with ``stream=True``) into it, at most ``limit`` bytes.

    Afterwards ``response.content``, ``.text`` and ``.json()`` work as for any read response. A
    body past ``limit`` (decompressed) raises :class:`ResponseTooLargeError` naming ``what`` (the
    request) once ``limit`` bytes have been read, or at once when an uncompressed body declares a
    larger ``Content-Length``; the connection is closed either way.
    """
    try:
        encoding, declared = _declared(response.headers.raw)
        if encoding in _IDENTITY and declared.isdigit() and int(declared) > limit:
            raise _too_large(response, limit, vendor, what)
        # A body the transport handed over whole (an in-process one) is in memory, decompressed,
        # already: httpx2's own ``aread`` reads it no further, and neither does this.
        held: bytes | None = getattr(response, "_content", None)
        if held is not None:
            if len(held) > limit:
                raise _too_large(response, limit, vendor, what)
            return held
        chunks: list[bytes] = []
        size = 0
        async with contextlib.aclosing(response.aiter_bytes()) as parts:
            async for chunk in parts:
                size += len(chunk)
                if size > limit:
                    raise _too_large(response, limit, vendor, what)
                chunks.append(chunk)
    finally:
        await response.aclose()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    # What httpx2's own ``aread`` stores: the response now reads as if it had not been streamed.
    response._content = body
    return body


def _declared(raw: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    """The body's ``Content-Encoding`` (lower case) and ``Content-Length``, as the headers give them
    (each repeated header's values joined, as ``Headers.get`` joins them); one pass over the headers."""
    encodings, lengths = [], []
    for name, value in raw:
        lower = name.lower()
        if lower == b"content-encoding":
            encodings.append(value)
        elif lower == b"content-length":
            lengths.append(value)
    return b", ".join(encodings).strip().lower(), b", ".join(lengths).strip()


def _too_large(response: httpx2.Response, limit: int, vendor: str, what: str) -> ResponseTooLargeError:
    status = response.status_code
    error = ResponseTooLargeError(
        f"{what}: {vendor} answered {status} with a body larger than {size_text(limit)} (the "
        f"connector's maxResponseBytes, counted after decompression); reading stopped there",
        status=status,
        vendor=vendor,
        # a success or a 5xx may come after the vendor did the work; a 4xx says it did not
        maybe_applied=not 400 <= status < 500,
    )
    error.details["maxResponseBytes"] = limit
    return error
