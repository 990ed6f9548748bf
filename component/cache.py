"""Picklist results kept for a short time per connection, dropped when the resource is written.

Reopening a dropdown within ``ttl`` seconds costs no requests. Entries are keyed by connection,
data source and inputs, and filed under the data source's ``resource``; a write through an action
of that resource (see :meth:`PicklistCache.invalidate`) drops them. Concurrent opens of the same
dropdown share one load. A load that a write overtakes is returned to its caller but not kept, so
the cache never holds data older than the last write it saw.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any

from .policy import SYSTEM_CLOCK, Clock

DEFAULT_TTL = 60.0
ALL = "*"
Result = dict[str, Any]


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copy(value: Result, flat: bool = False) -> Result:
    """A copy the caller may change freely. Picklist entries are flat dicts of scalars, so one level
    of dict copies does (checked, unless ``flat`` says the entries were built so); else a deep copy."""
    entries = value.get("result")
    if isinstance(entries, list) and (
        flat
        or (
            set(map(type, entries)) <= {dict}
            and set(map(type, chain.from_iterable(map(dict.values, entries)))) <= _SCALARS
        )
    ):
        return {**value, "result": list(map(dict.copy, entries))}
    return copy.deepcopy(value)


@dataclass(frozen=True)
class CacheKey:
    connection: str  # Connection.key(): a digest, never the secret itself
    resource: str | None
    source: str  # connector.key of the data source
    inputs: str  # canonical JSON of the validated inputs


@dataclass
class _Entry:
    expires: float
    value: Result
    flat: bool


class PicklistCache:
    def __init__(self, ttl: float = DEFAULT_TTL, clock: Clock = SYSTEM_CLOCK, max_entries: int = 256) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[CacheKey, _Entry] = {}
        self._loading: dict[CacheKey, asyncio.Future[Result]] = {}
        self._generation: dict[tuple[str, str | None], int] = {}  # (connection, resource or ALL) -> writes

    def __len__(self) -> int:
        return len(self._entries)

    def _current(self, key: CacheKey) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self.clock.now():
            del self._entries[key]
            return None
        return entry

    def _generation_of(self, key: CacheKey) -> tuple[int, int]:
        """Writes seen so far that concern ``key``: to all of its connection's resources, to its own."""
        return (
            self._generation.get((key.connection, ALL), 0),
            self._generation.get((key.connection, key.resource), 0),
        )

    async def get_or_load(
        self, key: CacheKey, load: Callable[[], Awaitable[Result]], *, flat: bool = False
    ) -> Result:
        """The cached result for ``key`` (a copy), or ``load()``'s, kept for ``ttl`` seconds.

        ``flat``: ``load()`` builds entries that are flat dicts of scalars (a picklist's key and label),
        so copies need not check them.
        """
        if self.ttl <= 0:
            return await load()
        while True:
            cached = self._current(key)
            if cached is not None:
                return _copy(cached.value, cached.flat)
            pending = self._loading.get(key)
            if pending is None or pending.done():
                break
            try:
                return _copy(await asyncio.shield(pending), flat)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # the caller that was loading was cancelled, not this one: load it here instead
        generation = self._generation_of(key)
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()  # those waiting load it themselves; a cancellation is this caller's own
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiting callers re-raise it, nobody else must
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        kept = _copy(value, flat)  # the cache's own: ``value`` goes to this caller, who may change it
        future.set_result(kept)
        if self._generation_of(key) == generation:
            self._store(key, kept, flat)
        return value

    def _store(self, key: CacheKey, value: Result, flat: bool) -> None:
        now = self.clock.now()
        for old in [k for k, e in self._entries.items() if e.expires <= now]:
            del self._entries[old]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = _Entry(now + self.ttl, value, flat)

    def invalidate(self, connection: str, resources: Iterable[str | None]) -> int:
        """Drop ``connection``'s entries of ``resources`` (``"*"``: all of them); returns how many."""
        wanted = set(resources)
        everything = ALL in wanted
        for resource in {ALL} if everything else wanted:
            self._generation[(connection, resource)] = self._generation.get((connection, resource), 0) + 1
        dropped = [
            k for k in self._entries if k.connection == connection and (everything or k.resource in wanted)
        ]
        for key in dropped:
            del self._entries[key]
        return len(dropped)

    def clear(self) -> None:
        self._entries.clear()
