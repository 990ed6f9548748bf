"""Work done once instead of per request: validated connections, session keys, compiled templates;
and the faster paths held to the slower ones they replace."""

from __future__ import annotations

import asyncio
import builtins
import json
import math
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from component import formats, jsontext
from component.catalog import Catalog
from component.envelope import body_of
from component.errors import ConnectionConfigError
from component.http import OutgoingRequest, Session, ssl_context, url_with_path, url_with_query
from component.redact import Redactor
from component.runtime import Runtime
from component.templates import (
    FILTERS,
    ITEM_FIELD,
    MISSING,
    REFERENCE,
    SPREAD,
    TemplateError,
    as_text,
    compile_template,
    format_item,
    get_path,
    item_formatter,
)
from tests.conftest import ST_CONNECTION, ST_SECRET


def test_equal_connections_are_validated_once_per_runtime(catalog: Catalog) -> None:
    runtime = Runtime(catalog, env={})
    first = runtime.connection("servicetitan", dict(ST_CONNECTION))
    assert runtime.connection("servicetitan", dict(ST_CONNECTION)) is first
    other = runtime.connection("servicetitan", {**ST_CONNECTION, "tenant": "42"})
    assert other is not first and other.values["tenant"] == "42"
    assert Runtime(catalog, env={}).connection("servicetitan", ST_CONNECTION) is not first
    assert first.key() == runtime.connection("servicetitan", ST_CONNECTION).key() != other.key()


def test_the_connection_cache_sees_the_environment_and_never_keeps_a_bad_connection(
    catalog: Catalog,
) -> None:
    env = {"SERVICETITAN_TENANT": "111"}
    runtime = Runtime(catalog, env=env)
    partial = {k: v for k, v in ST_CONNECTION.items() if k != "tenant"}
    assert runtime.connection("servicetitan", partial).values["tenant"] == "111"
    env["SERVICETITAN_TENANT"] = "222"
    assert runtime.connection("servicetitan", partial).values["tenant"] == "222"
    for _ in range(2):
        with pytest.raises(ConnectionConfigError) as caught:
            runtime.connection("servicetitan", {**ST_CONNECTION, "environment": "staging"})
        assert ST_SECRET not in str(caught.value.to_dict())


