"""The pipeline every definition runs through.

    inputs -validate-> render request -(hook)-> session: host check, auth, rate budget, retries,
    decode -> paginate -> select -> {"data": ...}   (actions)
                                  -> {"result": [{"key", "label"}], "truncated"}   (picklists)

Async at the core; ``*_sync`` wrappers for callers without an event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import functools
import importlib
import json
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import httpx2

from . import checks, policy, progress, templates
from . import pagination as paging
from .auth import TOKENS, TokenCache
from .cache import DEFAULT_TTL, CacheKey, PicklistCache
from .catalog import Catalog, LoadedConnector, LoadedDefinition
from .catalog import load as load_catalog
from .connection import Connection, connection_values, make_connection
from .errors import InputValidationError
from .http import NO_BODY, FilePart, OutgoingRequest, Session
from .jsontext import value_problem
from .models import Action, DataSource, Definition, NoPagination, RequestTemplate, Trigger
from .policy import BUDGETS, SYSTEM_CLOCK, BudgetRegistry, Clock, Random
from .redact import Redactor
from .shared import shared_registries

if TYPE_CHECKING:
    from .triggers.core import PollResult

Scope = Mapping[str, Any]
Hook = Callable[[OutgoingRequest, Scope], OutgoingRequest]
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_CONNECTIONS = 10_000  # validated connections a runtime remembers
_TEXT = frozenset({str})
_NOTHING: frozenset[int] = frozenset()
_QUICK = object()  # marks the keys of connections found by their given values (Runtime._quick_key)


def _env_reader(connector: LoadedConnector, env: Mapping[str, str] | None) -> Callable[[], tuple[Any, ...]]:
    """What reads the connector's ``x-env`` variables as they are now, as cheaply as can be: for the
    process environment, the raw values ``os.environ`` keeps (no decoding per call)."""
    names = [variable for _, variable in connector.env_fields]
    if env is not None:
        return lambda: tuple(map(env.get, names))
    raw = getattr(os.environ, "_data", None)
    encode = getattr(os.environ, "encodekey", None)
    if not isinstance(raw, dict) or encode is None:
        return lambda: tuple(map(os.environ.get, names))
    keys = [encode(name) for name in names]
    return lambda: tuple(map(raw.get, keys))


def check_inputs(definition: LoadedDefinition, inputs: Any, *, compiled: bool = True) -> dict[str, Any]:
    """Validated inputs with defaults filled in, in canonical form; raises before anything is sent.

    Canonical form: a value RFC 3339 lets be spelled several ways (``2024-01-15 10:00:00z``) is sent
    the one way (``2024-01-15T10:00:00Z``), whatever the definition (``SchemaValidator.canonical``).
    An optional field that holds nothing (``[]``, ``{}``), as a form leaves it untouched, is unset
    (``SchemaValidator.without_untouched``). One walk does both before the schema check
    (``SchemaValidator.prepared``): it leaves those fields out and tells whether any value needs
    another spelling, so inputs already spelled canonically are not walked again.

    A value no JSON document may hold (NaN, Infinity, nesting past ``jsontext.MAX_DEPTH``) is refused
    first, by name. Where the schema rules such values out of anything its compiled check accepts
    (``SchemaValidator.valid_means_safe``), inputs the check accepts as they are given are not walked
    for them; anything else is, before its problems are worded.

    ``compiled=False`` for a one-off check that should not count towards compiling the schema.
    """
    if not isinstance(inputs, dict):
        raise InputValidationError(
            f"inputs of {definition.ref} must be a JSON object",
            problems=[{"path": "$", "message": f"expected an object, got {type(inputs).__name__}"}],
        )
    validator = definition.validator
    pruned, respell = validator.prepared(inputs)  # one walk: untouched fields out, spellings tried
    filled = validator.with_defaults(pruned)
    respell = respell or len(filled) > len(pruned)  # a default filled in may be spelled otherwise
    problems: list[dict[str, str]] = []
    accepted = False
    if compiled and pruned is inputs and validator.valid_means_safe:
        # what the compiled check accepts holds no unsafe value: no walk looks for one
        accepted = validator.is_valid_fast(filled)
        compiled = False  # if refused (or not compiled yet), jsonschema words why, after that walk
    if not accepted:
        unsafe = value_problem(inputs)
        if unsafe:
            raise InputValidationError(
                f"invalid inputs for {definition.ref}: {unsafe[0]}: {unsafe[1]}",
                problems=[{"path": unsafe[0], "message": unsafe[1]}],
            )
        problems = validator.problems(filled, compiled=compiled)
    canonical: dict[str, Any] = validator.canonical(filled) if respell and not problems else filled
    problems = problems or checks.problems(definition.model.checks, canonical)
    if problems:
        listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InputValidationError(f"invalid inputs for {definition.ref}: {listed}", problems=problems)
    return canonical


def _as_object(value: Any, where: str) -> dict[str, Any]:
    if value is templates.MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        raise InputValidationError(
            f"{where} must be an object", problems=[{"path": f"$.{where}", "message": "must be an object"}]
        )
    return value


def _file_parts(value: Any) -> dict[str, FilePart]:
    """Multipart parts from ``{name: {filename, content (base64), contentType}}``."""
    parts = {}
    for name, part in _as_object(value, "files").items():
        where = f"$.files.{name}"
        if not isinstance(part, dict) or not isinstance(part.get("filename"), str):
            raise InputValidationError(
                f"file part {name!r} needs a filename and base64 content",
                problems=[{"path": where, "message": "must be an object with filename and content"}],
            )
        try:
            content = base64.b64decode(str(part.get("content", "")), validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise InputValidationError(
                f"file part {name!r}: content is not valid base64",
                problems=[{"path": f"{where}.content", "message": "is not valid base64"}],
            ) from None
        parts[name] = FilePart(
            part["filename"], content, str(part.get("contentType") or "application/octet-stream")
        )
    return parts


def load_hook(name: str) -> Hook:
    module_name, _, function = name.partition(":")
    return cast(Hook, getattr(importlib.import_module(module_name), function))


def build_request(model: Definition, scope: Scope) -> OutgoingRequest:
    """Render a definition's request template against ``{"inputs", "connection", ...}``."""
    request = render_request(model.request, scope)
    return load_hook(model.hook)(request, scope) if model.hook else request


