"""The application layer: what every face (command line, HTTP service, MCP) asks of the component.

Resolve a connection, run an action, run a picklist, poll a trigger instance (durably, or as a
batch acknowledged by a separate commit), run a flow and describe the catalog. A face parses its
own kind of input, calls these and renders the result or the typed error its own way; nothing
here is decided again in a face. Every secret a call sees is registered with :attr:`redactor`
before anything is sent, so whatever a face shows can be redacted with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ComponentError, UsageError
from .redact import Redactor

ConnectionSource = Mapping[str, Any] | Callable[[], Mapping[str, Any] | None] | None
"""A connection's data, or a function that reads it (called once the inputs passed their checks)."""

if TYPE_CHECKING:
    import asyncio

    from .catalog import Catalog, Kind, LoadedDefinition
    from .flows import StepCallback
    from .models import Flow
    from .runtime import Runtime
    from .sandbox import Sandbox
    from .triggers.runner import Deliver, PollOutcome
    from .triggers.store import StateStore


class PendingStore(Protocol):
    """Where a polled batch's next state waits for the caller's acknowledgement."""

    def put_pending(self, instance: str, token: str, state: dict[str, Any]) -> None:
        """Keep ``state`` as the one pending state of ``instance`` (replacing an earlier one)."""

    def take_pending(self, instance: str, token: str) -> dict[str, Any] | None:
        """Remove and return the pending state if ``token`` names it; None otherwise."""


class UnknownCommitError(ComponentError):
    """A commit names no pending batch (already committed, replaced by a later poll, or never made)."""

    kind = "unknown_commit"
    exit_code = 2


@dataclass(frozen=True)
class Batch:
    """Events of one poll and the token that commits the state after them."""

    events: list[dict[str, Any]]
    commit: str | None  # None: nothing to acknowledge (committed already, or busy)
    requests: int = 0
    busy: bool = False  # another poller holds the instance: nothing was polled
    committed: bool = False  # no events, so the state moved on at once (a new instance's start)

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "commit": self.commit, "busy": self.busy, "committed": self.committed}


