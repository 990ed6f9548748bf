"""Write ``component/_meta_schema.py``: the Draft 2020-12 meta-schema as one compiled check.

The 2020-12 meta-schema is a set of vocabulary schemas joined by ``allOf`` whose subschema
keywords point back at the whole through ``$dynamicRef: "#meta"``. Validating against it that way
(jsonschema's referencing machinery) is slow. Flattened into one schema, it means the same and
fastjsonschema can compile it:

* every vocabulary's ``properties`` and ``$defs`` are merged into the root (no two vocabularies
  define the same keyword or definition; the tool stops if one ever does);
* ``$dynamicRef: "#meta"`` becomes ``$ref: "#"``: the root carries ``$dynamicAnchor: "meta"`` and is
  the outermost schema of every validation, so each dynamic reference resolves to it;
* a vocabulary's ``$ref`` (``#/$defs/x``, ``meta/core#/$defs/x``) becomes ``#/$defs/x``, and a
  ``$ref`` with assertions beside it is moved into an ``allOf`` (Draft 7, which fastjsonschema
  implements, ignores a ``$ref``'s siblings);
* ``format`` stays an annotation (``use_formats=False``), as it is to jsonschema's meta-validator.

The schemas come from ``jsonschema_specifications``, the package jsonschema reads them from. The
compiled code is a fast *accept*: whatever it refuses is checked by jsonschema, which stays the
authority and words the problems (``component.schemas.schema_problems``).

    python tools/meta_schema.py            # rewrite component/_meta_schema.py
    python tools/meta_schema.py --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "component" / "_meta_schema.py"
META = "https://json-schema.org/draft/2020-12/schema"
# keywords of a vocabulary document that say what it is, not what it asserts
_DOCUMENT_KEYWORDS = {"$schema", "$id", "$vocabulary", "$dynamicAnchor", "title", "$comment"}
_MERGED = {"properties", "$defs", "allOf", "type"}


def _contents(uri: str) -> dict[str, Any]:
    import jsonschema_specifications

    contents: dict[str, Any] = jsonschema_specifications.REGISTRY.contents(uri)
    return contents


def _rewrite(node: Any, base: str, defs: dict[str, str]) -> Any:
    """``node`` of the document at ``base`` with its references pointing into the flattened root."""
    if isinstance(node, list):
        return [_rewrite(item, base, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _rewrite(value, base, defs) for key, value in node.items()}
    if "$dynamicRef" in out:
        if out.pop("$dynamicRef") != "#meta":
            raise ValueError(f"unexpected $dynamicRef in {base}: {node}")
        out["$ref"] = "#"
    if "$ref" in out and out["$ref"] != "#":
        document, fragment = urldefrag(urljoin(base, out["$ref"]))
        name = fragment.removeprefix("/$defs/")
        if defs.get(name) != document:
            raise ValueError(f"unexpected $ref in {base}: {node}")
        out["$ref"] = f"#/$defs/{name}"
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}, *out.get("allOf", [])]
    return out


def flattened() -> dict[str, Any]:
    """The Draft 2020-12 meta-schema as one self-contained Draft 7 schema."""
    root = _contents(META)
    vocabularies = [urljoin(META, part["$ref"]) for part in root["allOf"]]
    documents = {uri: _contents(uri) for uri in [META, *vocabularies]}
    defs: dict[str, str] = {}
    for uri, document in documents.items():
        unknown = set(document) - _DOCUMENT_KEYWORDS - _MERGED
        if unknown or document.get("type", ["object", "boolean"]) != ["object", "boolean"]:
            raise ValueError(f"{uri} has keywords this flattening does not merge: {sorted(unknown)}")
        for name in document.get("$defs", {}):
            if name in defs:
                raise ValueError(f"$defs/{name} is defined by both {defs[name]} and {uri}")
            defs[name] = uri
    properties: dict[str, Any] = {}
    merged_defs: dict[str, Any] = {}
    for uri, document in documents.items():
        for keyword, schema in document.get("properties", {}).items():
            if keyword in properties:
                raise ValueError(f"keyword {keyword!r} is defined by two vocabularies")
            properties[keyword] = _rewrite(schema, uri, defs)
        for name, schema in document.get("$defs", {}).items():
            merged_defs[name] = _rewrite(schema, uri, defs)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": ["object", "boolean"],
        "properties": dict(sorted(properties.items())),
        "$defs": dict(sorted(merged_defs.items())),
    }


def digest(schema: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


_HEADER = '''"""Is this a valid Draft 2020-12 schema? The meta-schema compiled to Python (a fast accept).

Generated by ``python tools/meta_schema.py`` from the flattened meta-schema of
jsonschema-specifications with fastjsonschema {version}; do not edit. A test fails when it is stale.
``accepts`` False means "ask jsonschema", which stays the authority and words the problems.
"""
# mypy: ignore-errors

FLATTENED_DIGEST = "{digest}"
FASTJSONSCHEMA_VERSION = "{version}"

'''

_FOOTER = '''

def accepts(schema: object) -> bool:
    """True when ``schema`` is certainly a valid Draft 2020-12 schema."""
    try:
        validate(schema)
    except Exception:  # refused, or deeper than the compiled code recurses: jsonschema decides
        return False
    return True
'''


def source() -> str:
    """The text of ``component/_meta_schema.py``."""
    import fastjsonschema

    schema = flattened()
    code = fastjsonschema.compile_to_code(
        schema, use_default=False, use_formats=False, detailed_exceptions=False
    )
    header = _HEADER.format(version=fastjsonschema.VERSION, digest=digest(schema))
    return header + _standalone(_without_locals(code)).strip() + "\n" + _FOOTER


_FORMAT_LOCALS = re.compile(r'"((?:[^"\\{}]|\\.|\{[A-Za-z_]\w*\})*)"\.format\(\*\*locals\(\)\)')


def _without_locals(code: str) -> str:
    """The code with each ``"…{name}…".format(**locals())`` written as the f-string it means.

    The generated code names the place of every value it descends into that way, valid or not;
    building ``locals()`` of the large root function for each one was half the time of a check.
    """
    rewritten = _FORMAT_LOCALS.sub(lambda match: f'f"{match[1]}"', code)
    if "locals()" in rewritten:
        raise ValueError("a .format(**locals()) this rewrite does not understand is left")
    return rewritten


_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
_OWN_EXCEPTIONS = '''

class JsonSchemaValueException(ValueError):
    """A refusal: the compiled code raises it, :func:`accepts` answers False."""


JsonSchemaValuesException = JsonSchemaValueException

'''


def _standalone(code: str) -> str:
    """The code with its one exception defined in place of importing fastjsonschema at start-up."""
    if code.count(_IMPORT) != 1 or "fastjsonschema" in code.replace(_IMPORT, ""):
        raise ValueError("the generated code imports more of fastjsonschema than its exceptions")
    return code.replace(_IMPORT, _OWN_EXCEPTIONS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the generated module is stale")
    args = parser.parse_args(argv)
    text = source()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is stale: run python tools/meta_schema.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
