"""``component worker``: run Celery workers and beat, and manage the table of trigger instances.

Kept apart from :mod:`component.cli` so the other commands load none of it (Celery is the ``scale``
extra's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from .worker.instances import InstanceTable

_STATE_HELP = "The PostgreSQL database the workers share (a postgresql:// URL) [env: COMPONENT_STATE]."


def _table(state: str | None) -> InstanceTable:
    from dataclasses import replace

    from .worker.config import WorkerConfig
    from .worker.instances import InstanceTable

    config = WorkerConfig.from_env()
    return InstanceTable((replace(config, state=state) if state else config).state_url())


def _celery() -> Any:
    try:
        from .worker.app import app
    except ImportError:
        from .errors import UsageError

        raise UsageError(
            "the worker needs Celery: install the scale extra: pip install 'fieldservice-component[scale]'"
        ) from None
    return app


@click.group("worker")
def worker_group() -> None:
    """Poll trigger instances with Celery workers (settings from COMPONENT_* variables:
    docs/scale-out.md)."""


@worker_group.command("run", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """Start a worker (a pool of COMPONENT_MAX_IN_FLIGHT threads); other arguments go to `celery worker`."""
    from .worker.config import WorkerConfig
    from .worker.sinks import check_sink

    config = WorkerConfig.from_env()
    config.state_url()  # refused now, naming the variable, rather than at every task
    check_sink(config.sink, config.sink_secret)
    app = _celery()
    from .app import Application
    from .worker.app import worker_argv
    from .worker.engine import open_connections

    open_connections(Application.create(), config)

    app.worker_main(worker_argv(config, list(ctx.args)))


@worker_group.command("beat", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat_command(ctx: click.Context) -> None:
    """Start beat, which sends the dispatch task every second; other arguments go to `celery beat`."""
    app = _celery()
    app.start(["beat", *ctx.args])


@worker_group.group("instances")
def instances_group() -> None:
    """The trigger instances the workers poll (adding one needs no restart)."""


@instances_group.command("add")
@click.argument("instance")
@click.option("--trigger", "ref", required=True, metavar="CONNECTOR.TRIGGER", help="The trigger to poll.")
@click.option("--inputs", default="{}", show_default=True, help="The trigger's inputs: JSON or @FILE.")
@click.option(
    "--connection",
    help="The connection's name: an entry of COMPONENT_CONNECTIONS or a stored connection's id "
    "(default: the file's entry named after the connector).",
)
@click.option("--every", type=click.FloatRange(min=1), default=60.0, show_default=True, help="Seconds.")
@click.option("--state", help=_STATE_HELP)
@click.pass_context
def add_command(
    ctx: click.Context,
    instance: str,
    ref: str,
    inputs: str,
    connection: str | None,
    every: float,
    state: str | None,
) -> None:
    """Add (or replace) a trigger instance; its first poll comes within one interval."""
    from .app import Application
    from .cli import emit, parse_inputs
    from .errors import UsageError

    parsed = parse_inputs(inputs)
    app = Application.create()
    definition = app.check_trigger(ref, parsed)  # the ref and the inputs, before the table
    if connection is not None:
        _check_connection(app, definition.connector, connection)
    with _table(state) as table:
        stored = table.stored_trigger(instance)
        if stored is not None and stored != ref:
            raise UsageError(
                f"trigger instance {instance!r} has the stored state of {stored!r}: polled as {ref!r} it "
                f"would fail at every poll (state_mismatch); add it under a new instance id, or with "
                f"--trigger {stored}"
            )
        emit(table.add(instance, ref, parsed, connection, every).to_dict())


def _check_connection(app: Any, connector: str, connection: str) -> None:
    """Refuse a connection name the workers cannot find, when this machine has their connection
    settings (COMPONENT_CONNECTIONS, COMPONENT_CONNECTION_STORE); the message says where it looked."""
    from .errors import UsageError
    from .service.errors import UnknownError
    from .triggers.postgres import redacted_url
    from .worker.config import WorkerConfig
    from .worker.engine import open_connections

    config = WorkerConfig.from_env()
    if not (config.connections_file or config.connection_store):
        return  # the workers' settings are elsewhere: they refuse the name at its first poll
    try:
        open_connections(app, config).data(connector, connection)
    except UnknownError:
        looked = [f"the entries of COMPONENT_CONNECTIONS ({config.connections_file})"] * bool(
            config.connections_file
        )
        if config.connection_store:
            store = redacted_url(config.connection_store)
            looked.append(f"the connections stored in COMPONENT_CONNECTION_STORE ({store})")
        looked.append("the connections from the environment")
        raise UsageError(
            f"no connection {connection!r} for {connector}: looked in " + ", ".join(looked)
        ) from None


@instances_group.command("remove")
@click.argument("instance")
@click.option("--state", help=_STATE_HELP)
def remove_command(instance: str, state: str | None) -> None:
    """Stop polling a trigger instance (its state is kept: adding it again resumes where it was)."""
    from .cli import emit

    with _table(state) as table:
        emit({"instance": instance, "removed": table.remove(instance)})


@instances_group.command("list")
@click.option("--state", help=_STATE_HELP)
def list_command(state: str | None) -> None:
    """The trigger instances, with their next due time (Unix seconds)."""
    from .cli import emit

    with _table(state) as table:
        emit([row.to_dict() for row in table.all()])
