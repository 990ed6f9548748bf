"""The catalog as Model Context Protocol tools (the official ``mcp`` SDK): each action and each
picklist is a tool whose input schema is the definition's, whose output schema describes its result
(given back as structured content) and whose annotations follow the request method (read-only for
GET, destructive for DELETE, idempotent where the method is). Served over streamable HTTP at
``/mcp`` and over stdio by ``component mcp``.

Each tool's input schema also has an optional ``connection`` property (see :data:`CONNECTION`): the
id of a connection, resolved like the HTTP routes' ``?connection=`` and taken out of the arguments
before the definition sees them; without it a call uses the connector's default connection. A
definition with an input of that name would make the tool ambiguous and is refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route

from ..catalog import LoadedDefinition
from ..errors import ComponentError, ConnectionConfigError
from ..runtime import SAFE_METHODS
from ..version import __version__
from .errors import http_status, internal
from .output import redacted
from .routes import Service

log = logging.getLogger("component.service")
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NAME = re.compile(r"[^A-Za-z0-9_-]")
CONNECTION = "connection"  # the input every tool adds to its definition's: a connection id
_CONNECTION_SCHEMA = {
    "type": "string",
    "description": "Id of the connection to use (from GET /v1/connections); default: the connector's "
    "default connection. Never a credential.",
}


def tool_name(definition: LoadedDefinition) -> str:
    return _NAME.sub("_", f"{definition.connector}_{definition.key}")[:64]


def _annotations(definition: LoadedDefinition) -> types.ToolAnnotations:
    title = definition.model.label
    if definition.kind == "dataSources":
        return types.ToolAnnotations(
            title=title, read_only_hint=True, idempotent_hint=True, open_world_hint=True
        )
    method = definition.model.request.method
    if not (isinstance(method, str) and method.isupper()):  # chosen by an input: nothing can be promised
        return types.ToolAnnotations(title=title, open_world_hint=True)
    return types.ToolAnnotations(
        title=title,
        read_only_hint=method in SAFE_METHODS,
        destructive_hint=method == "DELETE",
        idempotent_hint=method in _IDEMPOTENT,
        open_world_hint=True,
    )


def _input_schema(definition: LoadedDefinition) -> dict[str, Any]:
    """The definition's input schema with the optional ``connection`` id beside its own inputs."""
    schema = dict(definition.model.inputs)
    properties = dict(schema.get("properties") or {})
    if CONNECTION in properties:
        raise ComponentError(
            f"{definition.ref} has an input named {CONNECTION!r}, which MCP tools keep for a connection id"
        )
    properties[CONNECTION] = _CONNECTION_SCHEMA
    schema["properties"] = properties
    return schema


def _output_schema(definition: LoadedDefinition) -> dict[str, Any]:
    if definition.kind == "dataSources":
        entry = {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}}}
        return {
            "type": "object",
            "required": ["result", "truncated"],
            "properties": {"result": {"type": "array", "items": entry}, "truncated": {"type": "boolean"}},
        }
    data = definition.model.output or {}
    schema: dict[str, Any] = {"type": "object", "required": ["data"], "properties": {"data": data}}
    if isinstance(data, dict) and "$defs" in data:  # its "#/$defs/…" references resolve from the root
        data = dict(data)
        schema["$defs"] = data.pop("$defs")
        schema["properties"]["data"] = data
    return schema


class McpFace:
    """The MCP server over the service's application layer."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.tools: dict[str, tuple[LoadedDefinition, types.Tool]] = {}
        for connector in service.app.catalog.connectors.values():
            for kind in ("actions", "dataSources"):
                for definition in connector.definitions[kind].values():
                    name = tool_name(definition)
                    if name in self.tools:
                        raise ComponentError(f"two definitions would be the MCP tool {name!r}")
                    self.tools[name] = (definition, self._tool(name, definition))
        self.server: Server[Any] = Server(
            "fieldservice-component",
            version=__version__,
            instructions="Field-service connectors (ServiceTitan, Servicebay, Homebase360). Picklist tools "
            "(select…) list the ids that action inputs take.",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )
        self._manager: StreamableHTTPSessionManager | None = None

    @staticmethod
    def _tool(name: str, definition: LoadedDefinition) -> types.Tool:
        model = definition.model
        return types.Tool(
            name=name,
            title=model.label,
            description=f"{model.label} ({definition.ref}). {model.description or ''}".strip(),
            input_schema=_input_schema(definition),
            output_schema=_output_schema(definition),
            annotations=_annotations(definition),
        )

    async def list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool for _, tool in self.tools.values()])

    async def call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        app = self.service.app
        found = self.tools.get(params.name)
        try:
            if found is None:
                raise ComponentError(f"no tool {params.name!r}")
            definition = found[0]
            inputs = dict(params.arguments or {})
            connection = inputs.pop(CONNECTION, None)
            if connection is not None and not isinstance(connection, str):
                raise ConnectionConfigError(
                    f"{CONNECTION} must be a connection id (a string)",
                    problems=[{"path": f"$.{CONNECTION}", "message": "must be a string"}],
                )
            data = self.service.connections.data(definition.connector, connection)
            if definition.kind == "actions":
                result = await app.run(definition.ref, inputs, data)
            else:
                result = await app.picklist(definition.ref, inputs, data)
        except ComponentError as error:
            body = redacted(app.redactor, {**error.to_dict(), "status": http_status(error)})
            return types.CallToolResult(content=[types.TextContent(text=json.dumps(body))], is_error=True)
        except Exception:
            failure = uuid.uuid4().hex
            log.exception("%s unexpected failure in MCP tool %s", failure, params.name)
            body = internal(failure)
            return types.CallToolResult(content=[types.TextContent(text=json.dumps(body))], is_error=True)
        shown = redacted(app.redactor, result)
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(shown, ensure_ascii=False))], structured_content=shown
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the streamable-HTTP session manager for the service's lifetime."""
        self._manager = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        async with self._manager.run():
            yield

    def route(self) -> Route:
        return Route("/mcp", endpoint=_Endpoint(self), methods=["GET", "POST", "DELETE"])

    async def serve_stdio(self) -> None:
        from mcp.server.stdio import stdio_server

        async with self.service.app.runtime, stdio_server() as (read, write):
            await self.server.run(read, write, self.server.create_initialization_options())


class _Endpoint:
    """The ASGI app at ``/mcp`` (a class, so Starlette hands it the raw ASGI call)."""

    def __init__(self, face: McpFace) -> None:
        self.face = face

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        manager = self.face._manager
        if manager is None:
            raise ComponentError("the MCP endpoint is not running (the service's lifespan has not started)")
        await StreamableHTTPASGIApp(manager)(scope, receive, send)
