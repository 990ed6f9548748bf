"""``component serve`` and ``component mcp``: the builder service's commands (HTTP and MCP faces).

Kept apart from :mod:`component.cli` so the command line's other commands load none of it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

_CONNECTIONS_HELP = (
    "JSON file of read-only connections: keyed by connector name, or by id with "
    '{"connector": NAME, "values": {…}}. Values may be ${VAR} references.'
)
_STATE_HELP = (
    "Trigger state, pending batches and stored connections: a SQLite file "
    "(default: $XDG_STATE_HOME/fieldservice-component/triggers.db) or a postgresql:// URL "
    "shared by several service processes."
)
_SANDBOX_HELP = "Wire every connector to the embedded vendor sandbox, in process (no account needed)."


def _connections(file: Path | None) -> dict[str, Any] | None:
    from .connection import read_connection_file

    return read_connection_file(file) if file else None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option("--sandbox", "sandboxed", is_flag=True, help=_SANDBOX_HELP)
@click.option(
    "--connections",
    "connections_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_CONNECTIONS_HELP,
)
@click.option("--state", "state_file", help=_STATE_HELP)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Allow browser calls from this origin (repeat; default none, or $COMPONENT_SERVICE_CORS_ORIGINS).",
)
@click.pass_context
def serve_command(
    ctx: click.Context,
    host: str,
    port: int,
    sandboxed: bool,
    connections_file: Path | None,
    state_file: str | None,
    cors_origins: tuple[str, ...],
) -> None:
    """Serve the catalog over HTTP (/v1, /openapi.json, /mcp). Set COMPONENT_SERVICE_TOKEN to require
    a bearer token (needed to listen on anything but loopback) and COMPONENT_SECRET_KEY to store
    connection secrets."""
    from .cli import emit
    from .service.server import serve

    def announce(info: dict[str, Any]) -> None:
        emit(info)
        sys.stdout.flush()

    serve(
        host=host,
        port=port,
        root=ctx.obj["root"],
        sandbox=sandboxed,
        state=state_file,
        connections=_connections(connections_file),
        cors_origins=cors_origins,
        announce=announce,
    )


@click.command("mcp")
@click.option("--sandbox", "sandboxed", is_flag=True, help=_SANDBOX_HELP)
@click.option(
    "--connections",
    "connections_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=_CONNECTIONS_HELP,
)
@click.option("--state", "state_file", help=_STATE_HELP)
@click.pass_context
def mcp_command(
    ctx: click.Context, sandboxed: bool, connections_file: Path | None, state_file: str | None
) -> None:
    """Serve the catalog's actions and picklists as MCP tools over standard input and output."""
    import anyio

    from .service.mcp import McpFace
    from .service.server import build

    _, service = build(
        root=ctx.obj["root"],
        sandbox=sandboxed,
        state=state_file,
        connections=_connections(connections_file),
        mcp=False,
    )
    anyio.run(McpFace(service).serve_stdio)
