"""Loading the definitions without a cached catalog loads only what checking them needs."""

from __future__ import annotations

import json
from pathlib import Path

from component import catalog as catalog_module
from component.redact import Redactor
from tests.test_cold_start import loaded_by


def test_an_uncached_catalog_loads_no_http_client() -> None:
    output, modules = loaded_by(["catalog", "--json"], Path("off"))
    assert json.loads(output) == catalog_module.load().to_json()
    assert "jsonschema" in modules  # every definition is checked (its examples against its inputs)
    assert "pydantic" not in modules  # the definition models are msgspec structs
    assert not [m for m in modules if m.split(".")[0] in ("httpx2", "rich", "starlette", "uvicorn")]
    assert "component.runtime" not in modules


def test_output_is_copied_for_redaction_only_when_a_secret_is_known() -> None:
    redactor = Redactor()
    assert redactor.empty
    redactor.add("abc")  # too short to be told from ordinary text: never redacted
    assert redactor.empty
    redactor.add("s3cret-value")
    assert not redactor.empty
    assert redactor.data({"a": ["s3cret-value"]}) == {"a": ["***"]}
