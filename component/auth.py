"""Auth strategies: OAuth2 client credentials and an API key header.

OAuth2 tokens are cached per (token URL, client id, secret), renewed ``refreshMargin`` seconds
before they expire, fetched once however many requests wait for them (single flight), and
renewed once when the API answers 401 to a token we still believed valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from . import templates
from .errors import AuthError, TransportError
from .models import ApiKeyAuth, Auth, OAuth2ClientCredentials
from .policy import Clock
from .redact import REDACTED, Redactor
from .version import USER_AGENT


class AuthStrategy(Protocol):
    refreshable: bool

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]: ...

    async def refresh(self, client: httpx.AsyncClient, stale: Mapping[str, str]) -> None: ...

    def preview(self) -> dict[str, str]: ...


@dataclass
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """Tokens shared by every session in the process; one lock per key and event loop."""

    def __init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._guard = threading.Lock()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, key: str) -> _Token | None:
        return self._tokens.get(key)

    def put(self, key: str, token: _Token) -> None:
        self._tokens[key] = token

    def drop(self, key: str, value: str) -> None:
        if (current := self._tokens.get(key)) and current.value == value:
            del self._tokens[key]

    def lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            return self._locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())

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
        timeout: float,
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
        self.timeout = timeout
        digest = hashlib.sha256(self._secret.encode()).hexdigest()[:16]
        self._key = f"{token_url}|{self.client_id}|{digest}"

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentialsAuth(token_url={self.token_url!r}, client_id={self.client_id!r})"

    def _fresh(self, token: _Token | None) -> bool:
        return token is not None and token.expires_at - self.spec.refreshMargin > self.clock.now()

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        token = self.cache.get(self._key)
        if not self._fresh(token):
            async with self.cache.lock(self._key):
                token = self.cache.get(self._key)
                if not self._fresh(token):
                    token = await self._fetch(client)
        assert token is not None
        self.redactor.add(token.value)  # a cached token too: this session may echo it in an error
        return {"Authorization": f"Bearer {token.value}"}

    async def refresh(self, client: httpx.AsyncClient, stale: Mapping[str, str]) -> None:
        """Drop the token a 401 was answered to, unless another request already replaced it."""
        stale_value = stale.get("Authorization", "").removeprefix("Bearer ")
        self.cache.drop(self._key, stale_value)

    def preview(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {REDACTED}"}

    async def _fetch(self, client: httpx.AsyncClient) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        if self.scope:
            form["scope"] = self.scope
        try:
            response = await client.post(
                self.token_url,
                data=form,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise TransportError(
                self.redactor.text(f"could not reach the token endpoint {self.token_url}: {exc}"),
                vendor=self.vendor,
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or not isinstance(body, dict) or not body.get("access_token"):
            reason = ""
            if isinstance(body, dict):
                reason = str(body.get("error_description") or body.get("error") or body.get("title") or "")
            raise AuthError(
                self.redactor.text(
                    f"token request to {self.token_url} failed"
                    + (f": {reason}" if reason else "")
                    + " (check the client id and secret, and the environment)"
                ),
                status=response.status_code if response.status_code >= 400 else 502,
                vendor=self.vendor,
                trace_id=body.get("traceId") if isinstance(body, dict) else None,
            )
        value = str(body["access_token"])
        try:
            lifetime = float(body.get("expires_in") or self.spec.defaultExpiresIn)
        except (TypeError, ValueError):
            lifetime = self.spec.defaultExpiresIn
        token = _Token(value, self.clock.now() + lifetime)
        self.cache.put(self._key, token)
        return token


class ApiKeyHeaderAuth:
    refreshable = False

    def __init__(self, spec: ApiKeyAuth, values: Mapping[str, Any]) -> None:
        self.header = spec.header
        self._value = str(templates.render(spec.value, {"connection": values}))

    def __repr__(self) -> str:
        return f"ApiKeyHeaderAuth(header={self.header!r})"

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {self.header: self._value}

    async def refresh(self, client: httpx.AsyncClient, stale: Mapping[str, str]) -> None:
        return None

    def preview(self) -> dict[str, str]:
        return {self.header: REDACTED}


def make_auth(
    spec: Auth,
    values: Mapping[str, Any],
    *,
    token_url: str | None,
    vendor: str,
    clock: Clock,
    cache: TokenCache,
    redactor: Redactor,
    timeout: float,
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
            timeout=timeout,
        )
    return ApiKeyHeaderAuth(spec, values)
