"""The compiled Draft 2020-12 meta-schema check agrees with jsonschema's, and is never stale.

``component._meta_schema.accepts`` is a fast accept: a schema it accepts is valid without loading
jsonschema; one it refuses is checked by jsonschema against the meta-schema itself, which words the
problems. So the property that matters is that it accepts nothing jsonschema refuses, and refuses
nothing jsonschema accepts except the one case its stricter patterns differ on (an anchor or ``$id``
ending in a newline, which jsonschema's ``$`` lets through), where ``schema_problems`` still answers
as jsonschema does. CI draws a few hundred random schemas; ``COMPONENT_SLOW_TESTS=1`` many more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from component import _meta_schema
from component.models import SCHEMA_DIR
from component.schemas import schema_problems
from tests.conftest import ROOT, load_tool

TOOL = load_tool("meta_schema")
SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
EXAMPLES = 5000 if SLOW else 300
META = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def jsonschema_problems(schema: Any) -> list[dict[str, str]]:
    """What ``schema_problems`` answered before the compiled check: jsonschema's meta-validation."""
    return [{"path": e.json_path, "message": e.message} for e in META.iter_errors(schema)]


def verdicts(schema: Any) -> tuple[bool, bool]:
    """(compiled check accepts, jsonschema accepts)."""
    return _meta_schema.accepts(schema), META.is_valid(schema)


# --- the generated module ----------------------------------------------------------------------------


def test_the_generated_check_is_current() -> None:
    """Run `python tools/meta_schema.py` after upgrading jsonschema-specifications or fastjsonschema."""
    assert TOOL.digest(TOOL.flattened()) == _meta_schema.FLATTENED_DIGEST, "run python tools/meta_schema.py"
    if fastjsonschema.VERSION == _meta_schema.FASTJSONSCHEMA_VERSION:
        assert TOOL.TARGET.read_text(encoding="utf-8") == TOOL.source(), "run python tools/meta_schema.py"


def test_the_flattening_starts_from_the_meta_schema_jsonschema_uses() -> None:
    assert TOOL._contents(TOOL.META) == Draft202012Validator.META_SCHEMA
    flat = TOOL.flattened()
    assert "#meta" not in json.dumps(flat)  # every $dynamicRef became a $ref
    # every keyword of every vocabulary is checked, and nothing else is
    names = ("core", "applicator", "unevaluated", "validation", "meta-data", "format-annotation", "content")
    vocabularies = [TOOL._contents(f"https://json-schema.org/draft/2020-12/meta/{name}") for name in names]
    vocabularies.append(TOOL._contents(TOOL.META))
    keywords = {keyword for vocabulary in vocabularies for keyword in vocabulary["properties"]}
    assert set(flat["properties"]) == keywords


def test_the_flattening_stops_on_what_it_cannot_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    original = TOOL._contents

    def with_a_clash(uri: str) -> dict[str, Any]:
        contents = original(uri)
        if uri.endswith("/meta/content"):
            return {**contents, "properties": {**contents["properties"], "type": {"type": "string"}}}
        return contents

    monkeypatch.setattr(TOOL, "_contents", with_a_clash)
    with pytest.raises(ValueError, match="'type' is defined by two vocabularies"):
        TOOL.flattened()


# --- agreement: valid schemas --------------------------------------------------------------------------


def _definition_schemas() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    manifest = json.loads((ROOT / "manifest.json").read_text())
    for name, connector in manifest["connectors"].items():
        found.append((f"manifest.json {name} connection", connector["connection"]["schema"]))
    for folder in ("actions", "datasources", "triggers"):
        for path in sorted((ROOT / folder).rglob("*.json")):
            data = json.loads(path.read_text())
            relative = path.relative_to(ROOT).as_posix()
            found.extend((f"{relative} {part}", data[part]) for part in ("inputs", "output") if part in data)
    found.extend((path.name, json.loads(path.read_text())) for path in sorted(SCHEMA_DIR.glob("*.json")))
    return found


DEFINITION_SCHEMAS = _definition_schemas()


def test_every_schema_of_every_definition_is_accepted_by_both() -> None:
    assert len(DEFINITION_SCHEMAS) > 200
    refused = [where for where, schema in DEFINITION_SCHEMAS if verdicts(schema) != (True, True)]
    assert refused == []


