"""Servicebay picklists: labels, caching per connection, invalidation by writes, budget waits shown."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from component.cache import CacheKey, PicklistCache
from component.catalog import Catalog
from component.cli import cli
from component.render import ProgressLine
from component.runtime import Runtime
from tests.conftest import SB_API, SB_CONNECTION, SB_KEY, FakeClock, FakeVendor, make_runtime

ORG = f"{SB_API}/organisations/{SB_CONNECTION['orgId']}"


def paged(key: str, records: list[dict[str, Any]], size: int = 100) -> Any:
    """A responder serving ``records`` under ``data.<key>`` with Servicebay's cursor pagination."""

    def respond(request: httpx2.Request) -> httpx2.Response:
        limit = int(request.url.params.get("limit", 50))
        after = request.url.params.get("startAfter")
        start = next(i + 1 for i, r in enumerate(records) if r["id"] == after) if after else 0
        page = records[start : start + min(limit, size)]
        more = start + len(page) < len(records)
        data = {
            key: page,
            "pagination": {"limit": limit, "hasMore": more, "nextCursor": page[-1]["id"] if more else None},
        }
        return httpx2.Response(200, json={"success": True, "data": data})

    return respond


CUSTOMERS = [
    {"id": f"c{n:05d}", "firstName": "Ann", "lastName": f"Lee{n}", "email": f"ann{n}@example.com"}
    for n in range(250)
]


@pytest.fixture
def customers(vendor: FakeVendor) -> FakeVendor:
    vendor.route("GET", f"{ORG}/customers", paged("customers", CUSTOMERS))
    vendor.route(
        "POST", f"{ORG}/customers", httpx2.Response(201, json={"success": True, "data": {"id": "new"}})
    )
    return vendor


@pytest.mark.parametrize(
    ("key", "path", "list_key", "record", "label"),
    [
        (
            "selectCustomer",
            "customers",
            "customers",
            {"id": "c1", "firstName": "Jane", "lastName": "Doe", "email": "j@d.co"},
            "Jane Doe (j@d.co)",
        ),
        (
            "selectJob",
            "tickets",
            "tickets",
            {"id": "t1", "customerName": "Jane Doe", "serviceTime": "2026-12-10T14:00:00Z", "status": "Open"},
            "Jane Doe — 2026-12-10T14:00:00Z (Open)",
        ),
        (
            "selectService",
            "services",
            "services",
            {"id": "s1", "title": "Flush", "priceType": "fixed", "price": 149},
            "Flush (fixed, 149)",
        ),
        (
            "selectInventoryItem",
            "inventory",
            "items",
            {"id": "i1", "itemName": "Valve", "sku": "V-1"},
            "Valve (SKU V-1)",
        ),
        (
            "selectQuote",
            "quotes",
            "quotes",
            {"id": "q1", "index": 7, "customerName": "Jane Doe", "totalPrice": 2160},
            "Quote #7 — Jane Doe — 2160",
        ),
        (
            "selectInvoice",
            "invoices",
            "invoices",
            {"id": "v1", "index": 3, "customerName": "Jane Doe", "totalPrice": 109.5},
            "Invoice #3 — Jane Doe — 109.5",
        ),
        (
            "selectCalendarEvent",
            "calendar-events",
            "events",
            {"id": "e1", "title": "Meeting", "startTime": "2026-12-10T08:00:00Z"},
            "Meeting — 2026-12-10T08:00:00Z",
        ),
    ],
)
def test_picklist_labels(
    runtime: Runtime,
    vendor: FakeVendor,
    key: str,
    path: str,
    list_key: str,
    record: dict[str, Any],
    label: str,
) -> None:
    vendor.route("GET", f"{ORG}/{path}", paged(list_key, [record]))
    result = runtime.picklist_sync(f"servicebay.{key}", {}, SB_CONNECTION)
    assert result == {"result": [{"key": record["id"], "label": label}], "truncated": False}


def test_picklist_pages_up_to_the_cap_and_says_truncated(
    runtime: Runtime, vendor: FakeVendor, catalog: Catalog
) -> None:
    records = [{"id": f"c{n:05d}", "firstName": "A", "lastName": str(n), "email": "e"} for n in range(10_050)]
    vendor.route("GET", f"{ORG}/customers", paged("customers", records))
    result = runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(result["result"]) == 10_000 and result["truncated"] is True
    assert len(vendor.requests) == 100  # 100 pages of 100, nothing more


