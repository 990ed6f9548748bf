"""Auth strategies: OAuth2 client credentials and an API key header.

OAuth2 tokens are cached per (token URL, client id, secret), renewed ``refreshMargin`` seconds
before they expire, fetched once however many requests wait for them (single flight), and
renewed once when the API answers 401 to a token we still believed valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2

from . import templates
from .bodies import read_bounded
from .errors import (
    AuthError,
    ComponentError,
    CredentialsError,
    ServerError,
    TransportError,
    UnexpectedBodyError,
)
from .models import ApiKeyAuth, Auth, HttpPolicy, OAuth2ClientCredentials
from .policy import Attempts, Clock, Random
from .redact import REDACTED, Redactor
from .version import USER_AGENT

log = logging.getLogger("component.auth")


class AuthStrategy(Protocol):
    refreshable: bool

    async def headers(self, client: httpx2.AsyncClient) -> dict[str, str]: ...

    async def refresh(self, client: httpx2.AsyncClient, stale: Mapping[str, str]) -> None: ...

    def preview(self) -> dict[str, str]: ...

    def token_request(self) -> tuple[str, dict[str, str], dict[str, str]] | None: ...


@dataclass
class _Token:
    value: str
    expires_at: float
    lifetime: float = 900.0


class TokenCache:
    """Tokens shared by every session in the process, fetched once per key however many tasks, event
    loops and threads want one at the same time (single flight).

    The first caller fetches; every other caller waits for that fetch's outcome, in whatever event
    loop or thread it runs, and shares its token or its error (bad credentials are never retried in
    a loop). A fetch that is cancelled hands the turn to the next caller.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._fetches: dict[str, int] = {}
        self._flights: dict[str, Future[_Token | None]] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> _Token | None:
        return self._tokens.get(key)

    def put(self, key: str, token: _Token) -> None:
        self._tokens[key] = token

    def fetches(self, key: str) -> int:
        """How many token requests for ``key`` have finished, successful or not."""
        return self._fetches.get(key, 0)

    def drop(self, key: str, value: str) -> None:
        if (current := self._tokens.get(key)) and current.value == value:
            del self._tokens[key]

    async def obtain(
        self, key: str, fresh: Callable[[_Token | None], bool], fetch: Callable[[], Awaitable[_Token]]
    ) -> _Token:
        """A fresh token for ``key``: the cached one, the one a running fetch brings, or ``fetch()``'s."""
        while True:
            with self._guard:
                token = self._tokens.get(key)
                if fresh(token):
                    assert token is not None
                    return token
                flight = self._flights.get(key)
                leading = flight is None
                if flight is None:
                    flight = self._flights[key] = Future()
                    flight.set_running_or_notify_cancel()  # a waiter giving up cannot cancel it
            if not leading:
                shared = await asyncio.wrap_future(flight)
                if shared is not None:
                    return shared
                continue  # the fetch was cancelled: take the turn
            try:
                token = await fetch()
            except ComponentError as error:
                self._land(key, flight, error=error)
                raise
            except BaseException:
                self._land(key, flight, error=None)
                raise
            self._land(key, flight, token=token)
            return token

    def _land(
        self,
        key: str,
        flight: Future[_Token | None],
        *,
        token: _Token | None = None,
        error: ComponentError | None = None,
    ) -> None:
        with self._guard:
            if token is not None:
                self._tokens[key] = token
            self._fetches[key] = self._fetches.get(key, 0) + 1
            del self._flights[key]
        if error is not None:
            flight.set_exception(error)
        else:
            flight.set_result(token)

    def clear(self) -> None:
        self._tokens.clear()


TOKENS = TokenCache()