def render_request(spec: RequestTemplate, scope: Scope) -> OutgoingRequest:
    """Render one request template (a definition's request, or its prefetch)."""
    compiled = spec.compiled
    method = spec.method if spec.method in METHODS else _method(spec, scope)
    try:
        path = path_renderer(spec.path)(scope)
    except templates.TemplateError as exc:
        raise InputValidationError(
            str(exc), problems=[{"path": f"$.{exc.field}", "message": str(exc)}]
        ) from None
    headers, query, body, form, files = {}, {}, NO_BODY, None, None
    if compiled["headers"]:
        rendered = _as_object(compiled["headers"](scope), "headers")
        headers = {str(k): templates.as_text(v) for k, v in rendered.items()}
    if compiled["query"]:
        query = _as_object(compiled["query"](scope), "query")
    if compiled["json"]:
        body = compiled["json"](scope)
    if compiled["form"]:
        form = _as_object(compiled["form"](scope), "form") or None
    if compiled["files"]:
        files = _file_parts(compiled["files"](scope)) or None
    if files and body is not NO_BODY:
        raise InputValidationError(
            "a request cannot carry both a JSON body and files",
            problems=[{"path": "$.files", "message": "give json or files, not both"}],
        )
    return OutgoingRequest(
        method=method, path=path, query=query, headers=headers, json=body, form=form, files=files
    )


@functools.lru_cache(maxsize=1024)
def _statuses(statuses: tuple[int, ...]) -> frozenset[int]:
    return frozenset(statuses)


def _null_on(statuses: list[int]) -> frozenset[int]:
    """A definition's ``nullOn`` statuses as a set, made once per distinct list."""
    return _statuses(tuple(statuses)) if statuses else _NOTHING


