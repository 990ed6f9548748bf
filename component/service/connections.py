"""Connections by id. Stored ones are validated against their connector's connection schema and
keep their secrets sealed with Fernet (``cryptography``) under a key from the environment; secrets
are never shown again. Changing where a stored connection sends its credentials (``baseUrl``,
``tokenUrl`` or the environment) drops its secrets, so a secret nobody can read back can never be
redirected to another host. Connections from the ``--connections`` file, the sandbox or the
environment are read-only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from ..app import Application
from ..catalog import LoadedConnector
from ..errors import ConnectionConfigError, UsageError
from .errors import NoSecretKeyError, ReadOnlyError, UnknownError
from .store import ConnectionStore, StoredConnection

KEY_ENV = "COMPONENT_SECRET_KEY"
KEY_HINT = (
    f"set {KEY_ENV} to a Fernet key, for example the output of "
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())', "
    "and keep it: stored secrets cannot be read without it"
)
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ROUTING_FIELDS = ("baseUrl", "tokenUrl")


def secret_fields(connector: LoadedConnector) -> set[str]:
    """Fields never shown: marked secret (``x-secret``) or write-only."""
    props = connector.model.connection.schema_.get("properties", {})
    return set(connector.secret_fields) | {
        name for name, prop in props.items() if isinstance(prop, dict) and prop.get("writeOnly")
    }


class Connections:
    """Read-only connections (by id) and the store's, resolved to the data a call needs."""

    def __init__(
        self,
        app: Application,
        store: ConnectionStore,
        read_only: Mapping[str, tuple[str, str, Mapping[str, Any]]] | None = None,
        key: str | None = None,
    ) -> None:
        """``read_only``: ``{id: (source, connector, data)}``; ``key``: the Fernet key (default: from
        ``$COMPONENT_SECRET_KEY``)."""
        self.app = app
        self.store = store
        self.read_only = dict(read_only or {})
        key = os.environ.get(KEY_ENV) if key is None else key
        self._fernet: Any = None
        if key:
            from cryptography.fernet import Fernet

            try:
                self._fernet = Fernet(key.encode())
            except ValueError:
                raise NoSecretKeyError(f"{KEY_ENV} is not a valid Fernet key; {KEY_HINT}") from None
        for _, connector, data in self.read_only.values():
            if connector in app.catalog.connectors:
                app.resolve_connection(connector, data)

    @staticmethod
    def sources(
        app: Application, file_data: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> dict[str, tuple[str, str, Mapping[str, Any]]]:
        """Read-only connections: the file's (keyed by connector name, or by id with ``connector`` and
        ``values``), then the sandbox's, then the environment's (``x-env`` fields), by connector name.

        Environment values and ``${VAR}`` references are read here, once: the service's runtime reads
        no environment afterwards, so a stored connection can never pick up a secret from it.
        """
        from ..connection import connection_values

        env = os.environ if env is None else env
        found: dict[str, tuple[str, str, Mapping[str, Any]]] = {}
        for id, entry in (file_data or {}).items():
            if id in app.catalog.connectors and isinstance(entry, dict):
                connector, data = id, entry
            elif isinstance(entry, dict) and isinstance(entry.get("connector"), str):
                connector, data = entry["connector"], dict(entry.get("values") or {})
            else:
                raise UsageError(
                    f"the connections file's entry {id!r} must be keyed by a connector name, or be "
                    '{"connector": NAME, "values": {…}}'
                )
            found[id] = ("file", connector, connection_values(app.catalog.connector(connector), data, env))
        for name, loaded in app.catalog.connectors.items():
            if name in found:
                continue
            if app.sandbox is not None:
                found[name] = ("sandbox", name, app.sandbox.connection(name))
            elif any(variable in env for _, variable in loaded.env_fields):
                found[name] = ("environment", name, connection_values(loaded, {}, env))
        return found

    # --- for calls ---------------------------------------------------------------------------------

    def data(self, connector: str, id: str | None) -> Mapping[str, Any] | None:
        """What a call on ``connector`` runs with: the connection ``id``, or (None) the default one."""
        if id is None:
            return self.read_only[connector][2] if connector in self.read_only else None
        found_connector, data = self._lookup(id)
        if found_connector != connector:
            raise ConnectionConfigError(
                f"connection {id!r} is a {found_connector} connection, not a {connector} one",
                problems=[{"path": "$.connection", "message": f"must name a {connector} connection"}],
            )
        return data

    def _lookup(self, id: str) -> tuple[str, Mapping[str, Any]]:
        if id in self.read_only:
            _, connector, data = self.read_only[id]
            return connector, data
        stored = self.store.get(id)
        if stored is None:
            raise UnknownError(f"no connection {id!r}")
        secrets = self._unseal(stored)
        self.app.protect(secrets)
        return stored.connector, {**stored.values, **secrets}

    def _unseal(self, stored: StoredConnection) -> dict[str, Any]:
        if stored.sealed is None:
            return {}
        if self._fernet is None:
            raise NoSecretKeyError(f"connection {stored.id!r} has stored secrets; {KEY_HINT}")
        from cryptography.fernet import InvalidToken

        try:
            secrets = json.loads(self._fernet.decrypt(stored.sealed))
        except InvalidToken:
            raise NoSecretKeyError(
                f"the secrets of connection {stored.id!r} were sealed with another key; {KEY_HINT}"
            ) from None
        return secrets if isinstance(secrets, dict) else {}

    # --- the store's endpoints ---------------------------------------------------------------------

    def view(self, id: str) -> dict[str, Any]:
        """A connection without its secrets: which secret fields are set, never their values."""
        if id in self.read_only:
            source, connector, data = self.read_only[id]
            return self._shown(id, self.app.catalog.connector(connector), data, source, read_only=True)
        stored = self.store.get(id)
        if stored is None:
            raise UnknownError(f"no connection {id!r}")
        loaded = self.app.catalog.connector(stored.connector)
        shown = self._shown(id, loaded, stored.values, "store", read_only=False)
        shown["secretsSet"] = sorted(stored.secret_names)  # never unsealed to be shown
        return shown

    def _shown(
        self, id: str, loaded: LoadedConnector, values: Mapping[str, Any], source: str, *, read_only: bool
    ) -> dict[str, Any]:
        hidden = secret_fields(loaded)
        return {
            "id": id,
            "connector": loaded.name,
            "values": {k: v for k, v in values.items() if k not in hidden},
            "secretsSet": sorted(k for k in hidden if values.get(k)),
            "source": source,
            "readOnly": read_only,
        }

    def list(self) -> list[dict[str, Any]]:
        ids = sorted(self.read_only) + [c.id for c in self.store.list() if c.id not in self.read_only]
        return [self.view(id) for id in ids]

    def put(self, id: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Create or change a stored connection; returns its view and whether it is new."""
        from ..connection import make_connection

        self._check_id(id)
        if id in self.read_only:
            raise ReadOnlyError(f"connection {id!r} comes from the {self.read_only[id][0]}; it is read-only")
        connector_name, values = _put_body(body)
        loaded = self.app.catalog.connector(connector_name)
        hidden = secret_fields(loaded)
        given_secrets = {k: v for k, v in values.items() if k in hidden and v not in (None, "")}
        self.app.protect(given_secrets)
        plain = {k: v for k, v in values.items() if k not in hidden}
        existing = self.store.get(id)
        kept: dict[str, Any] = {}
        if existing is not None and existing.connector == connector_name:
            field = loaded.model.connection.environmentField
            routing = (*ROUTING_FIELDS, *((field,) if field else ()))
            if all(existing.values.get(name) == plain.get(name) for name in routing):
                kept = self._unseal(existing)
        secrets = {**kept, **given_secrets}
        try:
            make_connection(loaded, {**plain, **secrets}, {})
        except ConnectionConfigError as error:
            # a secret still to be entered is not a reason to refuse the rest
            problems = [
                p for p in error.problems if not (p["message"] == "is required" and p["path"][2:] in hidden)
            ]
            if problems:
                raise ConnectionConfigError(error.message, problems=problems) from None
        if secrets and self._fernet is None:
            raise NoSecretKeyError(f"cannot store the secrets of connection {id!r}: {KEY_HINT}")
        sealed = self._fernet.encrypt(json.dumps(secrets).encode()) if secrets else None
        self.store.put(StoredConnection(id, connector_name, plain, sealed, tuple(secrets)))
        return self.view(id), existing is None

    def delete(self, id: str) -> None:
        if id in self.read_only:
            raise ReadOnlyError(f"connection {id!r} comes from the {self.read_only[id][0]}; it is read-only")
        if not self.store.delete(id):
            raise UnknownError(f"no connection {id!r}")

    async def test(self, id: str) -> dict[str, Any]:
        connector, data = self._lookup(id)
        return {"id": id, **await self.app.test_connection(connector, data)}

    @staticmethod
    def _check_id(id: str) -> None:
        if not ID_PATTERN.match(id):
            raise ConnectionConfigError(
                f"connection id {id!r} must be 1-128 letters, digits, '.', '_' or '-'",
                problems=[{"path": "$.id", "message": "must match " + ID_PATTERN.pattern}],
            )


def _put_body(body: Any) -> tuple[str, dict[str, Any]]:
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("connector"), str)
        or not isinstance(body.get("values", {}), dict)
    ):
        raise ConnectionConfigError(
            'a connection is {"connector": NAME, "values": {…}}',
            problems=[{"path": "$", "message": "must be an object with connector (a name) and values"}],
        )
    unknown = sorted(set(body) - {"connector", "values"})
    if unknown:
        raise ConnectionConfigError(
            f"unknown field(s) {', '.join(unknown)}",
            problems=[{"path": f"$.{name}", "message": "is not allowed"} for name in unknown],
        )
    return body["connector"], dict(body.get("values") or {})
