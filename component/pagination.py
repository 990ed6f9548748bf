"""Pagination strategies: page number with ``hasMore``, cursor, none.

A strategy knows how to ask for the first page, how to ask for the next one from the last
response, where the items are, and how to fold every page back into one response.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from .errors import TransportError, VendorError
from .http import OutgoingRequest
from .models import CursorPagination, PagePagination
from .policy import Clock
from .templates import MISSING, get_path, set_path

Paged = PagePagination | CursorPagination
Send = Callable[[OutgoingRequest], Awaitable[Any]]
DEFAULT_MAX_ITEMS = 100_000  # an action's fetch-all cap when its definition sets no maxItems


@dataclass(frozen=True)
class Bounds:
    """What stops a walk over pages whose vendor always says there is more: a clock and a deadline."""

    clock: Clock
    deadline: float  # on ``clock.now()``


def items_of(pagination: Paged, payload: Any) -> list[Any]:
    found = get_path(payload, pagination.items)
    return found if isinstance(found, list) else []


def first_query(pagination: Paged, query: dict[str, Any]) -> dict[str, Any]:
    if isinstance(pagination, PagePagination):
        return {
            **query,
            pagination.pageParam: pagination.firstPage,
            pagination.sizeParam: pagination.pageSize,
        }
    return {**query, pagination.limitParam: pagination.limit}


def has_more(pagination: Paged, payload: Any) -> bool:
    """Whether the vendor says another page follows ``payload``."""
    if isinstance(pagination, PagePagination):
        return get_path(payload, pagination.hasMore, False) is True and bool(items_of(pagination, payload))
    cursor = get_path(payload, pagination.nextCursor, None)
    more = True if pagination.hasMore is None else get_path(payload, pagination.hasMore, False) is True
    return more and bool(cursor)


def next_query(pagination: Paged, query: dict[str, Any], payload: Any, vendor: str) -> dict[str, Any] | None:
    """The query of the page after ``payload``, or None at the end."""
    if not has_more(pagination, payload):
        return None
    if isinstance(pagination, PagePagination):
        return {**query, pagination.pageParam: int(query[pagination.pageParam]) + 1}
    cursor = get_path(payload, pagination.nextCursor)
    if cursor == query.get(pagination.cursorParam):
        raise VendorError(f"pagination cursor {cursor!r} did not advance", status=502, vendor=vendor)
    return {**query, pagination.cursorParam: cursor}


async def pages(
    pagination: Paged, request: OutgoingRequest, send: Send, vendor: str, bounds: Bounds | None = None
) -> AsyncIterator[tuple[Any, list[Any]]]:
    """Yield ``(payload, items)`` for each page, in order.

    A cursor seen before, or a page repeating the previous page's items, is a vendor error rather
    than a loop; with ``bounds`` no page is asked for once the deadline has passed.
    """
    query: dict[str, Any] | None = first_query(pagination, request.query)
    cursors: set[str] = set()
    previous: list[Any] | None = None
    count = 0
    while query is not None:
        if bounds is not None and count and bounds.clock.now() >= bounds.deadline:
            raise TransportError(
                f"{vendor} kept announcing more pages: stopped after {count} pages at the deadline; "
                "narrow the query or set maxItems",
                vendor=vendor,
                maybe_applied=request.method.upper() != "GET",
            )
        payload = await send(replace(request, query=query))
        count += 1
        items = items_of(pagination, payload)
        yield payload, items
        query = next_query(pagination, query, payload, vendor)
        if query is not None and items and items == previous:
            raise VendorError(
                f"{vendor} answered page {count} with the same items as page {count - 1}",
                status=502,
                vendor=vendor,
            )
        previous = items
        if isinstance(pagination, CursorPagination) and query is not None:
            cursor = str(query[pagination.cursorParam])
            if cursor in cursors:
                raise VendorError(f"pagination cursor {cursor!r} came back again", status=502, vendor=vendor)
            cursors.add(cursor)


async def collect(
    pagination: Paged,
    request: OutgoingRequest,
    send: Send,
    vendor: str,
    limit: int | None = None,
    bounds: Bounds | None = None,
    on_page: Callable[[int, int], None] | None = None,
) -> tuple[Any, list[Any], bool]:
    """Every item up to ``limit``; returns ``(first payload, items, truncated)``.

    ``on_page(pages, items)`` is called after each page, for progress output.
    """
    first: Any = MISSING
    items: list[Any] = []
    truncated = False
    count = 0
    async for payload, page_items in pages(pagination, request, send, vendor, bounds):
        if first is MISSING:
            first = payload
        items.extend(page_items)
        count += 1
        if on_page is not None:
            on_page(count, min(len(items), limit) if limit is not None else len(items))
        if limit is not None and len(items) >= limit:
            truncated = len(items) > limit or has_more(pagination, payload)
            items = items[:limit]
            break
    return (None if first is MISSING else first), items, truncated


def merged(pagination: Paged, first: Any, items: list[Any], truncated: bool = False) -> Any:
    """The first page's response with every item in it, marked as the last page unless ``truncated``."""
    if not isinstance(first, dict):
        return items
    out = copy.deepcopy(first)
    set_path(out, pagination.items, items)
    if truncated:  # stopped at the cap: the vendor's "more" flag stays true
        if pagination.hasMore and get_path(out, pagination.hasMore) is not MISSING:
            set_path(out, pagination.hasMore, True)
        return out
    if pagination.hasMore and get_path(out, pagination.hasMore) is not MISSING:
        set_path(out, pagination.hasMore, False)
    if isinstance(pagination, PagePagination) and pagination.total:
        set_path(out, pagination.total, len(items))
    if isinstance(pagination, CursorPagination) and get_path(out, pagination.nextCursor) is not MISSING:
        set_path(out, pagination.nextCursor, None)
    return out
