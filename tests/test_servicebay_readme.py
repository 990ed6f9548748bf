"""The README's Servicebay catalog table is the one tools/catalog_table.py generates from the catalog."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from component.catalog import Catalog
from tests.conftest import ROOT


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_table", ROOT / "tools" / "catalog_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_fresh() -> None:
    assert tool().main(["servicebay", "--check"]) == 0, (
        "run: python tools/catalog_table.py servicebay --write"
    )


def test_table_lists_every_servicebay_definition_once(catalog: Catalog) -> None:
    table = tool().table(catalog, "servicebay")
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]
    connector = catalog.connector("servicebay")
    keys = [*connector.definitions["actions"], *connector.definitions["dataSources"]]
    assert [row.split("`")[1] for row in rows] == keys
    update = "| `updateInvoice` | Update Invoice | `PUT /organisations/{orgId}/invoices/{invoiceId}` |"
    assert update + " **invoiceId**, customerId" in table
