"""Generate the ServiceTitan action and data source definitions from the official OpenAPI specs.

Every generated definition is the spec operation it names (method, module path, path, query and
body parameter names, types, enums, formats, required fields, the 200 response as ``output``)
plus a hand-kept overlay (``tools/servicetitan_overlay.json``): keys, labels, descriptions, picklist
links, picklist labels and examples. Run it after a spec update:

    python tools/servicetitan_definitions.py [--reference ../shared/reference] [--check]

``--check`` writes nothing and exits 1 when a committed definition differs from what it would write.
Without the specs it prints one line naming the folder and exits 66 (``tools/reference.py``).
``rawRequest`` and the picklists of ``HAND_WRITTEN_DATASOURCES`` are hand-written and not touched.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling tools readable.py, reference.py
import readable
import reference as reference_specs

ROOT = Path(__file__).resolve().parents[1]
OVERLAY = Path(__file__).with_name("servicetitan_overlay.json")
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference"
CONNECTOR = "servicetitan"
HAND_WRITTEN = ("rawRequest",)
# Picklists over lists the reference specs leave out (marketing campaigns, settings tag types).
HAND_WRITTEN_DATASOURCES = ("selectCampaign", "selectTagType")

# OpenAPI keywords and formats with no JSON Schema meaning for a form or a mapping.
DROPPED_KEYS = frozenset({"nullable", "example", "x-enumNames", "x-enumFlags", "readOnly", "writeOnly"})
DROPPED_FORMATS = frozenset({"int32", "int64", "decimal", "float", "double", "multiline"})
RENAMED_FORMATS = {"guid": "uuid"}
# Comma-separated ID lists in the query are strings in the spec; inputs take integer lists.
ID_LIST = re.compile(r"^(ids|[A-Za-z]+Ids)$")
# ServiceTitan's ids are positive int64s: an integer input named like an id (``id``, ``customerId``,
# the items of ``technicianIds``) is at least 1, so ``-5`` or ``0`` is refused before anything is sent.
ID_NAME = re.compile(r"^(id|ids|[A-Za-z]+Id|[A-Za-z]+Ids)$")
PAGING_PARAMS = ("page", "pageSize", "includeTotal", "sort")
FILE_PART = {
    "type": "object",
    "additionalProperties": False,
    "required": ["filename", "content"],
    "properties": {
        "filename": {"type": "string", "minLength": 1, "title": "File Name"},
        "content": {"type": "string", "contentEncoding": "base64", "title": "Content (base64)"},
        "contentType": {"type": "string", "default": "application/octet-stream", "title": "Content Type"},
    },
}


class SpecError(Exception):
    """The spec or the overlay cannot produce a definition."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: list[dict[str, Any]]
    body: dict[str, Any] | None
    body_is_file: bool
    response: dict[str, Any] | None
    schemas: dict[str, Any]


def load_operations(reference: Path) -> dict[str, Operation]:
    found: dict[str, Operation] = {}
    for spec_file in reference_specs.spec_files(reference, CONNECTOR):
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        prefix = "/" + spec["servers"][0]["url"].split("://", 1)[1].split("/", 1)[1]
        schemas = spec["components"]["schemas"]
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                content: dict[str, Any] = op.get("requestBody", {}).get("content", {})
                media: dict[str, Any] = next(iter(content.values()), {})
                body = media.get("schema")
                responses = op.get("responses", {})
                ok = responses.get("200") or responses.get("201") or {}
                response = ok.get("content", {}).get("application/json", {}).get("schema")
                found[op["operationId"]] = Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=prefix + path,
                    parameters=[p for p in op.get("parameters", []) if p["name"] != "tenant"],
                    body=body,
                    body_is_file=_has_binary(body, schemas),
                    response=response,
                    schemas=schemas,
                )
    return found


def _has_binary(body: Any, schemas: dict[str, Any]) -> bool:
    if not isinstance(body, dict):
        return False
    resolved = _deref(body, schemas)
    return any(p.get("format") == "binary" for p in resolved.get("properties", {}).values())


def _deref(node: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[1]]
    return node


# --- schema conversion --------------------------------------------------------------------------


def title_of(name: str) -> str:
    """``jobAppointmentId`` -> ``Job Appointment ID`` (the rule of ``tools/readable.py``)."""
    return readable.title_of(name)


