"""The ``component`` command line. Results are JSON on stdout; errors are JSON on stderr, exit non-zero.

Each command imports what it needs when it runs: ``--version`` and ``--help`` load neither the HTTP
client nor the definition models, and a cached ``catalog --json`` loads neither.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import catalog_cache, commands, render
from .errors import ComponentError, DefinitionError, UsageError
from .jsontext import JsonTextError, loads, read_bounded
from .redact import RedactingFilter, Redactor, redact, redact_json, redact_json_text
from .render import ProgressLine, clear_progress, plural, show_error
from .version import __version__

if TYPE_CHECKING:
    from .app import Application
    from .runtime import Runtime

T = TypeVar("T")


def emit(data: Any) -> None:
    """Print a result as JSON, with every secret in play in this invocation redacted (a vendor may echo
    one): connection secrets whatever their source, and the tokens fetched with them."""
    try:
        text = redact_json(data, _redactor(), indent=2)
    except RecursionError:
        raise ComponentError("the result is nested too deeply to print as JSON") from None
    _print_json(text)


def emit_text(text: str) -> None:
    """Print JSON text that :func:`emit` would have written for its value (a stored catalog), through
    the same redaction."""
    _print_json(redact_json_text(text, _redactor(), indent=2))


def _redactor() -> Redactor:
    """This invocation's redactor (an empty one outside a command)."""
    ctx = click.get_current_context(silent=True)
    redactor: Redactor | None = ctx.meta.get("redactor") if ctx is not None else None
    return redactor or Redactor()


def _print_json(text: str) -> None:
    clear_progress()
    # color=True: click would otherwise scan the whole text for terminal escapes to strip when piped,
    # and JSON text holds none (the encoder writes control characters as \u escapes)
    click.echo(text, color=True)


def fail(error: ComponentError, redactor: Redactor | None = None) -> None:
    payload = redact(error, redactor) if redactor else error.to_dict()
    show_error(payload, as_json=_wants_json())
    sys.exit(error.exit_code)


def _wants_json() -> bool:
    """``--json`` on the command line: errors as JSON even on a terminal."""
    return "--json" in sys.argv[1:]


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Group(click.Group):
    """Turns component errors into JSON on stderr; no traceback for a user's mistake."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Click's own usage errors (unknown option, missing argument) as JSON too, exit 2."""
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except _NO_ARGS_IS_HELP as help_shown:  # a bare 'component': the help text, not an error
            click.echo(help_shown.format_message(), err=True)
            sys.exit(help_shown.exit_code)
        except click.ClickException as error:
            payload = {"error": {"type": UsageError.kind, "message": error.format_message()}}
            show_error(payload, as_json=_wants_json())
            sys.exit(error.exit_code)
        except click.Abort:
            show_error(
                {"error": {"type": "interrupted", "message": "aborted"}}, as_json=_wants_json(), indent=None
            )
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ComponentError as error:
            fail(error, ctx.meta.get("redactor"))
        except KeyboardInterrupt:
            show_error(
                {"error": {"type": "interrupted", "message": "interrupted"}},
                as_json=_wants_json(),
                indent=None,
            )
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            redactor: Redactor | None = ctx.meta.get("redactor")
            if ctx.meta.get("debug"):  # the traceback, through the redactor like every other output
                import traceback

                shown = "".join(traceback.format_exception(exc))
                click.echo(redact(shown, redactor) if redactor else shown, err=True)
                sys.exit(1)
            message = f"{type(exc).__name__}: {exc}"
            show_error(
                {
                    "error": {
                        "type": "internal",
                        "message": redact(message, redactor) if redactor else message,
                        "hint": "this is a bug; run again with --debug for the traceback",
                    }
                },
                as_json=_wants_json(),
            )
            sys.exit(1)


def parse_inputs(text: str) -> Any:
    """``--inputs``: a JSON object, ``@FILE`` or ``@-`` for standard input (at most 10 MB, strict JSON)."""
    source = "--inputs"
    try:
        if text.startswith("@"):
            name = text[1:]
            source = f"--inputs file {name!r}" if name != "-" else "--inputs from standard input"
            data = read_bounded(sys.stdin.buffer if name == "-" else Path(name))
        else:
            data = text.encode("utf-8", "surrogateescape")
        return loads(data)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    except JsonTextError as exc:
        raise UsageError(f"{source} {exc}") from None


