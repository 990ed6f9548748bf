"""Picklist keys and labels: the generated formatter of a template against a plain reading of its rules.

``item_formatter`` turns each template into Python code once. The property test below compares it
with :func:`reference`, a direct transcription of the rules in ``format_item``'s documentation, over
random templates (fields, alternatives, ``:date``, sections, stray brackets, quotes and backslashes)
and random JSON records. CI draws a few hundred; ``COMPONENT_SLOW_TESTS=1`` draws many more.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from component.templates import ITEM_FIELD, ITEM_SECTION, format_item, item_formatter, picklist_entries

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
EXAMPLES = 5000 if SLOW else 300


def _walk(item: Any, path: str) -> Any:
    current = item
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "" if value is None else str(value)


def reference(template: str, item: Any) -> str:
    """The rules, read literally: sections first; in each piece of text, every ``{a|b:date}`` is the
    first non-empty text of its paths (``:date`` keeps ``YYYY-MM-DD`` of a date-time); a section is
    its filled text when none of its fields is empty, else nothing."""

    def field(match: re.Match[str]) -> str:
        texts = [_text(_walk(item, path)) for path in match[1].split("|")]
        text = next((text for text in texts if text), "")
        if match[2] == "date" and re.match(r"\d{4}-\d{2}-\d{2}T", text):
            return text[:10]
        return text

    def filled(text: str) -> str:
        return ITEM_FIELD.sub(field, text)

    out, end = [], 0
    for section in ITEM_SECTION.finditer(template):
        out.append(filled(template[end : section.start()]))
        inner = section[1]
        out.append(filled(inner) if all(field(m) for m in ITEM_FIELD.finditer(inner)) else "")
        end = section.end()
    out.append(filled(template[end:]))
    return "".join(out)


# --- random templates and records ----------------------------------------------------------------

PARTS = ["a", "b", "id", "0", "1", "01", "", "name", "__class__", "__import__", "item", "t0", "_L0"]
PATHS = st.lists(st.sampled_from(PARTS), min_size=1, max_size=3).map(".".join)
FIELDS = st.builds(
    lambda paths, date: "{" + "|".join(paths) + (":date" if date else "") + "}",
    st.lists(PATHS, min_size=1, max_size=3),
    st.booleans(),
)
LITERALS = st.text(alphabet="ab -\u2013,.:|{}[]'\"\\\n\t$%_()\u2028\x00", max_size=6)
SECTIONS = st.lists(FIELDS | LITERALS, max_size=4).map(lambda pieces: "[" + "".join(pieces) + "]")
TEMPLATES = st.lists(FIELDS | SECTIONS | LITERALS, max_size=6).map("".join)
KEYS = st.sampled_from(PARTS)
SCALARS = (
    st.just("2026-03-01T14:35:53Z")
    | st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False, width=16)
    | st.sampled_from(["", "x", "0", "2026-03-01T14:35:53Z", "2026-03-01", "{a}", "'\"\\"])
)
RECORDS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def _uniform(value: Any, depth: int) -> Any:
    return {key: _uniform(value, depth - 1) for key in PARTS} if depth else value


# records where every path of one length leads to the same value, so fields meet dates, empties…
UNIFORM = st.builds(_uniform, SCALARS, st.integers(1, 3))


@settings(max_examples=EXAMPLES, deadline=None)
@given(template=TEMPLATES, items=st.lists(RECORDS | UNIFORM, min_size=1, max_size=4))
def test_the_generated_formatter_renders_what_the_rules_say(template: str, items: list[Any]) -> None:
    formatter = item_formatter(template)
    for item in items:
        assert formatter(item) == reference(template, item)
    assert item_formatter(template) is formatter  # generated once per template
    _assert_confined(template, formatter)


def reference_entries(key: str, label: str, pages: list[list[Any]], room: int) -> tuple[list[Any], bool]:
    """Picklist entries, read literally: per item in order, its key; skipped when empty or seen;
    the label stripped, or the key when blank; stop at ``room`` entries when an item is left."""
    entries: list[dict[str, str]] = []
    for page in pages:
        for item in page:
            found = reference(key, item)
            if not found or found in [e["key"] for e in entries]:
                continue
            if len(entries) >= room:
                return entries, True
            entries.append({"key": found, "label": reference(label, item).strip() or found})
    return entries, False


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(
    key=TEMPLATES,
    label=TEMPLATES,
    pages=st.lists(st.lists(RECORDS | UNIFORM, max_size=5), min_size=1, max_size=3),
    room=st.integers(0, 8),
)
def test_picklist_entries_are_the_rules_applied_item_by_item(
    key: str, label: str, pages: list[list[Any]], room: int
) -> None:
    take = picklist_entries(key, label)
    kept: list[Any] = []
    seen: set[str] = set()
    stopped = False
    for page in pages:
        if take(page, seen, kept, room):
            stopped = True
            break
    assert (kept, stopped) == reference_entries(key, label, pages, room)
    assert seen == {entry["key"] for entry in kept}
    _assert_confined((key, label), take)


def _assert_confined(template: str | tuple[str, str], formatter: Any) -> None:
    """The function names nothing but its helpers, the constants it was given and the methods of a
    set, a list and a str: no builtins, and every constant is a piece of a template's own text."""
    texts = (template,) if isinstance(template, str) else template
    namespace = formatter.__globals__
    assert namespace["__builtins__"] == {}
    helpers = {
        "__builtins__",
        "_format",
        "_take",
        "_walk",
        "_as_text",
        "_iso",
        "_fails",
        "_str",
        "_int",
        "_type",
        "_len",
    }
    constants = {name: value for name, value in namespace.items() if name not in helpers}
    assert all(re.fullmatch(r"_L\d+", name) for name in constants), constants
    assert all(
        isinstance(value, str) and any(value in text for text in texts) for value in constants.values()
    )
    assert set(formatter.__code__.co_names) <= set(namespace) | {"add", "append", "strip"}


