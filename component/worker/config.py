"""The worker's settings, read from the environment (the same for every worker and for beat)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import UsageError

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number: {text!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError(f"{name} must be between {low:g} and {high:g}: {text!r}")
    return value


@dataclass(frozen=True)
class WorkerConfig:
    """``COMPONENT_*`` variables; see docs/scale-out.md for each one."""

    broker: str
    redis: str | None
    state: str | None
    connections_file: str | None
    connection_store: str | None
    lease_ttl: float
    jitter: float
    max_in_flight: int
    sink: str | None  # an http(s) URL (webhook) or task:NAME[@QUEUE] (a Celery task)
    sink_secret: str | None
    sink_attempts: int
    backlog: int  # dispatch sends no more polls while this many wait in the queue
    db_timeout: float  # seconds a statement on the state's database may run before it is cancelled

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerConfig:
        env = os.environ if env is None else env
        redis = env.get("COMPONENT_REDIS_URL") or None
        return cls(
            broker=env.get("COMPONENT_BROKER_URL") or redis or DEFAULT_BROKER,
            redis=redis,
            state=env.get("COMPONENT_STATE") or None,
            connections_file=env.get("COMPONENT_CONNECTIONS") or None,
            connection_store=env.get("COMPONENT_CONNECTION_STORE") or None,
            lease_ttl=_number(env, "COMPONENT_LEASE_TTL", 60.0, 1.0, 86400.0),
            jitter=_number(env, "COMPONENT_POLL_JITTER", 0.1, 0.0, 1.0),
            max_in_flight=int(_number(env, "COMPONENT_MAX_IN_FLIGHT", 16, 1, 1024)),
            sink=env.get("COMPONENT_SINK") or None,
            sink_secret=env.get("COMPONENT_SINK_SECRET") or None,
            sink_attempts=int(_number(env, "COMPONENT_SINK_ATTEMPTS", 5, 1, 100)),
            backlog=int(_number(env, "COMPONENT_DISPATCH_BACKLOG", 1000, 1, 1_000_000)),
            db_timeout=_number(env, "COMPONENT_STATE_TIMEOUT", 30.0, 0.1, 3600.0),
        )

    def state_url(self) -> str:
        """The PostgreSQL URL every worker shares; refused when missing or not PostgreSQL."""
        if not self.state or not self.state.startswith(("postgresql://", "postgres://")):
            raise UsageError(
                "COMPONENT_STATE must be a postgresql:// URL: the workers share trigger state and "
                "the table of trigger instances there"
            )
        try:
            urlsplit(self.state).port  # noqa: B018 (reading it checks the host and port)
        except ValueError as exc:
            raise UsageError(f"COMPONENT_STATE is not a valid postgresql:// URL ({exc})") from None
        return self.state