def test_a_connection_found_again_sees_a_changed_process_environment(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections found by their given values read the process environment on every call: a set,
    changed or removed x-env variable, or a changed value in the dict, is a new connection."""
    monkeypatch.setenv("SERVICETITAN_TENANT", "111")
    runtime = Runtime(catalog)
    partial = {k: v for k, v in ST_CONNECTION.items() if k != "tenant"}
    first = runtime.connection("servicetitan", partial)
    assert first.values["tenant"] == "111" and runtime.connection("servicetitan", dict(partial)) is first
    monkeypatch.setenv("SERVICETITAN_TENANT", "222")
    assert runtime.connection("servicetitan", partial).values["tenant"] == "222"
    partial["applicationKey"] = "another-key"  # the same dict, changed in place
    assert runtime.connection("servicetitan", partial).values["applicationKey"] == "another-key"
    monkeypatch.delenv("SERVICETITAN_TENANT")
    with pytest.raises(ConnectionConfigError):
        runtime.connection("servicetitan", partial)
    nested = {"servicetitan": dict(ST_CONNECTION)}
    assert (
        runtime.connection("servicetitan", nested).values
        == runtime.connection("servicetitan", ST_CONNECTION).values
    )


def test_connections_found_by_their_values_stay_within_the_runtimes_bound(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that gives every field is one connection whatever its x-env variables hold, but
    each of their values is another quick key: those count against the bound of connections a
    runtime keeps, like the validated ones."""
    from component import runtime as runtime_module

    monkeypatch.setattr(runtime_module, "_MAX_CONNECTIONS", 4)
    env: dict[str, str] = {}
    runtime = Runtime(catalog, env=env)
    first = runtime.connection("servicetitan", dict(ST_CONNECTION))
    for n in range(50):
        env["SERVICETITAN_TENANT"] = str(n)  # overridden by the given tenant: the same connection
        assert runtime.connection("servicetitan", dict(ST_CONNECTION)).values == first.values
        assert len(runtime._connections) <= 4


def test_a_connection_with_a_reference_reads_its_variable_every_time(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``${VAR}`` value is not found again by its text: the variable it names is read each call."""
    monkeypatch.setenv("BENCH_ST_SECRET", "first-secret")
    runtime = Runtime(catalog)
    data = {**ST_CONNECTION, "clientSecret": "${BENCH_ST_SECRET}"}
    assert runtime.connection("servicetitan", data).values["clientSecret"] == "first-secret"
    monkeypatch.setenv("BENCH_ST_SECRET", "second-secret")
    assert runtime.connection("servicetitan", data).values["clientSecret"] == "second-secret"
    typed = {**ST_CONNECTION, "tenant": 1000001}  # not all text: validated (and refused or kept) as before
    with pytest.raises(ConnectionConfigError):
        runtime.connection("servicetitan", typed)


def test_a_secret_added_twice_is_redacted_once_in_every_form() -> None:
    redactor = Redactor()
    redactor.add("s3cret/value")
    redactor.add("s3cret/value")
    assert redactor.text("a s3cret/value s3cret%2Fvalue") == "a *** ***"


def reference_format(template: str, item: Any) -> str:
    """The definition of item formatting: a regex substitution of get_path per placeholder."""

    def fill(match: re.Match[str]) -> str:
        texts = (as_text(get_path(item, path, None)) for path in match[1].split("|"))
        return next((text for text in texts if text), "")

    return ITEM_FIELD.sub(fill, template)


TEMPLATES = [
    "{id}",
    "{name} - {address.street}, {address.city}",
    "{phone.mobile|email.0} ({id})",
    "{a.0.b}{a.1}",
    "}{id}{",
    "no fields",
    "",
    "{a}{b}{c}{d}",
    "{a.b.c}",
]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "b", "c", "0", "1", "id", "name", "address", "street"]), inner
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(template=st.sampled_from(TEMPLATES), item=VALUES)
def test_compiled_item_formats_match_the_definition(template: str, item: Any) -> None:
    assert format_item(template, item) == reference_format(template, item)
    assert item_formatter(template) is item_formatter(template)  # compiled once per template


@settings(max_examples=300, deadline=None)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=3)
        | st.tuples(st.floats(), st.integers()),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children),
        max_leaves=12,
    ),
    depth=st.integers(min_value=0, max_value=3),
)
def test_the_quick_value_check_agrees_with_the_path_walk(value: Any, depth: int) -> None:
    """value_problem's quick check finds a problem exactly when the walk that names its path does."""
    nested = value
    for _ in range(depth * 50):  # up to 150 levels: past MAX_DEPTH
        nested = [nested]
    walked = next(
        (
            (path, item)
            for path, item, level in jsontext._walk(nested)
            if level > jsontext.MAX_DEPTH or (isinstance(item, float) and not math.isfinite(item))
        ),
        None,
    )
    assert (jsontext.value_problem(nested) is None) is (walked is None)


NAMES = st.sampled_from(["id", "a", "b", "0", "1", "x-y"])
REFERENCES = st.builds(
    lambda scope, path, suffix: f"${scope}{''.join('.' + p for p in path)}{suffix}",
    st.sampled_from(["inputs", "connection", "state"]),
    st.lists(NAMES, max_size=3),
    st.sampled_from(["", "|join", "|string", "|int"]),
)
TEMPLATE_STRINGS = REFERENCES | st.sampled_from(["$$inputs.id", "plain", "", "$", "$inputs.", "..."])
TEMPLATES = st.recursive(
    TEMPLATE_STRINGS | st.none() | st.booleans() | st.integers(-2, 2),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(NAMES | REFERENCES, children | st.just("..."), max_size=4)
    ),
    max_leaves=10,
)
SCOPE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "7", "x", "-3"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=3),
    max_leaves=10,
)