def test_reopening_a_dropdown_costs_no_requests(runtime: Runtime, customers: FakeVendor) -> None:
    first = runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(customers.requests) == 3
    first["result"].clear()  # callers get copies: changing one does not change the cache
    again = runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(customers.requests) == 3
    assert len(again["result"]) == 250 and again["result"][0] == {
        "key": "c00000",
        "label": "Ann Lee0 (ann0@example.com)",
    }


def test_cache_is_per_connection_and_inputs(runtime: Runtime, customers: FakeVendor) -> None:
    customers.route("GET", f"{SB_API}/organisations/org-2/customers", paged("customers", CUSTOMERS))
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    runtime.picklist_sync("servicebay.selectCustomer", {"search": "Lee"}, SB_CONNECTION)
    runtime.picklist_sync("servicebay.selectCustomer", {}, {**SB_CONNECTION, "orgId": "org-2"})
    assert len(customers.requests) == 3 * 3
    runtime.picklist_sync("servicebay.selectCustomer", {"search": "Lee"}, SB_CONNECTION)
    assert len(customers.requests) == 9


def test_cache_expires(runtime: Runtime, customers: FakeVendor, clock: FakeClock) -> None:
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    clock.t += runtime.picklist_cache.ttl - 1
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(customers.requests) == 3
    clock.t += 2
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(customers.requests) == 6


def test_ttl_is_configurable_and_zero_turns_it_off(
    catalog: Catalog, customers: FakeVendor, clock: FakeClock
) -> None:
    runtime = make_runtime(catalog, customers, clock, env={})
    assert runtime.picklist_cache.ttl == 60
    off = Runtime(
        catalog, transport=runtime.transport, clock=clock, budgets=runtime.budgets, env={}, picklist_ttl=0
    )
    off.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    off.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(customers.requests) == 6


def test_a_write_to_the_resource_drops_its_cache(
    runtime: Runtime, customers: FakeVendor, vendor: FakeVendor
) -> None:
    vendor.route("GET", f"{ORG}/services", paged("services", [{"id": "s1", "title": "Flush"}]))
    vendor.route("GET", f"{ORG}/customers/c00001", httpx2.Response(200, json={"success": True, "data": {}}))
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    runtime.picklist_sync("servicebay.selectService", {}, SB_CONNECTION)
    assert len(vendor.requests) == 4
    runtime.run_sync("servicebay.getCustomer", {"customerId": "c00001"}, SB_CONNECTION)  # a read: no effect
    runtime.run_sync(
        "servicebay.createCustomer", {"firstName": "A", "lastName": "B", "email": "a@b.co"}, SB_CONNECTION
    )
    assert len(vendor.requests) == 6
    runtime.picklist_sync("servicebay.selectService", {}, SB_CONNECTION)  # another resource: still cached
    assert len(vendor.requests) == 6
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(vendor.requests) == 9


def test_a_failed_write_drops_it_too_and_raw_writes_drop_everything(
    runtime: Runtime, customers: FakeVendor
) -> None:
    customers.route(
        "DELETE", f"{ORG}/customers/gone", httpx2.Response(500, json={"success": False, "error": "boom"})
    )
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    with pytest.raises(Exception, match="boom"):
        runtime.run_sync("servicebay.deleteCustomer", {"customerId": "gone"}, SB_CONNECTION)
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    before = len(customers.requests)
    runtime.run_sync(
        "servicebay.rawRequest",
        {"path": f"/organisations/{SB_CONNECTION['orgId']}/customers", "method": "POST", "json": {}},
        SB_CONNECTION,
    )
    runtime.picklist_sync("servicebay.selectCustomer", {}, SB_CONNECTION)
    assert len(customers.requests) == before + 1 + 3


def test_concurrent_opens_share_one_load(runtime: Runtime, customers: FakeVendor) -> None:
    async def main() -> list[dict[str, Any]]:
        async with runtime:
            return await asyncio.gather(
                *(runtime.picklist("servicebay.selectCustomer", {}, SB_CONNECTION) for _ in range(5))
            )

    results = asyncio.run(main())
    assert len(customers.requests) == 3
    assert all(r == results[0] for r in results)


def test_a_write_during_a_load_keeps_the_stale_result_out() -> None:
    clock = FakeClock()
    cache = PicklistCache(60, clock)
    key = CacheKey("conn", "customers", "servicebay.selectCustomer", "{}")

    async def main() -> None:
        async def load() -> dict[str, Any]:
            cache.invalidate("conn", ["customers"])  # a write lands while the pages are read
            return {"result": [], "truncated": False}

        await cache.get_or_load(key, load)
        assert len(cache) == 0
        await cache.get_or_load(key, lambda: asyncio.sleep(0, {"result": [1], "truncated": False}))
        assert len(cache) == 1
        assert cache.invalidate("other", ["*"]) == 0 and cache.invalidate("conn", ["*"]) == 1

    asyncio.run(main())


