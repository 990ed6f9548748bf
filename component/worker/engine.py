"""What a worker process does for its tasks, on one event loop that lives as long as the process.

Celery runs tasks on a pool of threads; each task hands its coroutine to this loop and waits for
the answer, so one runtime (its HTTP connections, rate budgets and tokens, shared through Redis),
one connection to the trigger state and one to the table of trigger instances serve every task of
the process. Store calls are short and synchronous on the loop thread, so they never interleave.
At most ``COMPONENT_MAX_IN_FLIGHT`` polls run at once.

A poll (:meth:`Engine.poll`) leases the instance, polls, hands the events to the sink and only
then commits (component/triggers/runner.py): a worker that dies mid-poll commits nothing, its
lease runs out and the next poll delivers the same events again, with the same ``eventId``. A
store whose server went away is reopened on the next call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ComponentError, StateStoreError, UsageError
from .config import WorkerConfig
from .sinks import Send, Sink, open_sink

if TYPE_CHECKING:
    from ..app import Application
    from ..triggers.postgres import PostgresDatabase, PostgresStateStore
    from .instances import InstanceTable

LOG = logging.getLogger("component.worker")
T = TypeVar("T")


class _NoStore:
    """A connection store with nothing in it (only the connections file is used)."""

    def get(self, id: str) -> None:
        return None


def open_connections(app: Application, config: WorkerConfig) -> Any:
    """The connections tasks name (``COMPONENT_CONNECTIONS``'s file, ``COMPONENT_CONNECTION_STORE``'s
    store sealed under ``COMPONENT_SECRET_KEY``, the environment's); settings that cannot work are a
    :class:`UsageError` naming the variable (``component worker run`` checks them before starting)."""
    import os

    from ..connection import read_connection_file
    from ..service.connections import KEY_ENV, KEY_HINT, Connections

    data: Mapping[str, Any] | None = None
    if config.connections_file:
        try:
            data = read_connection_file(config.connections_file)
        except UsageError as error:
            raise UsageError(f"COMPONENT_CONNECTIONS: {error.message}") from None
    store: Any = _NoStore()
    if config.connection_store:
        if not os.environ.get(KEY_ENV):
            raise UsageError(
                f"{KEY_ENV} is not set: the connections in COMPONENT_CONNECTION_STORE keep their "
                f"secrets sealed with it; {KEY_HINT}"
            )
        from ..service.store import open_service_store

        store = open_service_store(config.connection_store)
    return Connections(app, store, Connections.sources(app, data))


class Engine:
    def __init__(
        self,
        config: WorkerConfig,
        send: Send,
        *,
        application: Application | None = None,
    ) -> None:
        from ..app import Application
        from ..triggers.store import new_owner

        self.config = config
        self.state_url = config.state_url()
        self.app = application or Application.create()
        self.connections = open_connections(self.app, config)
        self.sink: Sink | None = open_sink(config.sink, config.sink_secret, send, config.sink_attempts)
        self.owner = new_owner()
        self._store: PostgresStateStore | None = None
        self._table: InstanceTable | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="component-worker", daemon=True)
        self._thread.start()
        self._gate = self.call(self._open())

    async def _open(self) -> asyncio.Semaphore:
        await self.app.runtime.__aenter__()
        return asyncio.Semaphore(self.config.max_in_flight)

    def call(self, work: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``work`` on the engine's loop from another thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def close(self) -> None:
        async def shut() -> None:
            if self.sink is not None:
                await self.sink.aclose()
            await self.app.runtime.__aexit__(None, None, None)

        self.call(shut(), timeout=30)
        for held in (self._store, self._table):
            if held is not None:
                held.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    # --- stores, reopened after a failure ---------------------------------------------------------

    def store(self) -> PostgresStateStore:
        if self._store is None:
            from ..triggers.postgres import PostgresStateStore

            self._store = PostgresStateStore(self.state_url, statement_timeout=self.config.db_timeout)
        return self._store

    def table(self) -> InstanceTable:
        if self._table is None:
            from .instances import InstanceTable

            self._table = InstanceTable(self.state_url, statement_timeout=self.config.db_timeout)
        return self._table

    def _drop(self, *failed: PostgresDatabase | None) -> None:
        """Close and drop the connections a call failed on when the connection itself broke (not
        for a failure of the data, such as another trigger's state: every other poll of the
        process uses the connection), if they are still the current ones (a poll that started on
        an older connection must not close the one opened since): the next call opens new ones."""
        for held in failed:
            current = any(held is now for now in (self._store, self._table))
            if held is not None and current and held.broken:
                try:
                    held.close()
                except Exception:  # a connection already broken may fail to close; it is dropped anyway
                    LOG.debug("closing a broken store connection failed", exc_info=True)
                if held is self._store:
                    self._store = None
                else:
                    self._table = None

    # --- tasks ------------------------------------------------------------------------------------

    def answer(self, work: Callable[[], Coroutine[Any, Any, dict[str, Any]]]) -> dict[str, Any]:
        """Run a task's coroutine; a typed error becomes its (redacted) JSON form."""
        try:
            return self.call(work())
        except ComponentError as error:
            return error.redact(self.app.redactor).to_dict()

    def run_action(self, ref: str, inputs: Any, connection: str | None) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            data = self.connections.data(self.app.find("actions", ref).connector, connection)
            return await self.app.run(ref, inputs, data)

        return self.answer(work)

    def run_picklist(
        self, ref: str, inputs: Any, connection: str | None, search: str | None = None
    ) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            data = self.connections.data(self.app.find("dataSources", ref).connector, connection)
            return await self.app.picklist(ref, inputs, data, search=search)

        return self.answer(work)

    def claim_due(self, limit: int) -> list[tuple[str, float]]:
        async def work() -> list[tuple[str, float]]:
            table = self.table()
            try:
                return table.claim_due(limit, self.config.jitter)
            except StateStoreError:
                self._drop(table)
                raise

        return self.call(work())

    def poll(self, instance: str) -> dict[str, Any]:
        """Poll one trigger instance durably: ``{"status", "events", "requests"}`` (``removed`` when
        it is no longer in the table), or a typed error's JSON form."""
        return self.answer(lambda: self._poll(instance))

    async def _poll(self, instance: str) -> dict[str, Any]:
        from ..triggers.runner import poll_once

        async with self._gate:
            table = store = None
            try:
                table = self.table()
                row = table.get(instance)
                if row is None:
                    return {"status": "removed", "events": 0, "requests": 0}
                definition = self.app.check_trigger(row.ref, row.inputs)
                data = self.app.resolve_connection(
                    definition.connector, self.connections.data(definition.connector, row.connection)
                )
                sink = self.sink
                assert sink is not None

                async def deliver(events: list[dict[str, Any]]) -> None:
                    await sink.deliver({"instance": instance, "trigger": row.ref, "events": events})

                store = self.store()
                outcome = await poll_once(
                    self.app.runtime, row.ref, row.inputs, data, store, instance,
                    deliver=deliver, owner=self.owner, ttl=self.config.lease_ttl,
                )  # fmt: skip
            except StateStoreError:
                self._drop(table, store)
                raise
        return {"status": outcome.status, "events": len(outcome.events), "requests": outcome.requests}
