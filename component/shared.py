"""State shared by many processes through Redis: the connection, key names, the typed error.

``COMPONENT_REDIS_URL`` set (``redis://host:6379/0``, ``rediss://`` for TLS) makes every
:class:`~component.runtime.Runtime` that is not handed its own registries share rate budgets
(component/redis_budget.py) and OAuth tokens (component/redis_tokens.py) with every other process
using the same Redis. Unset, both stay in process, as before.

Key names never hold a credential: each is ``fsc:<kind>:`` and a SHA-256 of what it stands for.
A Redis client is bound to the event loop it was first used on, so one is kept per loop.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .errors import ComponentError

if TYPE_CHECKING:
    from .auth import TokenCache
    from .policy import BudgetRegistry

T = TypeVar("T")

URL_VARIABLE = "COMPONENT_REDIS_URL"
PREFIX = "fsc"


class SharedStateError(ComponentError):
    """Redis, where budgets shared by many processes live, cannot be reached; nothing was sent."""

    kind = "shared_state"


async def honouring_cancel(awaitable: Awaitable[T]) -> T:
    """``await awaitable`` (a Redis command), then deliver a cancellation of this task that arrived
    meanwhile and was swallowed beneath: redis.asyncio can return a command's result after the task
    awaiting it was cancelled, and a loop waiting for a grant would then outlive the timeout that
    cancelled it (``wait_for`` waits for the cancelled task to end)."""
    import asyncio

    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    result = await awaitable
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError
    return result


def key_name(kind: str, *parts: str) -> str:
    """``fsc:<kind>:{<sha256 of parts>}``: a stable name that reveals nothing of ``parts``."""
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"{PREFIX}:{kind}:{{{digest}}}"  # a hash tag: one budget's keys share a cluster slot


def redacted_url(url: str) -> str:
    """``url`` without its password (for messages and reprs)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except (ValueError, IndexError):
        return "redis://?"


class RedisConnections:
    """One ``redis.asyncio`` client per running event loop, all to ``url``."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._module = redis.asyncio
        self.url = url
        self.shown = redacted_url(url)
        self._clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisConnections({self.shown!r})"

    def client(self) -> Any:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._guard:
            client = self._clients.get(loop)
            if client is None:
                client = self._module.Redis.from_url(
                    self.url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10
                )
                self._clients[loop] = client
            return client


_SHARED: dict[str, tuple[TokenCache, BudgetRegistry]] = {}
_SHARED_GUARD = threading.Lock()


def shared_registries(env: Mapping[str, str]) -> tuple[TokenCache, BudgetRegistry] | None:
    """The process's Redis-backed token cache and budgets when ``COMPONENT_REDIS_URL`` is set."""
    url = (env.get(URL_VARIABLE) or "").strip()
    if not url:
        return None
    with _SHARED_GUARD:
        if url not in _SHARED:
            from .redis_budget import RedisBudgets
            from .redis_tokens import RedisTokenCache

            connections = RedisConnections(url)
            _SHARED[url] = (RedisTokenCache(connections), RedisBudgets(connections))
        return _SHARED[url]
