"""Rate budgets shared by every process using one Redis: the in-process budget's rule, server-side.

The rule is :class:`component.policy.RateBudget`'s: a request holds a slot from its send until
``per`` (+ ``margin``) seconds after its response, and at most ``requests`` slots are held or
cooling down at once, so however late a request reaches the vendor it is never one too many in
the vendor's window. Here the slots live in Redis and one Lua script (atomic on the server, timed
by the server's clock) decides each grant, for all processes at once:

* ``slots`` (sorted set): ``f:<id>`` for a request in flight, scored with the time it is presumed
  lost if never given back (``hold`` after the send: a crashed process's slot comes back then);
  ``c:<id>`` for a given-back slot, scored with the time it is free again.
* ``queue`` (sorted set): callers waiting, scored ``class * 2**40 + arrival``: each is granted a
  slot only when fewer callers are ahead of it than there are free slots, so waiters go in order.
  The class is 0 for every caller today; a lower class (interactive calls) would go before a
  higher one (background polls) on the same key with no change to the script.
* ``seen`` (sorted set): when each waiter last asked; a waiter silent for ``stale`` seconds (its
  process died) leaves the queue.
* ``meta`` (hash): an arrival counter and an ``epoch``. A process that has seen an epoch and then
  finds none knows Redis lost the budget (a restart without persistence): the script then counts
  every slot as cooling for one full window, since the vendor may still count what was sent
  before, and each process that finds the epoch changed counts its requests still in flight
  again (a slow one may reach the vendor after that window), in the same script that decides its
  grant, so it is never granted a slot over its own requests. So the budget holds across a Redis
  restart.

A waiter sleeps until the slot it waits for is free when that slot is cooling down, and asks again
every ``POLL`` seconds while it is in flight.

While Redis cannot be reached, :meth:`RedisRateBudget.acquire` raises
:class:`~component.shared.SharedStateError` at once and no request is sent: falling back to a
budget per process would let N processes send N times the limit. A slot that cannot be given back
(Redis went away during the request) stays counted until its ``hold`` runs out, or, if Redis
restarted, is covered by the full window above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .models import RateLimit
from .policy import Budget, BudgetRegistry, Clock
from .policy import priority as policy_priority
from .shared import RedisConnections, SharedStateError, honouring_cancel, key_name

log = logging.getLogger("component.redis_budget")

POLL = 0.02  # seconds between asks while the awaited slot is in flight
HEARTBEAT = 1.0  # a waiter asks at least this often, so it is never taken for dead
STALE = 10.0  # a waiter silent this long has gone

_ACQUIRE = """
local slots, queue, seen, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local waiter, capacity, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local hold, class, known, stale = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = tostring(now) .. '-' .. waiter
  redis.call('HSET', meta, 'epoch', epoch)
  if known ~= '' then
    for i = 1, capacity do redis.call('ZADD', slots, now + per, 'c:lost:' .. i) end
  end
end
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
if known ~= '' and epoch ~= known and #ARGV > 7 then
  for i = 8, #ARGV do redis.call('ZADD', slots, 'NX', now + hold, 'f:' .. ARGV[i]) end
  redis.call('PEXPIRE', slots, hold + per)
end
local gone = redis.call('ZRANGEBYSCORE', seen, '-inf', now - stale)
for _, id in ipairs(gone) do
  redis.call('ZREM', queue, id)
  redis.call('ZREM', seen, id)
end
if not redis.call('ZSCORE', queue, waiter) then
  local arrival = redis.call('HINCRBY', meta, 'arrivals', 1)
  redis.call('ZADD', queue, class * 1099511627776 + arrival, waiter)
end
redis.call('ZADD', seen, now, waiter)
local free = capacity - redis.call('ZCARD', slots)
local rank = redis.call('ZRANK', queue, waiter)
if rank < free then
  redis.call('ZREM', queue, waiter)
  redis.call('ZREM', seen, waiter)
  redis.call('ZADD', slots, now + hold, 'f:' .. waiter)
  redis.call('PEXPIRE', slots, hold + per)
  return {1, 0, epoch, 0}