def test_a_failed_load_is_not_cached() -> None:
    cache = PicklistCache(60, FakeClock())
    key = CacheKey("conn", None, "x.y", "{}")

    async def boom() -> dict[str, Any]:
        raise RuntimeError("down")

    async def main() -> None:
        with pytest.raises(RuntimeError):
            await cache.get_or_load(key, boom)
        assert len(cache) == 0

    asyncio.run(main())


# --- one budget per key, waits shown -------------------------------------------------------------


def test_every_kind_of_request_shares_the_key_s_budget(
    runtime: Runtime, customers: FakeVendor, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """250 customers (3 pages) + 99 lookups + a raw request: 103 sends on a 100/min budget."""
    customers.route(
        "GET",
        f"{ORG}/customers/lookup",
        httpx2.Response(404, json={"success": False, "error": "Customer not found"}),
    )

    async def main() -> None:
        async with runtime:
            await asyncio.gather(
                runtime.picklist("servicebay.selectCustomer", {}, SB_CONNECTION),
                *(
                    runtime.run("servicebay.lookupCustomer", {"phone": f"+1555{n:04d}"}, SB_CONNECTION)
                    for n in range(99)
                ),
                runtime.run(
                    "servicebay.rawRequest",
                    {"path": f"/organisations/{SB_CONNECTION['orgId']}/customers"},
                    SB_CONNECTION,
                ),
            )

    start = clock.now()
    with caplog.at_level(logging.INFO, logger="component.progress"):
        asyncio.run(main())
    assert len(customers.requests) == 103
    assert clock.now() - start == pytest.approx(61)  # the sends past 100 waited for the window (+1 s margin)
    waits = [r for r in caplog.records if getattr(r, "progress", {}).get("kind") == "budget-wait"]
    assert waits and all(r.progress["vendor"] == "servicebay" for r in waits)  # type: ignore[attr-defined]
    assert "servicebay: rate budget full (100 requests per 60 s); waiting" in waits[0].getMessage()
    assert all(SB_KEY not in r.getMessage() for r in caplog.records)


def test_429_waits_until_the_reset_time(runtime: Runtime, vendor: FakeVendor, clock: FakeClock) -> None:
    reset = str(int(clock.wall()) + 7)
    limited = httpx2.Response(
        429,
        json={"success": False, "error": "Too many requests"},
        headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
    )
    vendor.route(
        "GET", f"{ORG}", limited, httpx2.Response(200, json={"success": True, "data": {"id": "org-1"}})
    )
    assert runtime.run_sync("servicebay.getOrganisation", {}, SB_CONNECTION) == {"data": {"id": "org-1"}}
    assert clock.sleeps == [pytest.approx(7)]


def test_progress_line_on_a_terminal_and_in_a_log() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    def record(kind: str, message: str) -> logging.LogRecord:
        made = logging.LogRecord("component.progress", logging.INFO, __file__, 1, message, None, None)
        made.progress = {"kind": kind}
        return made

    tty = Tty()
    line = ProgressLine(tty, interval=3600)
    line.emit(record("pages", "servicebay.selectCustomer: 1 page(s), 100 item(s) so far"))
    line.emit(record("pages", "servicebay.selectCustomer: 2 page(s), 200 item(s) so far"))  # throttled
    line.emit(record("budget-wait", "servicebay: rate budget full; waiting 0.6 s"))  # a wait always shows
    line.finish()
    assert tty.getvalue() == (
        "\r\x1b[2Kservicebay.selectCustomer: 1 page(s), 100 item(s) so far"
        "\r\x1b[2Kservicebay: rate budget full; waiting 0.6 s"
        "\r\x1b[2K"  # erased when done: what follows starts at the margin, not glued to it
    )
    plain = io.StringIO()
    line = ProgressLine(plain, interval=0)
    line.emit(record("pages", "p1"))
    line.emit(record("pages", "p2"))
    line.finish()
    assert plain.getvalue() == "p1\np2\n"


def test_cli_shows_picklist_progress_on_stderr_only() -> None:
    result = CliRunner().invoke(
        cli, ["picklist", "servicebay.selectCustomer", "--sandbox", "--inputs", '{"search": "smith"}']
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["result"]  # stdout stays pure JSON
    assert "servicebay.selectCustomer: 1 page, 100 items so far" in result.stderr
