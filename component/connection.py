"""Connections: a JSON object per connector, validated by the connector's connection schema.

Values come from a JSON file, from ``${VAR}`` references inside that file, or from the
environment variable a field names with ``"x-env"``; so secrets need not sit in files. A
connection never shows secret values in its ``repr`` and its validation errors never echo them.

Where credentials may go is decided here, once, by :func:`destinations` (the credential rule):

- the client secret goes only to the token endpoint; the bearer token, the API key and every
  connection header (``ST-App-Key``) only to the API base URL's host; nothing else carries them;
- a connection may replace the environment's hosts with ``baseUrl`` (and, for OAuth2, ``tokenUrl``),
  but ``tokenUrl`` only together with ``baseUrl`` and on the same origin (scheme, host and port):
  an overridden connection sends every credential to that one host;
- no URL may carry userinfo (``user:pw@``); an override must use ``https`` unless its host is a
  loopback address (127.0.0.0/8, ``::1``, ``localhost``); a link-local or unspecified address
  (``169.254.169.254``, ``0.0.0.0``) is refused;
- where ``COMPONENT_ALLOWED_HOSTS`` is set (comma-separated hosts, ``*.suffix`` for subdomains),
  an override's host must be on it; the environments' own hosts always are.

Requests answered in process (a transport with ``in_process = True``: the embedded sandbox's) leave
nothing on the network, so only the shape of their URLs is checked: no userinfo, no ``tokenUrl``
without ``baseUrl``. Who sends to which URL is the session's part (:class:`component.http.Session`:
its client follows no redirect and its paths cannot leave the base URL's origin).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from .catalog import LoadedConnector
from .errors import ConnectionConfigError, UsageError
from .jsontext import JsonTextError, loads, read_bounded
from .redact import REDACTED, Redactor, registry_for
from .templates import CONTROL_CHARACTERS

_ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
ALLOWED_HOSTS_VARIABLE = "COMPONENT_ALLOWED_HOSTS"


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
        self._destinations: dict[tuple[Any, ...], Destinations] = {}
        self._loaded = connector
        self._redactor: Redactor | None = None

    def key(self) -> str:
        """A stable digest of the connector and values: sessions are shared by equal connections."""
        if self._key is None:
            text = json.dumps([self.connector, self.values], sort_keys=True, default=str)
            self._key = hashlib.sha256(text.encode()).hexdigest()
        return self._key

    def destinations(
        self, *, base_url: str | None = None, env: Mapping[str, str] | None = None, in_process: bool = False
    ) -> Destinations:
        """Where this connection's credentials go (:func:`destinations`), worked out once per setting."""
        allowed = (os.environ if env is None else env).get(ALLOWED_HOSTS_VARIABLE)
        key = (base_url, allowed, in_process)
        if key not in self._destinations:
            self._destinations[key] = destinations(
                self._loaded, self, base_url=base_url, allowed=allowed, in_process=in_process
            )
        return self._destinations[key]

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
    problems = connector.connection_validator.problems(values)
    if not problems and (problems := _character_problems(connector, values)):
        raise ConnectionConfigError(
            f"the {connector.name} connection is not valid: "
            + "; ".join(f"{p['path'][2:]} {p['message']}" for p in problems),
            problems=problems,
        )
    if problems:
        redactor = Redactor(str(values[name]) for name in connector.secret_fields if values.get(name))
        problems = [redactor.data(p) for p in problems]
        missing = [p["path"][2:] for p in problems if p["message"] == "is required"]
        hints = _env_hints(connector, missing)
        raise ConnectionConfigError(f"the {connector.name} connection is not valid{hints}", problems=problems)
    return Connection(connector, values)


