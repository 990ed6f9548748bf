"""The Celery app: ``celery -A component.worker.app worker`` and ``… beat`` (or ``component worker run``
and ``component worker beat``).

Tasks (names ``component.worker.*``):

- ``run_action(ref, inputs, connection)`` and ``run_picklist(ref, inputs, connection, search)``:
  the result, or the typed error's JSON form; ``connection`` names a connection (an entry of
  ``COMPONENT_CONNECTIONS`` or a stored connection's id), so no secret travels through the broker.
- ``poll(instance)``: one durable poll of a trigger instance of the table (lease, poll, events to
  the sink, then commit).
- ``dispatch()``: beat sends it every second; it claims the instances that are due, oldest first
  (moving their next time on in the same statement), and sends a ``poll`` for each. While
  ``COMPONENT_DISPATCH_BACKLOG`` polls wait in the queue it claims no more: instances the workers
  cannot keep up with stay due and are taken oldest first when there is room, and a poll message
  left waiting longer than its instance's interval (and at least 30 s) expires unpolled.

Queues: ``component.dispatch`` (dispatch), ``component.interactive`` (actions and picklists),
``component.poll`` (polls) and ``component`` (anything else); ``component worker run`` consumes all
four unless ``-Q`` names others (e.g. a worker for actions alone: ``-Q component.interactive``).

Messages are acknowledged when a worker takes them: a poll lost with its worker is simply made at
the next due time (nothing was committed), and an action is never sent twice by a redelivery.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery import Celery, signals

from ..errors import ComponentError
from .config import WorkerConfig
from .engine import Engine
from .sinks import QUEUE

LOG = logging.getLogger("component.worker")
DISPATCH_EVERY = 1.0
DISPATCH_LIMIT = 2000
MIN_EXPIRY = 30.0
# Each kind of task on its own queue, so neither dispatch (expiring after two ticks) nor an action
# or picklist someone waits for stands behind a backlog of polls.
DISPATCH_QUEUE, INTERACTIVE_QUEUE, POLL_QUEUE = (
    f"{QUEUE}.{kind}" for kind in ("dispatch", "interactive", "poll")
)
ROUTES = {
    "component.worker.dispatch": {"queue": DISPATCH_QUEUE},
    "component.worker.run_action": {"queue": INTERACTIVE_QUEUE},
    "component.worker.run_picklist": {"queue": INTERACTIVE_QUEUE},
    "component.worker.poll": {"queue": POLL_QUEUE},
}
QUEUES = (DISPATCH_QUEUE, INTERACTIVE_QUEUE, POLL_QUEUE, QUEUE)


def make_app(config: WorkerConfig | None = None) -> Celery:
    config = config or WorkerConfig.from_env()
    celery = Celery("component.worker", broker=config.broker, backend=config.redis or None)
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_expires=3600,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,  # not Celery's "celery": a task sink's consumers have their own
        task_routes=ROUTES,
        beat_schedule={
            "dispatch": {
                "task": "component.worker.dispatch",
                "schedule": DISPATCH_EVERY,
                "options": {"expires": DISPATCH_EVERY * 2},
            }
        },
    )
    return celery


app = make_app()
_engine: Engine | None = None
_lock = threading.Lock()


def engine() -> Engine:
    """The process's engine, made on the first task (after the pool started)."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = Engine(WorkerConfig.from_env(), _send)
            _protect_logs(_engine)
        return _engine


def _send(name: str, queue: str, batch: dict[str, Any]) -> None:
    app.send_task(name, args=[batch], queue=queue, ignore_result=True)


def _protect_logs(made: Engine) -> None:
    """Every handler of the process redacts the secrets the engine put in play."""
    from ..redact import RedactingFilter

    redacting = RedactingFilter(made.app.redactor)
    for logger in (logging.getLogger(), logging.getLogger("celery")):
        for handler in logger.handlers:
            handler.addFilter(redacting)


