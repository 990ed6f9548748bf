"""A worker process for tests/test_redis_shared.py: runs one action many times, concurrently,
with its budgets and tokens in Redis (or in process), and prints a JSON summary.

Usage: python -m tests.shared_child CONFIG_JSON, where the config has ``redis`` (a URL or null),
``connection``, ``ref``, ``inputs``, ``count``, ``concurrency``, ``limit`` ([requests, seconds] or
null: the vendor's declared limit) and ``start_at`` (Unix time to begin at, so processes race).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from component.auth import TokenCache
from component.errors import ComponentError
from component.models import RateLimit
from component.policy import BudgetRegistry
from component.redis_budget import RedisBudgets
from component.redis_tokens import RedisTokenCache
from component.runtime import Runtime
from component.shared import RedisConnections


def main(config: dict[str, Any]) -> dict[str, Any]:
    vendor = config["ref"].split(".", 1)[0]
    limits = (
        {vendor: RateLimit(requests=config["limit"][0], per=config["limit"][1])} if config["limit"] else {}
    )
    if config["redis"]:
        connections = RedisConnections(config["redis"])
        tokens: TokenCache = RedisTokenCache(connections)
        budgets: BudgetRegistry = RedisBudgets(connections, limits)
    else:
        tokens, budgets = TokenCache(), BudgetRegistry(limits)
    runtime = Runtime(tokens=tokens, budgets=budgets, env={})
    summary: dict[str, Any] = {"done": 0, "errors": {}}

    async def one(gate: asyncio.Semaphore) -> None:
        async with gate:
            while True:
                try:
                    await runtime.run(config["ref"], config["inputs"], config["connection"])
                    summary["done"] += 1
                    return
                except ComponentError as error:  # counted; a shared_state error is retried
                    summary["errors"][error.kind] = summary["errors"].get(error.kind, 0) + 1
                    if error.kind != "shared_state":
                        return
                    await asyncio.sleep(0.05)

    async def run() -> None:
        gate = asyncio.Semaphore(config["concurrency"])
        async with runtime:
            await asyncio.gather(*(one(gate) for _ in range(config["count"])))

    time.sleep(max(0.0, config["start_at"] - time.time()))
    asyncio.run(run())
    return summary


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
