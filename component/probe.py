"""Connection tests: run a connector's declared ``testConnection`` call and say what it proved.

The call is data (``manifest.json``: the connector's cheapest authenticated action and its inputs).
A vendor that refuses the credentials (a token request refused, or a 401/403 to the call) is
:class:`~component.errors.CredentialsError` (``invalid_credentials``, exit 2); a vendor that cannot be
reached is :class:`~component.errors.TransportError` (``transport``, exit 1); any other failure is
the call's own error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import AuthError, CredentialsError, UsageError

if TYPE_CHECKING:
    from .runtime import Runtime


async def check_connection(
    runtime: Runtime, connector: str, connection: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``{"connector", "ok": true, "action", "ms"}`` when the connection works; raises otherwise."""
    loaded = runtime.catalog.connector(connector)
    test = loaded.model.testConnection
    if test is None:
        raise UsageError(f"{connector} declares no connection test")
    started = time.perf_counter()
    try:
        await runtime.run(f"{connector}.{test.action}", dict(test.inputs), connection)
    except CredentialsError:
        raise
    except AuthError as error:
        raise CredentialsError(
            f"{loaded.model.label} refused the connection's credentials ({error.status}): {error.message}",
            status=error.status,
            vendor=error.vendor,
            trace_id=error.trace_id,
            maybe_applied=False,
        ) from None
    return {
        "connector": connector,
        "ok": True,
        "action": test.action,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
