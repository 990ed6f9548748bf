"""The service's own errors and the HTTP status of every typed error.

Errors keep the CLI's JSON shape, ``{"error": {"type", "message", …}}``; vendor errors keep the
vendor's status, message and trace id. Nothing unexpected is described beyond its request id.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..app import UnknownCommitError
from ..errors import (
    ComponentError,
    InputValidationError,
    RateLimitedError,
    RequestRefusedError,
    TransportError,
    UsageError,
    VendorError,
)
from ..triggers.core import StateMismatchError
from ..triggers.store import LeaseLostError, StateStoreError


class ServiceError(ComponentError):
    """An error of the service itself; ``status`` is its HTTP status."""

    status: ClassVar[int] = 400


class BadRequestError(ServiceError):
    kind = "bad_request"


class MalformedJsonError(ServiceError):
    kind = "malformed_json"


class UnauthorizedError(ServiceError):
    kind = "unauthorized"
    status = 401


class UnknownError(ServiceError):
    """No such definition, connection, route or trigger instance."""

    kind = "unknown"
    status = 404


class MisdirectedError(ServiceError):
    """A Host the service does not answer for (without a token: loopback names only)."""

    kind = "misdirected"
    status = 421


class MethodNotAllowedError(ServiceError):
    kind = "method_not_allowed"
    status = 405


class ReadOnlyError(ServiceError):
    """A connection from the ``--connections`` file, the environment or the sandbox: not changeable here."""

    kind = "read_only"
    status = 409


class NoSecretKeyError(ServiceError):
    """Secrets cannot be stored: no encryption key is configured."""

    kind = "no_secret_key"
    status = 409


class BodyTooLargeError(ServiceError):
    kind = "too_large"
    status = 413


class MediaTypeError(ServiceError):
    kind = "unsupported_media_type"
    status = 415


class WaitTooLongError(ServiceError):
    """The rate budget would make the caller wait past its timeout; ``retryAfter`` says how long."""

    kind = "rate_limited"
    status = 429


def http_status(error: ComponentError) -> int:
    """The HTTP status of a typed error."""
    if isinstance(error, ServiceError):
        return error.status
    if isinstance(error, UnknownCommitError | LeaseLostError | StateMismatchError):
        return 409  # an instance id already used for another trigger or inputs, say
    if isinstance(error, InputValidationError | RequestRefusedError):
        return 422
    if isinstance(error, UsageError):
        return 400
    if isinstance(error, RateLimitedError):
        return 429
    if isinstance(error, VendorError):
        return 502
    if isinstance(error, TransportError):
        return 504
    if isinstance(error, StateStoreError):
        return 503
    return 500


def retry_after(error: ComponentError) -> str | None:
    """``Retry-After`` (whole seconds, rounded up) for a 429."""
    seconds = error.details.get("retryAfter")
    if not isinstance(seconds, int | float):
        return None
    return str(max(1, int(-(-seconds // 1))))


def internal(request_id: str) -> dict[str, Any]:
    """The body of an unexpected failure: no type name, message, traceback or path."""
    return {
        "error": {
            "type": "internal",
            "message": "the service failed unexpectedly; its log has the details under request id "
            + request_id,
            "requestId": request_id,
        }
    }
