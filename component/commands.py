"""Catalog commands: ``catalog`` (filtered by connector and kind), ``describe REF`` and ``test-connection``.

Registered on the command group by :func:`register`. Output for people is plain text, never cut to
the terminal's width when piped; ``--json`` prints the same as data.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from . import picklists
from .errors import UsageError, did_you_mean

KIND_NAMES = {
    "actions": "actions",
    "action": "actions",
    "datasources": "dataSources",
    "datasource": "dataSources",
    "picklists": "dataSources",
    "picklist": "dataSources",
    "triggers": "triggers",
    "trigger": "triggers",
}
_SINGULAR = {"actions": "action", "dataSources": "data source", "triggers": "trigger"}


def _kind(_: click.Context, __: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    chosen = []
    for name in value:
        kind = KIND_NAMES.get(name.lower())
        if kind is None:
            raise UsageError(f"unknown kind {name!r}; use actions, dataSources (picklists) or triggers")
        chosen.append(kind)
    return tuple(chosen)


def filtered(data: dict[str, Any], connectors: tuple[str, ...], kinds: tuple[str, ...]) -> dict[str, Any]:
    """The catalog JSON with only the connectors and kinds asked for (all when none is)."""
    known = data["connectors"]
    for name in connectors:
        if name not in known:
            raise UsageError(f"unknown connector {name!r}{did_you_mean(name, known)}")
    out: dict[str, Any] = {}
    for name, entry in known.items():
        if connectors and name not in connectors:
            continue
        out[name] = {
            key: value
            for key, value in entry.items()
            if key not in KIND_NAMES.values() or not kinds or key in kinds
        }
    return {"connectors": out}


@click.command("catalog")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@click.option("--connector", "connectors", multiple=True, help="Only this connector (repeatable).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    callback=_kind,
    help="Only actions, dataSources (picklists) or triggers (repeatable).",
)
@click.pass_context
def catalog_command(
    ctx: click.Context, as_json: bool, connectors: tuple[str, ...], kinds: tuple[str, ...]
) -> None:
    """List connectors, actions, data sources and triggers."""
    from . import catalog_cache
    from .cli import emit, emit_text

    root = (ctx.obj["root"] or catalog_cache.default_root()).resolve()
    key = catalog_cache.key_for(root)
    text = catalog_cache.read_text(key)
    if text is not None and as_json and not connectors and not kinds:
        emit_text(text)  # printed as stored: nothing decoded or encoded again
        return
    data = None if text is None else catalog_cache.catalog_of(text)
    if data is None:
        from .catalog import load

        data = load(root, key=key).to_json()
        text = catalog_cache.read_text(key) if as_json and not connectors and not kinds else None
        if text is not None:
            emit_text(text)  # the catalog just checked and stored, printed as stored
            return
    data = filtered(data, connectors, kinds)
    if as_json:
        emit(data)
        return
    rows = [
        (name, kind, key, item["label"])
        for name, connector in data["connectors"].items()
        for kind in ("actions", "dataSources", "triggers")
        for key, item in connector.get(kind, {}).items()
    ]
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table("connector", "kind", "key", "label")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    for row in rows:  # piped: one tab-separated line per entry, nothing cut or wrapped
        click.echo("\t".join(row))


# --- describe ---------------------------------------------------------------------------------------


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        text = " or ".join(kind)
    elif isinstance(kind, str):
        text = kind
    elif "enum" in schema:
        text = "one of"
    elif "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        text = " or ".join(_type(o) for o in options if isinstance(o, dict)) or "any"
    else:
        text = "any"
    if kind == "array" and isinstance(schema.get("items"), dict):
        text = f"array of {_type(schema['items'])}"
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text


def _facts(schema: dict[str, Any]) -> list[str]:
    facts = []
    if "enum" in schema:
        facts.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    for keyword, word in (
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
    ):
        if keyword in schema:
            facts.append(f"{word} {schema[keyword]}")
    if "default" in schema:
        facts.append(f"default {schema['default']!r}")
    items = schema.get("items")
    target: dict[str, Any] = items if isinstance(items, dict) else schema
    link = picklists.parse(target.get(picklists.KEYWORD))
    if link is not None:
        facts.append("picklist " + _link_text(link))
    return facts


def _link_text(link: picklists.Link) -> str:
    if not link.inputs:
        return link.data_source
    filled = ", ".join(f"{name} = $inputs.{field}" for name, field in link.inputs.items())
    return f"{link.data_source} ({filled})"


def _fields(schema: Any, depth: int, lines: list[str], limit: int) -> None:
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = schema["items"]
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required", []))
    for name, sub in properties.items():
        if not isinstance(sub, dict):
            continue
        mark = " *" if name in required else ""
        title = f"  {sub['title']}" if sub.get("title") and sub["title"] != name else ""
        facts = "; ".join(_facts(sub))
        lines.append(f"{'  ' * depth}{name}{mark}: {_type(sub)}{title}" + (f" [{facts}]" if facts else ""))
        if sub.get("description"):
            lines.append(f"{'  ' * depth}    {sub['description']}")
        if depth + 1 < limit:
            _fields(sub, depth + 1, lines, limit)


def describe_text(definition: Any, kind: str, event: dict[str, Any] | None) -> str:
    """One definition for people: what it is, its inputs, outputs (or event) and picklist links."""
    from .models import plain

    model = definition.model
    lines = [
        f"{definition.ref}: {model.label} ({_SINGULAR[kind]})",
        "",
        model.description,
        "",
        "Inputs (* required):",
    ]
    before = len(lines)
    _fields(model.inputs, 1, lines, limit=6)
    if len(lines) == before:
        lines.append("  (none)")
    for rule in getattr(model, "checks", []) or []:
        lines.append(f"  rule: {plain(rule, omit_none=True)}")
    links = list(picklists.links(model.inputs))
    lines += ["", "Picklist links:"]
    if links:
        for path, link in links:
            field = path.removeprefix("$.properties.").replace(".properties.", ".").replace(".items", "[]")
            lines.append(f"  {field} <- {_link_text(link)}")
    else:
        lines.append("  (none)")
    if kind == "actions":
        lines += ["", "Output (data):"]
        output = model.output
        if output is None:
            lines.append("  (not described)")
        else:
            lines.append(f"  {_type(output)}")
            _fields(output, 1, lines, limit=3)
    elif kind == "dataSources":
        lines += [
            "",
            "Result: {result: [{key, label}], truncated}",
            f"  key {model.result.key}, label {model.result.label}",
        ]
    elif event is not None:
        lines += ["", "Event:"]
        _fields(event, 1, lines, limit=3)
    return "\n".join(lines)


@click.command("describe")
@click.argument("ref", metavar="CONNECTOR.KEY")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    callback=_kind,
    help="actions, dataSources or triggers, if the key is in several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the catalog entry as JSON instead.")
@click.pass_context
def describe_command(ctx: click.Context, ref: str, kinds: tuple[str, ...], as_json: bool) -> None:
    """Print one definition's inputs, outputs and picklist links."""
    from . import events
    from .catalog import load
    from .cli import emit

    catalog = load(ctx.obj["root"])
    found = []
    for kind in kinds or ("actions", "dataSources", "triggers"):
        try:
            found.append((kind, catalog.find(kind, ref)))  # type: ignore[arg-type]
        except UsageError as error:
            last = error
    if not found:
        if kinds:
            raise last
        connector = ref.partition(".")[0]
        names = [
            f"{connector}.{k}"
            for kind in ("actions", "dataSources", "triggers")
            for k in catalog.connector(connector).definitions[kind]
        ]
        raise UsageError(f"no action, data source or trigger {ref!r}{did_you_mean(ref, names)}")
    kind, definition = found[0]
    event = None
    if kind == "triggers" and events.sources(definition):
        event = events.event_schema(catalog.connector(definition.connector), definition)
    if as_json:
        entry = catalog.to_json()["connectors"][definition.connector][kind][definition.key]
        emit({"ref": definition.ref, "kind": kind, **entry, "picklists": _links_json(definition)})
        return
    click.echo(describe_text(definition, kind, event))