def _quiet_results() -> None:
    """Celery logs each task's result (customer data: events, records) at INFO; only its warnings
    and errors are kept. Progress events (each wait for the rate budget, pages read) are for a
    terminal's progress line: in a worker's log, where waits are the normal state under load, they
    are noise, so they stay out too."""
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    logging.getLogger("component.progress").setLevel(logging.WARNING)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _filter_new_handlers(logger: logging.Logger, **_: Any) -> None:
    _quiet_results()
    if _engine is not None:
        _protect_logs(_engine)


_quiet_results()


@app.task(name="component.worker.run_action", ignore_result=False)
def run_action(ref: str, inputs: Any = None, connection: str | None = None) -> dict[str, Any]:
    return engine().run_action(ref, inputs, connection)


@app.task(name="component.worker.run_picklist", ignore_result=False)
def run_picklist(
    ref: str, inputs: Any = None, connection: str | None = None, search: str | None = None
) -> dict[str, Any]:
    return engine().run_picklist(ref, inputs, connection, search)


@app.task(name="component.worker.poll")
def poll(instance: str) -> dict[str, Any]:
    result = engine().poll(instance)
    if "error" in result:
        LOG.warning(
            "poll of %s failed (%s): %s", instance, result["error"]["type"], result["error"]["message"]
        )
    return result


@app.task(name="component.worker.dispatch")
def dispatch() -> int:
    """Send a poll for every instance that is due; returns how many."""
    made = engine()
    waiting = queued(queue=POLL_QUEUE)
    room = DISPATCH_LIMIT if waiting is None else min(DISPATCH_LIMIT, made.config.backlog - waiting)
    if room <= 0:
        return 0
    try:
        due = made.claim_due(room)
    except ComponentError as error:  # the database is away: the next tick tries again
        LOG.warning("dispatch failed (%s): %s", error.kind, error.message)
        return 0
    for instance, every in due:
        poll.apply_async(args=[instance], expires=max(every, MIN_EXPIRY))
    return len(due)


def queued(on: Celery | None = None, queue: str | None = None) -> int | None:
    """Messages waiting in ``queue`` (the default queue), or None when the broker cannot say. A
    queue that does not exist (Redis deletes an empty list) holds none. Uses a pooled connection."""
    on = on or app
    name = queue or on.conf.task_default_queue
    try:
        with on.pool.acquire(block=True, timeout=5) as connection:
            channel = connection.channel()
            try:
                return int(channel.queue_declare(queue=name, passive=True).message_count)
            finally:
                channel.close()
    except Exception as exc:  # a broker without counts, or away: dispatch without the bound
        if _not_found(exc):
            return 0
        LOG.warning(
            "cannot count the messages waiting in queue %r (%s): dispatch without the backlog bound",
            name,
            type(exc).__name__,
        )
        return None


def _not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is the broker's 404 for a queue that does not exist."""
    from kombu.exceptions import ChannelError

    code = getattr(exc, "reply_code", None) or getattr(exc, "code", None)
    return isinstance(exc, ChannelError) and (str(code) == "404" or str(exc).startswith("NOT_FOUND"))


def _given(extra: list[str], short: str, long: str) -> bool:
    """Whether ``extra`` sets the option (``-Q x``, ``-Qx``, ``--queues x`` or ``--queues=x``)."""
    return any(arg.startswith(short) or arg == long or arg.startswith(long + "=") for arg in extra)


def worker_argv(config: WorkerConfig, extra: list[str]) -> list[str]:
    """``celery worker`` arguments: a pool of threads as wide as ``COMPONENT_MAX_IN_FLIGHT``,
    consuming the component's queues (unless ``-Q`` names others), under a node name of its own
    (``component-PID@HOST``, unless ``-n`` gives one: two workers of one name on a host clash)."""
    argv = ["worker", "--pool", "threads", "--concurrency", str(config.max_in_flight)]
    if not _given(extra, "-Q", "--queues"):
        argv += ["--queues", ",".join(QUEUES)]
    if not _given(extra, "-n", "--hostname"):
        argv += ["--hostname", f"component-{os.getpid()}@%h"]
    return [*argv, *extra]
