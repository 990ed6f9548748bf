"""Polling triggers: the pure poll core, the state store interface and its SQLite implementation.

Names are imported on first use, so loading the catalog (which needs only :mod:`.checks`) does not
load the HTTP client the poll core pages with.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import PollResult, StateMismatchError
    from .runner import PollOutcome, poll_once
    from .store import (
        Lease,
        LeaseLostError,
        SQLiteStateStore,
        StateStore,
        StateStoreError,
        default_path,
        open_state_store,
    )

__all__ = [
    "Lease",
    "LeaseLostError",
    "PollOutcome",
    "PollResult",
    "SQLiteStateStore",
    "StateMismatchError",
    "StateStore",
    "StateStoreError",
    "default_path",
    "open_state_store",
    "poll_once",
]
_HOMES = {
    **dict.fromkeys(("PollResult", "StateMismatchError"), "core"),
    **dict.fromkeys(("PollOutcome", "poll_once"), "runner"),
    **dict.fromkeys(("Lease", "LeaseLostError", "SQLiteStateStore"), "store"),
    **dict.fromkeys(("StateStore", "StateStoreError", "default_path", "open_state_store"), "store"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'component.triggers' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