def _tracked_runtime(ctx: click.Context, sandboxed: bool = False) -> Runtime:
    """The runtime, every secret it puts in play (tokens it fetches too) known to this invocation's
    redactor, through which all output passes."""
    runtime = _runtime(ctx, sandboxed)
    runtime.track_secrets(ctx.meta["redactor"])
    return runtime


def _runtime(ctx: click.Context, sandboxed: bool = False) -> Runtime:
    """The runtime; with ``sandboxed`` its requests go to the embedded sandbox, in process."""
    from .catalog import load
    from .runtime import Runtime

    root: Path | None = ctx.obj["root"]
    if not sandboxed:
        return Runtime(load(root))
    from .sandbox import Sandbox

    ctx.obj["sandbox"] = sandbox = ctx.obj.get("sandbox") or Sandbox()
    return Runtime(load(root), transport=sandbox.transport())


def _app(ctx: click.Context, sandboxed: bool = False) -> Application:
    """The application layer over :func:`_runtime`, sharing this invocation's redactor."""
    from .app import Application

    runtime = _tracked_runtime(ctx, sandboxed)
    return Application(runtime, sandbox=ctx.obj.get("sandbox"), redactor=ctx.meta["redactor"])


def _connection_source(ctx: click.Context, file: Path | None) -> Callable[[], dict[str, Any] | None]:
    """The connection file's data, read when the application asks for it (after the inputs passed);
    None for the sandbox's or the environment's."""
    sandboxed = ctx.obj.get("sandbox") is not None

    def read() -> dict[str, Any] | None:
        from .connection import read_connection_file

        if sandboxed and file is not None:
            raise UsageError("give --connection or --sandbox, not both")
        return read_connection_file(file) if file else None

    return read


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(coroutine)


_VERBOSE_HELP = "Log each HTTP request, the token request too (secrets redacted), to stderr."
_DEBUG_HELP = "Show the traceback of an unexpected error."


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=catalog_cache.ROOT_ENV,
    help="Folder holding manifest.json (default: the installed definitions).",
)
@click.option("-v", "--verbose", is_flag=True, help=_VERBOSE_HELP + " Also after the subcommand.")
@click.option("--debug", is_flag=True, help=_DEBUG_HELP + " Also after the subcommand.")
@click.version_option(__version__, prog_name="component")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, verbose: bool, debug: bool) -> None:
    """Field-service connectors (ServiceTitan, Servicebay, Homebase360) as declarative actions,
    picklists and triggers."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root
    ctx.meta["debug"] = debug
    redactor = Redactor()
    ctx.meta["redactor"] = redactor
    progress_line = ProgressLine()
    ctx.meta["progress_line"] = progress_line
    progress_line.addFilter(RedactingFilter(redactor))
    progress_log = logging.getLogger("component.progress")
    progress_log.addHandler(progress_line)
    progress_log.setLevel(logging.INFO)
    progress_log.propagate = False

    def close_progress() -> None:
        progress_line.finish()
        progress_log.removeHandler(progress_line)

    ctx.call_on_close(close_progress)
    if verbose:
        _log_verbosely(ctx)


def _log_verbosely(ctx: click.Context) -> None:
    """``-v``: every ``component`` log line (each request, the token request) on stderr, through this
    invocation's redactor. Once per invocation, wherever the flag was given; removed when it ends."""
    if ctx.meta.get("verbose"):
        return
    ctx.meta["verbose"] = True
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(ctx.meta["redactor"]))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("component")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def stop() -> None:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)

    ctx.find_root().call_on_close(stop)


def _verbose_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _log_verbosely(ctx)


def _debug_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["debug"] = True


