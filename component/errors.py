"""One typed error hierarchy for everything the component raises on purpose.

Every error turns into the same JSON shape (``{"error": {"type", "message", ...}}``) so the CLI,
flows and embedding hosts report failures alike. Vendor errors keep the vendor's status, message
and trace id.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol


def did_you_mean(name: str, options: Any, prefix: str = "") -> str:
    """``; did you mean 'X'?`` naming the option closest to a mistyped ``name`` (written ``prefix``
    then the option), or nothing when none is close."""
    import difflib  # only a mistake needs it

    close = difflib.get_close_matches(name, list(options), n=1)
    return f"; did you mean {prefix + close[0]!r}?" if close else ""


class _Redactor(Protocol):
    def text(self, text: str) -> str: ...

    def data(self, value: Any) -> Any: ...


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

    def redact(self, redactor: _Redactor) -> ComponentError:
        """Redact secrets from the message and every detail, in place; returns ``self``."""
        self.message = redactor.text(self.message)
        self.args = (self.message,)
        self.details = redactor.data(self.details)
        for name in ("trace_id", "errors", "problems"):
            if getattr(self, name, None) is not None:
                setattr(self, name, redactor.data(getattr(self, name)))
        return self


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


class StateStoreError(ComponentError):
    """The trigger state store cannot be opened, read or written, or an instance's stored row is not a
    state of the trigger polled (not JSON, not an object, fields missing or of the wrong type, times
    out of range, another trigger's or another version's state). Nothing in the store was changed."""

    kind = "state_store"
    exit_code = 2


class SinkError(ComponentError):
    """The events of a poll could not be handed to the configured sink (a webhook that kept failing
    or refused them, a task queue that cannot be reached). The trigger's state was not committed,
    so the next poll delivers the same events again (with the same ``eventId``)."""

    kind = "sink"


class TransportError(ComponentError):
    """The vendor could not be reached or did not answer in time (network error, timeout, deadline).

    ``maybeApplied`` says whether the request may have reached the vendor (and so may have done its
    work): false when nothing was sent (connect errors), true once it may have been.
    """

    kind = "transport"

    def __init__(self, message: str, *, vendor: str | None = None, maybe_applied: bool = True) -> None:
        super().__init__(message, vendor=vendor, maybeApplied=maybe_applied)
        self.maybe_applied = maybe_applied


class VendorError(ComponentError):
    """The vendor answered with an error. ``status``, ``message`` and ``traceId`` are the vendor's.

    ``maybeApplied``: a 5xx (or an unreadable answer) may come after the vendor did the work; a 4xx
    means it did not. ``retryAfter`` (seconds) is set when the vendor said when to try again.
    """

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
        maybe_applied: bool | None = None,
    ) -> None:
        if maybe_applied is None:
            maybe_applied = status >= 500
        super().__init__(
            message,
            status=status,
            vendor=vendor,
            traceId=trace_id,
            errors=errors,
            retryAfter=retry_after,
            maybeApplied=maybe_applied,
        )
        self.status = status
        self.vendor = vendor
        self.trace_id = trace_id
        self.errors = errors
        self.maybe_applied = maybe_applied
        self.retry_after = retry_after

    @property
    def retry_after(self) -> float | None:
        return self._retry_after

    @retry_after.setter
    def retry_after(self, seconds: float | None) -> None:
        self._retry_after = seconds
        if seconds is None:
            self.details.pop("retryAfter", None)
        else:
            self.details["retryAfter"] = round(seconds, 3)


class BadRequestError(VendorError):
    kind = "bad_request"


class AuthError(VendorError):
    kind = "auth"


class CredentialsError(AuthError):
    """The vendor refused the connection's credentials: a token request answered 400/401, or the API
    answered a status the connector's envelope declares a credential refusal (``credentials``).
    ``fields`` names the connection fields to check, ``hint`` says so in words; ``message`` stays the
    vendor's."""

    kind = "invalid_credentials"
    exit_code = 2

    def __init__(
        self, message: str, *, fields: list[str] | None = None, hint: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.fields = fields
        if fields:
            self.details["fields"] = list(fields)
        if hint:
            self.details["hint"] = hint


class NotFoundError(VendorError):
    kind = "not_found"


class ConflictError(VendorError):
    kind = "conflict"


class RateLimitedError(VendorError):
    kind = "rate_limited"


class ServerError(VendorError):
    kind = "server"


class UnexpectedBodyError(VendorError):
    """A success status with a body that is not what the definition declares (HTML, cut-off JSON)."""

    kind = "unexpected_body"


class ResponseTooLargeError(VendorError):
    """A response body (counted after decompression) grew past the connector's ``maxResponseBytes``.

    Reading stopped at the bound, so memory stays bounded whatever the vendor sends: a huge body, a
    small compressed one that inflates without end, or a chunked body that never ends.
    """

    kind = "response_too_large"


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
