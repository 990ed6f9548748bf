"""fieldservice-component: declarative connectors for field-service-management platforms.

Names are imported on first use, so ``component --version`` and ``--help`` load neither the HTTP
client nor the definition models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .catalog import Catalog, check, load
    from .connection import Connection, make_connection
    from .errors import (
        AuthError,
        BadRequestError,
        ComponentError,
        ConflictError,
        ConnectionConfigError,
        DefinitionError,
        InputValidationError,
        NotFoundError,
        RateLimitedError,
        RequestRefusedError,
        ServerError,
        TransportError,
        UsageError,
        VendorError,
    )
    from .redact import Redactor
    from .runtime import Runtime
    from .sandbox import Sandbox

__all__ = [
    "AuthError",
    "BadRequestError",
    "Catalog",
    "ComponentError",
    "ConflictError",
    "Connection",
    "ConnectionConfigError",
    "DefinitionError",
    "InputValidationError",
    "NotFoundError",
    "RateLimitedError",
    "Redactor",
    "RequestRefusedError",
    "Runtime",
    "Sandbox",
    "ServerError",
    "TransportError",
    "UsageError",
    "VendorError",
    "__version__",
    "check",
    "load",
    "make_connection",
]
_HOMES = {
    "Catalog": "catalog",
    "check": "catalog",
    "load": "catalog",
    "Connection": "connection",
    "make_connection": "connection",
    "Runtime": "runtime",
    "Sandbox": "sandbox",
    "Redactor": "redact",
}  # redact() is imported from component.redact: the module of that name would shadow it


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name, "errors" if name.endswith("Error") and name in __all__ else None)
    if home is None:
        raise AttributeError(f"module 'component' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