def accept_global_flags(group: click.Group) -> None:
    """``-v``/``--verbose`` and ``--debug`` after the subcommand too (``component run -v …``): every
    subcommand, at any depth, takes the same flags, setting the same flags of the invocation."""
    for command in group.commands.values():
        names = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if not names & {"-v", "--verbose"}:
            command.params.append(
                click.Option(
                    ["-v", "--verbose"],
                    is_flag=True,
                    expose_value=False,
                    callback=_verbose_flag,
                    help=_VERBOSE_HELP,
                )
            )
        if "--debug" not in names:
            command.params.append(
                click.Option(
                    ["--debug"], is_flag=True, expose_value=False, callback=_debug_flag, help=_DEBUG_HELP
                )
            )
        if isinstance(command, click.Group):
            accept_global_flags(command)


_ROOT_SOURCES = {
    "--root": "--root",
    "COMPONENT_ROOT": "$COMPONENT_ROOT",
    "checkout": "the checkout around the current directory",
    "installed": "the installed definitions",
}


def _validated_root(ctx: click.Context, given: Path | None) -> tuple[Path, str]:
    """The definitions ``validate`` checks, and why those: ``--root`` (after the subcommand or before
    it), $COMPONENT_ROOT, the checkout around the current directory, else the installed copy."""
    if given is not None:
        return given.resolve(), "--root"
    root: Path | None = ctx.obj["root"]
    if root is not None:
        from_env = ctx.find_root().get_parameter_source("root") == click.core.ParameterSource.ENVIRONMENT
        return root.resolve(), catalog_cache.ROOT_ENV if from_env else "--root"
    checkout = catalog_cache.checkout_root(Path.cwd().resolve())
    if checkout is not None:
        return checkout, "checkout"
    return catalog_cache.default_root().resolve(), "installed"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print problems as JSON.")
@click.option(
    "--root",
    "given_root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding manifest.json to check (the same as the group's --root).",
)
@click.pass_context
def validate(ctx: click.Context, as_json: bool, given_root: Path | None) -> None:
    """Check the manifest and every definition; exit 0 only if all are sound.

    What it checks: --root DIR (or $COMPONENT_ROOT) when given; else, inside a checkout (the nearest
    folder at or above the current directory holding manifest.json and actions/), the checkout's
    definitions; else the installed ones. The output names the folder checked."""
    from . import catalog as catalog_module

    root, source = _validated_root(ctx, given_root)
    loaded, problems = catalog_module.check(root)
    if problems:
        if as_json:
            emit(
                {
                    "ok": False,
                    "root": str(root),
                    "rootFrom": source,
                    "problems": [p.to_dict() for p in problems],
                }
            )
        else:
            for problem in problems:
                click.echo(str(problem), err=True)
            click.echo(f"{plural(len(problems), 'problem')} under {root} ({_ROOT_SOURCES[source]})", err=True)
        sys.exit(DefinitionError.exit_code)
    assert loaded is not None
    counts = {
        kind: sum(len(c.definitions[kind]) for c in loaded.connectors.values())
        for kind in catalog_module.KINDS
    }
    if as_json:
        emit(
            {
                "ok": True,
                "root": str(root),
                "rootFrom": source,
                "connectors": len(loaded.connectors),
                **counts,
            }
        )
    else:
        click.echo(
            f"ok: {len(loaded.connectors)} connectors, {counts['actions']} actions, "
            f"{counts['dataSources']} data sources, {counts['triggers']} triggers "
            f"under {root} ({_ROOT_SOURCES[source]})"
        )


_INPUTS_HELP = "Inputs as a JSON object, @FILE, or @- for standard input."
_SANDBOX_HELP = "Run against the embedded vendor sandbox, in process (no network, no account)."
_CONNECTION_HELP = (
    "Connection JSON file. Values may be ${VAR} references; fields may also come from the "
    "environment variables the connection schema names (x-env)."
)