# --- known cases ---------------------------------------------------------------------------------

CUSTOMER = {"id": 7, "name": "Jo", "address": {"street": "1 Main St", "city": ""}, "tags": ["vip", "new"]}


@pytest.mark.parametrize(
    ("template", "item", "expected"),
    [
        ("{name}[ \u2013 {address.street}][, {address.city}]", CUSTOMER, "Jo \u2013 1 Main St"),
        ("{id}", CUSTOMER, "7"),
        ("{id}", {"id": "7"}, "7"),
        ("{tags.1}/{tags.5}/{tags}", CUSTOMER, "new//['vip', 'new']"),
        ("{missing|tags.0|id}", CUSTOMER, "vip"),
        ("{flag} {none} {n} {f}", {"flag": False, "none": None, "n": 0, "f": 1.5}, "false  0 1.5"),
        ("{start:date}|{day:date}", {"start": "2026-03-01T14:35:53Z", "day": "March"}, "2026-03-01|March"),
        ("[{a} and {b}]", {"a": "x", "b": 0}, "x and 0"),
        ("[{a} and {b}]", {"a": "x", "b": ""}, ""),
        ("[no fields]{a}[{b]", {"a": 1, "b": 2}, "[no fields]1{b"),
        ("[{}]", {}, "{}"),
        ("{a.b}", {"a": "not an object"}, ""),
        ("{0.a}", [{"a": "first"}], "first"),
        ("{a}", "not an object", ""),
        ("{a}", None, ""),
        ("", CUSTOMER, ""),
    ],
)
def test_known_templates(template: str, item: Any, expected: str) -> None:
    assert format_item(template, item) == expected == reference(template, item)


HOSTILE = [
    "'); __import__('os').system('exit 3'); ('",
    '"); raise SystemExit(3); ("',
    '"""',
    "'''",
    "\\",
    "\\'{a}\\\"",
    "{a}\\n{b}",
    "\n{a}\n\r",
    "f'{a}'",
    "f\"{__import__('os')}\"",
    "{__import__}{__builtins__}{item}{t0}{_L0}{_walk}",
    "[{__import__}')\n]",
    "{a}{{b}}}{",
    "{{{a}}}",
    "[{a}\x00\u2028]",
    "{a} # comment",
    "{a.__class__.__mro__}",
    "{a|__import__:date}",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_template_text_stays_text(template: str) -> None:
    item = {"a": "A", "b": "B", "__import__": "imp", "item": "it", "t0": "t", "_L0": "l", "_walk": "w"}
    formatter = item_formatter(template)
    assert formatter(item) == reference(template, item)
    assert formatter({}) == reference(template, {})
    _assert_confined(template, formatter)
    take, kept = picklist_entries(template, template), []
    stopped = take([item, {}, item], set(), kept, 2)
    assert (kept, stopped) == reference_entries(template, template, [[item, {}, item]], 2)
    _assert_confined((template, template), take)


def test_long_templates_and_many_alternatives_compile() -> None:
    many = "{" + "|".join(f"a{n}" for n in range(300)) + "}"
    assert format_item(many, {"a299": "last"}) == "last" and format_item(many, {}) == ""
    long = "".join(f"[{{a{n}}}, ]" for n in range(300))
    assert format_item(long, {"a7": "x", "a250": "y"}) == "x, y, "
    assert picklist_entries(many, long)([{"a1": "k", "a2": "l"}], set(), kept := [], 1) is False
    assert kept == [{"key": "k", "label": "k, l,"}]


def test_literal_text_comes_back_exactly() -> None:
    for template in ("no fields", "'\"\\\n", "} { ] [", "{not a field}", "[]", "{}"):
        assert format_item(template, CUSTOMER) == template


class CountingRecord(Mapping[str, Any]):
    """A record that counts how often each field is read."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.reads: dict[str, int] = {}

    def __getitem__(self, key: str) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_each_field_is_read_once_even_where_a_section_tests_it() -> None:
    record = CountingRecord({"a": "x", "b": "y"})
    assert format_item("{a}[ ({a})][, {b}:{a}]{b}", record) == "x (x), y:xy"
    assert record.reads == {"a": 1, "b": 1}
