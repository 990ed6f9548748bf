"""Read ServiceTitan's official OpenAPI specs (``../shared/reference/servicetitan/*.subset.json``).

Operations are looked up by operationId. OpenAPI 3.0 schemas are turned into Draft 2020-12 JSON
Schema (``nullable`` becomes a ``null`` type, component refs become ``$defs``). With
``closed=True`` every object schema with properties also forbids unknown properties, so a body
with a misspelt field fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # with the module prefix, e.g. /jpm/v2/tenant/{tenant}/jobs
    parameters: dict[str, dict[str, Any]]  # name -> parameter object
    body_schema: dict[str, Any] | None  # Draft 2020-12, $defs included
    spec: str
    responses: dict[int, dict[str, Any] | None]  # status -> JSON body schema ($defs included), None: no body


def _convert(node: Any, closed: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, closed) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value, closed) for key, value in node.items() if key not in ("nullable", "example")}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        for combinator in ("oneOf", "anyOf", "allOf"):
            if combinator in out and "type" not in out:
                out = {"anyOf": [{combinator: out.pop(combinator)}, {"type": "null"}], **out}
                break
    if closed and out.get("type") in ("object", ["object", "null"]) and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


@cache
def operations(reference: Path, closed: bool = True) -> dict[str, Operation]:
    found: dict[str, Operation] = {}
    for spec_file in sorted((reference / "servicetitan").glob("*.subset.json")):
        spec = json.loads(spec_file.read_text())
        prefix = "/" + spec["servers"][0]["url"].split("://", 1)[1].split("/", 1)[1]
        defs = _convert(spec["components"]["schemas"], closed)
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
                responses: dict[int, dict[str, Any] | None] = {}
                for status, answer in op.get("responses", {}).items():
                    content = answer.get("content", {}).get("application/json")
                    schema = (
                        None if content is None else {"$defs": defs, **_convert(content["schema"], closed)}
                    )
                    responses[int(status)] = schema
                found[op["operationId"]] = Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=prefix + path,
                    parameters={p["name"]: p for p in op.get("parameters", [])},
                    body_schema=None if body is None else {"$defs": defs, **_convert(body, closed)},
                    spec=spec_file.name,
                    responses=responses,
                )
    return found


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` (and a nullable anyOf wrapper) to the schema it names."""
    while True:
        if "$ref" in schema:
            schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema and any("$ref" in s for s in schema["anyOf"]):
            schema = next(s for s in schema["anyOf"] if "$ref" in s)
        elif "anyOf" in schema and {"type": "null"} in schema["anyOf"] and len(schema["anyOf"]) == 2:
            schema = next(s for s in schema["anyOf"] if s != {"type": "null"})
        elif any(len(schema.get(k, ())) == 1 for k in ("oneOf", "allOf")):
            schema = next(schema[k][0] for k in ("oneOf", "allOf") if len(schema.get(k, ())) == 1)
        else:
            return schema


def types_of(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    kinds = {kind} if isinstance(kind, str) else set(kind)
    return kinds - {"null"}