def reference_render(template: Any, scope: dict[str, Any]) -> Any:
    """The definition of the mapping language, interpreted: what compiled templates must equal."""
    if isinstance(template, str):
        if template.startswith("$$"):
            return template[1:]
        match = REFERENCE.match(template)
        if not match:
            return template
        value = get_path(scope.get(match["scope"], {}), match["path"].lstrip("."))
        if value is MISSING or match["filter"] is None:
            return value
        return FILTERS[match["filter"]](value)
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if value == SPREAD and REFERENCE.match(key):
                spread = reference_render(key, scope)
                if isinstance(spread, Mapping):
                    out.update(spread)
                elif spread is not MISSING and spread is not None:
                    raise TemplateError(f"{key} must be an object to spread", key.partition(".")[2])
                continue
            rendered = reference_render(value, scope)
            if rendered is not MISSING:
                out[key] = rendered
        return out
    if isinstance(template, list):
        rendered_items = (reference_render(item, scope) for item in template)
        return [value for value in rendered_items if value is not MISSING]
    return template


@settings(max_examples=400, deadline=None)
@given(
    template=TEMPLATES,
    scope=st.dictionaries(st.sampled_from(["inputs", "connection", "state"]), SCOPE_VALUES),
)
def test_a_compiled_template_renders_exactly_like_the_template(template: Any, scope: dict[str, Any]) -> None:
    compiled = compile_template(template)
    try:
        expected: Any = reference_render(template, scope)
    except TemplateError as error:
        with pytest.raises(TemplateError) as caught:
            compiled(scope)
        assert (str(caught.value), caught.value.field) == (str(error), error.field)
        return
    assert compiled(scope) == expected
    assert type(compiled(scope)) is type(expected)


def rfc3339_date_time(text: str) -> bool:
    """The definition of ``date-time``: the RFC 3339 shape, then each range and the calendar date."""
    match = formats._DATE_TIME.fullmatch(text)
    return match is not None and formats._valid_date_time(match)


def two_digits(high: int) -> st.SearchStrategy[str]:
    return st.integers(0, high).map(lambda n: f"{n:02d}")


@settings(max_examples=500, deadline=None)
@given(
    parts=st.tuples(
        st.integers(0, 9999).map(lambda n: f"{n:04d}"),
        two_digits(13),
        two_digits(32),
        two_digits(25),
        two_digits(61),
        two_digits(61),
    ),
    separator=st.sampled_from(["T", "t", " "]),
    fraction=st.sampled_from(["", ".5", ".123456789"]),
    offset=st.sampled_from(["Z", "z", ""])
    | st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), two_digits(25), two_digits(61)),
)
def test_date_time_check_agrees_with_its_definition(
    parts: tuple[str, ...], separator: str, fraction: str, offset: str
) -> None:
    year, month, day, hour, minute, second = parts
    text = f"{year}-{month}-{day}{separator}{hour}:{minute}:{second}{fraction}{offset}"
    assert formats.is_date_time(text) is rfc3339_date_time(text), text


@settings(max_examples=500, deadline=None)
@given(
    chars=st.lists(
        st.sampled_from("0123456789") | st.sampled_from("+-.,: TtZz_W٣²"), min_size=14, max_size=14
    ),
    digits=st.lists(st.sampled_from("0123456789"), min_size=14, max_size=14),
    mask=st.lists(st.booleans(), min_size=14, max_size=14),
)
def test_the_usual_date_time_spelling_is_checked_as_its_definition(
    chars: list[str], digits: list[str], mask: list[bool]
) -> None:
    """``YYYY-MM-DDThh:mm:ssZ`` is told apart without a regular expression and read by fromisoformat
    (:func:`formats._usual`): whatever stands where the digits go, the verdict is the definition's."""
    filled = iter(c if odd else d for c, d, odd in zip(chars, digits, mask, strict=True))
    text = "".join(next(filled) if c == "9" else c for c in "9999-99-99T99:99:99Z")
    assert formats._usual(text) is text.isascii()
    assert formats.is_date_time(text) is rfc3339_date_time(text), text


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(
        [
            "https://api-integration.servicetitan.io",
            "http://127.0.0.1:8123/servicetitan",
            "https://Example.COM:443/api/v1",
            "http://[::1]:9000/x",
        ]
    ),
    segments=st.lists(st.from_regex(r"[A-Za-z0-9_~-]{1,12}", fullmatch=True), min_size=1, max_size=6),
)
def test_a_plain_path_builds_the_url_a_parse_would(base: str, segments: list[str]) -> None:
    """The URL built without a parse is the one httpx2 parses from the text, in every part."""
    path = "/" + "/".join(segments)
    parsed = httpx2.URL(base)
    built = url_with_path(httpx2.URL(str(parsed.copy_with(raw_path=b""))), parsed.path.rstrip("/") + path)
    assert built is not None, "httpx2's parsed form of a URL changed: url_with_path needs a look"
    expected = httpx2.URL(base.rstrip("/") + path)
    assert (str(built), built.raw_path, built.host, built.port) == (
        str(expected),
        expected.raw_path,
        expected.host,
        expected.port,
    )
    assert built == expected and hash(built) == hash(expected)
    assert httpx2.Request("GET", built).url == expected


