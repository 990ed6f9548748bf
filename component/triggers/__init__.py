"""Polling triggers: the pure poll core, the state store interface and its SQLite implementation."""

from .core import PollResult, StateMismatchError
from .runner import PollOutcome, poll_once
from .store import Lease, LeaseLostError, SQLiteStateStore, StateStore, StateStoreError, default_path

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
    "poll_once",
]
