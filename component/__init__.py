"""fieldservice-component: declarative connectors for field-service-management platforms."""

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
from .runtime import Runtime
from .version import __version__

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
    "RequestRefusedError",
    "Runtime",
    "ServerError",
    "TransportError",
    "UsageError",
    "VendorError",
    "__version__",
    "check",
    "load",
    "make_connection",
]