QUERY_VALUES = (
    st.text(max_size=6)
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["a b", "x&y=z", "100%", "ä/é?#", "+1 303", "true"])
)


@settings(max_examples=300, deadline=None)
@given(
    query=st.dictionaries(
        st.text(min_size=1, max_size=6) | st.sampled_from(["ids", "page", "a b", "é"]),
        QUERY_VALUES | st.lists(QUERY_VALUES, min_size=1, max_size=3),
        max_size=5,
    )
)
def test_a_query_is_encoded_as_httpx_encodes_params(query: dict[str, Any]) -> None:
    url = httpx2.URL("https://api-integration.servicetitan.io/crm/v2/tenant/1/customers")
    expected = httpx2.Request("GET", url, params=query).url
    built = httpx2.Request("GET", url_with_query(url, query)).url
    assert (str(built), built.raw_path, built.params) == (str(expected), expected.raw_path, expected.params)


@contextmanager
def local_server() -> Iterator[tuple[str, set[tuple[str, int]]]]:
    """A keep-alive HTTP server on 127.0.0.1 answering ``{}`` to every GET: its URL, and the client
    addresses it saw (one per connection)."""
    seen: set[tuple[str, int]] = set()

    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.add(self.client_address)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


def test_a_request_makes_no_failed_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """No import is attempted and failed per request: one costs about 75 µs (httpx's httpcore looked
    up the optional sniffio four times a request and, without it, paid that each time)."""
    failed: list[str] = []
    real_import = builtins.__import__

    def watching(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return real_import(name, *args, **kwargs)
        except ImportError:
            failed.append(name)
            raise

    async def two_requests(url: str) -> None:
        async with httpx2.AsyncClient(verify=ssl_context()) as client:
            (await client.get(url)).raise_for_status()  # anything imported once is imported now
            monkeypatch.setattr(builtins, "__import__", watching)
            (await client.get(url)).raise_for_status()

    with local_server() as (url, _):
        asyncio.run(two_requests(url))
    assert failed == []


def test_a_session_running_many_requests_at_once_keeps_its_connections(catalog: Catalog) -> None:
    """40 workers sending 15 requests each reuse 40 connections, rather than closing each as it goes
    idle and opening another (httpx's pool closed idle connections beyond 20 while more than 20 were
    open: a busy session reconnected for most requests, a TLS handshake each against a vendor)."""
    runtime = Runtime(catalog, env={})

    async def workers(base: str) -> None:
        connection = runtime.connection("homebase360", {"apiKey": "hb_test_key_0123456789", "baseUrl": base})
        async with runtime.session(connection) as session:

            async def worker() -> None:
                for _ in range(15):
                    await session.send(OutgoingRequest("GET", "/ping"))

            await asyncio.gather(*(worker() for _ in range(40)))

    with local_server() as (base, connections):
        asyncio.run(workers(base))
    assert len(connections) <= 40  # one per worker; on httpx 0.28, over 400


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too
    | st.floats(allow_nan=True, allow_infinity=True)  # NaN and Infinity: json's extension
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    value=_JSON_VALUES,
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 2]),
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b" \n"]),
)
def test_a_body_reads_as_json_reads_it(
    value: Any, ascii_only: bool, indent: int | None, prefix: bytes
) -> None:
    """Vendor bodies are read by msgspec where it can and by json where it cannot; either way the
    payload is the one json reads, with the same types, key order and float values."""
    content = prefix + json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    expected = json.loads(content)
    read = body_of(httpx2.Response(200, content=content, headers={"content-type": "application/json"}))
    assert json.dumps(read) == json.dumps(expected)
    assert type(read) is type(expected)


