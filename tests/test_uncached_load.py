"""Loading the definitions without a cached catalog loads only what checking them needs."""

from __future__ import annotations

import json
from pathlib import Path

from component import catalog as catalog_module
from tests.test_cold_start import loaded_by


def test_an_uncached_catalog_loads_no_http_client() -> None:
    output, modules = loaded_by(["catalog", "--json"], Path("off"))
    assert json.loads(output) == catalog_module.load().to_json()
    assert "pydantic" in modules and "jsonschema" in modules  # every definition is checked
    assert not [m for m in modules if m.split(".")[0] in ("httpx", "rich", "starlette", "uvicorn")]
    assert "component.runtime" not in modules
