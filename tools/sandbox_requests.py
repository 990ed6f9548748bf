"""Generate the ServiceTitan sandbox's request rules from the official OpenAPI specs.

For every operation the sandbox routes, ``component/sandbox/servicetitan/requests.json`` holds the
spec's request schemas as Draft 2020-12 JSON Schema, references inlined: each path parameter (in
order), each query parameter (and whether it is required), the JSON body, and the statuses the
operation declares. The sandbox validates every request against it (:mod:`component.sandbox.rules`)
without reading the specs, which the project does not ship. Run it after a spec update:

    python tools/sandbox_requests.py [--reference ../shared/reference] [--check]

``--check`` writes nothing and exits 1 when the committed file differs from what it would write.
Without the specs it prints one line naming the folder and exits 66 (``tools/reference.py``).

OpenAPI 3.0 becomes Draft 2020-12: ``nullable`` adds ``null``; ``int32``/``int64`` become the
type's bounds; ``guid`` becomes ``uuid``; ``date-time`` stays (checked); other formats, examples,
descriptions and ``x-`` keys are dropped (annotations only). Objects stay open, as the vendor's
JSON reader ignores unknown fields.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling tool reference.py
import reference as reference_specs  # noqa: E402

TARGET = ROOT / "component" / "sandbox" / "servicetitan" / "requests.json"
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference"
KEPT = frozenset(
    {
        *("type", "enum", "properties", "items", "required", "minimum", "maximum", "minLength"),
        *("maxLength", "pattern", "minItems", "maxItems", "format", "additionalProperties"),
        *("oneOf", "anyOf", "allOf", "exclusiveMinimum", "exclusiveMaximum", "uniqueItems"),
    }
)
BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
FORMATS = {"date-time": "date-time", "guid": "uuid", "uuid": "uuid", "date": "date"}


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


class Converter:
    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas

    def convert(self, node: Any, stack: tuple[str, ...] = ()) -> Any:
        if not isinstance(node, dict):
            return node
        nullable = node.get("nullable") is True
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[1]
            if ref in stack:
                raise ValueError(f"recursive schema {ref}")
            inner = self.convert(self.schemas[ref], (*stack, ref))
            return _nullable(inner) if nullable else inner
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key not in KEPT:
                continue
            if key == "format":
                if value in BOUNDS:
                    low, high = BOUNDS[value]
                    out.setdefault("minimum", low)
                    out.setdefault("maximum", high)
                elif value in FORMATS:
                    out["format"] = FORMATS[value]
                continue
            if key == "properties":
                out[key] = {name: self.convert(sub, stack) for name, sub in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = self.convert(value, stack)
            elif key in ("oneOf", "anyOf", "allOf"):
                out[key] = [self.convert(sub, stack) for sub in value]
            else:
                out[key] = value
        for combinator in ("oneOf", "allOf"):  # a one-option wrapper (how the specs say "this $ref")
            options = out.get(combinator)
            if isinstance(options, list) and len(options) == 1:
                out = {**out.pop(combinator)[0], **{k: v for k, v in out.items() if k != combinator}}
        return _nullable(out) if nullable else out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    if "enum" in schema:
        if None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        if "type" in schema:
            kind = schema["type"]
            schema["type"] = [kind, "null"] if isinstance(kind, str) else sorted({*kind, "null"})
        return schema
    if "type" in schema:
        kind = schema["type"]
        schema["type"] = [kind, "null"] if isinstance(kind, str) else sorted({*kind, "null"})
        return schema
    return {"anyOf": [schema, {"type": "null"}]}


def _has_binary(body: Any, schemas: dict[str, Any]) -> bool:
    while isinstance(body, dict) and "$ref" in body:
        body = schemas[body["$ref"].rsplit("/", 1)[1]]
    properties = body.get("properties", {}) if isinstance(body, dict) else {}
    return any(isinstance(p, dict) and p.get("format") == "binary" for p in properties.values())


# Lists the sandbox serves that the reference specs do not include (README, "Known unknowns"): read
# with the rules of ServiceTitan's other settings lists (name, active and paging).
ASSUMED_LISTS = {
    "GET /marketing/v2/tenant/{}/campaigns": "GET /settings/v2/tenant/{}/technicians",
    "GET /settings/v2/tenant/{}/tag-types": "GET /settings/v2/tenant/{}/technicians",
}
LIST_QUERY = frozenset({"name", "active", "page", "pageSize", "includeTotal"})


def served_operations() -> set[tuple[str, str]]:
    """(method, path shape) of every operation the ServiceTitan sandbox routes, the token endpoint aside."""
    from component.sandbox import Sandbox

    served = Sandbox()["servicetitan"].served
    return {(method, shape(path)) for path, methods in served.items() for method in methods} - {
        ("POST", "/connect/token")
    }


def generate(reference: Path) -> str:
    spec_files = reference_specs.spec_files(reference, "servicetitan")
    served = served_operations()
    operations: dict[str, Any] = {}
    for spec_file in spec_files:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        prefix = "/" + spec["servers"][0]["url"].split("://", 1)[1].split("/", 1)[1]
        conv = Converter(spec["components"]["schemas"])
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict) or (method.upper(), shape(prefix + path)) not in served:
                    continue
                params = {p["name"]: p for p in [*item.get("parameters", []), *op.get("parameters", [])]}
                names = re.findall(r"\{([^}]+)\}", path)
                content = op.get("requestBody", {}).get("content", {})
                body = content.get("application/json", {}).get("schema")
                if _has_binary(body, spec["components"]["schemas"]):
                    body = None  # an upload, sent as multipart/form-data: the handler reads the file part
                rules: dict[str, Any] = {
                    "operationId": op["operationId"],
                    "path": [conv.convert(params[name]["schema"]) for name in names if name != "tenant"],
                    "query": {
                        name: {"schema": conv.convert(p["schema"]), "required": bool(p.get("required"))}
                        for name, p in params.items()
                        if p["in"] == "query"
                    },
                    "body": None if body is None else conv.convert(body),
                    "statuses": sorted(int(status) for status in op.get("responses", {})),
                }
                operations[f"{method.upper()} {shape(prefix + path)}"] = rules
    for key, like in ASSUMED_LISTS.items():
        if tuple(key.split(" ", 1)) in served and key not in operations:
            template = operations[like]
            operations[key] = {
                **template,
                "operationId": f"assumed like {template['operationId']}",
                "query": {k: v for k, v in template["query"].items() if k in LIST_QUERY},
            }
    missing = sorted(f"{m} {p}" for m, p in served if f"{m} {p}" not in operations)
    if missing:
        raise SystemExit(f"served operations missing from the specs: {missing}")
    source = "ServiceTitan OpenAPI specs (*.subset.json); generated by tools/sandbox_requests.py"
    lines = [
        f"{json.dumps(key)}:{json.dumps(rules, separators=(',', ':'))}"
        for key, rules in sorted(operations.items())
    ]
    return f'{{"source":{json.dumps(source)},"operations":{{\n' + ",\n".join(lines) + "\n}}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file differs")
    args = parser.parse_args(argv)
    try:
        text = generate(args.reference)
    except reference_specs.MissingReference as error:
        return reference_specs.report("tools/sandbox_requests.py", error)
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else None
        if current != text:
            print(f"stale: {TARGET.relative_to(ROOT)}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
