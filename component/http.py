"""One session per connection: base URL, auth, HTTP policy and envelope decoding in one place.

Every request of every kind (action, picklist, trigger, raw request) is sent by
:meth:`Session.send`, so the host check, auth, rate budget, retries and redaction cannot be
skipped. Redirects are never followed: credentials go to the connector's own host or nowhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast
from urllib.parse import quote

import httpx2

from . import progress, templates
from .auth import TOKENS, AuthStrategy, TokenCache, make_auth
from .bodies import read_bounded
from .catalog import LoadedConnector
from .connection import Connection
from .envelope import JSON_RESPONSE, decode
from .errors import (
    ComponentError,
    InputValidationError,
    RequestRefusedError,
    TransportError,
    UnexpectedBodyError,
    VendorError,
)
from .models import ResponseSpec
from .policy import (
    BUDGETS,
    SYSTEM_CLOCK,
    Attempts,
    Budget,
    BudgetRegistry,
    Clock,
    Deadlines,
    Random,
    header_delay,
)
from .redact import REDACTED
from .version import USER_AGENT

log = logging.getLogger("component.http")
_FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
NO_BODY = templates.MISSING
# RFC 9110: a header name is a token; a value is visible ASCII with inner spaces and tabs.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?|")
_MEDIA_TYPE = re.compile(
    r"[\w!#$&^.+-]+/[\w!#$&^.+-]+( ?; ?[\w!#$&^.+-]+=(\"[\x20-\x7e]*\"|[\w!#$&^.+-]+))*", re.ASCII
)
# As many idle connections kept as may be open (httpx2 keeps 20): a session that runs more than 20
# requests at once, in bursts, reuses its connections rather than opening (and, to a vendor,
# handshaking) new ones for each burst. Idle ones still close after 5 s.
_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=100)
_URL_FIELDS = ("scheme", "userinfo", "host", "port", "path", "query", "fragment")
_PLAIN_PATH = re.compile(r"(?:/[A-Za-z0-9_~-]+)+")  # segments of letters, digits, "_", "~" and "-"
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"  # kept as is; anything else (spaces, non-ASCII) is percent-encoded
# What an exception means for the request: (reason, whether it may have reached the vendor).
# Nothing is sent before a connection is made, so connect errors may be retried on any method.
_TRANSPORT_FAILURES: tuple[tuple[type[Exception], str, bool], ...] = (
    (httpx2.ConnectTimeout, "timed out connecting", False),
    (httpx2.ConnectError, "could not connect", False),
    (httpx2.PoolTimeout, "timed out waiting for a free connection", False),
    (httpx2.ReadTimeout, "timed out waiting for the response", True),
    (httpx2.WriteTimeout, "timed out sending the request", True),
    (httpx2.RemoteProtocolError, "the connection closed before a complete response", True),
    (httpx2.ReadError, "the connection failed while reading the response", True),
    (httpx2.WriteError, "the connection failed while sending the request", True),
    (httpx2.LocalProtocolError, "the request is not valid HTTP and was not sent", False),
    (httpx2.UnsupportedProtocol, "the URL scheme is not supported", False),
)


def transport_failure(exc: Exception) -> tuple[str, bool]:
    """A fixed description of a transport exception, and whether the request may have been sent.

    The exception's own text is never used: it can quote a header value (a credential).
    """
    for kind, reason, sent in _TRANSPORT_FAILURES:
        if isinstance(exc, kind):
            return f"{reason} ({type(exc).__name__})", sent
    return f"the request failed ({type(exc).__name__})", True


def _default_client_headers() -> httpx2.Headers:
    """The headers httpx2's client adds to every request it sends (``Accept``, ``Accept-Encoding``,
    ``Connection``, ``User-Agent``), from the client class's own setter: no client is made, so a
    dry run opens none."""
    holder = object.__new__(httpx2.AsyncClient)
    setter = cast(property, httpx2.AsyncClient.headers).fset
    assert setter is not None
    setter(holder, {})
    return holder.headers


_CLIENT_HEADERS = _default_client_headers()
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "QUERY"})  # sent with Content-Length: 0 when empty
_EMPTY_LENGTH = (b"Content-Length", b"content-length", b"0")
_KNOWN_URLS = 512  # plain paths whose URL a session keeps
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def wire_headers(
    method: str, url: httpx2.URL, headers: Mapping[str, str], content: Mapping[str, Any]
) -> dict[str, str]:
    """Every header a request goes out with, as a session's client sends it: the client's own,
    ``headers``, ``Host`` and the body's (a multipart boundary shown as ``…``: it is random)."""
    merged = httpx2.Headers(_CLIENT_HEADERS)
    merged.update(headers)
    built = httpx2.Request(method, url, headers=merged, **content)
    out = {name.decode("latin-1"): value.decode("latin-1") for name, value in built.headers.raw}
    for name, value in out.items():
        if name.lower() == "content-type" and value.startswith("multipart/"):
            out[name] = re.sub(r"boundary=[^;]+", "boundary=…", value)
    return out


