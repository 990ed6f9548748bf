"""The README's Homebase360 catalog table is the one tools/catalog_table.py generates from the catalog."""

from __future__ import annotations

from tests.test_servicebay_readme import tool


def test_readme_table_is_fresh() -> None:
    assert tool().main(["homebase360", "--check"]) == 0, (
        "run: python tools/catalog_table.py homebase360 --write"
    )
