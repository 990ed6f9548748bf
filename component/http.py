"""One session per connection: base URL, auth, HTTP policy and envelope decoding in one place.

Every request of every kind (action, picklist, trigger, raw request) is sent by
:meth:`Session.send`, so the host check, auth, rate budget, retries and redaction cannot be
skipped. Redirects are never followed: credentials go to the connector's own host or nowhere.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

import httpx

from . import progress, templates
from .auth import TOKENS, AuthStrategy, TokenCache, make_auth
from .catalog import LoadedConnector
from .connection import Connection
from .envelope import decode
from .errors import RequestRefusedError, TransportError, VendorError
from .policy import (
    BUDGETS,
    SYSTEM_CLOCK,
    BudgetRegistry,
    Clock,
    RateBudget,
    backoff_delay,
    header_delay,
    may_retry,
)
from .version import USER_AGENT

log = logging.getLogger("component.http")
_FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
NO_BODY = templates.MISSING


@cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context (httpx's defaults: certifi, or SSL_CERT_FILE/SSL_CERT_DIR) for every client.

    Building one loads the whole certificate bundle (~20 ms, ~800 KB); a client per connection
    would pay that per tenant.
    """
    return httpx.create_ssl_context()


@dataclass
class OutgoingRequest:
    """A rendered request, before auth: what ``--dry-run`` shows and what :meth:`Session.send` sends."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = NO_BODY
    form: dict[str, Any] | None = None
    files: dict[str, FilePart] | None = None


@dataclass(frozen=True)
class FilePart:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


class Session:
    def __init__(
        self,
        connector: LoadedConnector,
        connection: Connection,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        tokens: TokenCache = TOKENS,
        budgets: BudgetRegistry = BUDGETS,
        base_url: str | None = None,
    ) -> None:
        model = connector.model
        environment = model.connection.environments[connection.environment]
        self.connector = connector
        self.connection = connection
        self.policy = model.http
        self.vendor = connector.name
        self.clock = clock
        self.redactor = connection.redactor()
        # A connection's own baseUrl/tokenUrl (a served sandbox, a proxy, a vendor test host) replace
        # the environment's; credentials still go to that one host and nowhere else.
        base_url = connection.values.get("baseUrl") or base_url
        self.base_url = httpx.URL(base_url or environment.baseUrl)
        base_path = self.base_url.raw_path.decode().split("?")[0].rstrip("/")
        self._base_text = str(self.base_url.copy_with(raw_path=base_path.encode(), query=None))
        token_url = connection.values.get("tokenUrl") or environment.tokenUrl
        if base_url and token_url and not connection.values.get("tokenUrl"):
            token_url = str(self.base_url.join(httpx.URL(token_url).path))
        self.auth: AuthStrategy = make_auth(
            model.connection.auth,
            connection.values,
            token_url=token_url,
            vendor=self.vendor,
            clock=clock,
            cache=tokens,
            redactor=self.redactor,
            timeout=self.policy.timeout,
        )
        scope = {"connection": connection.values}
        self.default_headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        for name, template in model.connection.headers.items():
            value = templates.render(template, scope)
            if value is not templates.MISSING and value is not None:
                self.default_headers[name] = templates.as_text(value)
        self.reserved_headers = frozenset(
            name.lower() for name in [*self.auth.preview(), *model.connection.headers]
        )
        self.budget: RateBudget | None = None
        if self.policy.rateLimit:
            key = templates.render(self.policy.rateLimit.key, scope)
            budget_key = f"{self.vendor}|{'' if key is templates.MISSING else key}"
            self.budget = budgets.get(budget_key, self.policy.rateLimit, clock)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"Session({self.vendor}, {self.base_url}, {self.connection!r})"

    async def __aenter__(self) -> Session:
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=self.policy.timeout,
            follow_redirects=False,
            verify=ssl_context(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("use 'async with Session(...)' before sending")
        return self._client

    # --- building -------------------------------------------------------------------------------

    def url_for(self, path: str) -> httpx.URL:
        """The absolute URL of ``path``, refused unless it stays under the connector's base URL."""
        if "://" in path or "//" in path or "\\" in path or not path.startswith("/"):
            raise RequestRefusedError(
                f"path {path!r} must be relative to the {self.vendor} base URL and start with '/'; "
                "absolute URLs and other hosts are refused",
                base_url=str(self.base_url),
            )
        if "?" in path or "#" in path:
            raise RequestRefusedError(
                f"path {path!r} may not carry a query string or fragment; pass query parameters instead"
            )
        if any(unquote(segment) in {".", ".."} for segment in path.split("/")):
            raise RequestRefusedError(f"path {path!r} may not contain '.' or '..' segments")
        try:
            url = httpx.URL(self._base_text + path)  # one parse; nothing in path can reach the authority
        except httpx.InvalidURL as exc:
            raise RequestRefusedError(f"path {path!r} is not a valid URL path: {exc}") from None
        if (url.scheme, url.host, url.port) != (self.base_url.scheme, self.base_url.host, self.base_url.port):
            raise RequestRefusedError(f"path {path!r} leaves the {self.vendor} host")
        return url

    def _headers(self, request: OutgoingRequest) -> dict[str, str]:
        """Default, request and content headers, merged case-insensitively (auth comes on top)."""
        headers = dict(self.default_headers)

        def put(name: str, value: str) -> None:
            for existing in [key for key in headers if key.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value

        for name, value in request.headers.items():
            if name.lower() in _FORBIDDEN_HEADERS:
                raise RequestRefusedError(f"header {name!r} may not be set on a request")
            if name.lower() in self.reserved_headers:
                raise RequestRefusedError(
                    f"header {name!r} is set by the {self.vendor} connection and cannot be replaced"
                )
            put(name, value)
        if request.json is not NO_BODY:
            put("Content-Type", "application/json")
        elif request.form is not None and not request.files:
            put("Content-Type", "application/x-www-form-urlencoded")
        return headers

    @staticmethod
    def _query(query: dict[str, Any]) -> dict[str, Any]:
        return {
            k: templates.as_text(v) if isinstance(v, bool) else v for k, v in query.items() if v is not None
        }

    def preview(self, request: OutgoingRequest) -> dict[str, Any]:
        """What would be sent, with secrets redacted; sends nothing (``--dry-run``)."""
        out: dict[str, Any] = {
            "method": request.method,
            "url": str(self.url_for(request.path)),
            "query": self._query(request.query),
            "headers": {**self.redactor.headers(self._headers(request)), **self.auth.preview()},
        }
        if request.json is not NO_BODY:
            out["json"] = request.json
        if request.form is not None:
            out["form"] = request.form
        if request.files:
            out["files"] = {
                name: {"filename": part.filename, "contentType": part.content_type, "size": len(part.content)}
                for name, part in request.files.items()
            }
        redacted: dict[str, Any] = self.redactor.data(out)
        return redacted

    # --- sending --------------------------------------------------------------------------------

    async def send(self, request: OutgoingRequest, *, null_on: frozenset[int] = frozenset()) -> Any:
        """Send with auth, rate budget and retries; return the decoded payload or raise a typed error."""
        method = request.method.upper()
        url = self.url_for(request.path)
        base_headers = self._headers(request)
        query = self._query(request.query)
        content: dict[str, Any] = {}
        if request.json is not NO_BODY:
            content["json"] = request.json
        elif request.form is not None:
            content["data"] = {k: templates.as_text(v) for k, v in request.form.items()}
        if request.files:
            content["files"] = {n: (p.filename, p.content, p.content_type) for n, p in request.files.items()}
        deadline = self.clock.now() + self.policy.deadline
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            if self.budget:
                await self.budget.acquire(self._report_wait)
            auth_headers = await self.auth.headers(self.client)
            remaining = deadline - self.clock.now()
            started = self.clock.now()
            try:
                response = await self.client.request(
                    method,
                    url,
                    params=query or None,  # an empty mapping would make httpx parse the URL again
                    headers={**base_headers, **auth_headers},
                    timeout=max(0.001, min(self.policy.timeout, remaining)),
                    **content,
                )
            except httpx.HTTPError as exc:
                failure = TransportError(
                    self.redactor.text(f"{method} {url} failed: {type(exc).__name__}: {exc}"),
                    vendor=self.vendor,
                )
                if await self._wait_to_retry(method, None, None, attempt, deadline):
                    continue
                raise failure from None
            log.debug(
                "%s %s -> %s (attempt %d, %.0f ms)",
                method,
                url,
                response.status_code,
                attempt,
                (self.clock.now() - started) * 1000,
            )
            if response.status_code == 401 and self.auth.refreshable and not refreshed:
                refreshed = True
                await self.auth.refresh(self.client, auth_headers)
                attempt -= 1
                continue
            if response.status_code in null_on:
                return None
            if not response.is_success and await self._wait_to_retry(
                method, response.status_code, response, attempt, deadline
            ):
                continue
            try:
                return decode(
                    self.connector.model.envelope, response, vendor=self.vendor, redactor=self.redactor
                )
            except VendorError as error:
                if response.status_code == 429:
                    error.retry_after = header_delay(response, self.policy, self.clock)
                raise

    def _report_wait(self, seconds: float) -> None:
        assert self.budget is not None
        progress.report(
            "budget-wait",
            "%s: rate budget full (%d requests per %g s); waiting %.1f s",
            self.vendor,
            self.budget.requests,
            self.budget.window,
            seconds,
            vendor=self.vendor,
            seconds=seconds,
        )

    async def _wait_to_retry(
        self, method: str, status: int | None, response: httpx.Response | None, attempt: int, deadline: float
    ) -> bool:
        if attempt >= self.policy.retry.maxAttempts or not may_retry(method, status, self.policy):
            return False
        delay = header_delay(response, self.policy, self.clock) if response is not None else None
        if delay is None:
            delay = backoff_delay(attempt, self.policy)
        if self.clock.now() + delay >= deadline:
            return False
        log.debug("retrying %s after %s in %.2f s", method, status or "a connection error", delay)
        await self.clock.sleep(delay)
        return True
