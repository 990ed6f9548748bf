"""The catalog tables of README.md are generated (tools/readme_tables.py) and never stale."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT, load_tool

TOOL = load_tool("readme_tables")
CATALOG = {
    "connectors": {
        "acme": {
            "label": "Acme",
            "actions": {
                "getThing": {
                    "label": "Get Thing",
                    "description": "Fetch a thing by id. (Things_Get: GET /x)",
                },
                "getThingy": {"label": "Get Thing", "description": "Fetch.", "aliasOf": "getThing"},
                "addThing": {"label": "Add Thing", "description": "Add a | b thing"},
            },
            "dataSources": {"selectThing": {"label": "Select Thing", "description": "Pick a thing."}},
            "triggers": {},
        }
    }
}


def test_readme_catalog_tables_are_current() -> None:
    """Run `python tools/readme_tables.py` after adding or changing a definition."""
    current, fresh = TOOL.expected(ROOT)
    assert current == fresh


def test_tables_list_every_definition_with_aliases_and_first_sentences() -> None:
    text = TOOL.tables(CATALOG)
    assert "### Acme (`acme`): 2 actions (and 1 alias, listed too), 1 data source, 0 triggers" in text
    assert "| `getThing` (alias `getThingy`) | Get Thing | Fetch a thing by id. |" in text
    assert "| `addThing` | Add Thing | Add a \\| b thing |" in text
    assert text.index("`addThing`") < text.index("`getThing`")  # sorted by key
    assert "#### Triggers" not in text


def test_only_the_marked_region_is_rewritten() -> None:
    readme = f"intro\n{TOOL.START}\nold\n{TOOL.END}\noutro\n"
    assert TOOL.rewrite(readme, "new") == f"intro\n{TOOL.START}\nnew\n{TOOL.END}\noutro\n"
    with pytest.raises(ValueError, match="catalog:start"):
        TOOL.rewrite("no markers", "new")


def test_vocabulary_tables_list_keywords_formats_and_rules() -> None:
    vocabulary = {
        "keywords": {"x-thing": {"type": "string", "where": "an input", "description": "A | thing."}},
        "standardFormats": {"date": {"asserted": True, "description": "A date."}},
        "formats": {"html": {"asserted": False, "description": "HTML."}},
        "rules": {
            "after": {"compares": "date-time", "message": "must be after {other}", "description": "Later."}
        },
    }
    text = TOOL.vocabulary_tables(vocabulary)
    assert "| `x-thing` | string | an input | A \\| thing. |" in text
    assert "| `date` | yes | A date. |" in text
    assert "| `html` (custom) | no (an annotation) | HTML. |" in text
    assert "| `after` | date-time | must be after {other} | Later. |" in text
    readme = f"a\n{TOOL.VOCABULARY_START}\nold\n{TOOL.VOCABULARY_END}\n"
    assert TOOL.rewrite(readme, "new", TOOL.VOCABULARY_START, TOOL.VOCABULARY_END).count("new") == 1