def _links_json(definition: Any) -> list[dict[str, Any]]:
    return [{"path": path, **link.to_dict()} for path, link in picklists.links(definition.model.inputs)]


# --- test-connection --------------------------------------------------------------------------------


@click.command("test-connection")
@click.argument("connector", metavar="CONNECTOR")
@click.option(
    "--connection",
    "connection_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Connection JSON file (values may be ${VAR} references; fields may come from the environment).",
)
@click.option("--sandbox", "sandboxed", is_flag=True, help="Test against the embedded vendor sandbox.")
@click.pass_context
def test_connection_command(
    ctx: click.Context, connector: str, connection_file: Path | None, sandboxed: bool
) -> None:
    """Check a connection with the connector's cheapest authenticated call.

    Prints {"connector", "ok": true, "action", "ms"}; refused credentials are invalid_credentials (exit 2),
    an unreachable vendor is transport (exit 1).
    """
    from .cli import _app, _connection_source, _run, emit
    from .probe import check_connection

    app = _app(ctx, sandboxed)
    if app.catalog.connector(connector).model.testConnection is None:
        raise UsageError(f"{connector} declares no connection test")
    connection = app.resolve_connection(connector, _connection_source(ctx, connection_file))

    async def go() -> dict[str, Any]:
        async with app.runtime:
            return await check_connection(app.runtime, connector, connection)

    emit(_run(go()))


def register(group: click.Group) -> None:
    """Add the catalog commands to ``group``."""
    for command in (catalog_command, describe_command, test_connection_command):
        group.add_command(command)
