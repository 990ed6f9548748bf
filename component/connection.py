"""Connections: a JSON object per connector, validated by the connector's connection schema.

Values come from a JSON file, from ``${VAR}`` references inside that file, or from the
environment variable a field names with ``"x-env"``; so secrets need not sit in files. A
connection never shows secret values in its ``repr`` and its validation errors never echo them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .catalog import LoadedConnector
from .errors import ConnectionConfigError, UsageError
from .jsontext import JsonTextError, loads, read_bounded
from .redact import REDACTED, Redactor, registry_for
from .templates import CONTROL_CHARACTERS

_ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class Connection:
    """Validated values for one connector (not to be changed once made). Secrets are masked in ``repr``."""

    def __init__(self, connector: LoadedConnector, values: Mapping[str, Any]) -> None:
        self.connector = connector.name
        self.values: dict[str, Any] = dict(values)
        self.secret_fields = tuple(connector.secret_fields)
        model = connector.model.connection
        field = model.environmentField
        self.environment = (
            str(self.values[field]) if field and field in self.values else next(iter(model.environments))
        )
        self._key: str | None = None
        self._redactor: Redactor | None = None

    def key(self) -> str:
        """A stable digest of the connector and values: sessions are shared by equal connections."""
        if self._key is None:
            text = json.dumps([self.connector, self.values], sort_keys=True, default=str)
            self._key = hashlib.sha256(text.encode()).hexdigest()
        return self._key

    def secrets(self) -> list[str]:
        return [str(self.values[name]) for name in self.secret_fields if self.values.get(name)]

    def redactor(self) -> Redactor:
        """The registry of this connection's secrets in play: its secret fields (from the file, a
        ``${VAR}`` reference or the environment alike) and every token fetched for it (shared by
        equal connections)."""
        if self._redactor is None:
            self._redactor = registry_for(self.key(), self.secrets())
        return self._redactor

    def __repr__(self) -> str:
        shown = {k: (REDACTED if k in self.secret_fields else v) for k, v in self.values.items()}
        return f"Connection({self.connector}, {shown})"

    __str__ = __repr__


def _expand(field: str, value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        match = _ENV_REFERENCE.match(value)
        if match:
            if match[1] not in env:
                raise ConnectionConfigError(
                    f"connection field {field!r} refers to environment variable {match[1]}, which is not set",
                    problems=[
                        {"path": f"$.{field}", "message": f"environment variable {match[1]} is not set"}
                    ],
                )
            return env[match[1]]
    return value


def connection_values(
    connector: LoadedConnector, data: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge environment defaults (``x-env``) under the given values and expand ``${VAR}`` references."""
    env = os.environ if env is None else env
    values = {name: env[variable] for name, variable in connector.env_fields if variable in env}
    if data and isinstance(data.get(connector.name), dict):
        data = data[connector.name]
    if data:
        values.update(data)
        for name in [n for n, v in data.items() if isinstance(v, str) and v.startswith("${")]:
            values[name] = _expand(name, values[name], env)
    return values


def make_connection(
    connector: LoadedConnector, data: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Connection:
    """A validated :class:`Connection` for ``connector``."""
    values = connector.connection_validator.with_defaults(connection_values(connector, data, env))
    problems = connector.connection_validator.problems(values) or _control_problems(values)
    if problems:
        redactor = Redactor(str(values[name]) for name in connector.secret_fields if values.get(name))
        problems = [redactor.data(p) for p in problems]
        missing = [p["path"][2:] for p in problems if p["message"] == "is required"]
        hints = _env_hints(connector, missing)
        raise ConnectionConfigError(f"the {connector.name} connection is not valid{hints}", problems=problems)
    return Connection(connector, values)


def _control_problems(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Values with a control character (a line break pasted from a file): refused, never echoed."""
    return [
        {
            "path": f"$.{name}",
            "message": "contains a control character (such as a line break pasted from a file); remove it",
        }
        for name, value in values.items()
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value)
    ]


def _env_hints(connector: LoadedConnector, missing: list[str]) -> str:
    props = connector.model.connection.schema_.get("properties", {})
    names = [
        f"{field} (or ${props[field]['x-env']})" for field in missing if props.get(field, {}).get("x-env")
    ]
    return f"; set {', '.join(names)}" if names else ""


def read_connection_file(path: str | Path) -> dict[str, Any]:
    """Read a connection JSON file, with errors that name the file."""
    file = Path(path)
    try:
        data = loads(read_bounded(file))
    except FileNotFoundError:
        raise UsageError(f"connection file {str(file)!r} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read connection file {str(file)!r}: {exc.strerror}") from None
    except JsonTextError as exc:
        raise UsageError(f"connection file {str(file)!r} {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"connection file {str(file)!r} must hold a JSON object")
    return data