class OAuth2ClientCredentialsAuth:
    refreshable = True

    def __init__(
        self,
        spec: OAuth2ClientCredentials,
        token_url: str,
        values: Mapping[str, Any],
        *,
        vendor: str,
        clock: Clock,
        cache: TokenCache,
        redactor: Redactor,
        policy: HttpPolicy,
        random: Random,
    ) -> None:
        self.spec = spec
        self.token_url = token_url
        self.client_id = str(templates.render(spec.clientId, {"connection": values}))
        self._secret = str(templates.render(spec.clientSecret, {"connection": values}))
        scope = templates.render(spec.scope, {"connection": values})
        self.scope = None if scope in (None, templates.MISSING, "") else str(scope)
        self.vendor = vendor
        self.clock = clock
        self.cache = cache
        self.redactor = redactor
        self.policy = policy
        self.random = random
        digest = hashlib.sha256(self._secret.encode()).hexdigest()[:16]
        self._key = f"{token_url}|{self.client_id}|{digest}"

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentialsAuth(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def _fresh(self, token: _Token | None) -> bool:
        if token is None:
            return False
        # A token living shorter than twice the margin is renewed after half its life, not at once.
        margin = min(self.spec.refreshMargin, token.lifetime / 2)
        return token.expires_at - margin > self.clock.now()

    async def headers(self, client: httpx2.AsyncClient) -> dict[str, str]:
        token = self.cache.get(self._key)
        if not self._fresh(token):
            # One token request however many callers (tasks, loops, threads) need it now; those
            # waiting share its token or its error: bad credentials are never retried in a loop.
            token = await self.cache.obtain(self._key, self._fresh, lambda: self._fetch(client))
        assert token is not None
        self.redactor.add(token.value, token=True)  # a cached token too: this session may echo it in an error
        return {"Authorization": f"Bearer {token.value}"}

    async def refresh(self, client: httpx2.AsyncClient, stale: Mapping[str, str]) -> None:
        """Drop the token a 401 was answered to, unless another request already replaced it."""
        stale_value = stale.get("Authorization", "").removeprefix("Bearer ")
        self.cache.drop(self._key, stale_value)

    def preview(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {REDACTED}"}

    def token_request(self) -> tuple[str, dict[str, str], dict[str, str]]:
        """The URL, headers and form of the token request :meth:`_fetch` sends (``--dry-run`` shows
        them; the form holds the client secret, which the caller masks)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        if self.scope:
            form["scope"] = self.scope
        return self.token_url, {"Accept": "application/json", "User-Agent": USER_AGENT}, form

    async def _fetch(self, client: httpx2.AsyncClient) -> _Token:
        """One token, retried like an idempotent request on 429, 5xx and connection errors."""
        url, headers, form = self.token_request()
        attempts = Attempts(self.policy, self.clock, self.random)
        while True:
            attempts.count += 1
            try:
                request = client.build_request(
                    "POST",
                    url,
                    data=form,
                    headers=headers,
                    timeout=max(0.001, min(self.policy.timeout, attempts.remaining())),
                )
                started = self.clock.now()
                response = await client.send(request, stream=True)
                await read_bounded(
                    response,
                    self.policy.maxResponseBytes,
                    vendor=self.vendor,
                    what=f"the token request to {self.token_url}",
                )
                self._log_token_request(response.status_code, attempts.count, started)
            except httpx2.HTTPError as exc:
                if await attempts.retry("GET", None, None):
                    continue
                raise TransportError(
                    f"{self.vendor} is unavailable: the token endpoint {self.token_url} could not be "
                    f"reached ({type(exc).__name__}); this is not a problem with the credentials",
                    vendor=self.vendor,
                    maybe_applied=False,
                ) from None
            if (response.status_code == 429 or response.status_code >= 500) and await attempts.retry(
                "GET", response.status_code, response
            ):
                continue
            try:
                return self._token_from(response)
            except UnexpectedBodyError:
                # a garbled success (HTML, cut-off JSON) says nothing about the credentials: it is
                # retried like a dropped connection
                if await attempts.retry("GET", None, None):
                    continue
                raise

    def _log_token_request(self, status: int, attempt: int, started: float) -> None:
        """One debug line per token request, like every API request's: the form's secret masked,
        and the line redacted here, whatever handler reads the log."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s",
                self.redactor.text(
                    f"POST {self.token_url} (token request: client_id={self.client_id}, "
                    f"client_secret={REDACTED}) -> {status} (attempt {attempt}, "
                    f"{(self.clock.now() - started) * 1000:.0f} ms)"
                ),
            )

    def _token_from(self, response: httpx2.Response) -> _Token:
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = {}
        trace_id = body.get("traceId") if isinstance(body, dict) else None
        trace_id = None if trace_id is None else self.redactor.text(str(trace_id))
        reason = ""
        if isinstance(body, dict):
            reason = str(body.get("error_description") or body.get("error") or body.get("title") or "")
        reason = self.redactor.text(reason)[:300]
        status = response.status_code
        if status == 429 or status >= 500:
            raise ServerError(
                f"{self.vendor} is unavailable: its token endpoint answered {status} "
                f"{response.reason_phrase}; this is not a problem with the credentials, try again later",
                status=status,
                vendor=self.vendor,
                trace_id=trace_id,
                maybe_applied=False,
            )
        if status >= 400:
            raise CredentialsError(
                f"{self.vendor} refused the connection's credentials"
                + (f" ({reason})" if reason else f" ({status})")
                + ": check clientId and clientSecret in the connection, and that its environment "
                "(production or integration) is the one the app was created in",
                fields=["clientId", "clientSecret", "environment"],
                status=status,
                vendor=self.vendor,
                trace_id=trace_id,
                maybe_applied=False,
            )
        if response.is_success and not (isinstance(body, dict) and body.get("access_token")):
            content_type = response.headers.get("content-type") or "no content type"
            raise UnexpectedBodyError(
                f"{self.vendor} is unavailable: its token endpoint {self.token_url} answered {status} "
                f"with a body that is not a token response ({content_type}); this is not a problem "
                "with the credentials, try again later",
                status=status,
                vendor=self.vendor,
                trace_id=trace_id,
                maybe_applied=False,
            )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError(
                f"the token response from {self.token_url} holds no access_token",
                status=502,
                vendor=self.vendor,
                trace_id=trace_id,
                maybe_applied=False,
            )
        value = str(body["access_token"])
        self.redactor.add(value, token=True)  # the registry of secrets in play learns it
        try:
            lifetime = float(body.get("expires_in") or self.spec.defaultExpiresIn)
        except (TypeError, ValueError):
            lifetime = self.spec.defaultExpiresIn
        token = _Token(value, self.clock.now() + lifetime, lifetime)
        self.cache.put(self._key, token)
        return token


class ApiKeyHeaderAuth:
    refreshable = False

    def __init__(self, spec: ApiKeyAuth, values: Mapping[str, Any]) -> None:
        self.header = spec.header
        self._value = str(templates.render(spec.value, {"connection": values}))

    def __repr__(self) -> str:
        return f"ApiKeyHeaderAuth(header={self.header!r})"

    async def headers(self, client: httpx2.AsyncClient) -> dict[str, str]:
        return {self.header: self._value}

    async def refresh(self, client: httpx2.AsyncClient, stale: Mapping[str, str]) -> None:
        return None

    def preview(self) -> dict[str, str]:
        return {self.header: REDACTED}

    def token_request(self) -> None:
        return None


def make_auth(
    spec: Auth,
    values: Mapping[str, Any],
    *,
    token_url: str | None,
    vendor: str,
    clock: Clock,
    cache: TokenCache,
    redactor: Redactor,
    policy: HttpPolicy,
    random: Random,
) -> AuthStrategy:
    if isinstance(spec, OAuth2ClientCredentials):
        if not token_url:
            raise ValueError(f"{vendor}: OAuth2 client credentials need a tokenUrl in the environment")
        return OAuth2ClientCredentialsAuth(
            spec,
            token_url,
            values,
            vendor=vendor,
            clock=clock,
            cache=cache,
            redactor=redactor,
            policy=policy,
            random=random,
        )
    return ApiKeyHeaderAuth(spec, values)
