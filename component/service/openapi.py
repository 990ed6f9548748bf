"""The OpenAPI 3.1 document of the service, generated from the definitions: one operation per action,
picklist and trigger, whose request body is the definition's input schema and whose response is its
output schema, plus the service's own routes. The schemas are the definitions' own (OpenAPI 3.1 uses
JSON Schema 2020-12); a schema's ``$defs`` move to ``components/schemas`` so its ``$ref``s resolve.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..app import Application
from ..catalog import LoadedDefinition
from ..version import __version__

JSON = "application/json"
_ERROR_STATUSES = {
    "400": "Malformed JSON, a bad query parameter or a body that is not what the route takes",
    "401": "Missing or wrong bearer token",
    "404": "Unknown definition, connection or trigger instance",
    "409": "A read-only connection, a missing secret key, a commit that names no pending batch, or a "
    "trigger instance id already used for another trigger or inputs",
    "413": "Request body over 10 MB",
    "415": "Request body not sent as application/json",
    "422": "Inputs or connection values that fail their schema (nothing was sent)",
    "429": "The rate budget would wait longer than the caller's timeout (see Retry-After)",
    "502": "The vendor answered with an error: its status, message and trace id",
    "504": "The vendor could not be reached or did not answer in time",
}


def _error_responses(*statuses: str) -> dict[str, Any]:
    wanted = statuses or tuple(_ERROR_STATUSES)
    out: dict[str, Any] = {
        code: {"$ref": f"#/components/responses/E{code}"} for code in wanted if code in _ERROR_STATUSES
    }
    out["default"] = {"$ref": "#/components/responses/Error"}
    return out


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path_param(name: str, description: str, pattern: str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$") -> Any:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
        "description": description,
    }


CONNECTION = _query(
    "connection",
    {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
    "Id of the connection to use (default: the connection named after the connector, if configured).",
)
TIMEOUT = _query(
    "timeout",
    {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
    "Seconds the caller waits (default 30); a rate-budget wait past it answers 429 at once.",
)


class _Embedder:
    """Copies definition schemas into the document, moving their ``$defs`` to components."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components

    def __call__(self, schema: Any, prefix: str) -> Any:
        schema = copy.deepcopy(schema) if isinstance(schema, dict) else {}
        defs = schema.pop("$defs", None) or {}
        for name, sub in defs.items():
            self.components[f"{prefix}.{name}"] = self._rewrite(sub, prefix)
        return self._rewrite(schema, prefix)

    def _rewrite(self, value: Any, prefix: str) -> Any:
        if isinstance(value, dict):
            out = {k: self._rewrite(v, prefix) for k, v in value.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                out["$ref"] = f"#/components/schemas/{prefix}.{ref[len('#/$defs/') :]}"
            return out
        if isinstance(value, list):
            return [self._rewrite(v, prefix) for v in value]
        return value


def document(app: Application, *, secured: bool) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["type", "message"],
                    "properties": {
                        "type": {"type": "string"},
                        "message": {"type": "string"},
                        "problems": {"type": "array", "items": {"type": "object"}},
                        "status": {"type": "integer", "description": "The vendor's HTTP status"},
                        "traceId": {"type": "string", "description": "The vendor's trace id"},
                        "retryAfter": {"type": "number"},
                    },
                }
            },
        },
        "RequestPreview": {
            "type": "object",
            "description": "The (first) request a dry run would send; secrets redacted.",
            "required": ["method", "url"],
            "properties": {
                "method": {"type": "string"},
                "url": {"type": "string"},
                "query": {"type": "object"},
                "headers": {"type": "object"},
            },
        },
        "Picklist": {
            "type": "object",
            "required": ["result", "truncated"],
            "properties": {
                "result": {
                    "type": "array",
                    "maxItems": 10000,
                    "items": {
                        "type": "object",
                        "required": ["key", "label"],
                        "properties": {"key": {"type": "string"}, "label": {"type": "string"}},
                    },
                },
                "truncated": {"type": "boolean"},
            },
        },
        "Connection": {
            "type": "object",
            "required": ["id", "connector", "values", "secretsSet", "source", "readOnly"],
            "properties": {
                "id": {"type": "string"},
                "connector": {"type": "string"},
                "values": {"type": "object", "description": "Non-secret fields only"},
                "secretsSet": {"type": "array", "items": {"type": "string"}},
                "source": {"enum": ["store", "file", "sandbox", "environment"]},
                "readOnly": {"type": "boolean"},
            },
        },
        "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    }
    responses: dict[str, Any] = {
        f"E{code}": _json({"$ref": "#/components/schemas/Error"}, text)
        for code, text in _ERROR_STATUSES.items()
    }
    responses["Error"] = _json({"$ref": "#/components/schemas/Error"}, "An error in the CLI's JSON shape")
    responses["E429"]["headers"] = {
        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}
    }
    embed = _Embedder(schemas)
    flow = {k: v for k, v in _flow_schema().items() if k not in ("$id", "$schema")}
    schemas["Flow"] = embed(flow, "Flow")
    paths: dict[str, Any] = {**_service_paths()}
    for connector in app.catalog.connectors.values():
        for loaded in connector.definitions["actions"].values():
            paths[f"/v1/actions/{loaded.ref}"] = {"post": _action(loaded, embed)}
        for loaded in connector.definitions["dataSources"].values():
            paths[f"/v1/picklists/{loaded.ref}"] = {"post": _picklist(loaded, embed)}
        for loaded in connector.definitions["triggers"].values():
            paths[f"/v1/triggers/{loaded.ref}/instances/{{instance}}/poll"] = {
                "post": _trigger(loaded, embed)
            }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "fieldservice-component builder service",
            "version": __version__,
            "description": "Run the catalog's actions, picklists, triggers and flows; store connections "
            "by id (secrets are write-only).",
        },
        "paths": paths,
        "components": {"schemas": schemas, "responses": responses},
    }
    if secured:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc


def _flow_schema() -> dict[str, Any]:
    """The flow format's JSON Schema, generated from its model and committed beside the others."""
    return dict(json.loads((Path(__file__).parents[1] / "schema" / "flow.schema.json").read_text()))


def _body(schema: dict[str, Any], required: bool) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _summary(loaded: LoadedDefinition) -> dict[str, Any]:
    model = loaded.model
    return {
        "operationId": loaded.ref.replace(".", "_"),
        "summary": model.label,
        "description": model.description or model.label,
        "tags": [loaded.connector],
    }


def _action(loaded: LoadedDefinition, embed: _Embedder) -> dict[str, Any]:
    output = embed(loaded.model.output, f"{loaded.ref}.output") if loaded.model.output else {}
    result = {"type": "object", "required": ["data"], "properties": {"data": output}}
    dry_run = _query("dryRun", {"type": "boolean"}, "Send nothing; answer the request that would be sent.")
    return {
        **_summary(loaded),
        "parameters": [CONNECTION, dry_run, TIMEOUT],
        "requestBody": _body(embed(loaded.model.inputs, f"{loaded.ref}.inputs"), False),
        "responses": {
            "200": _json(
                {"anyOf": [result, {"$ref": "#/components/schemas/RequestPreview"}]},
                '{"data": …} (with dryRun: the request preview)',
            ),
            **_error_responses(),
        },
    }


def _picklist(loaded: LoadedDefinition, embed: _Embedder) -> dict[str, Any]:
    search = _query("search", {"type": "string"}, "Narrow the choices (by the vendor where it searches).")
    return {
        **_summary(loaded),
        "parameters": [CONNECTION, search, TIMEOUT],
        "requestBody": _body(embed(loaded.model.inputs, f"{loaded.ref}.inputs"), False),
        "responses": {
            "200": _json({"$ref": "#/components/schemas/Picklist"}, "The choices"),
            **_error_responses(),
        },
    }


def _trigger(loaded: LoadedDefinition, embed: _Embedder) -> dict[str, Any]:
    event = embed(loaded.model.output, f"{loaded.ref}.output") if loaded.model.output else {}
    batch = {
        "type": "object",
        "required": ["events", "commit", "busy", "committed"],
        "properties": {
            "events": {"type": "array", "items": event},
            "commit": {"type": ["string", "null"], "description": "Send to …/commit once stored"},
            "busy": {"type": "boolean", "description": "Another poller holds this instance"},
            "committed": {"type": "boolean", "description": "No events: the state moved on already"},
        },
    }
    return {
        **_summary(loaded),
        "parameters": [_path_param("instance", "A stable id of this trigger instance"), CONNECTION, TIMEOUT],
        "requestBody": _body(embed(loaded.model.inputs, f"{loaded.ref}.inputs"), False),
        "responses": {
            "200": _json(batch, "New events and the token that commits them"),
            **_error_responses(),
        },
    }