def _definition_command(name: str, kind: str, metavar: str, summary: str) -> None:
    """Register ``run`` or ``picklist``: the same options, the same flow, a different pipeline end."""

    @cli.command(name, help=summary)
    @click.argument("ref", metavar=metavar)
    @click.option("--inputs", default="{}", show_default=True, help=_INPUTS_HELP)
    @click.option(
        "--connection",
        "connection_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help=_CONNECTION_HELP,
    )
    @click.option("--sandbox", "sandboxed", is_flag=True, help=_SANDBOX_HELP)
    @click.option(
        "--dry-run", is_flag=True, help="Send nothing; print the (first) request that would be sent."
    )
    @click.pass_context
    def command(
        ctx: click.Context,
        ref: str,
        inputs: str,
        connection_file: Path | None,
        sandboxed: bool,
        dry_run: bool,
    ) -> None:
        app = _app(ctx, sandboxed)
        parsed = parse_inputs(inputs)
        connection = _connection_source(ctx, connection_file)
        call = app.run if kind == "action" else app.picklist
        emit(_run(call(ref, parsed, connection, dry_run=dry_run)))


_definition_command("run", "action", "CONNECTOR.ACTION", 'Run an action and print {"data": ...}.')
_definition_command(
    "picklist",
    "picklist",
    "CONNECTOR.DATASOURCE",
    'Run a data source and print {"result": [{"key", "label"}], "truncated": bool}.',
)


_STATE_OPTION = click.option(
    "--state",
    "state_file",
    help="Trigger state: a SQLite file (default: $XDG_STATE_HOME/fieldservice-component/triggers.db) "
    "or a postgresql:// URL for state shared by many workers [env: COMPONENT_STATE].",
)


def _instance_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--instance`` refused up front (exit 2, before anything is sent) when it cannot name one."""
    from .triggers.store import check_instance

    if value is None:
        return None
    try:
        return check_instance(value)
    except UsageError as error:
        raise click.BadParameter(error.message, ctx=ctx, param=param) from None


@cli.command("poll")
@click.argument("ref", metavar="CONNECTOR.TRIGGER")
@click.option("--inputs", default="{}", show_default=True, help=_INPUTS_HELP)
@click.option(
    "--instance",
    required=True,
    callback=_instance_id,
    help="A stable id for this trigger instance (e.g. the flow's id); its state is kept under it.",
)
@_STATE_OPTION
@click.option(
    "--connection", "connection_file", type=click.Path(dir_okay=False, path_type=Path), help=_CONNECTION_HELP
)
@click.option("--sandbox", "sandboxed", is_flag=True, help=_SANDBOX_HELP)
@click.option("--dry-run", is_flag=True, help="Poll and print what would fire, but commit no state.")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    help="Keep polling every SECONDS until Ctrl-C, trying again after transient failures (Ctrl-C stops "
    "after the current request; a second one aborts without committing).",
)
@click.pass_context
def poll_command(
    ctx: click.Context,
    ref: str,
    inputs: str,
    instance: str,
    state_file: str | None,
    connection_file: Path | None,
    sandboxed: bool,
    dry_run: bool,
    every: float | None,
) -> None:
    """Poll a trigger: print each event as one JSON line and commit the trigger's state."""
    from .triggers import open_state_store

    app = _app(ctx, sandboxed)
    parsed = parse_inputs(inputs)
    app.check_trigger(ref, parsed)  # before the state store is opened
    connection = _connection_source(ctx, connection_file)
    redactor: Redactor = ctx.meta["redactor"]

    def say(text: str) -> None:
        render.echo(redactor.text(text), err=True)  # a progress line in place is wiped first

    def retry(error: Any, wait: float) -> None:
        say(f"poll failed ({error.kind}): {error.message}; trying again in {wait:.0f} s")

    def deliver(events: list[dict[str, Any]]) -> None:
        for event in events:
            render.echo(redact_json(event, redactor))
        sys.stdout.flush()

    def report(number: int, outcome: Any) -> None:
        if outcome.status == "dry-run":
            deliver(outcome.events)
        what = {"polled": "state committed", "dry-run": "dry run, nothing committed"}.get(
            outcome.status, "another poller holds this instance; skipped"
        )
        counts = f"{plural(len(outcome.events), 'event')}, {plural(outcome.requests, 'request')}"
        say(f"poll {number}: {counts}; {what}")
        for part in outcome.incomplete:
            where = (
                "the list"
                if part["window"] is None
                else f"{part['window']['from']} to {part['window']['to']}"
            )
            say(f"  incomplete: {where} came back full ({part['records']} records); some may be missed")

    with open_state_store(state_file or os.environ.get("COMPONENT_STATE")) as store:
        _run(
            app.watch(
                ref, parsed, connection, store, instance,
                deliver=deliver, every=every, dry_run=dry_run, on_poll=report, on_stop=say, on_retry=retry,
            )
        )  # fmt: skip
        if every is not None:
            say("stopped; the state of every delivered poll is committed")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary instead.")
