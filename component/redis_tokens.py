"""OAuth tokens shared by every process using one Redis, fetched once for all of them.

:class:`RedisTokenCache` is the in-process :class:`~component.auth.TokenCache` (one fetch per key
however many tasks, loops and threads of the process want a token) with Redis behind it: the
process's one fetcher first reads the token another process may have stored; if there is none,
or it is about to expire, it takes the key's lock (``SET NX`` with an expiry, so a fetcher that
dies frees it) and fetches, while the fetchers of other processes wait and read the token when the
lock holder writes it. So N processes need one token request, not N.

Stored: the token and its lifetime, under ``fsc:token:{sha256(token URL, client id, secret digest)}``
with the token's expiry as the key's. Never the client id or secret, in a value or a key name.
A token a 401 was answered to is not taken from Redis again by this process; its next fetch
replaces it for everyone.

When Redis cannot be reached the process fetches its own token (logged): a token request more is
harmless, unlike a rate budget split per process. Expiry times use the system's monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .auth import TokenCache, _Token
from .shared import RedisConnections, honouring_cancel, key_name

log = logging.getLogger("component.redis_tokens")

LOCK_TTL = 30.0  # seconds a token fetch may hold the lock before others may take over
POLL = 0.05  # seconds between reads while another process fetches

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class RedisTokenCache(TokenCache):
    def __init__(self, connections: RedisConnections) -> None:
        super().__init__()
        self.connections = connections
        self._refused: dict[str, set[str]] = {}  # digests of tokens a 401 was answered to, by key

    def __repr__(self) -> str:
        return f"RedisTokenCache({self.connections.shown!r})"

    def drop(self, key: str, value: str) -> None:
        super().drop(key, value)
        refused = self._refused.setdefault(key, set())
        if len(refused) > 100:
            refused.clear()
        refused.add(_digest(value))

    async def obtain(
        self, key: str, fresh: Callable[[_Token | None], bool], fetch: Callable[[], Awaitable[_Token]]
    ) -> _Token:
        return await super().obtain(key, fresh, lambda: self._shared(key, fresh, fetch))

    async def _read(self, client: Any, name: str, key: str) -> _Token | None:
        async with client.pipeline(transaction=True) as pipe:
            stored, left = await pipe.hgetall(name).pttl(name).execute()
        if not stored or left <= 0:
            return None
        value = stored.get(b"value", b"").decode()
        if not value or _digest(value) in self._refused.get(key, ()):
            return None
        try:
            lifetime = float(stored.get(b"lifetime", b"0"))
        except ValueError:
            return None
        return _Token(value, time.monotonic() + left / 1000, lifetime)

    async def _write(self, client: Any, name: str, token: _Token) -> None:
        left = round((token.expires_at - time.monotonic()) * 1000)
        if left <= 0:
            return
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(name, mapping={"value": token.value, "lifetime": repr(token.lifetime)})
            pipe.pexpire(name, left)
            await pipe.execute()

    async def _shared(
        self, key: str, fresh: Callable[[_Token | None], bool], fetch: Callable[[], Awaitable[_Token]]
    ) -> _Token:
        from redis.exceptions import RedisError

        name = key_name("token", key)
        lock, me = f"{name}:lock", uuid.uuid4().hex
        try:
            client = self.connections.client()
            while True:
                token = await honouring_cancel(self._read(client, name, key))
                if fresh(token):
                    assert token is not None
                    return token
                if await honouring_cancel(client.set(lock, me, nx=True, px=round(LOCK_TTL * 1000))):
                    break
                await asyncio.sleep(POLL)  # another process is fetching: read its token when it lands
            token = await self._read(client, name, key)  # written between the read and the lock?
            if fresh(token):
                assert token is not None
                await client.register_script(_UNLOCK)(keys=[lock], args=[me], client=client)
                return token
        except (RedisError, OSError) as exc:
            log.warning(
                "the shared token cache in Redis (%s) cannot be reached (%s); fetching a token here",
                self.connections.shown,
                type(exc).__name__,
            )
            return await fetch()
        try:
            token = await fetch()
            try:
                await self._write(client, name, token)
            except (RedisError, OSError) as exc:
                log.warning("the token could not be shared through Redis (%s)", type(exc).__name__)
            return token
        finally:
            with contextlib.suppress(RedisError, OSError):  # else the lock runs out by itself
                await asyncio.shield(client.register_script(_UNLOCK)(keys=[lock], args=[me], client=client))
