"""The ``/v1`` endpoints. Each parses its request, calls the application layer and renders the
result or the typed error in the CLI's JSON shape; nothing here decides what the runtime decides.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..app import Application
from ..catalog import Kind
from ..errors import ComponentError, TransportError, UsageError
from ..jsontext import JsonTextError, loads
from ..triggers.store import StateStore
from .connections import ID_PATTERN, Connections
from .errors import (
    BadRequestError,
    MalformedJsonError,
    MediaTypeError,
    UnknownError,
    WaitTooLongError,
    http_status,
    internal,
    retry_after,
)
from .middleware import MAX_BODY
from .output import JSONBody
from .store import ConnectionStore

log = logging.getLogger("component.service")
DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
KINDS: dict[str, Kind] = {"actions": "actions", "dataSources": "dataSources", "triggers": "triggers"}


@dataclass
class Service:
    """What the routes share: the application, the connections and the stores. The trigger state
    store is opened on first use, on the thread that serves (SQLite connections stay on theirs)."""

    app: Application
    connections: Connections
    store: ConnectionStore
    open_states: Callable[[], StateStore]
    openapi: Callable[[], dict[str, Any]] = field(default=lambda: {})
    _states: StateStore | None = None

    @property
    def states(self) -> StateStore:
        if self._states is None:
            self._states = self.open_states()
        return self._states


Handler = Callable[[Service, Request], Awaitable[Response]]


def endpoint(service: Service, handler: Handler) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """A Starlette endpoint: typed errors in the CLI's shape, anything else as an internal error."""
    redactor = service.app.redactor

    async def call(request: Request) -> Response:
        request_id: str = request.scope.get("state", {}).get("request_id", "-")
        try:
            return await handler(service, request)
        except ComponentError as error:
            headers = {}
            status = http_status(error)
            if status == 429 and (after := retry_after(error)):
                headers["Retry-After"] = after
            if status >= 500:
                log.warning("%s %s: %s", request_id, error.kind, redactor.text(error.message))
            return JSONBody(error.to_dict(), redactor, status, headers)
        except Exception:
            log.exception("%s unexpected failure", request_id)
            return JSONBody(internal(request_id), redactor, 500)

    return call


# --- request parsing ---------------------------------------------------------------------------------


