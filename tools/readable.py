"""Make the catalog's schemas readable: a title on every property, a label on every enum value.

A form renderer labels a field with its ``title``. Every property at every depth gets a title derived
from its name (``jobAppointmentId`` -> ``Job Appointment ID``) unless it has one, and every ``enum``
gets ``x-enumNames``, the display label of each value, in order (the declared keyword of
``component/schema/vocabulary.json``; react-jsonschema-form takes it as ``ui:enumNames``). The
choices stay an ``enum``: a ``oneOf`` of ``const`` + ``title`` would make react-jsonschema-form
pre-select the first choice of an optional field, sending a value the user never set. The
ServiceTitan generator calls the same functions; run this tool for the hand-written definitions
(Servicebay, Homebase360, ``rawRequest``, triggers):

    python tools/readable.py [--check]

It is idempotent; ``--check`` writes nothing and exits 1 when a definition would change.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FIELDS = ("inputs", "output")
# Words kept upper case in a title (the capitalised form -> the title's form).
ACRONYMS = {
    "Id": "ID",
    "Ids": "IDs",
    "Guid": "GUID",
    "Po": "PO",
    "Sku": "SKU",
    "Skus": "SKUs",
    "Url": "URL",
    "Uri": "URI",
    "Api": "API",
    "Utc": "UTC",
    "Sms": "SMS",
    "Html": "HTML",
    "Pdf": "PDF",
    "Qbo": "QBO",
    "Gps": "GPS",
    "Vat": "VAT",
}
_ONE = ("items", "additionalProperties", "contains", "not", "if", "then", "else", "propertyNames")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "dependentSchemas", "$defs")


def title_of(name: str) -> str:
    """``jobAppointmentId`` -> ``Job Appointment ID``; ``first_name`` -> ``First Name``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name.replace("_", " "))
    words = spaced.replace("-", " ").split()
    return " ".join(ACRONYMS.get(w.capitalize(), w[:1].upper() + w[1:]) for w in words) or name


def label_of(value: Any) -> str:
    """A display label for an enum value: ``InProgress`` -> ``In Progress``, ``null`` -> ``None``."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str) and value:
        return title_of(value)
    return json.dumps(value, ensure_ascii=False)


def enum_names(values: list[Any]) -> list[str]:
    """The display label of each enum value, in order: ``x-enumNames``."""
    return [label_of(value) for value in values]


def readable(schema: Any, titles: dict[str, str] | None = None) -> Any:
    """``schema`` with a title on every property and ``x-enumNames`` beside every enum.

    A property's title is ``titles[name]`` where given (the ServiceTitan overlay's common titles),
    else derived from its name. Changes the schema in place and returns it; a title or
    ``x-enumNames`` already there is kept.
    """
    given = titles or {}
    if not isinstance(schema, dict):
        return schema
    options = schema.get("oneOf")
    if isinstance(options, list) and options and all(isinstance(o, dict) and "const" in o for o in options):
        schema.pop("oneOf")  # labelled choices written as oneOf + const: back to enum + labels
        schema["enum"] = [o["const"] for o in options]
        schema["x-enumNames"] = [o.get("title") or label_of(o["const"]) for o in options]
    if isinstance(schema.get("enum"), list) and "x-enumNames" not in schema:
        schema["x-enumNames"] = enum_names(schema["enum"])
    for keyword in _ONE:
        readable(schema.get(keyword), given)
    for keyword in _LIST:
        if isinstance(schema.get(keyword), list):
            for item in schema[keyword]:
                readable(item, given)
    for keyword in _NAMED:
        named = schema.get(keyword)
        if not isinstance(named, dict):
            continue
        for name, sub in list(named.items()):
            if keyword == "properties" and isinstance(sub, dict) and "title" not in sub:
                sub = named[name] = {"title": given.get(name) or title_of(name), **sub}
            readable(sub, given)
    return schema


def definition_files(root: Path = ROOT) -> list[Path]:
    """The hand-written definitions (every one the ServiceTitan generator does not write)."""
    generated = _generated(root)
    found = []
    for folder in ("actions", "datasources", "triggers"):
        for path in sorted((root / folder).glob("*/*.json")):
            if path.relative_to(root).as_posix() not in generated:
                found.append(path)
    return found


def _generated(root: Path) -> set[str]:
    overlay = json.loads((root / "tools" / "servicetitan_overlay.json").read_text(encoding="utf-8"))
    return {f"actions/servicetitan/{key}.json" for key in overlay["actions"]} | {
        f"datasources/servicetitan/{key}.json" for key in overlay["dataSources"]
    }


def rewritten(text: str) -> str:
    definition = json.loads(text)
    for field in SCHEMA_FIELDS:
        if isinstance(definition.get(field), dict):
            readable(definition[field])
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs")
    args = parser.parse_args(argv)
    stale = 0
    for path in definition_files():
        text = path.read_text(encoding="utf-8")
        new = rewritten(text)
        if new == text:
            continue
        stale += 1
        if args.check:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        else:
            path.write_text(new, encoding="utf-8")
    if args.check:
        return 1 if stale else 0
    print(f"rewrote {stale} definitions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
