"""Two classes on one rate budget: actions and picklists go before a long poll's pages on the same key.

A background poll never takes the budget's last ``reserve`` free slots nor goes ahead of a waiting
interactive call, so an action sent while a 12,000-customer Servicebay scan runs is served at once,
and the vendor (the sandbox's own 100-a-minute limiter) never answers 429. Time is virtual: the
figures are what the budget decides, not how fast this machine is.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx2
import msgspec

from component import catalog as catalog_module
from component.auth import TokenCache
from component.models import RateLimit
from component.policy import BudgetRegistry, RateBudget, background, priority
from component.runtime import Runtime
from component.sandbox import Sandbox
from component.sandbox.faults import RateLimiter
from component.triggers import SQLiteStateStore, poll_once
from tests.conftest import ROOT
from tests.virtual_clock import VirtualClock


def test_background_calls_leave_the_reserve_to_interactive_ones() -> None:
    clock = VirtualClock()
    budget = RateBudget(RateLimit(requests=10, per=60), clock)
    assert budget.reserve == 1

    async def scenario() -> tuple[list[float], float]:
        waits = [await budget.acquire(priority="background") for _ in range(9)]
        poll_page = asyncio.ensure_future(budget.acquire(priority="background"))
        await asyncio.sleep(0)
        assert not poll_page.done()  # the tenth slot is kept for interactive calls
        action = await budget.acquire()
        for _ in range(10):
            budget.release()
        waits.append(await poll_page)
        return waits, action

    waits, action = asyncio.run(scenario())
    assert waits[:9] == [0.0] * 9
    assert action == 0.0
    assert waits[9] > 0  # it waited for a slot to cool down


def test_a_waiting_interactive_call_goes_before_waiting_background_calls() -> None:
    clock = VirtualClock()
    budget = RateBudget(RateLimit(requests=3, per=10), clock)
    order: list[str] = []

    async def take(name: str, kind: Any) -> None:
        await budget.acquire(priority=kind)
        order.append(name)
        budget.release()  # its response is in

    async def scenario() -> None:
        for _ in range(3):
            await budget.acquire()  # every slot in flight
        pages = [asyncio.ensure_future(take(f"page{i}", "background")) for i in range(2)]
        await asyncio.sleep(0)
        action = asyncio.ensure_future(take("action", "interactive"))
        await asyncio.sleep(0)
        for _ in range(3):
            budget.release()
        await asyncio.gather(action, *pages)

    asyncio.run(scenario())
    assert order[0] == "action"
    assert sorted(order[1:]) == ["page0", "page1"]


def test_the_class_comes_from_the_context_a_request_is_sent_in() -> None:
    assert priority() == "interactive"
    with background():
        assert priority() == "background"
    assert priority() == "interactive"


class Counting(httpx2.AsyncBaseTransport):
    """Answers by status, and when each customer-list page and each action was answered."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, clock: VirtualClock) -> None:
        self.inner = inner
        self.in_process = getattr(inner, "in_process", False)  # the sandbox answers in process
        self.clock = clock
        self.statuses: Counter[int] = Counter()
        self.pages: list[float] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        if request.url.path.endswith("/customers") and "startAfter" in request.url.params:
            self.pages.append(self.clock.now())
        return response


def full_scan_catalog() -> catalog_module.Catalog:
    """The real catalog with New Customer scanning its whole list in one poll (budgetSeconds 0), as a
    poll that spends the key's budget for two minutes."""
    shared = catalog_module.load(ROOT)
    connectors = {
        name: dataclasses.replace(c, definitions={kind: dict(table) for kind, table in c.definitions.items()})
        for name, c in shared.connectors.items()
    }
    loaded = dataclasses.replace(shared, connectors=connectors)
    triggers = loaded.connectors["servicebay"].definitions["triggers"]
    definition = triggers["newCustomer"]
    model = definition.model
    assert model.seen is not None
    seen = msgspec.structs.replace(model.seen, budgetSeconds=0)
    triggers["newCustomer"] = dataclasses.replace(definition, model=msgspec.structs.replace(model, seen=seen))
    return loaded


def test_an_action_during_a_12000_customer_poll_is_served_at_once_and_nothing_is_refused(
    tmp_path: Path,
) -> None:
    clock = VirtualClock()
    sandbox = Sandbox(today=date(2027, 1, 15), clock=lambda: datetime.fromtimestamp(clock.wall(), tz=UTC))
    app = sandbox.vendors["servicebay"]
    app.state.limiter = RateLimiter(100, 60, clock=clock.now)  # the vendor's limit, on virtual time
    transport = Counting(sandbox.transport(), clock)
    runtime = Runtime(
        full_scan_catalog(),
        transport=transport,
        clock=clock,
        tokens=TokenCache(),
        budgets=BudgetRegistry(),
        env={},
    )
    connection = sandbox.connection("servicebay")

    async def scenario() -> tuple[float, float, int, Any]:
        async with runtime:
            with SQLiteStateStore(tmp_path / "state.db", clock=clock.wall) as store:
                poll = asyncio.ensure_future(
                    poll_once(runtime, "servicebay.newCustomer", {}, connection, store, "scan")
                )
                await clock.sleep(30)  # the scan has used what the budget allows it this minute
                pages_before = len(transport.pages)
                started = clock.now()
                result = await runtime.run("servicebay.listCustomers", {"limit": 1}, connection)
                served = clock.now() - started
                pages_meanwhile = len(transport.pages) - pages_before
                outcome = await poll
                return served, clock.now() - started, pages_meanwhile, (result, outcome)

    served, rest, pages_meanwhile, (result, outcome) = asyncio.run(scenario())
    assert len(result["data"]["customers"]) == 1
    print(f"\naction served in {served:.2f} virtual s; the poll's last page {rest:.1f} s later")
    assert outcome.status == "polled" and outcome.requests == 120
    assert pages_meanwhile == 0  # served before any of the poll's remaining pages
    assert served < 2.0  # virtual seconds: what the budget decided, not this machine's speed
    assert rest > 30  # the poll's remaining pages waited for the budget instead
    assert transport.statuses[429] == 0