async def body_json(request: Request, *, required: bool = True) -> Any:
    """The request's JSON body (at most 10 MB, strict JSON, ``application/json``); ``{}`` when an
    optional body is empty."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            from .errors import BodyTooLargeError

            raise BodyTooLargeError(f"the request body is over {MAX_BODY // (1024 * 1024)} MB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if required:
            raise BadRequestError("a JSON body is required")
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise MediaTypeError(f"send the body as application/json (got {media or 'no content type'!r})")
    try:
        return loads(raw)
    except JsonTextError as exc:
        raise MalformedJsonError(f"the body {exc}") from None


def flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequestError(f"query parameter {name} must be true or false")
    return value in ("true", "1")


def timeout(request: Request) -> float:
    text = request.query_params.get("timeout")
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_TIMEOUT:
        raise BadRequestError(f"query parameter timeout must be seconds in (0, {MAX_TIMEOUT:g}]")
    return seconds


def identifier(value: str, what: str) -> str:
    if not ID_PATTERN.match(value):
        raise BadRequestError(f"{what} {value!r} must be 1-128 letters, digits, '.', '_' or '-'")
    return value


def find(service: Service, kind: Kind, ref: str) -> Any:
    """The definition, or 404 for an unknown one."""
    try:
        return service.app.find(kind, ref)
    except UsageError as error:
        raise UnknownError(error.message) from None


# --- the caller's timeout and the rate budget ----------------------------------------------------


@dataclass
class _Watch:
    task: asyncio.Task[Any] | None = None
    deadline: float = 0.0
    expired: bool = False
    wait: float | None = None

    def end(self) -> None:
        self.expired = True
        if self.task is not None:
            self.task.cancel()


_WATCH: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar(
    "component_service_watch", default=None
)


class BudgetWaits(logging.Handler):
    """Hears the runtime's rate-budget waits; one longer than the caller's time left ends the call."""

    def emit(self, record: logging.LogRecord) -> None:
        watch = _WATCH.get()
        if watch is None:
            return
        progress = getattr(record, "progress", None) or {}
        if progress.get("kind") != "budget-wait":
            return
        seconds = float(progress.get("seconds") or 0)
        if seconds > watch.deadline - asyncio.get_running_loop().time():
            watch.wait = seconds
            watch.end()  # nothing was sent


async def within(seconds: float, work: Coroutine[Any, Any, Any]) -> Any:
    """Run ``work`` within the caller's ``seconds``: 429 with ``Retry-After`` as soon as the rate budget
    would wait past them, 504 when the time runs out otherwise.

    ``work`` runs as a task of its own: each time it waits and resumes, only its own frames are
    suspended and resumed, not the whole ASGI stack above the route as well.
    """
    loop = asyncio.get_running_loop()
    watch = _Watch(deadline=loop.time() + seconds)
    token = _WATCH.set(watch)
    try:
        watch.task = task = loop.create_task(work)
    finally:
        _WATCH.reset(token)
    timer = loop.call_at(watch.deadline, watch.end)
    try:
        return await task
    except asyncio.CancelledError:
        caller = asyncio.current_task()
        if caller is not None and caller.cancelling():
            raise  # the request itself is being cancelled (its task was cancelled with it)
        if not watch.expired:  # cancelled from inside, not by this caller: a call cut short
            raise TransportError("the call was cut short before it finished; it may be sent again") from None
    except Exception:
        if not watch.expired:
            raise
        # what the work raised while it was being stopped is of no one's interest
    finally:
        timer.cancel()
    if watch.wait is not None:
        raise WaitTooLongError(
            f"the vendor's rate budget is full for {watch.wait:.1f} s, longer than this call's "
            f"timeout of {seconds:g} s; nothing was sent",
            retryAfter=round(watch.wait, 3),
        )
    raise TransportError(f"the call did not finish within its timeout of {seconds:g} s")


# --- endpoints ---------------------------------------------------------------------------------


async def healthz(service: Service, request: Request) -> Response:
    return JSONBody({"status": "ok"}, service.app.redactor)


async def readyz(service: Service, request: Request) -> Response:
    service.app.describe_catalog()
    service.store.list()
    return JSONBody({"status": "ready"}, service.app.redactor)


async def catalog(service: Service, request: Request) -> Response:
    data, tag = service.app.describe_catalog()
    etag = f'"{tag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    wanted = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if etag in wanted or f"W/{etag}" in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return JSONBody(data, service.app.redactor, headers=headers)


async def definition(service: Service, request: Request) -> Response:
    kind = KINDS.get(request.path_params["kind"])
    if kind is None:
        raise UnknownError(f"no kind {request.path_params['kind']!r}; use actions, dataSources or triggers")
    ref = request.path_params["ref"]
    find(service, kind, ref)
    return JSONBody(service.app.describe(kind, ref), service.app.redactor)


async def run_action(service: Service, request: Request) -> Response:
    loaded = find(service, "actions", request.path_params["ref"])
    inputs = await body_json(request, required=False)
    dry_run = flag(request, "dryRun")
    seconds = timeout(request)
    data = service.connections.data(loaded.connector, request.query_params.get("connection"))
    result = await within(seconds, service.app.run(loaded.ref, inputs, data, dry_run=dry_run))
    return JSONBody(result, service.app.redactor)


async def run_picklist(service: Service, request: Request) -> Response:
    loaded = find(service, "dataSources", request.path_params["ref"])
    inputs = await body_json(request, required=False)
    search = request.query_params.get("search") or None
    seconds = timeout(request)
    data = service.connections.data(loaded.connector, request.query_params.get("connection"))
    result = await within(seconds, service.app.picklist(loaded.ref, inputs, data, search=search))
    return JSONBody(result, service.app.redactor)


async def poll_trigger(service: Service, request: Request) -> Response:
    loaded = find(service, "triggers", request.path_params["ref"])
    instance = identifier(request.path_params["instance"], "instance")
    inputs = await body_json(request, required=False)
    seconds = timeout(request)
    data = service.connections.data(loaded.connector, request.query_params.get("connection"))
    batch = await within(
        seconds, service.app.poll_batch(loaded.ref, inputs, data, service.states, service.store, instance)
    )
    return JSONBody(batch.to_dict(), service.app.redactor)


async def commit_trigger(service: Service, request: Request) -> Response:
    loaded = find(service, "triggers", request.path_params["ref"])
    instance = identifier(request.path_params["instance"], "instance")
    body = await body_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("commit"), str) or set(body) != {"commit"}:
        raise BadRequestError('the body must be {"commit": TOKEN}, the token a poll returned')
    service.app.commit_batch(loaded.ref, service.states, service.store, instance, body["commit"])
    return JSONBody({"committed": True, "instance": instance}, service.app.redactor)


async def run_flow(service: Service, request: Request) -> Response:
    from ..flows import FlowError
    from ..models import Flow, FormatError, parse

    body = await body_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("flow"), dict):
        raise BadRequestError('the body must be {"flow": FLOW, "connections"?: {CONNECTOR: ID}}')
    unknown = sorted(set(body) - {"flow", "connections", "instance"})
    if unknown:
        raise BadRequestError(f"unknown field(s) {', '.join(unknown)}")
    try:
        flow = parse(Flow, body["flow"])
    except FormatError as exc:
        problems = [{"path": "$.flow" + path[1:], "message": message} for path, message in exc.problems]
        raise FlowError("the flow is not valid", problems=problems) from None
    ids = body.get("connections") or {}
    if not isinstance(ids, dict) or not all(isinstance(v, str) for v in ids.values()):
        raise BadRequestError('connections must be {"CONNECTOR": "CONNECTION ID", …}')
    connections: dict[str, Any] = {}
    for name in service.app.catalog.connectors:
        data = service.connections.data(name, ids.get(name))
        if data is not None:
            connections[name] = data
    instance = body.get("instance")
    if instance is not None:
        identifier(str(instance), "instance")
    work = service.app.run_flow(
        flow, connections, dry_run=flag(request, "dryRun"), store=service.states, instance=instance
    )
    return JSONBody(await within(timeout(request), work), service.app.redactor)


async def list_connections(service: Service, request: Request) -> Response:
    return JSONBody({"connections": service.connections.list()}, service.app.redactor)


async def get_connection(service: Service, request: Request) -> Response:
    return JSONBody(service.connections.view(request.path_params["id"]), service.app.redactor)


async def put_connection(service: Service, request: Request) -> Response:
    body = await body_json(request)
    shown, created = service.connections.put(request.path_params["id"], body)
    return JSONBody(shown, service.app.redactor, 201 if created else 200)


async def delete_connection(service: Service, request: Request) -> Response:
    service.connections.delete(request.path_params["id"])
    return Response(status_code=204)


async def test_connection(service: Service, request: Request) -> Response:
    result = await within(timeout(request), service.connections.test(request.path_params["id"]))
    return JSONBody(result, service.app.redactor)


async def openapi(service: Service, request: Request) -> Response:
    return JSONBody(service.openapi(), service.app.redactor)


def routes(service: Service) -> list[Route]:
    def route(path: str, handler: Handler, *methods: str) -> Route:
        return Route(path, endpoint(service, handler), methods=list(methods))

    return [  # the busiest first: Starlette tries each route in turn
        route("/v1/actions/{ref}", run_action, "POST"),
        route("/v1/picklists/{ref}", run_picklist, "POST"),
        route("/healthz", healthz, "GET"),
        route("/readyz", readyz, "GET"),
        route("/openapi.json", openapi, "GET"),
        route("/v1/catalog", catalog, "GET"),
        route("/v1/definitions/{kind}/{ref}", definition, "GET"),
        route("/v1/triggers/{ref}/instances/{instance}/poll", poll_trigger, "POST"),
        route("/v1/triggers/{ref}/instances/{instance}/commit", commit_trigger, "POST"),
        route("/v1/flows/run", run_flow, "POST"),
        route("/v1/connections", list_connections, "GET"),
        route("/v1/connections/{id}", get_connection, "GET"),
        route("/v1/connections/{id}", put_connection, "PUT"),
        route("/v1/connections/{id}", delete_connection, "DELETE"),
        route("/v1/connections/{id}/test", test_connection, "POST"),
    ]
