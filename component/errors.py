"""One typed error hierarchy for everything the component raises on purpose.

Every error turns into the same JSON shape (``{"error": {"type", "message", ...}}``) so the CLI,
flows and embedding hosts report failures alike. Vendor errors keep the vendor's status, message
and trace id.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ComponentError(Exception):
    """Base class. ``kind`` names the error in JSON; ``exit_code`` is what the CLI exits with."""

    kind: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {key: value for key, value in details.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"type": self.kind, "message": self.message, **self.details}}


class UsageError(ComponentError):
    """The caller asked for something that does not exist or cannot be parsed."""

    kind = "usage"
    exit_code = 2


class DefinitionError(ComponentError):
    """The manifest or a definition is unsound; ``problems`` lists each one with file and JSON path."""

    kind = "definition"
    exit_code = 3


class InputValidationError(ComponentError):
    """Inputs failed the definition's schema. Nothing was sent."""

    kind = "invalid_input"
    exit_code = 2

    def __init__(self, message: str, problems: list[dict[str, str]], **details: Any) -> None:
        super().__init__(message, problems=problems, **details)
        self.problems = problems


class ConnectionConfigError(InputValidationError):
    """The connection failed its connector's schema. Values of secret fields are never echoed."""

    kind = "invalid_connection"


class RequestRefusedError(ComponentError):
    """A request would leave the connector's own base URL, or carries a forbidden header."""

    kind = "request_refused"
    exit_code = 2


class TransportError(ComponentError):
    """The vendor could not be reached (network error, timeout, deadline spent)."""

    kind = "transport"


class VendorError(ComponentError):
    """The vendor answered with an error. ``status``, ``message`` and ``traceId`` are the vendor's."""

    kind = "vendor"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        vendor: str,
        trace_id: str | None = None,
        errors: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, vendor=vendor, traceId=trace_id, errors=errors)
        self.status = status
        self.vendor = vendor
        self.trace_id = trace_id
        self.errors = errors
        self.retry_after = retry_after


class BadRequestError(VendorError):
    kind = "bad_request"


class AuthError(VendorError):
    kind = "auth"


class NotFoundError(VendorError):
    kind = "not_found"


class ConflictError(VendorError):
    kind = "conflict"


class RateLimitedError(VendorError):
    kind = "rate_limited"


class ServerError(VendorError):
    kind = "server"


_BY_STATUS: dict[int, type[VendorError]] = {
    400: BadRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitedError,
}


def vendor_error_class(status: int) -> type[VendorError]:
    """The error class for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, VendorError)
