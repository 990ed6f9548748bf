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
    assert "### Acme (`acme`): 2 actions, 1 data source, 0 triggers" in text
    assert "| `getThing` (alias `getThingy`) | Get Thing | Fetch a thing by id. |" in text
    assert "| `addThing` | Add Thing | Add a \\| b thing |" in text
    assert text.index("`addThing`") < text.index("`getThing`")  # sorted by key
    assert "#### Triggers" not in text


def test_only_the_marked_region_is_rewritten() -> None:
    readme = f"intro\n{TOOL.START}\nold\n{TOOL.END}\noutro\n"
    assert TOOL.rewrite(readme, "new") == f"intro\n{TOOL.START}\nnew\n{TOOL.END}\noutro\n"
    with pytest.raises(ValueError, match="catalog:start"):
        TOOL.rewrite("no markers", "new")