@click.pass_context
def demo(ctx: click.Context, as_json: bool) -> None:
    """The main job: the example flows across the three vendors, on the embedded sandbox."""

    from .demo import run_demo

    app = _app(ctx, sandboxed=True)
    summary = _run(run_demo(app.runtime, ctx.obj["sandbox"], None if as_json else render.console()))
    if as_json:
        emit(summary)
    if not summary["ok"]:
        sys.exit(1)


@cli.group()
def flow() -> None:
    """Flows: named steps (actions and picklists) run in order, each reading earlier outputs."""


def _flow_connections(ctx: click.Context, app: Application, files: tuple[Path, ...]) -> dict[str, Any] | None:
    """Connections by connector merged from files keyed by connector name (None: the sandbox's)."""
    if ctx.obj.get("sandbox") is not None:
        if files:
            raise UsageError("give --connection or --sandbox, not both")
        return None
    from .connection import read_connection_file

    merged: dict[str, Any] = {}
    for file in files:
        data = read_connection_file(file)
        unknown = [name for name in data if name not in app.catalog.connectors]
        if unknown:
            raise UsageError(
                f"connection file {str(file)!r} must hold connections keyed by connector name "
                f"({', '.join(app.catalog.connectors)}); unknown keys: {', '.join(unknown)}"
            )
        merged.update(data)
    return merged


@flow.command("run")
@click.argument("flow_file", metavar="FLOW.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--connection",
    "connection_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON file of connections keyed by connector name; repeat for several files.",
)
@click.option("--sandbox", "sandboxed", is_flag=True, help=_SANDBOX_HELP)
@click.option("--dry-run", is_flag=True, help="Send nothing; show each step's first request.")
@click.option(
    "--instance",
    callback=_instance_id,
    help="For a flow with a trigger: the trigger instance id; the steps run once per new event.",
)
@_STATE_OPTION
@click.pass_context
def flow_run(
    ctx: click.Context,
    flow_file: Path,
    connection_files: tuple[Path, ...],
    sandboxed: bool,
    dry_run: bool,
    instance: str | None,
    state_file: str | None,
) -> None:
    """Run a flow: check it whole, then run each step, printing its inputs, output and time."""

    from .flows import StepResult, describe, load_flow

    app = _app(ctx, sandboxed)
    flow_model = load_flow(flow_file)
    connections = app.flow_connections(_flow_connections(ctx, app, connection_files))
    redactor: Redactor = ctx.meta["redactor"]
    console = render.console(stderr=True)

    def show(number: int, total: int, result: StepResult) -> None:
        mark = (
            "[red]✗[/red]" if result.error else "[yellow]…[/yellow]" if result.needs else "[green]✓[/green]"
        )
        console.print(
            f"{mark} {number}/{total} {result.name} [dim]({result.ref}, {result.ms:.0f} ms)[/dim]: "
            + redact(describe(result), redactor),
            soft_wrap=True,
            highlight=False,
        )

    if flow_model.trigger is not None:
        from .triggers import open_state_store

        if not instance:
            raise UsageError(
                f"flow {flow_model.name!r} starts from the trigger {flow_model.trigger.trigger}: "
                "give --instance ID (and optionally --state FILE) so its place is kept"
            )
        with open_state_store(state_file or os.environ.get("COMPONENT_STATE")) as store:
            run = app.run_flow(
                flow_model, connections, dry_run=dry_run, on_step=show, store=store, instance=instance
            )
            summary = redactor.data(_run(run))
        emit(summary)
        if not summary["ok"]:
            sys.exit(1)
        return
    if instance or state_file:
        raise UsageError(
            f"flow {flow_model.name!r} has no trigger; --instance and --state apply to triggered flows"
        )

    summary = redactor.data(_run(app.run_flow(flow_model, connections, dry_run=dry_run, on_step=show)))
    emit(summary)
    if not summary["ok"]:
        sys.exit(1)