@settings(max_examples=300, deadline=None)
@given(content=st.binary(min_size=1, max_size=40) | st.text(min_size=1, max_size=40).map(str.encode))
def test_a_body_json_refuses_is_refused(content: bytes) -> None:
    """Bytes that json cannot read are not read as JSON by the faster path either."""
    try:
        expected: Any = json.loads(content)
    except (ValueError, RecursionError):
        expected = content.decode("utf-8", errors="replace")
    read = body_of(httpx2.Response(200, content=content))
    assert json.dumps(read) == json.dumps(expected)


_HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8
)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    path=st.sampled_from(["/ping", "/jobs/42", "/a b/ü"]),
    query=st.dictionaries(
        st.sampled_from(["page", "q", "active"]), st.integers() | st.booleans(), max_size=2
    ),
    headers=st.dictionaries(st.sampled_from(["X-Trace", "accept", "X-Other"]), _HEADER_VALUES, max_size=2),
    body=st.sampled_from([MISSING, None, {"a": 1}, [], "ü", {"nested": {"x": [1.5]}}]),
)
def test_a_session_sends_the_request_httpx2_would_build(
    catalog: Catalog, method: str, path: str, query: dict[str, Any], headers: dict[str, str], body: Any
) -> None:
    """The request a session builds from its cached parts (Host, merged headers, client timeout) is
    the one httpx2's ``build_request`` makes: the same URL, headers in the same order, body and
    timeout."""
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={})

    runtime = Runtime(catalog, env={}, transport=httpx2.MockTransport(answer))
    connection = runtime.connection("homebase360", {"apiKey": "hb_test_key_0123456789"})
    request = OutgoingRequest(method, path, query=query, headers=headers, json=body)

    async def send() -> httpx2.Request:
        async with runtime.session(connection) as session:
            await session.send(request)
            await session.send(request)  # the second from the session's cached headers
            auth = await session.auth.headers(session.client)
            url = session.url_for(path)
            params = Session._query(query)
            return session.client.build_request(
                method,
                url_with_query(url, params) if params else url,
                headers={**session._headers(request), **auth},
                **Session._content(request),
            )

    expected = asyncio.run(send())
    assert len(seen) == 2
    for sent in seen:
        assert (sent.method, str(sent.url), sent.content) == (
            expected.method,
            str(expected.url),
            expected.content,
        )
        assert sent.headers.raw == expected.headers.raw
        assert sent.extensions == expected.extensions