def _service_paths() -> dict[str, Any]:
    status = {"$ref": "#/components/schemas/Status"}
    ref = _path_param("ref", "CONNECTOR.KEY", "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$")
    conn_id = _path_param("id", "The connection's id")
    connection = {"$ref": "#/components/schemas/Connection"}
    return {
        "/healthz": {"get": {"operationId": "healthz", "summary": "Alive", "security": [],
                             "responses": {"200": _json(status, "Alive")}}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "Ready to serve", "security": [],
                            "responses": {"200": _json(status, "Ready"), **_error_responses()}}},
        "/v1/catalog": {
            "get": {
                "operationId": "catalog",
                "summary": "Connectors and every definition (ETag; 304 on If-None-Match)",
                "responses": {
                    "200": {**_json({"type": "object", "required": ["connectors"]}, "The catalog"),
                            "headers": {"ETag": {"schema": {"type": "string"}}}},
                    "304": {"description": "Unchanged since the ETag given"},
                    **_error_responses("401"),
                },
            }
        },
        "/v1/definitions/{kind}/{ref}": {
            "get": {
                "operationId": "definition",
                "summary": "One definition by ref",
                "parameters": [
                    {"name": "kind", "in": "path", "required": True,
                     "schema": {"enum": ["actions", "dataSources", "triggers"]}},
                    ref,
                ],
                "responses": {"200": _json({"type": "object", "required": ["ref", "kind", "inputs"]}, "It"),
                              **_error_responses("401", "404")},
            }
        },
        "/v1/triggers/{ref}/instances/{instance}/commit": {
            "post": {
                "operationId": "commitTrigger",
                "summary": "Acknowledge a polled batch: its state is committed",
                "parameters": [ref, _path_param("instance", "The trigger instance")],
                "requestBody": _body(
                    {"type": "object", "required": ["commit"], "additionalProperties": False,
                     "properties": {"commit": {"type": "string"}}}, True),
                "responses": {"200": _json({"type": "object", "required": ["committed"]}, "Committed"),
                              **_error_responses()},
            }
        },
        "/v1/flows/run": {
            "post": {
                "operationId": "runFlow",
                "summary": "Run a flow document (the flows/ format)",
                "parameters": [_query("dryRun", {"type": "boolean"}, "Send nothing"), TIMEOUT],
                "requestBody": _body(
                    {"type": "object", "required": ["flow"], "additionalProperties": False,
                     "properties": {
                         "flow": {"$ref": "#/components/schemas/Flow"},
                         "connections": {"type": "object", "additionalProperties": {"type": "string"}},
                         "instance": {"type": "string"}}}, True),
                "responses": {"200": _json({"type": "object", "required": ["ok"]}, "Each step's result"),
                              **_error_responses()},
            }
        },
        "/v1/connections": {
            "get": {
                "operationId": "listConnections",
                "summary": "Every connection, without secrets",
                "responses": {
                    "200": _json({"type": "object", "required": ["connections"],
                                  "properties": {"connections": {"type": "array", "items": connection}}},
                                 "The connections"),
                    **_error_responses("401"),
                },
            }
        },
        "/v1/connections/{id}": {
            "get": {"operationId": "getConnection", "summary": "A connection's non-secret fields",
                    "parameters": [conn_id],
                    "responses": {"200": _json(connection, "It"), **_error_responses("401", "404", "409")}},
            "put": {"operationId": "putConnection", "summary": "Create or change a stored connection",
                    "parameters": [conn_id],
                    "requestBody": _body(
                        {"type": "object", "required": ["connector"], "additionalProperties": False,
                         "properties": {"connector": {"type": "string"},
                                        "values": {"type": "object"}}}, True),
                    "responses": {"200": _json(connection, "Changed"), "201": _json(connection, "Created"),
                                  **_error_responses()}},
            "delete": {"operationId": "deleteConnection", "summary": "Forget a stored connection",
                       "parameters": [conn_id],
                       "responses": {"204": {"description": "Gone"}, **_error_responses()}},
        },
        "/v1/connections/{id}/test": {
            "post": {"operationId": "testConnection", "summary": "The cheapest authenticated request",
                     "parameters": [conn_id, TIMEOUT],
                     "responses": {"200": _json({"type": "object", "required": ["ok"]},
                                                "ok, or invalid_credentials / unreachable"),
                                   **_error_responses()}},
        },
    }  # fmt: skip