def _character_problems(connector: LoadedConnector, values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Values with a control character (a line break pasted from a file), and secrets with spaces at
    either end or a non-ASCII character (a pasted non-breaking space): refused, never echoed.

    A secret travels in a header or a form field exactly as given; such a value could only be
    refused by the vendor (or by HTTP itself) after something was sent.
    """
    problems = []
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if CONTROL_CHARACTERS.search(value):
            message = "contains a control character (such as a line break pasted from a file); remove it"
        elif name not in connector.secret_fields:
            continue
        elif value != value.strip():
            message = "starts or ends with whitespace (such as a space pasted with it); remove it"
        elif not value.isascii():
            message = (
                "contains a non-ASCII character (such as a non-breaking space pasted from a web page); "
                "a secret is plain ASCII"
            )
        else:
            continue
        problems.append({"path": f"$.{name}", "message": message})
    return problems


# --- the credential rule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Destinations:
    """Where a connection's requests go. The client secret goes to ``token_url`` only; the bearer
    token, the API key and the connection's headers to ``base_url``'s host only."""

    base_url: str
    token_url: str | None


def destinations(
    connector: LoadedConnector,
    connection: Connection,
    *,
    base_url: str | None = None,
    allowed: str | None = None,
    in_process: bool = False,
) -> Destinations:
    """The connection's API base URL and token endpoint, under the credential rule (module docstring).

    ``base_url`` is the runtime's own override (taken like a connection's ``baseUrl``); ``allowed`` the
    value of ``COMPONENT_ALLOWED_HOSTS``; ``in_process`` whether requests are answered in process.
    Raises :class:`ConnectionConfigError` naming the field; a refused URL is never echoed.
    """
    environment = connector.model.connection.environments[connection.environment]
    values = connection.values
    hosts = _allowed_hosts(allowed)

    def checked(field: str, text: str) -> httpx2.URL:
        url = _checked_override(text, hosts, in_process)
        if isinstance(url, str):
            raise ConnectionConfigError(
                f"the {connector.name} connection is not valid: {field} {url}",
                problems=[{"path": f"$.{field}", "message": url}],
            )
        return url

    base_text = values.get("baseUrl") or base_url
    token_text = values.get("tokenUrl")
    base = checked("baseUrl", str(base_text)) if base_text else httpx2.URL(environment.baseUrl)
    if token_text:
        token = checked("tokenUrl", str(token_text))
        if not base_text:
            message = (
                "may only be set together with baseUrl: alone it would send the client secret to "
                f"{token.host} while the token it returns goes to {base.host}"
            )
            raise ConnectionConfigError(
                f"the {connector.name} connection is not valid: tokenUrl {message}",
                problems=[{"path": "$.tokenUrl", "message": message}],
            )
        if not in_process and _origin(token) != _origin(base):
            message = (
                f"must be on baseUrl's scheme, host and port ({base.scheme}://{base.netloc.decode()}): "
                "a connection that replaces the vendor's hosts sends every credential to one host"
            )
            raise ConnectionConfigError(
                f"the {connector.name} connection is not valid: tokenUrl {message}",
                problems=[{"path": "$.tokenUrl", "message": message}],
            )
        token_url: str | None = str(token)
    elif base_text and environment.tokenUrl:  # the vendor's token path on the replaced host
        token_url = str(base.join(httpx2.URL(environment.tokenUrl).path))
    else:
        token_url = environment.tokenUrl
    return Destinations(str(base), token_url)


def _origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _allowed_hosts(text: str | None) -> list[str] | None:
    """``COMPONENT_ALLOWED_HOSTS`` as lower-case entries; None when unset or empty."""
    entries = [e.strip().strip("[]").lower() for e in (text or "").split(",") if e.strip()]
    return entries or None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _checked_override(text: str, hosts: list[str] | None, in_process: bool) -> httpx2.URL | str:
    """The parsed override, or why it is refused (a message that never quotes the URL)."""
    try:
        url = httpx2.URL(text)
    except httpx2.InvalidURL:
        return "is not a valid URL"
    authority = re.split(r"[/?#]", text.partition("://")[2], maxsplit=1)[0]
    if "@" in authority or url.userinfo:
        return (
            "may not carry a user name or password (user:pw@): credentials come only from the "
            "connection's own fields"
        )
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an http or https URL with a host"
    if in_process:
        return url
    address = _address(url.host)
    if address is not None and (address.is_link_local or address.is_unspecified):
        return (
            "may not point at a link-local or unspecified address (such as the cloud metadata "
            "service at 169.254.169.254)"
        )
    loopback = url.host == "localhost" or (address is not None and address.is_loopback)
    if url.scheme != "https" and not loopback:
        return (
            f"must use https: plain http is allowed only to a loopback address (127.0.0.0/8, ::1, "
            f"localhost), and {url.host} is not one"
        )
    if hosts is not None and not _host_allowed(url, hosts):
        return f"points at {url.host}, which is not in {ALLOWED_HOSTS_VARIABLE}"
    return url


def _host_allowed(url: httpx2.URL, entries: list[str]) -> bool:
    names = {url.host.lower(), url.raw_host.decode("ascii").lower()}
    for entry in entries:
        if entry.startswith("*."):
            if any(name.endswith(entry[1:]) for name in names):
                return True
        elif entry in names:
            return True
    return False


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