class Application:
    """One runtime and the secrets of every connection it was handed."""

    def __init__(
        self, runtime: Runtime, *, sandbox: Sandbox | None = None, redactor: Redactor | None = None
    ) -> None:
        self.runtime = runtime
        self.sandbox = sandbox
        # every secret the runtime puts in play (each connection's fields, every token it fetches)
        self.redactor = runtime.track_secrets(redactor if redactor is not None else Redactor())
        self._catalog_json: tuple[dict[str, Any], str] | None = None

    @classmethod
    def create(
        cls,
        root: Path | None = None,
        *,
        sandbox: Sandbox | bool = False,
        redactor: Redactor | None = None,
        **options: Any,
    ) -> Application:
        """The application on the definitions under ``root``; with ``sandbox`` (True for a new one)
        every request goes to the embedded sandbox, in process."""
        from .catalog import load
        from .runtime import Runtime

        if sandbox is False:
            return cls(Runtime(load(root), **options), redactor=redactor)
        if sandbox is True:
            from .sandbox import Sandbox

            sandbox = Sandbox()
        runtime = Runtime(load(root), transport=sandbox.transport(), **options)
        return cls(runtime, sandbox=sandbox, redactor=redactor)

    @property
    def catalog(self) -> Catalog:
        return self.runtime.catalog

    # --- the catalog ------------------------------------------------------------------------------

    def describe_catalog(self) -> tuple[dict[str, Any], str]:
        """The catalog as builders read it and an entity tag of its content (stable across runs)."""
        if self._catalog_json is None:
            data = self.catalog.to_json()
            for name, connector in data["connectors"].items():
                for kind, items in connector.items():
                    if kind in ("actions", "dataSources", "triggers"):
                        for key, item in items.items():
                            item.update(self._extras(self.find(kind, f"{name}.{key}")))
            text = json.dumps(data, sort_keys=True, separators=(",", ":"))
            self._catalog_json = data, hashlib.sha256(text.encode()).hexdigest()[:32]
        return self._catalog_json

    def find(self, kind: Kind, ref: str) -> LoadedDefinition:
        return self.catalog.find(kind, ref)

    def describe(self, kind: Kind, ref: str) -> dict[str, Any]:
        """One definition as the catalog shows it, with its ref, kind, examples and picklist links."""
        definition = self.find(kind, ref)
        connector = self.describe_catalog()[0]["connectors"][definition.connector]
        return {"ref": definition.ref, "kind": kind, **connector[kind][definition.key]}

    @staticmethod
    def _extras(definition: LoadedDefinition) -> dict[str, Any]:
        model = definition.model
        links = {
            name: f"{definition.connector}.{prop['x-datasource']}"
            for name, prop in (model.inputs.get("properties") or {}).items()
            if isinstance(prop, dict) and isinstance(prop.get("x-datasource"), str)
        }
        extras: dict[str, Any] = {
            "ref": definition.ref,
            "examples": list(getattr(model, "examples", []) or []),
        }
        if links:
            extras["picklists"] = links
        method = model.request.method
        if isinstance(method, str) and method.isupper():
            extras["method"] = method
        return extras

    # --- connections ------------------------------------------------------------------------------

    def resolve_connection(self, connector: str, data: ConnectionSource = None) -> dict[str, Any]:
        """The connection values for ``connector``: ``data`` as given (with the environment's ``x-env``
        fields and ``${VAR}`` references), or the sandbox's when none is given in sandbox mode.

        Its secrets are registered for redaction before anything is sent.
        """
        from .connection import connection_values

        loaded = self.catalog.connector(connector)
        if callable(data):
            data = data()
        if data is None:
            data = self.sandbox.connection(connector) if self.sandbox is not None else {}
        values = connection_values(loaded, data, self.runtime.env)
        for name in loaded.secret_fields:
            if isinstance(values.get(name), str):
                self.redactor.add(values[name])
        return dict(data)

    def protect(self, secrets: Mapping[str, Any]) -> None:
        """Register secret values known by other means (a stored connection's) for redaction."""
        for value in secrets.values():
            if isinstance(value, str):
                self.redactor.add(value)

    async def test_connection(self, connector: str, data: ConnectionSource = None) -> dict[str, Any]:
        """The connector's declared connection test (its cheapest authenticated call,
        :func:`component.probe.check_connection`). ``{"ok": true, "action", "ms"}``, or ``{"ok": false,
        "status": "invalid_credentials" | "unreachable" | "vendor_error" | "invalid_connection",
        "error": {…}}``."""
        from .errors import ConnectionConfigError, CredentialsError, TransportError
        from .probe import check_connection

        try:
            values = self.resolve_connection(connector, data)
            async with self.runtime if self.runtime._open is None else contextlib.nullcontext(self.runtime):
                result = await check_connection(self.runtime, connector, values)
        except ConnectionConfigError as error:
            return {"ok": False, "status": "invalid_connection", "error": error.to_dict()["error"]}
        except CredentialsError as error:
            return {"ok": False, "status": "invalid_credentials", "error": error.to_dict()["error"]}
        except TransportError as error:
            return {"ok": False, "status": "unreachable", "error": error.to_dict()["error"]}
        except ComponentError as error:
            return {"ok": False, "status": "vendor_error", "error": error.to_dict()["error"]}
        return {"ok": True, "action": result["action"], "ms": result["ms"]}

    # --- actions and picklists --------------------------------------------------------------------

    async def run(
        self, ref: str, inputs: Any, connection: ConnectionSource = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Run an action: ``{"data": …}``, or on ``dry_run`` the request it would send."""
        return await self._call("actions", ref, inputs, connection, dry_run=dry_run)

    async def picklist(
        self,
        ref: str,
        inputs: Any = None,
        connection: ConnectionSource = None,
        *,
        search: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Run a picklist: ``{"result", "truncated"}``, served from the picklist cache where fresh.

        ``search`` goes to the vendor as the data source's own ``search`` input where it has one;
        otherwise the (cached) entries are filtered by key or label, ignoring case.
        """
        inputs = {} if inputs is None else inputs
        definition = self.find("dataSources", ref)
        searched = bool(search) and "search" in (definition.model.inputs.get("properties") or {})
        if searched and isinstance(inputs, dict):
            inputs = {**inputs, "search": search}
        result = await self._call("dataSources", ref, inputs, connection, dry_run=dry_run)
        if search and not searched and not dry_run:
            needle = search.casefold()
            kept = [e for e in result["result"] if needle in e["label"].casefold() or needle in e["key"]]
            result = {"result": kept, "truncated": result["truncated"]}
        return result

    async def _call(
        self, kind: Kind, ref: str, inputs: Any, connection: ConnectionSource, *, dry_run: bool
    ) -> dict[str, Any]:
        from .runtime import check_inputs

        definition = self.find(kind, ref)
        if callable(connection):
            # inputs first: a bad input is reported before the connection is read (a one-off check
            # that does not count towards compiling the schema; the run checks them again)
            check_inputs(definition, inputs, compiled=False)
        data = self.resolve_connection(definition.connector, connection)
        call = self.runtime.run if kind == "actions" else self.runtime.picklist
        return await call(ref, inputs, data, dry_run=dry_run)

    # --- triggers ---------------------------------------------------------------------------------

    def check_trigger(self, ref: str, inputs: Any) -> LoadedDefinition:
        from .runtime import check_inputs

        definition = self.find("triggers", ref)
        check_inputs(definition, inputs)
        return definition

    async def watch(
        self,
        ref: str,
        inputs: Any,
        connection: ConnectionSource,
        store: StateStore,
        instance: str,
        *,
        deliver: Deliver,
        every: float | None = None,
        dry_run: bool = False,
        on_poll: Callable[[int, PollOutcome], None] | None = None,
        on_stop: Callable[[str], None] | None = None,
        on_retry: Callable[[ComponentError, float], None] | None = None,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Poll durably (the state is committed once ``deliver`` returned), once or every ``every`` s;
        with ``every``, transient failures are retried (``on_retry``) and Ctrl-C, or setting
        ``stop``, stops after the current request (``on_stop`` says so for Ctrl-C)."""
        from .triggers.watch import watch

        definition = self.check_trigger(ref, inputs)
        data = self.resolve_connection(definition.connector, connection)
        return await watch(
            self.runtime, ref, inputs, data, store, instance,
            deliver=deliver, every=every, dry_run=dry_run,
            on_poll=on_poll, on_stop=on_stop, on_retry=on_retry, stop=stop,
        )  # fmt: skip

    async def poll_batch(
        self,
        ref: str,
        inputs: Any,
        connection: ConnectionSource,
        store: StateStore,
        pending: PendingStore,
        instance: str,
    ) -> Batch:
        """Poll once and keep the next state pending: nothing is committed until :meth:`commit_batch`
        is called with the batch's token, so a caller that fails to store the events polls again from
        the same place and gets them again (with anything newer). A poll without events commits at
        once (a new instance's starting point is kept so)."""
        from .triggers.store import new_owner

        definition = self.check_trigger(ref, inputs)
        data = self.resolve_connection(definition.connector, connection)
        lease = store.lease(instance, new_owner(), 300.0)
        if lease is None:
            return Batch([], None, busy=True)
        try:
            result = await self.runtime.poll(ref, inputs, data, store.load(instance))
            if not result.events:  # nothing to lose: the state (a new instance's start) moves on now
                store.commit(lease, result.state)
                return Batch([], None, result.requests, committed=True)
            token = f"{_state_digest(ref, instance)}.{uuid.uuid4().hex}"
            pending.put_pending(instance, token, result.state)
        finally:
            store.release(lease)
        return Batch(result.events, token, result.requests)

    def commit_batch(
        self, ref: str, store: StateStore, pending: PendingStore, instance: str, token: str
    ) -> None:
        """Commit the state a :meth:`poll_batch` left pending under ``token``."""
        from .triggers.store import new_owner

        self.find("triggers", ref)
        if not token.startswith(_state_digest(ref, instance) + "."):
            raise UnknownCommitError(f"commit {token!r} does not belong to {ref} instance {instance!r}")
        lease = store.lease(instance, new_owner(), 60.0)
        if lease is None:
            raise UnknownCommitError(f"trigger instance {instance!r} is being polled; commit again shortly")
        try:
            state = pending.take_pending(instance, token)
            if state is None:
                raise UnknownCommitError(
                    f"no pending batch {token!r} for instance {instance!r}: it was committed already, "
                    "or a later poll replaced it"
                )
            store.commit(lease, state)
        finally:
            store.release(lease)

    # --- flows ------------------------------------------------------------------------------------

    def flow_connections(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Connections by connector for a flow: the sandbox's where none is given, secrets registered."""
        merged: dict[str, Any] = dict(self.sandbox.connections()) if self.sandbox is not None else {}
        merged.update(given or {})
        for connector, data in merged.items():
            if connector in self.catalog.connectors and isinstance(data, dict):
                self.resolve_connection(connector, data)
        return merged

    async def run_flow(
        self,
        flow: Flow,
        connections: Mapping[str, Any] | None,
        *,
        dry_run: bool = False,
        on_step: StepCallback | None = None,
        store: StateStore | None = None,
        instance: str | None = None,
    ) -> dict[str, Any]:
        """Run a flow document: each step's result, or the failing step and its error. A flow with a
        trigger needs ``store`` and ``instance``: its steps run once per new event."""
        from .flows import run_flow

        merged = self.flow_connections(connections)
        async with self.runtime if self.runtime._open is None else contextlib.nullcontext(self.runtime):
            if flow.trigger is not None:
                from .triggers.flow import run_triggered_flow

                if store is None or not instance:
                    raise UsageError(
                        f"flow {flow.name!r} starts from the trigger {flow.trigger.trigger}: "
                        "give an instance id (and optionally a state store) so its place is kept"
                    )
                return await run_triggered_flow(
                    self.runtime, flow, merged, store, instance, dry_run=dry_run, on_step=on_step
                )
            return await run_flow(self.runtime, flow, merged, dry_run=dry_run, on_step=on_step)


def _state_digest(ref: str, instance: str) -> str:
    return hashlib.sha256(f"{ref}\0{instance}".encode()).hexdigest()[:12]
