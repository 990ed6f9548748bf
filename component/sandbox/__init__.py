"""The embedded sandbox: ASGI emulations of ServiceTitan, Servicebay and Homebase360.

One :class:`Sandbox` holds the three vendor apps, routed by host in process
(``api.servicetitan.sandbox``, ``auth.servicetitan.sandbox``, ``servicebay.sandbox``,
``homebase360.sandbox``) and by path prefix when served on one port (``/servicetitan``,
``/servicebay``, ``/homebase360``). State lives as long as the object.

    sandbox = Sandbox()
    async with sandbox.runtime() as rt:                       # in process, no network
        await rt.run("servicetitan.getJob", {"id": 400001}, sandbox.connection("servicetitan"))

Its credentials (:data:`CREDENTIALS`) are fixed and documented, and nothing else accepts them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import httpx2
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Router
from starlette.types import Receive, Scope, Send

from . import homebase360, servicebay, servicetitan
from .data import doc_id
from .engine import SandboxError, VendorApp
from .faults import DroppedConnection, Faults

if TYPE_CHECKING:
    from ..runtime import Runtime

VENDORS = {
    "servicetitan": servicetitan.VENDOR,
    "servicebay": servicebay.VENDOR,
    "homebase360": homebase360.VENDOR,
}
HOSTS = {
    "servicetitan": ("api.servicetitan.sandbox", "auth.servicetitan.sandbox"),
    "servicebay": ("servicebay.sandbox",),
    "homebase360": ("homebase360.sandbox",),
}
CREDENTIALS: dict[str, dict[str, str]] = {
    "servicetitan": {
        "clientId": "sandbox-client-1000001",
        "clientSecret": servicetitan.CLIENTS["sandbox-client-1000001"][0],
        "tenant": servicetitan.TENANT,
        "applicationKey": servicetitan.APP_KEY,
        "environment": "integration",
    },
    "servicebay": {"apiKey": "sandbox-servicebay-key", "orgId": servicebay.ORG},
    "homebase360": {"apiKey": "sandbox-homebase360-key"},
}


class SandboxTransport(httpx2.AsyncBaseTransport):
    """``httpx2.ASGITransport`` over the sandbox; a dropped connection surfaces as a protocol error.

    Every request is answered in process, whatever its host: nothing reaches a network, so the
    credential rule's network checks (https, ``COMPONENT_ALLOWED_HOSTS``) do not apply to it.
    """

    in_process = True

    def __init__(self, app: Router) -> None:
        self._asgi = httpx2.ASGITransport(app=app, client=("127.0.0.1", 40000))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._asgi.handle_async_request(request)
        except DroppedConnection:
            raise httpx2.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from None


class Sandbox:
    """The three vendor sandboxes. ``faults`` and ``rate_limits`` are per vendor name."""

    def __init__(
        self,
        *,
        seed: int = 0,
        today: date | None = None,
        clock: Callable[[], datetime] | None = None,
        faults: Mapping[str, Faults] | None = None,
        rate_limits: Mapping[str, tuple[int, float] | None] | None = None,
    ) -> None:
        self.seed = seed
        clock = clock or (lambda: datetime.now(UTC))
        today = today or clock().date()
        self.vendors: dict[str, VendorApp] = {}
        routes: list[Host | Mount] = []
        for name, vendor in VENDORS.items():
            changes: dict[str, Any] = {"faults": (faults or {}).get(name) or Faults(seed=seed)}
            if rate_limits is not None and name in rate_limits:
                changes["rate_limit"] = rate_limits[name]
            app = VendorApp(dataclasses.replace(vendor, **changes), seed=seed, today=today, clock=clock)
            self.vendors[name] = app
            routes += [Host(host, app=app) for host in HOSTS[name]]
        routes += [Mount(f"/{name}", app=app) for name, app in self.vendors.items()]
        self.app = Router(routes=routes, default=self._unrouted)

    async def _unrouted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request no route takes (a path a vendor's mount cannot read, with a control character in
        an id): a 404 in the vendor's error format when the host or path prefix names one."""
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").split(":", 1)[0]
        path = str(scope.get("path", ""))
        response: Response = PlainTextResponse("Not Found", status_code=404)
        for name, app in self.vendors.items():
            if host in HOSTS[name] or path.startswith(f"/{name}/"):
                response = app.vendor.dialect.error(SandboxError(404, "Not found"))
                break
        await response(scope, receive, send)

    def __getitem__(self, vendor: str) -> VendorApp:
        return self.vendors[vendor]

    def faults(self, vendor: str) -> Faults:
        return self.vendors[vendor].faults

    def transport(self) -> httpx2.AsyncBaseTransport:
        return SandboxTransport(self.app)

    def connection(self, vendor: str, base: str | None = None) -> dict[str, str]:
        """The sandbox connection for ``vendor``: in process (``base`` None) or served at ``base``."""
        values = dict(CREDENTIALS[vendor])
        root = f"{base.rstrip('/')}/{vendor}" if base else f"http://{HOSTS[vendor][0]}"
        if vendor == "servicetitan":
            auth = f"{base.rstrip('/')}/{vendor}" if base else f"http://{HOSTS[vendor][1]}"
            values.update(baseUrl=root, tokenUrl=f"{auth}/connect/token")
        else:
            values["baseUrl"] = f"{root}/api/v1"
        return values

    def connections(self, base: str | None = None) -> dict[str, dict[str, str]]:
        return {vendor: self.connection(vendor, base) for vendor in self.vendors}

    def runtime(self, **options: Any) -> Runtime:
        """A :class:`~component.runtime.Runtime` whose requests reach this sandbox in process."""
        from ..runtime import Runtime

        return Runtime(transport=self.transport(), **options)

    def reset(self) -> None:
        """Forget every write, token and rate-limit count: back to the seeded data."""
        for app in self.vendors.values():
            app.state.reset()


__all__ = ["CREDENTIALS", "HOSTS", "Faults", "Sandbox", "SandboxTransport", "doc_id"]