class Converter:
    """OpenAPI 3.0 schema -> Draft 2020-12 with refs inlined.

    ``inputs`` mode closes objects (unknown fields are refused), adds titles and picklist links;
    ``output`` mode describes what the vendor returns and leaves objects open.
    """

    def __init__(
        self,
        schemas: dict[str, Any],
        pickers: dict[str, str],
        inputs: bool,
        choices: dict[str, list[str]] | None = None,
    ) -> None:
        self.schemas = schemas
        self.pickers = pickers
        self.inputs = inputs
        self.choices = choices or {}

    def convert(self, node: Any, name: str | None = None, stack: tuple[str, ...] = ()) -> Any:
        if isinstance(node, list):
            return [self.convert(item, None, stack) for item in node]
        if not isinstance(node, dict):
            return node
        node = dict(node)
        nullable = node.get("nullable") is True
        if "$ref" in node:
            ref = node.pop("$ref").rsplit("/", 1)[1]
            if ref in stack:
                raise SpecError(f"recursive schema {ref}")
            target = self.convert(self.schemas[ref], name, (*stack, ref))
            node = {**target, **{k: v for k, v in node.items() if k == "description"}}
            stack = (*stack, ref)
        for combinator in ("oneOf", "allOf"):
            options = node.get(combinator)
            if isinstance(options, list) and len(options) == 1:
                node.pop(combinator)
                inner = self.convert(options[0], name, stack)
                node = {**inner, **{k: v for k, v in node.items() if k not in ("type",)}}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in DROPPED_KEYS:
                continue
            if key == "format":
                if value in DROPPED_FORMATS:
                    continue
                value = RENAMED_FORMATS.get(value, value)
            if key == "properties":
                value = {prop: self.convert(schema, prop, stack) for prop, schema in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                value = self.convert(value, name if key == "items" else None, stack)
            elif isinstance(value, dict | list) and key not in ("enum", "required", "default"):
                value = self.convert(value, None, stack)
            out[key] = value
        if out.get("format") == "binary":
            return {**copy.deepcopy(FILE_PART), "description": out.get("description", "The file.")}
        if nullable:
            out = _nullable(out)
        if "properties" in out and self.inputs:
            out.setdefault("additionalProperties", False)
        if self.inputs and name in self.choices and "string" in _types(out) and "enum" not in out:
            out["enum"] = [*self.choices[name], *([None] if "null" in _types(out) else [])]
        if self.inputs and name and ID_NAME.match(name) and "integer" in _types(out):
            out.setdefault("minimum", 1)
        if self.inputs and name:
            picker = self.pickers.get(name)
            if picker and _types(out) & {"integer"}:
                out["x-datasource"] = picker
            elif picker and "array" in _types(out) and _types(out.get("items", {})) & {"integer"}:
                out["items"] = {**out["items"], "x-datasource": picker}
        return out


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema:
        kind = schema["type"]
        schema["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    elif "enum" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _titled(schema: dict[str, Any], name: str, titles: dict[str, str]) -> dict[str, Any]:
    return {"title": titles.get(name) or title_of(name), **{k: v for k, v in schema.items() if k != "title"}}


# --- definitions --------------------------------------------------------------------------------


def _query_input(param: dict[str, Any], conv: Converter) -> tuple[dict[str, Any], str]:
    """A query parameter as an optional input, and the reference that maps it."""
    name = param["name"]
    schema = {k: v for k, v in conv.convert(param.get("schema", {}), name).items()}
    schema["type"] = next((t for t in sorted(_types(schema)) if t != "null"), "string")
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    if param.get("description"):
        schema["description"] = " ".join(param["description"].replace("\\", "").split())
    if name == "page":
        schema["minimum"] = 1
    if name == "pageSize":
        schema.update(minimum=1, maximum=5000)
    if ID_LIST.match(name) and schema["type"] == "string":
        items: dict[str, Any] = {"type": "integer", "minimum": 1}
        if name in conv.pickers:
            items["x-datasource"] = conv.pickers[name]
        schema = {"type": "array", "items": items, "description": schema.get("description", "")}
        if name == "ids":
            schema["maxItems"] = 50
        return schema, f"$inputs.{name}|join"
    return schema, f"$inputs.{name}"


def _is_page(schema: dict[str, Any] | None, schemas: dict[str, Any]) -> bool:
    if not schema:
        return False
    resolved = _deref(schema, schemas)
    return {"hasMore", "data", "page"} <= set(resolved.get("properties", {}))


def _skip_query(name: str) -> bool:
    """Parameters that cannot be an input name (``customField.Fields``): use customQueryParams."""
    return "." in name


def build_action(key: str, spec: dict[str, Any], op: Operation, common: dict[str, Any]) -> dict[str, Any]:
    pickers = {**common["pickers"], **spec.get("pickers", {})}
    titles = {**common["titles"], **spec.get("titles", {})}
    conv = Converter(op.schemas, pickers, inputs=True, choices=common["choices"])
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: dict[str, Any] = {}
    is_list = _is_page(op.response, op.schemas)
    path = op.path.replace("{tenant}", "{connection.tenant}")
    if is_list:
        properties["fetchAll"] = {
            "type": "boolean",
            "default": False,
            "title": "Fetch All",
            "description": "Fetch every page and return them as one page (page and pageSize are ignored).",
        }
    for param in op.parameters:
        name = param["name"]
        if param["in"] == "path":
            schema = conv.convert(param.get("schema", {}), name)
            schema.pop("x-datasource", None)
            if name in spec.get("pathPickers", {}):
                schema["x-datasource"] = spec["pathPickers"][name]
            schema["description"] = (
                spec.get("descriptions", {}).get(name) or param.get("description") or ""
            ).strip()
            properties[name] = _titled(schema, name, titles)
            required.append(name)
            path = path.replace("{" + name + "}", "{inputs." + name + "}")
        elif param["in"] == "query" and not _skip_query(name):
            schema, reference = _query_input(param, conv)
            if name == "ids" and spec.get("picker"):
                schema["items"]["x-datasource"] = spec["picker"]
            properties[name] = _titled(schema, name, titles)
            query[name] = reference
            if param.get("required"):
                required.append(name)
    request: dict[str, Any] = {"operationId": op.operation_id, "method": op.method, "path": path}
    body_mapping: Any = None
    if op.body is not None:
        body = conv.convert(op.body)
        if body.get("type") != "object" or "properties" not in body:
            raise SpecError(f"{key}: body of {op.operation_id} is not an object with properties")
        for name, schema in body["properties"].items():
            if name in properties:
                raise SpecError(f"{key}: body field {name} clashes with a parameter")
            described = schema
            if name in spec.get("descriptions", {}):
                described = {**schema, "description": spec["descriptions"][name]}
            properties[name] = _titled(described, name, titles)
        required += [n for n in body.get("required", []) if n not in required]
        required += [n for n in spec.get("required", []) if n not in required]
        if op.method == "POST":
            omit_null_objects(properties, required)
        if op.body_is_file:
            request["files"] = {name: f"$inputs.{name}" for name in body["properties"]}
        elif set(properties) == set(body["properties"]):
            body_mapping = "$inputs"
        else:
            body_mapping = {name: f"$inputs.{name}" for name in body["properties"]}
    if is_list:
        properties["customQueryParams"] = {
            "type": "object",
            "title": "Custom Query Parameters",
            "description": "More query parameters, sent as given (typed inputs above take precedence).",
            "additionalProperties": query_value_schema(),
        }
        query = {"$inputs.customQueryParams": "...", **query}
    if query:
        request["query"] = query
    if body_mapping is not None:
        request["json"] = body_mapping
    inputs: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if required:
        inputs["required"] = required
    inputs["properties"] = _ordered(properties, is_list)
    definition: dict[str, Any] = {
        "key": key,
        "label": spec["label"],
        "description": _describe(spec, is_list),
        "inputs": readable_schema(inputs, common["titles"]),
        "request": request,
    }
    if is_list:
        definition["pagination"] = {"style": "page", "items": "data", "when": "$inputs.fetchAll"}
    if spec.get("aliases"):
        definition["aliases"] = spec["aliases"]
    if spec.get("response"):
        definition["response"] = spec["response"]
    definition["output"] = readable_schema(spec.get("output") or output_schema(op), common["titles"])
    definition["examples"] = spec["examples"]
    link_fields(inputs, spec.get("fieldPickers", {}), key)
    return definition


def link_fields(inputs: dict[str, Any], pickers: dict[str, Any], key: str) -> None:
    """Set ``x-datasource`` on the fields the overlay names by dotted path (``customFields.typeId``:
    the ``typeId`` of each item of ``customFields``), where one name means different lists at
    different depths (a customer's custom fields, and its locations')."""
    for dotted, picker in pickers.items():
        node: Any = inputs
        for part in dotted.split("."):
            if isinstance(node, dict) and "array" in _types(node) and isinstance(node.get("items"), dict):
                node = node["items"]
            properties = node.get("properties") if isinstance(node, dict) else None
            if not isinstance(properties, dict) or part not in properties:
                raise SpecError(f"{key}: fieldPickers path {dotted} is not an input")
            node = properties[part]
        node["x-datasource"] = picker


# --- builder-ready schemas: what a strict validator (Ajv 2020 strict) and a form renderer accept ---


def query_value_schema() -> dict[str, Any]:
    """One extra query parameter's value: a string, number or boolean, as typed alternatives.

    Not a union ``type`` list, which strict validators refuse; ``integer`` is a ``number`` already.
    """
    return {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


def omit_null_objects(properties: dict[str, Any], required: list[str]) -> None:
    """Drop ``null`` from optional objects and arrays of a create (POST) body, at every depth.

    On a create, leaving an optional object out says what ``null`` says (nothing to record), and a
    form renderer draws an ``["object", "null"]`` field as neither. An update (PATCH) keeps ``null``,
    where it may clear a field.
    """
    for name, schema in properties.items():
        if not isinstance(schema, dict):
            continue
        kinds = _types(schema)
        if name not in required and kinds & {"object", "array"} and "null" in kinds and len(kinds) == 2:
            schema["type"] = next(iter(kinds - {"null"}))
        nested = schema.get("items") if "array" in kinds else schema
        if isinstance(nested, dict) and isinstance(nested.get("properties"), dict):
            omit_null_objects(nested["properties"], nested.get("required", []))


# --- readable schemas: a title on every property, a label on every enum value -----------------------


def readable_schema(schema: dict[str, Any], titles: dict[str, str] | None = None) -> dict[str, Any]:
    """``schema`` with every property titled from its name and every enum's labels in ``x-enumNames``.

    The overlay's titles are already on the top-level properties; a nested one takes the overlay's
    common title for its name (``titles``), else the name's title.
    """
    result: dict[str, Any] = readable.readable(schema, titles)
    return result


def _ordered(properties: dict[str, Any], is_list: bool) -> dict[str, Any]:
    if not is_list:
        return properties
    head = ["fetchAll", *PAGING_PARAMS]
    tail = ["customQueryParams"]
    order = [n for n in head if n in properties]
    order += [n for n in properties if n not in head and n not in tail]
    return {name: properties[name] for name in [*order, *tail]}


def _describe(spec: dict[str, Any], is_list: bool) -> str:
    """The description a user reads; the vendor operation is the catalog's ``operation`` field."""
    text = spec["description"].rstrip(".") + "."
    if is_list:
        text += (
            " Returns one page (page, pageSize up to 5000); with fetchAll, every page, fetched concurrently"
            " once the total is known."
        )
    if spec.get("note"):
        text += " " + spec["note"]
    return text


def output_schema(op: Operation) -> dict[str, Any]:
    """The JSON Schema of an action's data: the spec's 200 response, or null for an empty body."""
    if op.response is None:
        return {"type": "null", "description": "The vendor returns an empty body."}
    schema = Converter(op.schemas, {}, inputs=False).convert(op.response)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


PAGING = frozenset({"page", "pageSize"})  # filled by the page pagination on every request


def build_datasource(key: str, spec: dict[str, Any], op: Operation, common: dict[str, Any]) -> dict[str, Any]:
    if not _is_page(op.response, op.schemas):
        raise SpecError(f"{key}: {op.operation_id} is not a paged list")
    pickers = {**common["pickers"], **spec.get("pickers", {})}
    conv = Converter(op.schemas, pickers, inputs=True, choices=common["choices"])
    params = {p["name"]: p for p in op.parameters}
    path = op.path.replace("{tenant}", "{connection.tenant}")
    properties: dict[str, Any] = {}
    required: list[str] = []
    query: dict[str, Any] = {}
    for name, param in params.items():
        if param["in"] == "path":
            schema = conv.convert(param.get("schema", {}), name)
            if name in spec.get("pathPickers", {}):
                schema["x-datasource"] = spec["pathPickers"][name]
            schema["description"] = spec.get("descriptions", {}).get(name, param.get("description", ""))
            properties[name] = _titled(schema, name, spec.get("titles", {}))
            required.append(name)
            path = path.replace("{" + name + "}", "{inputs." + name + "}")
    if spec.get("search"):
        if spec["search"] not in params:
            raise SpecError(f"{key}: search filter {spec['search']} is not a parameter of {op.operation_id}")
        properties["search"] = {
            "type": "string",
            "title": "Search",
            "description": spec["searchDescription"],
        }
        query[spec["search"]] = "$inputs.search"
    for name in spec.get("filters", []):
        schema, reference = _query_input(params[name], conv)
        properties[name] = _titled(schema, name, common["titles"])
        query[name] = reference
    for name, value in spec.get("fixed", {}).items():
        if name not in params:
            raise SpecError(f"{key}: fixed parameter {name} is not a parameter of {op.operation_id}")
        query[name] = value
    unfilled = [
        name
        for name, param in params.items()
        if param["in"] == "query" and param.get("required") and name not in query and name not in PAGING
    ]
    if unfilled:  # the vendor refuses a list request without them: the overlay fixes their values
        raise SpecError(f"{key}: {op.operation_id} requires {unfilled}: give them in the overlay's 'fixed'")
    inputs: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if required:
        inputs["required"] = required
    inputs["properties"] = properties
    request: dict[str, Any] = {"operationId": op.operation_id, "method": op.method, "path": path}
    if query:
        request["query"] = query
    return {
        "key": key,
        "label": spec["label"],
        "description": f"{spec['description'].rstrip('.')}.",
        "inputs": readable_schema(inputs, common["titles"]),
        "request": request,
        "pagination": {"style": "page", "pageSize": common["picklistPageSize"], "items": "data"},
        "result": {"key": "{id}", "label": spec["label_template"]},
        "examples": spec["examples"],
    }


def render(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def generate(reference: Path, overlay_file: Path = OVERLAY) -> dict[str, str]:
    """Every generated file, relative to the repository root, with its text."""
    overlay = json.loads(overlay_file.read_text(encoding="utf-8"))
    ops = load_operations(reference)
    common = overlay["common"]
    files: dict[str, str] = {}
    for kind, folder, build in (
        ("actions", "actions", build_action),
        ("dataSources", "datasources", build_datasource),
    ):
        for key, spec in overlay[kind].items():
            if spec["operationId"] not in ops:
                raise SpecError(f"{key}: operationId {spec['operationId']} is not in the specs")
            definition = build(key, spec, ops[spec["operationId"]], common)
            files[f"{folder}/{CONNECTOR}/{key}.json"] = render(definition)
    return files


def registered(files: dict[str, str], overlay_file: Path = OVERLAY) -> dict[str, list[str]]:
    """The manifest lists for the connector: generated files plus the hand-written ones."""
    actions = sorted(
        [f for f in files if f.startswith("actions/")]
        + [f"actions/{CONNECTOR}/{k}.json" for k in HAND_WRITTEN]
    )
    sources = sorted(
        [f for f in files if f.startswith("datasources/")]
        + [f"datasources/{CONNECTOR}/{k}.json" for k in HAND_WRITTEN_DATASOURCES]
    )
    return {"actions": actions, "dataSources": sources}


def manifest_text(current: str, lists: dict[str, list[str]]) -> str:
    """``manifest.json`` with the connector's action and data source lists replaced, nothing else touched."""
    start = current.index(f'"{CONNECTOR}": {{')
    out = current
    for name, entries in lists.items():
        match = re.compile(rf'"{name}": \[[^\]]*\]').search(out, start)
        if match is None:
            raise SpecError(f"manifest.json: no {name} list for {CONNECTOR}")
        body = ",\n".join(f'        "{entry}"' for entry in entries)
        out = out[: match.start()] + f'"{name}": [\n{body}\n      ]' + out[match.end() :]
    return out


def drift(reference: Path, root: Path = ROOT) -> list[str]:
    """Files that differ from what the generator writes (missing files count)."""
    files = generate(reference)
    problems = [name for name, text in files.items() if _read(root / name) != text]
    manifest = _read(root / "manifest.json")
    if manifest is None or manifest_text(manifest, registered(files)) != manifest:
        problems.append("manifest.json")
    return problems


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except reference_specs.MissingReference as error:
        return reference_specs.report("tools/servicetitan_definitions.py", error)


def _run(args: argparse.Namespace) -> int:
    if args.check:
        stale = drift(args.reference)
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if stale else 0
    files = generate(args.reference)
    for name, text in files.items():
        (ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / name).write_text(text, encoding="utf-8")
    manifest = ROOT / "manifest.json"
    manifest.write_text(
        manifest_text(manifest.read_text(encoding="utf-8"), registered(files)), encoding="utf-8"
    )
    print(f"wrote {len(files)} definitions and the {CONNECTOR} lists of manifest.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