VALID = [
    True,
    False,
    {},
    {"type": ["string", "null"], "minLength": 0, "maxLength": 10},
    {"minLength": 1.0},  # an integer-valued number is an integer to both
    {"type": "object", "properties": {"a": True, "b": False}, "required": [], "x-secret": 5},
    {"not-a-keyword": {"type": 5}},  # unknown keywords are annotations
    {"enum": [1, True, None, {"a": [1]}]},
    {"const": None, "default": {"anything": ["at all"]}, "examples": [1, "a"]},
    {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a", "$anchor": "a-b.c_d"},
    {"$id": "https://example.com/s#", "$schema": "https://json-schema.org/draft/2020-12/schema"},
    {"prefixItems": [{"type": "string"}], "items": False, "contains": True, "minContains": 0},
    {"dependentRequired": {"a": ["b"]}, "dependentSchemas": {"a": {"required": ["c"]}}},
    {"if": {"type": "string"}, "then": {"minLength": 1}, "else": False},
    {"unevaluatedProperties": False, "unevaluatedItems": {"type": "string"}},
    {"multipleOf": 0.5, "exclusiveMinimum": -1, "maximum": 1e308, "minimum": -(2**70)},
    {"patternProperties": {"^a": {"type": "string"}}, "propertyNames": {"pattern": "^[a-z]+$"}},
    {"format": "no-such-format", "contentEncoding": "base64", "contentMediaType": "text/plain"},
    {"definitions": {"a": {}}, "dependencies": {"a": ["b"], "c": {"type": "object"}}},
    {"$vocabulary": {"https://example.com/v": True}, "$comment": "a", "deprecated": True},
]


@pytest.mark.parametrize("schema", VALID, ids=[json.dumps(s)[:60] for s in VALID])
def test_valid_schemas_are_accepted_by_both(schema: Any) -> None:
    assert verdicts(schema) == (True, True)
    assert schema_problems(schema) == []


@pytest.mark.parametrize("keyword", ["$anchor", "$dynamicAnchor", "$id"])
def test_a_trailing_newline_is_left_to_jsonschema(keyword: str) -> None:
    """Python's ``$`` also matches before a final newline; the compiled patterns end at ``\\Z``."""
    schema = {keyword: "a\n" if keyword != "$id" else "#\n"}
    assert verdicts(schema) == (False, True)
    assert schema_problems(schema) == []


# --- agreement: invalid schemas ------------------------------------------------------------------------

INVALID = [
    5,
    "string",
    None,
    [],
    {"type": "whole number"},
    {"type": ["string", "string"]},
    {"type": []},
    {"type": 5},
    {"type": ["string", 5]},
    {"minLength": -1},
    {"minLength": 1.5},
    {"maxLength": "1"},
    {"maxItems": True},
    {"minProperties": None},
    {"minContains": -1},
    {"required": "a"},
    {"required": ["a", "a"]},
    {"required": [1]},
    {"properties": {"a": 5}},
    {"properties": {"a": "string"}},
    {"properties": []},
    {"patternProperties": {"^a": 1}},
    {"additionalProperties": "no"},
    {"items": []},
    {"prefixItems": []},
    {"prefixItems": {"type": "string"}},
    {"contains": [True]},
    {"anyOf": []},
    {"allOf": {"type": "string"}},
    {"oneOf": [3]},
    {"not": None},
    {"if": 1},
    {"enum": "a"},
    {"multipleOf": 0},
    {"multipleOf": -1},
    {"maximum": "10"},
    {"exclusiveMinimum": True},
    {"uniqueItems": "yes"},
    {"pattern": 5},
    {"format": 5},
    {"title": 5},
    {"description": ["a"]},
    {"deprecated": "yes"},
    {"readOnly": 1},
    {"examples": {}},
    {"$defs": {"a": 3}},
    {"$defs": []},
    {"definitions": {"a": 1}},
    {"dependencies": {"a": 5}},
    {"dependentRequired": {"a": [1]}},
    {"dependentSchemas": {"a": "b"}},
    {"$anchor": "1abc"},
    {"$dynamicAnchor": "a b"},
    {"$id": "https://example.com/s#frag"},
    {"$ref": 5},
    {"$schema": 5},
    {"$vocabulary": {"https://example.com/v": "yes"}},
    {"$comment": None},
    {"contentEncoding": 1},
    {"unevaluatedProperties": 1},
    {"propertyNames": 2},
]
WRAPPERS = {
    "top": lambda s: s,
    "property": lambda s: {"type": "object", "properties": {"deep": s}},
    "items": lambda s: {"type": "array", "items": s},
    "anyOf": lambda s: {"anyOf": [{"type": "string"}, s]},
    "$defs": lambda s: {"$defs": {"x": s}, "$ref": "#/$defs/x"},
    "prefixItems": lambda s: {"prefixItems": [True, s]},
    "not": lambda s: {"not": s},
    "then": lambda s: {"if": True, "then": s},
    "dependentSchemas": lambda s: {"dependentSchemas": {"a": s}},
    "additionalProperties": lambda s: {"additionalProperties": s},
    "deep": lambda s: {"items": {"items": {"properties": {"a": {"anyOf": [True, {"allOf": [s]}]}}}}},
}


# each invalid schema on its own and nested in each schema position (scalars and lists stand alone)
PLACED = [(where, bad) for bad in INVALID for where in (WRAPPERS if isinstance(bad, dict) else ["top"])]


@pytest.mark.parametrize(
    ("where", "bad"), PLACED, ids=[f"{where}-{json.dumps(bad)[:40]}" for where, bad in PLACED]
)
def test_invalid_schemas_are_refused_by_both_with_jsonschemas_problems(where: str, bad: Any) -> None:
    schema = WRAPPERS[where](bad)
    assert verdicts(schema) == (False, False)
    found = schema_problems(schema)
    assert found and found == jsonschema_problems(schema)


# --- agreement: random schema-ish JSON ----------------------------------------------------------------

KEYWORDS = sorted(TOOL.flattened()["properties"])
TYPE_NAMES = ["array", "boolean", "integer", "null", "number", "object", "string", "int", "text"]
STRINGS = st.sampled_from([*TYPE_NAMES, "", "a", "a-b", "1a", "#", "a#b", "#/$defs/a", "x y", "^a$"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 5)
    | st.floats(-2, 5, allow_nan=False, allow_infinity=False)
    | STRINGS
    | st.text(alphabet="ab#$-_ .", max_size=4)
)
# keywords by the shape of their value, so that many drawn schemas are valid and many nearly so
SUBSCHEMA = ("items", "contains", "additionalProperties", "propertyNames", "if", "then", "else", "not")
SUBSCHEMA_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAP = ("properties", "patternProperties", "$defs", "dependentSchemas", "definitions")
COUNT = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains")


@cache
def schemaish() -> st.SearchStrategy[Any]:
    """JSON shaped like schemas: keyword objects holding schemas, lists and scalars, valid or not."""

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        plausible = {
            **dict.fromkeys(SUBSCHEMA, children),
            **dict.fromkeys(SUBSCHEMA_LIST, st.lists(children, max_size=3)),
            **dict.fromkeys(SUBSCHEMA_MAP, st.dictionaries(STRINGS, children, max_size=3)),
            **dict.fromkeys(COUNT, st.integers(-1, 5) | st.sampled_from([1.0, 1.5, "1"])),
            "type": st.sampled_from(TYPE_NAMES) | st.lists(st.sampled_from(TYPE_NAMES), max_size=3),
            "required": st.lists(STRINGS, max_size=3) | st.lists(SCALARS, max_size=2),
            "enum": st.lists(SCALARS, max_size=3) | SCALARS,
        }
        entry = st.one_of(
            *(st.tuples(st.just(keyword), value) for keyword, value in plausible.items()),
            st.tuples(st.sampled_from([*KEYWORDS, "x-note", "a"]), children),
        )
        return (
            st.lists(entry, max_size=4).map(dict)
            | st.lists(children, max_size=3)
            | st.dictionaries(STRINGS, children, max_size=3)
        )

    return st.recursive(SCALARS, extend, max_leaves=16)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not SLOW,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(schemaish())
def test_random_schemas_get_the_same_verdict(schema: Any) -> None:
    fast, authority = verdicts(schema)
    assert fast == authority
    assert schema_problems(schema) == jsonschema_problems(schema)


# --- start-up ----------------------------------------------------------------------------------------------

_PROBE = """
import json, sys
from component.schemas import schema_problems
for path in sys.argv[1:]:
    assert schema_problems(json.loads(open(path).read())["inputs"]) == []
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("jsonschema", "referencing"))))
"""


def test_valid_schemas_are_checked_without_loading_jsonschema() -> None:
    files = [str(p) for p in sorted((ROOT / "actions" / "servicetitan").glob("*.json"))[:20]]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert json.loads(done.stdout) == []


def test_the_check_is_part_of_the_catalog_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new check is a new runtime: a catalog cached under the old one is checked again."""
    from component import catalog_cache

    source = tmp_path / "component"
    source.mkdir()
    for module in catalog_cache._PACKAGE.glob("*.py"):
        (source / module.name).write_bytes(module.read_bytes())
    monkeypatch.setattr(catalog_cache, "_PACKAGE", source)
    key = catalog_cache.content_key(ROOT)
    generated = source / Path(_meta_schema.__file__).name
    generated.write_text(generated.read_text() + "\n# regenerated\n")
    assert catalog_cache.content_key(ROOT) != key


def test_the_declared_vocabulary_is_part_of_the_catalog_cache_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed vocabulary may refuse what it accepted: a catalog cached before is checked again."""
    from component import catalog_cache

    source = tmp_path / "component"
    (source / "schema").mkdir(parents=True)
    vocabulary = source / "schema" / "vocabulary.json"
    vocabulary.write_bytes((catalog_cache._PACKAGE / "schema" / "vocabulary.json").read_bytes())
    monkeypatch.setattr(catalog_cache, "_PACKAGE", source)
    key = catalog_cache.content_key(ROOT)
    vocabulary.write_text(vocabulary.read_text().replace('"x-env"', '"x-environment"'))
    assert catalog_cache.content_key(ROOT) != key