def test_a_send_past_its_deadline_is_cut_off_and_the_session_sends_again(catalog: Catalog) -> None:
    """A body still arriving at the connector's deadline ends the send with a TransportError (one timer
    per session watches every send); the cancellation does not leak, and later sends work."""
    from component.errors import TransportError

    slow = asyncio.Event()

    class Dripping(httpx2.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b"{"
            await slow.wait()  # never set: the body never completes
            yield b"}"

    answered: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        answered.append(request.url.path)
        if request.url.path.endswith("/slow"):
            return httpx2.Response(200, stream=Dripping())
        return httpx2.Response(200, json={})

    runtime = Runtime(catalog, env={}, transport=httpx2.MockTransport(answer))
    connection = runtime.connection("homebase360", {"apiKey": "hb_test_key_0123456789"})

    async def run() -> tuple[str, Any]:
        async with runtime.session(connection) as session:
            session.policy = msgspec.structs.replace(session.policy, deadline=0.2)
            with pytest.raises(TransportError) as caught:
                await session.send(OutgoingRequest("GET", "/slow"))
            assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
            return str(caught.value), await session.send(OutgoingRequest("GET", "/ping"))

    message, _ = asyncio.run(run())
    assert "no complete response within the 0.2 s deadline" in message
    assert [path.rsplit("/", 1)[-1] for path in answered] == ["slow", "ping"]


def test_a_cancelled_send_stays_cancelled(catalog: Catalog) -> None:
    """Cancelling a caller mid-send is a cancellation, not a deadline: it is not turned into an error."""
    started = asyncio.Event()

    async def answer(request: httpx2.Request) -> httpx2.Response:
        started.set()
        await asyncio.sleep(30)
        return httpx2.Response(200, json={})

    runtime = Runtime(catalog, env={}, transport=httpx2.MockTransport(answer))
    connection = runtime.connection("homebase360", {"apiKey": "hb_test_key_0123456789"})

    async def run() -> None:
        async with runtime.session(connection) as session:
            task = asyncio.create_task(session.send(OutgoingRequest("GET", "/ping")))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(run())


@settings(max_examples=400, deadline=None)
@given(value=_JSON_VALUES, indent=st.sampled_from([None, 2, 4]))
def test_indented_json_is_written_as_json_writes_it(value: Any, indent: int | None) -> None:
    """The printed JSON (indented by msgspec where it can be) is json's text, character for character:
    floats, NaN, Infinity and non-ASCII text included."""
    from component.redact import json_text

    assert json_text(value, indent) == json.dumps(value, indent=indent, ensure_ascii=False)


def test_indented_json_with_a_lone_surrogate_is_json_s() -> None:
    from component.redact import json_text

    value = {"text": "a\ud800b", "n": [1.5e16]}
    assert json_text(value, 2) == json.dumps(value, indent=2, ensure_ascii=False)


PATH_TEMPLATES = st.sampled_from(
    [
        "/jobs/{inputs.id}",
        "/t/{connection.tenant}/jobs/{inputs.id}/notes",
        "/x/{+inputs.a.b}",
        "/files/{inputs.0}",
        "/{inputs}",
        "$inputs.id",
        "/plain",
    ]
)
PATH_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**12)
    | st.text(max_size=6)
    | st.lists(st.integers(), max_size=2)
)


@settings(max_examples=400, deadline=None)
@given(
    template=PATH_TEMPLATES,
    values=st.dictionaries(
        st.sampled_from(["id", "a", "0", "tenant"]),
        PATH_VALUES | st.dictionaries(st.sampled_from(["b"]), PATH_VALUES),
    ),
)
def test_a_path_renders_as_the_template_renders_it(template: str, values: dict[str, Any]) -> None:
    """The per-template path renderer of the runtime gives the text, or the error, of render_path."""
    from component.runtime import path_renderer
    from component.templates import render_path

    scope = {"inputs": values, "connection": values}
    try:
        expected: Any = render_path(template, scope)
    except TemplateError as error:
        expected = ("error", str(error), error.field)
    try:
        got: Any = path_renderer(template)(scope)
    except TemplateError as error:
        got = ("error", str(error), error.field)
    assert got == expected


def test_a_changed_definition_is_sent_as_changed(catalog: Catalog) -> None:
    """What is kept per template or per session never outlives a change: a definition whose path or
    connector headers change sends the new ones from the next run on."""
    import copy

    changed = copy.deepcopy(catalog)
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"data": {}})

    runtime = Runtime(changed, env={}, transport=httpx2.MockTransport(answer))
    connection = {"apiKey": "hb_test_key_0123456789"}
    loaded = changed.find("actions", "homebase360.ping")
    runtime.run_sync("homebase360.ping", {}, connection)
    request = loaded.model.request
    loaded.model = msgspec.structs.replace(
        loaded.model, request=msgspec.structs.replace(request, path="/pong")
    )
    runtime.run_sync("homebase360.ping", {}, connection)
    assert [r.url.path.rsplit("/", 1)[-1] for r in seen] == ["ping", "pong"]
