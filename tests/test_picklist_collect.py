"""Picklist pages folded into entries: de-duplication, the cap, and results callers may change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from component.cache import CacheKey, PicklistCache
from component.pagination import keep_unique, unique
from component.templates import picklist_entries
from tests.conftest import FakeClock

KEY = CacheKey("conn", "customers", "servicetitan.selectCustomers", "{}")


def test_unique_keeps_first_occurrences_as_entries_up_to_the_cap() -> None:
    items = [{"id": i % 4, "name": f"n{i}"} for i in range(8)] + [{"name": "no key"}, {"id": 9, "name": " "}]
    entries = picklist_entries("{id}", " {name} ")
    kept, truncated = unique(items, entries, 10)
    assert kept == [{"key": str(i), "label": f"n{i}"} for i in range(4)] + [{"key": "9", "label": "9"}]
    assert truncated is False
    kept, truncated = unique(items, entries, 3)
    assert [e["key"] for e in kept] == ["0", "1", "2"] and truncated is True
    by_id = keep_unique(lambda item: str(item.get("id", "")))
    kept, truncated = unique(items[:4], by_id, 4)  # exactly full: nothing was left
    assert kept == items[:4] and truncated is False
    kept, truncated = unique(items, by_id, 4)  # duplicates and key-less items are skipped, not left
    assert kept == items[:4] and truncated is True


def _result(n: int) -> dict[str, Any]:
    return {"result": [{"key": str(i), "label": f"Customer {i}"} for i in range(n)], "truncated": False}


@pytest.mark.parametrize("flat", [False, True])
def test_the_loading_caller_and_later_ones_may_change_their_result(flat: bool) -> None:
    cache = PicklistCache(60, FakeClock())

    async def main() -> None:
        first = await cache.get_or_load(KEY, lambda: asyncio.sleep(0, _result(3)), flat=flat)
        first["result"][0]["label"] = "changed"
        first["result"].pop()
        first["truncated"] = True
        again = await cache.get_or_load(KEY, lambda: asyncio.sleep(0, _result(0)), flat=flat)
        assert again == _result(3)
        again["result"][1]["key"] = "changed"
        assert await cache.get_or_load(KEY, lambda: asyncio.sleep(0, _result(0)), flat=flat) == _result(3)

    asyncio.run(main())


@pytest.mark.parametrize("flat", [False, True])
def test_callers_waiting_on_one_load_each_get_their_own_result(flat: bool) -> None:
    cache = PicklistCache(60, FakeClock())

    async def load() -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return _result(2)

    async def first_changes_its_result() -> dict[str, Any]:
        result = await cache.get_or_load(KEY, load, flat=flat)
        result["result"][0]["label"] = "changed"
        return result

    async def main() -> list[dict[str, Any]]:
        waiter = cache.get_or_load(KEY, load, flat=flat)
        return list(await asyncio.gather(first_changes_its_result(), waiter))

    changed, waiter = asyncio.run(main())
    assert changed["result"][0]["label"] == "changed"
    assert waiter == _result(2)


def test_results_holding_nested_values_are_copied_deeply() -> None:
    cache = PicklistCache(60, FakeClock())
    nested = {"result": [{"key": "1", "label": "a", "extra": {"x": [1]}}], "truncated": False}

    async def main() -> None:
        first = await cache.get_or_load(KEY, lambda: asyncio.sleep(0, nested))
        first["result"][0]["extra"]["x"].append(2)
        again = await cache.get_or_load(KEY, lambda: asyncio.sleep(0, nested))
        assert again["result"][0]["extra"] == {"x": [1]}

    asyncio.run(main())