@functools.lru_cache(maxsize=1024)
def path_renderer(template: str) -> Callable[[Scope], str]:
    """:func:`templates.render_path` of ``template``, split once: a path whose placeholders each read
    text or a whole number of letters and digits through objects (most ids) is joined directly, and
    anything else (a missing or empty value, one to encode or check, a list) goes to
    :func:`templates.render_path`, which renders it or says why not."""
    literals, fields = templates._path_template(template)
    if not fields:
        return lambda scope: template
    steps = [(name, tuple(path.split("."))) for _, name, path in fields]
    tails = literals[1:]

    def render(scope: Scope) -> str:
        parts = [literals[0]]
        for (name, keys), literal in zip(steps, tails, strict=True):
            value: Any = scope.get(name)
            for key in keys:
                if type(value) is not dict or key not in value:
                    return templates.render_path(template, scope)
                value = value[key]
            kind = type(value)
            text: str = value if kind is str else str(value) if kind is int else ""
            if not (text.isascii() and text.isalnum()):
                return templates.render_path(template, scope)
            parts.append(text)
            parts.append(literal)
        return "".join(parts)

    return render


def _method(spec: RequestTemplate, scope: Scope) -> str:
    """The method of a request whose method is a template (``"$inputs.method"``), checked."""
    method = templates.as_text(templates.render(spec.method, scope)).upper()
    if method not in METHODS:
        raise InputValidationError(
            f"method {method or '(none)'!r} is not one of {sorted(METHODS)}",
            problems=[{"path": "$.method", "message": f"must be one of {sorted(METHODS)}"}],
        )
    return method


def prefetch_request(model: Definition, scope: Scope) -> OutgoingRequest | None:
    """The definition's prefetch request when it applies: some, not all, of its ``into`` inputs are set."""
    spec = model.prefetch
    if spec is None:
        return None
    inputs = scope.get("inputs", {})
    given = [templates.get_path(inputs, name) is not templates.MISSING for name in spec.into]
    return render_request(spec.request, scope) if any(given) and not all(given) else None


async def complete_and_check(definition: LoadedDefinition, scope: Scope, session: Session) -> None:
    """Run the prefetch, fill the unset inputs from its record and check the rules again.

    The filled inputs serve the checks only; the request was rendered from the caller's inputs.
    """
    model = definition.model
    request = prefetch_request(model, scope)
    if request is None or model.prefetch is None:
        return
    record = templates.get_path(await session.send(request), model.prefetch.select, None)
    inputs = copy.deepcopy(dict(scope["inputs"]))
    known: dict[str, Any] = {}
    for name, field in model.prefetch.into.items():
        value = templates.get_path(record, field, None)
        if templates.get_path(inputs, name) is templates.MISSING and value is not None:
            templates.set_path(inputs, name, value)
            known[name] = value
    problems = checks.problems(model.checks, inputs, known=known)
    if problems:
        listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InputValidationError(f"invalid inputs for {definition.ref}: {listed}", problems=problems)


def active_pagination(model: Definition, scope: Scope) -> paging.Paged | None:
    """The definition's pagination if it applies to this run (``when`` renders truthy)."""
    pagination = model.pagination
    if pagination is None or isinstance(pagination, NoPagination):
        return None
    when = templates.render(pagination.when, scope)
    return pagination if when not in (templates.MISSING, None, False) else None


def _preview(
    session: Session,
    request: OutgoingRequest,
    pagination: paging.Paged | None,
    prefetch: OutgoingRequest | None = None,
) -> dict[str, Any]:
    """The first request a run would send (``--dry-run``); later pages depend on responses.

    The session is never entered: a dry run opens no HTTP client. A prefetch that would run
    first is shown under ``"prefetch"``.
    """
    if pagination:
        request = replace(request, query=paging.first_query(pagination, request.query))
    preview = session.preview(request)
    return {**preview, "prefetch": session.preview(prefetch)} if prefetch else preview


def _full(model: Definition, request: OutgoingRequest, count: int) -> bool:
    """Whether a one-request answer holds as many items as its ``limitParam`` asked (more may exist)."""
    limit_param = model.pagination.limitParam if isinstance(model.pagination, NoPagination) else None
    asked = request.query.get(limit_param) if limit_param else None
    return isinstance(asked, int) and not isinstance(asked, bool) and count >= asked


def _page_reporter(ref: str) -> Callable[[int, int], None]:
    def on_page(pages: int, items: int) -> None:
        progress.report(
            "pages",
            "%s: %s, %s so far",
            ref,
            progress.plural(pages, "page"),
            progress.plural(items, "item"),
            pages=pages,
            items=items,
        )

    return on_page