@cli.group()
def sandbox() -> None:
    """The embedded sandbox of the three vendor APIs."""


_RATE = click.FloatRange(0, 1)


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option("--latency-ms", default=0.0, type=click.FloatRange(0), help="Added to every response.")
@click.option("--jitter-ms", default=0.0, type=click.FloatRange(0), help="Up to this much more, at random.")
@click.option("--fault-rate", default=0.0, type=_RATE, help="Share of requests answered 500, 502 or 503.")
@click.option("--burst-rate", default=0.0, type=_RATE, help="Share of requests that start a burst of 429s.")
@click.option(
    "--burst-length", default=3, show_default=True, type=click.IntRange(1), help="429s in a row in a burst."
)
@click.option("--drop-rate", default=0.0, type=_RATE, help="Share of responses whose connection drops.")
@click.option("--malformed-rate", default=0.0, type=_RATE, help="Share of 200s with an HTML or cut-off body.")
@click.option("--token-lifetime", default=900, type=click.IntRange(1), help="ServiceTitan token lifetime, s.")
@click.option("--rate-limits/--no-rate-limits", default=True, help="Enforce the vendors' rate limits.")
@click.option("--seed", default=0, type=int, show_default=True, help="Seed of the data and the faults.")
@click.option("--quiet", is_flag=True, help="No access log and no fault lines on stderr.")
def serve(
    host: str,
    port: int,
    latency_ms: float,
    jitter_ms: float,
    fault_rate: float,
    burst_rate: float,
    burst_length: int,
    drop_rate: float,
    malformed_rate: float,
    token_lifetime: int,
    rate_limits: bool,
    seed: int,
    quiet: bool,
) -> None:
    """Serve the sandbox over HTTP (uvicorn) and print each vendor's connection as JSON; log each
    request and each injected fault as one line on stderr. Ctrl-C stops it (exit 0)."""
    from .sandbox import VENDORS, Faults, Sandbox
    from .service.listening import listen, run

    faults = {
        name: Faults(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            error_rate=fault_rate,
            burst_rate=burst_rate,
            burst_length=burst_length,
            drop_rate=drop_rate,
            malformed_rate=malformed_rate,
            token_lifetime=token_lifetime,
            seed=seed,
        )
        for name in VENDORS
    }
    limits = None if rate_limits else dict.fromkeys(VENDORS)
    served = Sandbox(seed=seed, faults=faults, rate_limits=limits)
    listener = listen(host, port)  # listening before its address is printed
    bound = listener.getsockname()[1]
    # A wildcard address is reached here through loopback, where plain http may carry credentials
    # (the credential rule); from another machine a connection needs https in front of the sandbox.
    reach = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    base = f"http://{f'[{reach}]' if ':' in reach else reach}:{bound}"
    emit({"url": base, "connections": served.connections(base)})
    sys.stdout.flush()
    from .sandbox.access_log import AccessLog, serve_logging

    serve_logging(quiet)
    # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal: that is a clean stop
    with contextlib.suppress(KeyboardInterrupt):
        run(AccessLog(served.app), listener, lifespan="off")


@cli.command(hidden=True)
def schemas() -> None:
    """Regenerate component/schema/*.schema.json from the definition models (development)."""
    from .models import write_schemas

    for path in write_schemas():
        click.echo(str(path))


commands.register(cli)  # catalog, describe, test-connection


def main() -> None:
    cli(prog_name="component")


def _add_service_commands() -> None:
    from .cli_service import mcp_command, serve_command

    cli.add_command(serve_command)
    cli.add_command(mcp_command)
    from .cli_worker import worker_group

    cli.add_command(worker_group)


_add_service_commands()
accept_global_flags(cli)