# A header as httpx2.Headers keeps it: (name, lower-case name, value), in bytes.
Entry = tuple[bytes, bytes, bytes]


def _merged(headers: Mapping[str, str]) -> list[Entry]:
    """``headers`` over the client's own, in the order httpx2's client merges them."""
    merged = httpx2.Headers(_CLIENT_HEADERS)
    merged.update(headers)
    return _entries(merged.raw)


def _entries(pairs: Iterable[tuple[bytes, bytes]]) -> list[Entry]:
    return list(httpx2.Headers(list(pairs))._list)


def _encoded(headers: Mapping[str, str]) -> list[Entry]:
    return _entries((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items())


def _headers_of(entries: list[Entry]) -> httpx2.Headers:
    """Headers holding ``entries`` as they are (each made once, not normalised again per request)."""
    headers = httpx2.Headers()
    headers._list = entries
    return headers


def _json_body(value: Any) -> bytes:
    """A JSON body as sent: ``null`` is a body; NaN and Infinity are refused, not sent."""
    try:
        return _JSON(value).encode()
    except ValueError:
        raise InputValidationError(
            "the JSON body holds NaN or Infinity, which JSON cannot carry",
            problems=[{"path": "$.json", "message": "holds NaN or Infinity"}],
        ) from None


class _Built:
    """What one attempt sends: headers merged ahead (``wire``, with ``headers`` for auth) and a body
    in memory; or, for a form or files, the headers and the body as httpx2 takes them (``content``)."""

    __slots__ = ("body", "content", "headers", "wire")

    def __init__(
        self,
        wire: list[Entry] | None,
        headers: Mapping[str, str],
        body: bytes,
        content: Mapping[str, Any] | None = None,
    ) -> None:
        self.wire = wire
        self.headers = headers
        self.body = body
        self.content = content or {}


def check_header(name: str, value: str) -> None:
    """Refuse a header that would break or smuggle HTTP (CR/LF, NUL, spaces, non-ASCII)."""
    if not _HEADER_NAME.fullmatch(name):
        raise RequestRefusedError(
            f"header name {name!r} is not valid: only letters, digits and !#$%&'*+.^_`|~- are allowed"
        )
    if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
        raise RequestRefusedError(
            f"the value of header {name!r} is not valid: only visible ASCII characters and inner spaces "
            "are allowed (no line breaks, NUL or other control characters, no non-ASCII)"
        )


@cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: httpx2's defaults, the system's certificate authorities, or
    SSL_CERT_FILE / SSL_CERT_DIR where set.

    Building one loads the whole certificate bundle (~20 ms, ~800 KB); a client per connection
    would pay that per tenant.
    """
    return httpx2.create_ssl_context()


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


def url_with_path(base: httpx2.URL, path: str) -> httpx2.URL | None:
    """``base`` with ``path`` as its path, without parsing the whole URL again (about 25 µs in httpx2).

    Only for a path of plain segments (letters, digits, ``-``, ``_``, ``~``), which a parse would keep
    as it is. None where httpx2's parsed form of a URL is not the one expected: the caller parses.
    """
    return _replaced(base, path=path, query=None, fragment=None)


def url_with_query(url: httpx2.URL, query: Mapping[str, Any]) -> httpx2.URL:
    """``url`` (which has no query) with ``query`` encoded as httpx2 encodes ``params``, in a quarter
    of the time httpx2 takes to merge them (which parses the whole URL again)."""
    replaced = _replaced(url, query=str(httpx2.QueryParams(query)) or None)
    return replaced if replaced is not None else url.copy_merge_params(query)


def _replaced(url: httpx2.URL, **parts: Any) -> httpx2.URL | None:
    reference: Any = getattr(url, "_uri_reference", None)
    if getattr(reference, "_fields", None) != _URL_FIELDS:  # httpx2's named tuple of a URL's parts
        return None
    replaced = httpx2.URL.__new__(httpx2.URL)
    replaced._uri_reference = reference._replace(**parts)
    return replaced


class Session:
    def __init__(
        self,
        connector: LoadedConnector,
        connection: Connection,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        tokens: TokenCache = TOKENS,
        budgets: BudgetRegistry = BUDGETS,
        base_url: str | None = None,
        random: Random = random.random,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``env`` is read for ``COMPONENT_ALLOWED_HOSTS`` (the process environment when None)."""
        model = connector.model
        self.connector = connector
        self.connection = connection
        self.policy = model.http
        self.vendor = connector.name
        self.clock = clock
        self.random = random
        self.redactor = connection.redactor()
        # Where credentials go: the environment's hosts, or the connection's own baseUrl/tokenUrl
        # under the credential rule (component.connection.destinations). Requests the transport
        # answers in process (the embedded sandbox) reach no network.
        where = connection.destinations(
            base_url=base_url, env=env, in_process=getattr(transport, "in_process", False) is True
        )
        self.base_url = httpx2.URL(where.base_url)
        base_path = self.base_url.raw_path.decode().split("?")[0].rstrip("/")
        self._base_text = str(self.base_url.copy_with(raw_path=base_path.encode(), query=None))
        self._origin = (self.base_url.scheme, self.base_url.host, self.base_url.port)
        self._base = httpx2.URL(self._base_text)
        self._base_path = base_path
        self.auth: AuthStrategy = make_auth(
            model.connection.auth,
            connection.values,
            token_url=where.token_url,
            vendor=self.vendor,
            clock=clock,
            cache=tokens,
            redactor=self.redactor,
            policy=self.policy,
            random=random,
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
        self.budget: Budget | None = None
        if self.policy.rateLimit:
            key = templates.render(self.policy.rateLimit.key, scope)
            budget_key = f"{self.vendor}|{'' if key is templates.MISSING else key}"
            self.budget = budgets.get(budget_key, self.policy.rateLimit, clock)
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None
        # Worked out once per session for every send: the Host header (every path stays on the base
        # URL's authority), the client's timeout, and the headers of a request that sets none of its
        # own, by body kind, merged as httpx2's client merges them.
        self._host = _entries(httpx2.Request("GET", self._base).headers.raw[:1])[0]
        self._auth: tuple[Mapping[str, str], list[Entry]] = ({}, [])
        self._timeout = httpx2.Timeout(self.policy.timeout).as_dict()
        self._plain_headers: dict[tuple[bool, bool], list[Entry]] = {}
        self._urls: dict[str, httpx2.URL] = {}  # plain paths sent lately, and their URLs
        self._deadlines: Deadlines | None = None

    def __repr__(self) -> str:
        return f"Session({self.vendor}, {self.base_url}, {self.connection!r})"

    async def __aenter__(self) -> Session:
        self._client = httpx2.AsyncClient(
            transport=self._transport,
            timeout=self.policy.timeout,
            follow_redirects=False,
            verify=ssl_context(),
            limits=_LIMITS,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._deadlines is not None:
            self._deadlines.close()
            self._deadlines = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            raise RuntimeError("use 'async with Session(...)' before sending")
        return self._client

    # --- building -------------------------------------------------------------------------------

    def url_for(self, path: str) -> httpx2.URL:
        """The absolute URL of ``path``, refused unless it stays under the connector's base URL.

        Spaces and non-ASCII characters are percent-encoded; control characters are refused.
        """
        known = self._urls.get(path)
        if known is not None:
            return known
        if _PLAIN_PATH.fullmatch(path):  # plain segments: nothing to check or encode, and no parse
            url = url_with_path(self._base, self._base_path + path)
            if url is not None:
                if len(self._urls) >= _KNOWN_URLS:
                    self._urls.clear()
                self._urls[path] = url  # URLs do not change: the same path is the same URL
                return url
        else:
            path = self._checked_path(path)
        try:
            url = httpx2.URL(self._base_text + path)  # one parse; nothing in path can reach the authority
        except httpx2.InvalidURL as exc:
            raise RequestRefusedError(f"path {path!r} is not a valid URL path: {exc}") from None
        if (url.scheme, url.host, url.port) != self._origin:
            raise RequestRefusedError(f"path {path!r} leaves the {self.vendor} host")
        return url

    def _checked_path(self, path: str) -> str:
        if templates.CONTROL_CHARACTERS.search(path):
            raise RequestRefusedError(
                f"path {path!r} may not contain control characters (line breaks, NUL, tabs)"
            )
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
        problem = templates.path_problem(path, segment=False)
        if problem:
            raise RequestRefusedError(f"path {path!r} {problem}")
        return quote(path, safe=_PATH_SAFE)

    def _headers(self, request: OutgoingRequest) -> dict[str, str]:
        """Default, request and content headers, merged case-insensitively (auth comes on top)."""
        headers = dict(self.default_headers)

        def put(name: str, value: str) -> None:
            for existing in [key for key in headers if key.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value

        for name, value in request.headers.items():
            check_header(name, value)
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
        for name, part in (request.files or {}).items():
            if not _MEDIA_TYPE.fullmatch(part.content_type):
                raise InputValidationError(
                    f"file part {name!r}: contentType {part.content_type!r} is not a media type "
                    "such as application/pdf",
                    problems=[{"path": f"$.files.{name}.contentType", "message": "is not a media type"}],
                )
        return headers

    @staticmethod
    def _query(query: dict[str, Any]) -> dict[str, Any]:
        return {
            k: templates.as_text(v) if isinstance(v, bool) else v for k, v in query.items() if v is not None
        }

    @staticmethod
    def _content(request: OutgoingRequest) -> dict[str, Any]:
        """The body as httpx2 takes it (``content``, ``data``, ``files``)."""
        content: dict[str, Any] = {}
        if request.json is not NO_BODY:
            content["content"] = _json_body(request.json)
        elif request.form is not None:
            content["data"] = {k: templates.as_text(v) for k, v in request.form.items()}
        if request.files:
            content["files"] = {n: (p.filename, p.content, p.content_type) for n, p in request.files.items()}
        return content

    def _wire(self, request: OutgoingRequest) -> list[Entry]:
        """The request's headers before auth, as httpx2's client merges them onto its own: the same
        for every request without headers or files of its own, so those are merged once per session."""
        if request.headers or request.files:
            return _merged(self._headers(request))
        kind = (request.json is not NO_BODY, request.form is not None)
        raw = self._plain_headers.get(kind)
        if raw is None:
            raw = self._plain_headers[kind] = _merged(self._headers(request))
        return raw

    def _build(
        self,
        method: str,
        target: httpx2.URL,
        wire: list[Entry],
        auth: Mapping[str, str],
        body: bytes,
        timeout: dict[str, float | None],
    ) -> httpx2.Request:
        """The request httpx2's ``build_request`` makes of these parts (the same headers, in the same
        order), made without merging the session's constant parts again for every send."""
        known, encoded = self._auth
        if auth != known:  # a new token: encoded once, not for every request it goes with
            known, encoded = self._auth = (auth, _encoded(auth))
        if body:  # the body's length after every other header, as httpx2 adds it
            length = str(len(body)).encode()
            headers = [self._host, *wire, *encoded, (b"Content-Length", b"content-length", length)]
        elif method in _BODY_METHODS:  # an empty body's, next to Host
            headers = [self._host, _EMPTY_LENGTH, *wire, *encoded]
        else:
            headers = [self._host, *wire, *encoded]
        built = httpx2.Request(
            method,
            target,
            headers=_headers_of(headers),
            stream=httpx2.ByteStream(body),
            extensions={"timeout": timeout},
        )
        built._content = body  # what httpx2's read() keeps of a body in memory: ``request.content``
        return built

    def preview(self, request: OutgoingRequest) -> dict[str, Any]:
        """What would be sent, with secrets redacted; sends nothing (``--dry-run``).

        ``headers`` are every header the request goes out with (httpx2's own, ``Host`` and the body's
        included), ``host`` where it goes; for OAuth2, ``token`` is the token request a run sends first
        unless a token is cached, and where that goes.
        """
        url = self.url_for(request.path)
        query = self._query(request.query)
        headers = {**self._headers(request), **self.auth.preview()}
        out: dict[str, Any] = {
            "method": request.method,
            "url": str(url),
            "query": query,
            "headers": wire_headers(
                request.method, url_with_query(url, query) if query else url, headers, self._content(request)
            ),
            "host": url.netloc.decode("ascii"),
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
        out["headers"] = {**self.redactor.headers(out["headers"]), **self.auth.preview()}
        token = self.auth.token_request()
        if token is not None:
            token_url, token_headers, form = token
            where = httpx2.URL(token_url)
            out["token"] = {
                "method": "POST",
                "url": token_url,
                "host": where.netloc.decode("ascii"),
                # the body's length would tell the secret's length: shown masked like the secret
                "headers": {
                    k: REDACTED if k.lower() == "content-length" else v
                    for k, v in self.redactor.headers(
                        wire_headers("POST", where, token_headers, {"data": form})
                    ).items()
                },
                "form": {k: REDACTED if k == "client_secret" else v for k, v in form.items()},
            }
        redacted: dict[str, Any] = self.redactor.data(out)
        return redacted

    # --- sending --------------------------------------------------------------------------------

    async def send(
        self,
        request: OutgoingRequest,
        *,
        null_on: frozenset[int] = frozenset(),
        response_spec: ResponseSpec = JSON_RESPONSE,
    ) -> Any:
        """Send with auth, rate budget and retries; return the decoded payload or raise a typed error.

        Every error leaving here has passed the redactor, whatever part of it a vendor filled in.
        """
        try:
            return await self._send(request, null_on, response_spec)
        except ComponentError as error:
            raise error.redact(self.redactor) from None

    async def _send(self, request: OutgoingRequest, null_on: frozenset[int], spec: ResponseSpec) -> Any:
        method = request.method.upper()
        url = self.url_for(request.path)
        query = self._query(request.query) if request.query else None
        target = url_with_query(url, query) if query else url
        if request.form is None and not request.files:
            wire: list[Entry] | None = self._wire(request)
            headers: dict[str, str] = {}
            body = b"" if request.json is NO_BODY else _json_body(request.json)
            content: dict[str, Any] = {}
        else:  # a form or files: httpx2 encodes the body
            wire, headers, body, content = None, self._headers(request), b"", self._content(request)
        attempts = Attempts(self.policy, self.clock, self.random)
        refreshed = False
        while True:
            attempts.count += 1
            auth_headers = await self.auth.headers(self.client)
            if wire is not None:
                built = _Built(wire, auth_headers, body)
            else:
                built = _Built(None, {**headers, **auth_headers}, b"", content)
            outcome = await self._exchange(method, url, target, built, attempts)
            if isinstance(outcome, httpx2.HTTPError):
                reason, sent = transport_failure(outcome)
                if await attempts.retry(method, None, None, sent=sent):
                    continue
                raise TransportError(
                    f"{method} {url}: {reason}", vendor=self.vendor, maybe_applied=sent
                ) from None
            response = outcome
            if response.status_code == 401 and self.auth.refreshable and not refreshed:
                refreshed = True
                await self.auth.refresh(self.client, auth_headers)
                attempts.count -= 1
                continue
            if response.status_code in null_on:
                return None
            if not response.is_success and await attempts.retry(method, response.status_code, response):
                continue
            try:
                return decode(
                    self.connector.model.envelope,
                    response,
                    vendor=self.vendor,
                    redactor=self.redactor,
                    spec=spec,
                )
            except UnexpectedBodyError:
                # a garbled success (HTML, cut-off JSON) is retried like a dropped connection: on
                # idempotent methods only, where asking again cannot do the work twice
                if await attempts.retry(method, None, None):
                    continue
                raise
            except VendorError as error:
                if response.status_code == 429:
                    error.retry_after = header_delay(response, self.policy, self.clock)
                raise

    async def _exchange(
        self, method: str, url: httpx2.URL, target: httpx2.URL, built: _Built, attempts: Attempts
    ) -> httpx2.Response | httpx2.HTTPError:
        """One send within what is left of the deadline, holding a budget slot until its answer is in.

        The slot is taken right before the send, after any wait for a token, and given back once the
        response (or the failure) is in: by then the vendor has counted the request, however late it
        arrived.
        """
        if self.budget:
            await self.budget.acquire(self._report_wait)
        try:
            left = attempts.remaining()
            if left <= 0:
                raise TransportError(
                    f"{method} {url}: the {self.policy.deadline:g} s deadline was spent before the "
                    "request could be sent",
                    vendor=self.vendor,
                    maybe_applied=False,
                )
            started = self.clock.now()
            # the client's own timeout, unless the deadline is nearer
            timeout = (
                self._timeout if left > self.policy.timeout else httpx2.Timeout(max(0.001, left)).as_dict()
            )
            deadlines = self._deadlines
            loop = asyncio.get_running_loop()
            if deadlines is None or deadlines.loop is not loop:
                deadlines = self._deadlines = Deadlines(loop)
            watch = deadlines.watch(loop.time() + left)  # a drip-fed body cannot outlive the deadline
            try:
                if built.wire is not None:
                    sent = self._build(method, target, built.wire, built.headers, built.body, timeout)
                else:
                    sent = self.client.build_request(
                        method,
                        target,
                        headers=built.headers,
                        extensions={"timeout": timeout},
                        **built.content,
                    )
                response = await self.client.send(sent, stream=True)
                # streamed and counted: a body past maxResponseBytes is refused, never held whole
                await read_bounded(
                    response, self.policy.maxResponseBytes, vendor=self.vendor, what=f"{method} {url}"
                )
            except asyncio.CancelledError:
                if Deadlines.expired(watch):
                    raise TimeoutError from None
                raise
            finally:
                deadlines.done(watch)
            if log.isEnabledFor(logging.DEBUG):  # redacted here, whatever handler reads the log
                log.debug(
                    "%s %s -> %s (attempt %d, %.0f ms)",
                    method,
                    self.redactor.text(str(url)),
                    response.status_code,
                    attempts.count,
                    (self.clock.now() - started) * 1000,
                )
            return response
        except TimeoutError:
            raise TransportError(
                f"{method} {url}: no complete response within the {self.policy.deadline:g} s deadline",
                vendor=self.vendor,
            ) from None
        except httpx2.HTTPError as exc:
            return exc
        finally:
            if self.budget:
                await self.budget.give_back()

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