end
redis.call('PEXPIRE', queue, stale * 2)
redis.call('PEXPIRE', seen, stale * 2)
local ahead = redis.call('ZRANGE', slots, rank - free, rank - free, 'WITHSCORES')
if #ahead == 0 then return {0, 0, epoch, 0} end
local cooling = 0
if string.sub(ahead[1], 1, 2) == 'c:' then cooling = 1 end
return {0, math.max(tonumber(ahead[2]) - now, 0), epoch, cooling}
"""

_RELEASE = """
local slots, id, per, hold = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', slots, 'f:' .. id)
redis.call('ZADD', slots, now + per, 'c:' .. id)
redis.call('PEXPIRE', slots, hold + per)
return 1
"""


class RedisRateBudget:
    """One shared budget (a vendor key's): same use as :class:`RateBudget` (``acquire``, then
    ``give_back`` once the response is in)."""

    def __init__(
        self, name: str, limit: RateLimit, clock: Clock, connections: RedisConnections, *, hold: float
    ) -> None:
        self.requests = limit.requests
        self.window = limit.per
        self.per = limit.per + limit.margin
        self.clock = clock
        self.connections = connections
        self.hold = hold + self.per
        self._keys = [f"{name}:{part}" for part in ("slots", "queue", "seen", "meta")]
        self._epoch = ""  # the budget's epoch last seen: finding none later means Redis lost it
        self._in_flight: list[str] = []  # slots this process holds (any may be given back first)
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"RedisRateBudget({self.requests} per {self.window:g} s, {self.connections.shown!r})"

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            client = self.connections.client()
            return await honouring_cancel(client.register_script(script)(keys=keys, args=args, client=client))
        except (RedisError, OSError) as exc:
            raise SharedStateError(
                f"the shared rate budget in Redis ({self.connections.shown}) cannot be reached "
                f"({type(exc).__name__}); no request was sent, try again once Redis is back",
                maybe_applied=False,
            ) from None

    async def acquire(
        self, on_wait: Callable[[float], None] | None = None, *, priority: int | None = None
    ) -> float:
        """Take a slot, waiting in order behind earlier callers of every process; returns the seconds
        waited. ``priority``: the caller's class (lower goes first); by default the current call's
        (:func:`component.policy.priority`: interactive 0, a poll's pages 1)."""
        if priority is None:
            priority = 1 if policy_priority() == "background" else 0
        started = self.clock.now()
        waiter = uuid.uuid4().hex
        told = asked = False
        args = [waiter, self.requests, round(self.per * 1000), round(self.hold * 1000), priority]
        try:
            while True:
                # with this process's requests in flight: should Redis have lost the budget (the
                # epoch changed), the script counts them again (until given back) before deciding,
                # as a slow one may reach the vendor after the lost window
                granted, wait_ms, epoch, cooling = await self._run(
                    _ACQUIRE, self._keys, [*args, self._epoch, round(STALE * 1000), *self._in_flight]
                )
                self._epoch = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
                if granted:
                    self._in_flight.append(waiter)
                    return self.clock.now() - started if asked else 0.0  # a round trip is no wait
                asked = True
                wait = wait_ms / 1000 if cooling else POLL
                if on_wait is not None and not told and cooling:
                    on_wait(wait)
                    told = True
                await self.clock.sleep(min(max(wait, 0.001), HEARTBEAT))
        except SharedStateError:
            raise
        except BaseException:  # cancelled: leave the queue now rather than after STALE
            with contextlib.suppress(Exception):
                await asyncio.shield(self.connections.client().zrem(self._keys[1], waiter))
            raise

    async def give_back(self) -> None:
        """The response (or failure) is in: the slot is free again ``per`` seconds from now."""
        if not self._in_flight:
            return
        slot = self._in_flight.pop(0)
        try:
            await self._run(_RELEASE, self._keys[:1], [slot, round(self.per * 1000), round(self.hold * 1000)])
        except SharedStateError as error:  # the request is done; its slot runs out after ``hold``
            log.warning("%s", error.message)

    def release(self) -> None:
        """:meth:`give_back` from synchronous code, in the running event loop."""
        task = asyncio.get_running_loop().create_task(self.give_back())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class RedisBudgets(BudgetRegistry):
    """Budgets by key, as :class:`BudgetRegistry`, each shared through Redis by every process.

    ``hold``: seconds a slot sent but never given back (its process died) stays counted, on top of
    the window; it should exceed the longest request deadline.
    """

    def __init__(
        self,
        connections: RedisConnections,
        limits: Mapping[str, RateLimit] | None = None,
        *,
        hold: float = 300.0,
    ) -> None:
        super().__init__(limits)
        self.connections = connections
        self.hold = hold
        self._shared: dict[str, RedisRateBudget] = {}

    def __repr__(self) -> str:
        return f"RedisBudgets({self.connections.shown!r})"

    def get(self, key: str, limit: RateLimit, clock: Clock) -> Budget:
        if key not in self._shared:
            chosen = self.limits.get(key.split("|", 1)[0], limit)
            self._shared[key] = RedisRateBudget(
                key_name("budget", key), chosen, clock, self.connections, hold=self.hold
            )
        return self._shared[key]

    def clear(self) -> None:
        self._shared.clear()
