"""Pagination strategies: page number with ``hasMore``, cursor, none.

A strategy knows how to ask for the first page, how to ask for the next one from the last
response, where the items are, and how to fold every page back into one response. When a page
strategy learns the total from the first page, the pages after it are fetched a few at a time
concurrently (every send still waits for the rate budget) and handed on in page order.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from .errors import TransportError, VendorError
from .http import OutgoingRequest
from .models import CursorPagination, PagePagination
from .policy import Clock
from .templates import MISSING, Take, get_path, set_path

Paged = PagePagination | CursorPagination
Send = Callable[[OutgoingRequest], Awaitable[Any]]
Key = Callable[[Any], str]
_encode = msgspec.json.Encoder().encode
DEFAULT_MAX_ITEMS = 100_000  # an action's fetch-all cap when its definition sets no maxItems
DEFAULT_MAX_PAGES = 1_000  # a fetch-all's page cap when its definition sets no maxPages


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


class _Ahead:
    """Pages fetched ahead, ``concurrency`` at a time, over the page numbers the total announced."""

    def __init__(self, request: OutgoingRequest, send: Send) -> None:
        self.request = request
        self.send = send
        self.planned: range = range(0)
        self.fetched: dict[int, Any] = {}

    async def _fetch(self, query: dict[str, Any]) -> Any:
        return await self.send(replace(self.request, query=query))

    async def take(self, pagination: Paged, query: dict[str, Any]) -> Any:
        """The payload for ``query``: fetched ahead when planned, else sent now."""
        if not isinstance(pagination, PagePagination):
            return await self._fetch(query)
        number = int(query[pagination.pageParam])
        if number in self.fetched:
            return self.fetched.pop(number)
        if number not in self.planned:
            return await self._fetch(query)
        numbers = [n for n in self.planned[self.planned.index(number) :][: pagination.concurrency]]
        first = number == pagination.firstPage  # the first page keeps its ask for the total
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {
                    n: group.create_task(
                        self._fetch(query if first and n == number else page_query(pagination, query, n))
                    )
                    for n in numbers
                }
        except ExceptionGroup as failed:  # one page's error is the error, as it is for one request
            raise failed.exceptions[0] from None
        self.fetched = {n: task.result() for n, task in tasks.items()}
        return self.fetched.pop(number)


async def pages(
    pagination: Paged,
    request: OutgoingRequest,
    send: Send,
    vendor: str,
    bounds: Bounds | None = None,
    at_once: int = 1,
) -> AsyncIterator[tuple[Any, list[Any]]]:
    """Yield ``(payload, items)`` for each page, in order.

    A cursor seen before, or a page repeating the items of any earlier page, is a vendor error
    rather than a loop; with ``bounds`` no page is asked for once the deadline has passed. Once the first
    page reports the total, later pages are fetched ``concurrency`` at a time (at most that many
    are fetched beyond the page where the consumer stops). ``at_once`` pages are asked for together
    from the start, when the caller knows it needs that many (a picklist's cap over the page size).
    """
    query: dict[str, Any] | None = first_query(pagination, request.query)
    ahead = _Ahead(request, send)
    if isinstance(pagination, PagePagination) and at_once > 1:
        ahead.planned = range(pagination.firstPage, pagination.firstPage + at_once)
    cursors: set[str] = set()
    seen: dict[tuple[Any, ...], int] = {}  # page fingerprint -> the page number it was first seen on
    count = 0
    while query is not None:
        if bounds is not None and count and bounds.clock.now() >= bounds.deadline:
            raise TransportError(
                f"{vendor} kept announcing more pages: stopped after {count} pages at the deadline; "
                "narrow the query or set maxItems",
                vendor=vendor,
                maybe_applied=request.method.upper() != "GET",
            )
        payload = await ahead.take(pagination, query)
        count += 1
        items = items_of(pagination, payload)
        yield payload, items
        if count == 1:
            ahead.planned = planned_pages(pagination, query, payload) or ahead.planned
        query = next_query(pagination, query, payload, vendor)
        if query is not None and items:
            earlier = seen.setdefault(_fingerprint(items), count)
            if earlier != count:
                raise VendorError(
                    f"{vendor} answered page {count} with the same items as page {earlier}",
                    status=502,
                    vendor=vendor,
                    maybe_applied=request.method.upper() != "GET",
                )
        if isinstance(pagination, CursorPagination) and query is not None:
            cursor = str(query[pagination.cursorParam])
            if cursor in cursors:
                raise VendorError(f"pagination cursor {cursor!r} came back again", status=502, vendor=vendor)
            cursors.add(cursor)


def _fingerprint(items: list[Any]) -> tuple[Any, ...]:
    """What tells pages apart: their length and their first, middle and last items.

    Encoding three items costs microseconds where a whole 5,000-item page costs milliseconds; two
    pages alike in all four hold the same records in the same places, which no vendor paging
    correctly sends twice.
    """
    picked = (items[0], items[len(items) // 2], items[-1])
    try:
        return (len(items), *map(_encode, picked))
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):  # not JSON: compare the text
        return (len(items), *map(repr, picked))


async def collect(
    pagination: Paged,
    request: OutgoingRequest,
    send: Send,
    vendor: str,
    limit: int | None = None,
    bounds: Bounds | None = None,
    on_page: Callable[[int, int], None] | None = None,
    eager: bool = False,
    take: Take | None = None,
) -> tuple[Any, list[Any], bool]:
    """Every item up to ``limit``, from at most ``maxPages`` pages (default :data:`DEFAULT_MAX_PAGES`);
    returns ``(first payload, items, truncated)``. ``truncated`` is true when either bound stopped
    the walk while the vendor still announced more.

    ``eager`` (a picklist, whose cap it will most likely fill) asks for the fewest pages that can
    hold ``limit`` items all at once, instead of learning the total from the first page.

    With ``take``, items are de-duplicated by key (first occurrence kept, empty keys skipped),
    ``limit`` counts unique keys, and ``take`` chooses what is kept of each item: the items
    themselves (:func:`keep_unique`) or a picklist's entries (:func:`templates.picklist_entries`).
    ``on_page(pages, items)`` is called after each page, for progress output.
    """
    first: Any = MISSING
    collector = _Collector(limit, take)
    count = 0
    max_pages = pagination.maxPages or DEFAULT_MAX_PAGES
    at_once = 1
    if eager and isinstance(pagination, PagePagination) and limit:
        at_once = min(pagination.concurrency, -(-limit // pagination.pageSize))  # the fewest pages, at once
    async for payload, page_items in pages(pagination, request, send, vendor, bounds, at_once):
        if first is MISSING:
            first = payload
        full = collector.add(page_items)
        count += 1
        if on_page is not None:
            on_page(count, len(collector.items))
        if full:
            return first, collector.items, collector.truncated or has_more(pagination, payload)
        if count >= max_pages:
            return first, collector.items, has_more(pagination, payload)
    return (None if first is MISSING else first), collector.items, False


def keep_unique(key: Key) -> Take:
    """A :data:`Take` keeping the items themselves, de-duplicated by ``key``."""

    def take(page: list[Any], seen: set[str], kept: list[Any], room: int) -> bool:
        for item in page:
            found = key(item)
            if not found or found in seen:
                continue
            if len(kept) >= room:
                return True
            seen.add(found)
            kept.append(item)
        return False

    return take


class _Collector:
    """Items in page order, as ``take`` keeps them when given (unique ones), up to ``limit``."""

    def __init__(self, limit: int | None, take: Take | None) -> None:
        self.limit = limit
        self.take = take
        self.items: list[Any] = []
        self.seen: set[str] = set()
        self.truncated = False

    def add(self, page_items: list[Any]) -> bool:
        """Take a page; True once the limit is reached (``truncated`` says whether more were left)."""
        items, limit = self.items, self.limit
        if self.take is None:
            room = len(page_items) if limit is None else max(0, limit - len(items))
            items += page_items[:room]
            self.truncated = self.truncated or len(page_items) > room
        else:
            room = limit if limit is not None else len(items) + len(page_items)
            self.truncated = self.take(page_items, self.seen, items, room) or self.truncated
        return self.truncated or (limit is not None and len(items) >= limit)


def unique(items: list[Any], take: Take, limit: int) -> tuple[list[Any], bool]:
    """What ``take`` keeps of ``items`` (new, non-empty keys), at most ``limit``; and whether more
    were left."""
    collector = _Collector(limit, take)
    collector.add(items)
    return collector.items, collector.truncated


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
