"""Pagination strategies: page number with ``hasMore``, cursor, none.

A strategy knows how to ask for the first page, how to ask for the next one from the last
response, where the items are, and how to fold every page back into one response.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from .errors import VendorError
from .http import OutgoingRequest
from .models import CursorPagination, PagePagination
from .templates import MISSING, get_path, set_path

Paged = PagePagination | CursorPagination
Send = Callable[[OutgoingRequest], Awaitable[Any]]
Key = Callable[[Any], str]


def items_of(pagination: Paged, payload: Any) -> list[Any]:
    found = get_path(payload, pagination.items)
    return found if isinstance(found, list) else []


def first_query(pagination: Paged, query: dict[str, Any]) -> dict[str, Any]:
    if isinstance(pagination, PagePagination):
        first = {
            **query,
            pagination.pageParam: pagination.firstPage,
            pagination.sizeParam: pagination.pageSize,
        }
        if pagination.totalParam:
            first[pagination.totalParam] = True
        return first
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
        return page_query(pagination, query, int(query[pagination.pageParam]) + 1)
    cursor = get_path(payload, pagination.nextCursor)
    if cursor == query.get(pagination.cursorParam):
        raise VendorError(f"pagination cursor {cursor!r} did not advance", status=502, vendor=vendor)
    return {**query, pagination.cursorParam: cursor}


async def pages(
    pagination: Paged, request: OutgoingRequest, send: Send, vendor: str
) -> AsyncIterator[tuple[Any, list[Any]]]:
    """Yield ``(payload, items)`` for each page, one after the other, in order."""
    query: dict[str, Any] | None = first_query(pagination, request.query)
    while query is not None:
        payload = await send(replace(request, query=query))
        yield payload, items_of(pagination, payload)
        query = next_query(pagination, query, payload, vendor)


def page_query(pagination: PagePagination, query: dict[str, Any], number: int) -> dict[str, Any]:
    """The query of page ``number``: the first page's, without the ask for a total."""
    later = {**query, pagination.pageParam: number}
    if pagination.totalParam:
        later.pop(pagination.totalParam, None)
    return later


def planned_pages(pagination: Paged, query: dict[str, Any], payload: Any) -> range:
    """The page numbers after the first when the first page reports the total, else an empty range."""
    if (
        not isinstance(pagination, PagePagination)
        or not pagination.total
        or not has_more(pagination, payload)
    ):
        return range(0)
    total = get_path(payload, pagination.total, None)
    size = query[pagination.sizeParam]
    if isinstance(total, bool) or not isinstance(total, int) or not isinstance(size, int) or size < 1:
        return range(0)
    first = int(query[pagination.pageParam])
    return range(first + 1, first + -(-total // size))


class _Collector:
    """Items in page order, de-duplicated by ``key`` when given, up to ``limit`` unique items."""

    def __init__(
        self, limit: int | None, key: Key | None, on_page: Callable[[int, int], None] | None = None
    ) -> None:
        self.limit = limit
        self.key = key
        self.on_page = on_page
        self.pages = 0
        self.items: list[Any] = []
        self.seen: set[str] = set()
        self.truncated = False

    def _is_new(self, item: Any) -> bool:
        if self.key is None:
            return True
        found = self.key(item)
        return bool(found) and found not in self.seen

    def add(self, page_items: list[Any]) -> bool:
        """Take a page; True once the limit is reached (``truncated`` says whether more were left)."""
        for item in page_items:
            if not self._is_new(item):
                continue
            if self.limit is not None and len(self.items) >= self.limit:
                self.truncated = True
                return True
            if self.key is not None:
                self.seen.add(self.key(item))
            self.items.append(item)
        return self.limit is not None and len(self.items) >= self.limit

    def page(self, page_items: list[Any]) -> bool:
        """Take one page as :meth:`add` does, and report progress."""
        done = self.add(page_items)
        self.pages += 1
        if self.on_page is not None:
            self.on_page(self.pages, len(self.items))
        return done


def unique(items: list[Any], key: Key, limit: int) -> tuple[list[Any], bool]:
    """Items with a new, non-empty key, at most ``limit``; and whether more were left."""
    collector = _Collector(limit, key)
    collector.add(items)
    return collector.items, collector.truncated


async def collect(
    pagination: Paged,
    request: OutgoingRequest,
    send: Send,
    vendor: str,
    limit: int | None = None,
    on_page: Callable[[int, int], None] | None = None,
    key: Key | None = None,
) -> tuple[Any, list[Any], bool]:
    """Every item up to ``limit``; returns ``(first payload, items, truncated)``.

    With ``key``, items are de-duplicated and ``limit`` counts unique keys (empty keys are skipped).
    When the first page reports the total, the remaining pages are fetched ``concurrency`` at a
    time (each send still waits for the rate budget) and taken in page order, so the result is the
    same as fetching one page after the other; paging then continues one by one if more appeared.
    ``on_page(pages, items)`` is called after each page taken, for progress output.
    """
    collector = _Collector(limit, key, on_page)
    query: dict[str, Any] = first_query(pagination, request.query)
    first = payload = await send(replace(request, query=query))
    if collector.page(items_of(pagination, payload)):
        return first, collector.items, collector.truncated or has_more(pagination, payload)
    planned = planned_pages(pagination, query, payload)

    async def fetch(page_query: dict[str, Any]) -> Any:
        return await send(replace(request, query=page_query))

    if isinstance(pagination, PagePagination):
        for start in range(0, len(planned), pagination.concurrency):
            numbers = planned[start : start + pagination.concurrency]
            window = [page_query(pagination, query, number) for number in numbers]
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(fetch(page_query)) for page_query in window]
            for task in tasks:
                payload = task.result()
                if collector.page(items_of(pagination, payload)):
                    return first, collector.items, collector.truncated or has_more(pagination, payload)
                if not has_more(pagination, payload):
                    return first, collector.items, False
            query = window[-1]
    next_page = next_query(pagination, query, payload, vendor)
    while next_page is not None:
        query = next_page
        payload = await send(replace(request, query=query))
        if collector.page(items_of(pagination, payload)):
            return first, collector.items, collector.truncated or has_more(pagination, payload)
        next_page = next_query(pagination, query, payload, vendor)
    return first, collector.items, False


def merged(pagination: Paged, first: Any, items: list[Any]) -> Any:
    """The first page's response with every item in it, marked as the last page."""
    if not isinstance(first, dict):
        return items
    out = copy.deepcopy(first)
    set_path(out, pagination.items, items)
    if pagination.hasMore and get_path(out, pagination.hasMore) is not MISSING:
        set_path(out, pagination.hasMore, False)
    if isinstance(pagination, PagePagination) and pagination.total:
        set_path(out, pagination.total, len(items))
    if isinstance(pagination, CursorPagination) and get_path(out, pagination.nextCursor) is not MISSING:
        set_path(out, pagination.nextCursor, None)
    return out