def _bounds(session: Session) -> paging.Bounds:
    """A walk over pages ends by the connector's total deadline, like one request with its retries."""
    return paging.Bounds(session.clock, session.clock.now() + session.policy.deadline)


class _Previewed(Exception):
    """Raised in place of sending the first request of a previewed poll: the poll stops there."""


class _Using:
    """``async with runtime._using(connection) as session``: a plain class, cheaper than a generator."""

    __slots__ = ("connection", "one_off", "runtime")

    def __init__(self, runtime: Runtime, connection: Connection) -> None:
        self.runtime = runtime
        self.connection = connection
        self.one_off: Session | None = None

    async def __aenter__(self) -> Session:
        sessions = self.runtime._open
        if sessions is None:
            self.one_off = await self.runtime.session(self.connection).__aenter__()
            return self.one_off
        key = self.connection.key()
        session = sessions.get(key)
        if session is None:
            session = sessions[key] = await self.runtime.session(self.connection).__aenter__()
        return session

    async def __aexit__(self, *exc: object) -> None:
        if self.one_off is not None:
            await self.one_off.__aexit__()


class Runtime:
    """Runs definitions from a catalog. Inject ``transport``/``clock`` for tests and the sandbox;
    ``random`` draws the back-off jitter (inject a seeded one for repeatable retries)."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        tokens: TokenCache = TOKENS,
        budgets: BudgetRegistry = BUDGETS,
        base_urls: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        random: Random = random.random,
        picklist_ttl: float = DEFAULT_TTL,
        secrets: Redactor | None = None,
    ) -> None:
        """``picklist_ttl``: seconds a picklist result is reused for the same connection and inputs
        (0 turns the cache off); a write through an action of the same resource drops it sooner.

        ``secrets``: a registry that learns every secret this runtime puts in play (see
        :meth:`track_secrets`)."""
        self.catalog = catalog or load_catalog()
        self.random = random
        self.picklist_cache = PicklistCache(picklist_ttl, clock)
        self.transport = transport
        self.clock = clock
        if tokens is TOKENS and budgets is BUDGETS:  # the process defaults: shared when Redis is set
            shared = shared_registries(os.environ if env is None else env)
            if shared is not None:
                tokens, budgets = shared
        self.tokens = tokens
        self.budgets = budgets
        self.base_urls = dict(base_urls or {})
        self.env = env
        self._open: dict[str, Session] | None = None
        self._connections: dict[tuple[Any, ...], Connection] = {}
        self._env_readers: dict[str, Callable[[], tuple[Any, ...]]] = {}
        self.secrets: Redactor | None = None
        if secrets is not None:
            self.track_secrets(secrets)

    def track_secrets(self, registry: Redactor | None = None) -> Redactor:
        """The registry of every secret this runtime puts in play: each connection's secret fields,
        whatever their source, and every token its sessions fetch. Made on first call (or
        ``registry`` is used); pass it with the result to :func:`component.redact.redact`.

        For a process that serves one caller (the CLI, a worker's task). A long-lived service that
        serves many connections from one runtime redacts each answer with its own connection's
        registry (:meth:`Connection.redactor`) instead, which stays as small as that connection.
        """
        if registry is None:
            registry = self.secrets or Redactor()
        self.secrets = registry
        for connection in self._connections.values():
            connection.redactor().link(registry)
        return registry

    def connection(self, connector: str, data: Mapping[str, Any] | None = None) -> Connection:
        """A validated connection; each distinct one is validated once per runtime.

        A connection given as plain text values (no ``${VAR}`` reference) is found again by those
        values and the raw values of its connector's ``x-env`` variables, read afresh on every call
        (a changed variable or value is a new connection), without merging them first.
        """
        quick = self._quick_key(connector, data)
        if quick is not None and (known := self._connections.get(quick)) is not None:
            return known
        found = self._validated(connector, data)
        if quick is not None:
            self._remember(quick, found)
        return found

    def _quick_key(self, connector: str, data: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
        if type(data) is not dict:
            return None
        inner = data.get(connector)
        if type(inner) is dict:
            data = inner
        values = tuple(data.values())
        if not all(map(_TEXT.__contains__, map(type, values))) or any(v.startswith("${") for v in values):
            return None
        reader = self._env_readers.get(connector)
        if reader is None:
            reader = self._env_readers[connector] = _env_reader(self.catalog.connector(connector), self.env)
        return (_QUICK, connector, reader(), tuple(data), values)

    def _validated(self, connector: str, data: Mapping[str, Any] | None) -> Connection:
        loaded = self.catalog.connector(connector)
        values = connection_values(loaded, data, self.env)
        try:  # plain text values (the usual connection) need no encoding to be told apart
            plain = all(map(_TEXT.__contains__, map(type, values.values())))
            key = (connector, *values.items()) if plain else (connector, json.dumps(values, sort_keys=True))
        except (TypeError, ValueError):  # not JSON: validation will say why
            return self._tracked(make_connection(loaded, data, self.env))
        known = self._connections.get(key)
        if known is None:
            known = self._remember(key, self._tracked(make_connection(loaded, data, self.env)))
        return known

    def _remember(self, key: tuple[Any, ...], connection: Connection) -> Connection:
        """Keep ``connection`` under ``key``, at most ``_MAX_CONNECTIONS`` of them (the quick keys
        too: the same connection given in another key order or beside another variable's value
        adds one each)."""
        if len(self._connections) >= _MAX_CONNECTIONS:
            self._connections.clear()
        self._connections[key] = connection
        return connection

    def _tracked(self, connection: Connection) -> Connection:
        if self.secrets is not None:
            connection.redactor().link(self.secrets)
        return connection

    def session(self, connection: Connection) -> Session:
        self._tracked(connection)
        return Session(
            self.catalog.connector(connection.connector),
            connection,
            transport=self.transport,
            clock=self.clock,
            tokens=self.tokens,
            budgets=self.budgets,
            base_url=self.base_urls.get(connection.connector),
            random=self.random,
            env=self.env,
        )

    async def __aenter__(self) -> Runtime:
        """Keep one open session (one HTTP client, one connection pool) per connection until exit."""
        self._open = {}
        return self

    async def __aexit__(self, *exc: object) -> None:
        sessions, self._open = self._open or {}, None
        for session in sessions.values():
            await session.__aexit__()

    def _using(self, connection: Connection) -> _Using:
        """The open session for ``connection`` inside ``async with runtime``; else a one-off session."""
        return _Using(self, connection)

    def _prepare(
        self, kind: str, ref: str, inputs: Any, connection: Connection | Mapping[str, Any] | None
    ) -> tuple[LoadedDefinition, Connection, dict[str, Any], OutgoingRequest]:
        definition = self.catalog.find("actions" if kind == "action" else "dataSources", ref)
        checked = check_inputs(definition, inputs)
        if not isinstance(connection, Connection):
            connection = self.connection(definition.connector, connection)
        scope = {"inputs": checked, "connection": connection.values}
        return definition, connection, scope, build_request(definition.model, scope)

    async def run(
        self,
        ref: str,
        inputs: Any,
        connection: Connection | Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Run action ``connector.key``: ``{"data": ...}``, or the request it would send on ``dry_run``."""
        definition, connection, scope, request = self._prepare("action", ref, inputs, connection)
        model = cast(Action, definition.model)
        pagination = active_pagination(model, scope)
        if dry_run:
            return _preview(self.session(connection), request, pagination, prefetch_request(model, scope))
        async with self._using(connection) as session:
            if model.prefetch is not None:
                await complete_and_check(definition, scope, session)
            try:
                if pagination:
                    first, items, truncated = await paging.collect(
                        pagination,
                        request,
                        session.send,
                        session.vendor,
                        limit=pagination.maxItems or paging.DEFAULT_MAX_ITEMS,
                        bounds=_bounds(session),
                        on_page=_page_reporter(definition.ref),
                    )
                    data = paging.merged(pagination, first, items, truncated)
                else:
                    data = await session.send(
                        request, null_on=_null_on(model.nullOn), response_spec=model.response
                    )
            finally:
                if request.method not in SAFE_METHODS:
                    # Even a failed write may have changed something: the next dropdown reads afresh.
                    written = model.invalidates if model.invalidates is not None else [model.resource]
                    self.picklist_cache.invalidate(connection.key(), written)
        if model.select:
            data = templates.get_path(data, model.select, None)
        return {"data": data}

    async def picklist(
        self,
        ref: str,
        inputs: Any = None,
        connection: Connection | Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Run data source ``connector.key``: ``{"result": [{"key", "label"}], "truncated": bool}``."""
        definition, connection, scope, request = self._prepare("picklist", ref, inputs or {}, connection)
        model = cast(DataSource, definition.model)
        pagination = active_pagination(model, scope)
        items_path = (
            model.result.items if model.result.items is not None else getattr(pagination, "items", None)
        )
        if dry_run:
            return _preview(self.session(connection), request, pagination, prefetch_request(model, scope))

        entries = templates.picklist_entries(model.result.key, model.result.label)

        async def load() -> dict[str, Any]:
            async with self._using(connection) as session:
                await complete_and_check(definition, scope, session)
                if pagination:
                    limit = min(model.cap, pagination.maxItems or model.cap)
                    _, items, truncated = await paging.collect(
                        pagination,
                        request,
                        session.send,
                        session.vendor,
                        limit,
                        _bounds(session),
                        _page_reporter(definition.ref),
                        eager=True,
                        take=entries,
                    )
                else:
                    payload = await session.send(request)
                    found = templates.get_path(payload, items_path, [])
                    listed = found if isinstance(found, list) else []
                    items, truncated = paging.unique(listed, entries, model.cap)
                    truncated = truncated or _full(model, request, len(listed))
            # entries of unique keys, first occurrence kept, in order
            return {"result": items, "truncated": truncated}

        inputs_text = json.dumps(scope["inputs"], sort_keys=True, default=str)
        key = CacheKey(connection.key(), model.resource, definition.ref, inputs_text)
        return await self.picklist_cache.get_or_load(key, load, flat=True)  # entries of two strings

    async def poll(
        self,
        ref: str,
        inputs: Any = None,
        connection: Connection | Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
        *,
        instance: str | None = None,
    ) -> PollResult:
        """Poll trigger ``connector.key`` once: the events since ``state`` and the state to commit next.

        Pure with respect to storage: persisting the new state is the caller's job, after it has
        accepted the events (:func:`component.triggers.poll_once` does both with a state store).
        ``instance`` goes into each event's ``eventId``.
        """
        from .triggers.core import poll as poll_core

        definition = self.catalog.find("triggers", ref)
        checked = check_inputs(definition, inputs or {})
        if not isinstance(connection, Connection):
            connection = self.connection(definition.connector, connection)
        async with self._using(connection) as session:
            with policy.background():  # the poll's pages let actions and picklists on the key go first
                return await poll_core(
                    cast(Trigger, definition.model),
                    checked,
                    connection.values,
                    state,
                    build=build_request,
                    send=session.send,
                    vendor=session.vendor,
                    now=self.clock.wall(),
                    instance=instance,
                    rate=None if session.budget is None else (session.budget.requests, session.budget.window),
                )

    async def poll_preview(
        self,
        ref: str,
        inputs: Any = None,
        connection: Connection | Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The first request a poll of trigger ``ref`` from ``state`` would send, sending nothing.

        For a new instance that is the one request that checks the connection (its answer is not
        used). None when that poll would send nothing. Later pages depend on the answers.
        """
        from .triggers.core import poll as poll_core

        definition = self.catalog.find("triggers", ref)
        checked = check_inputs(definition, inputs or {})
        if not isinstance(connection, Connection):
            connection = self.connection(definition.connector, connection)
        session = self.session(connection)  # never entered: a preview opens no HTTP client
        first: list[OutgoingRequest] = []

        async def capture(request: OutgoingRequest) -> Any:
            first.append(request)
            raise _Previewed

        with contextlib.suppress(_Previewed):
            await poll_core(
                cast(Trigger, definition.model),
                checked,
                connection.values,
                state,
                build=build_request,
                send=capture,
                vendor=session.vendor,
                now=self.clock.wall(),
            )
        return session.preview(first[0]) if first else None

    def run_sync(
        self, ref: str, inputs: Any, connection: Any = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        return asyncio.run(self.run(ref, inputs, connection, dry_run=dry_run))

    def picklist_sync(
        self, ref: str, inputs: Any = None, connection: Any = None, *, dry_run: bool = False
    ) -> dict[str, Any]:
        return asyncio.run(self.picklist(ref, inputs, connection, dry_run=dry_run))
