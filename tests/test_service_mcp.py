"""The catalog as MCP tools, driven by the official SDK's own client: over streamable HTTP at ``/mcp`` on
a live service, and over stdio from ``component mcp`` (sandbox mode in both)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import ROOT
from tests.service_server import LiveService, live_service

mcp = pytest.importorskip("mcp", reason="the mcp SDK is a dependency of the service")
from mcp import Client, StdioServerParameters  # noqa: E402


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with live_service(tmp_path_factory.mktemp("mcp") / "service.db", root=ROOT) as served:
        yield served


async def exercise(client: Any) -> dict[str, Any]:
    """List tools, call a picklist, call an action, and call an action with bad input."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    technicians = await client.call_tool("servicetitan_selectTechnician", {})
    created = await client.call_tool(
        "servicebay_createJob",
        {
            "customerId": "lQXVcC1yznIjbdlWotZ0",
            "customerName": "Jane Doe",
            "serviceTime": "2026-12-10T14:00:00Z",
            "endTime": "2026-12-10T15:00:00Z",
            "serviceLocation": "instore",
        },
    )
    bad = await client.call_tool("servicebay_getJob", {"ticketId": 5})
    return {"tools": tools, "picklist": technicians, "action": created, "bad": bad}


def check(seen: dict[str, Any]) -> None:
    tools = seen["tools"]
    assert len(tools) == 106 + 35  # every action and every picklist
    create, delete, get = (
        tools["servicebay_createJob"],
        tools["servicebay_deleteJob"],
        tools["servicebay_getJob"],
    )
    assert create.input_schema["properties"].keys() >= {"customerId", "serviceTime"}
    assert create.output_schema["properties"]["data"]["type"] == "object"
    assert get.annotations.read_only_hint is True and get.annotations.idempotent_hint is True
    assert create.annotations.read_only_hint is False and create.annotations.destructive_hint is False
    assert create.annotations.idempotent_hint is False
    assert delete.annotations.destructive_hint is True and delete.annotations.idempotent_hint is True
    picklist = tools["servicetitan_selectTechnician"]
    assert picklist.annotations.read_only_hint is True
    assert picklist.output_schema["required"] == ["result", "truncated"]

    result = seen["picklist"]
    assert result.is_error is False
    entries = result.structured_content["result"]
    assert entries and {"key", "label"} <= set(entries[0])
    assert json.loads(result.content[0].text) == result.structured_content

    action = seen["action"]
    assert action.is_error is False and action.structured_content["data"]["id"]

    bad = seen["bad"]
    assert bad.is_error is True
    error = json.loads(bad.content[0].text)["error"]
    assert error["type"] == "invalid_input" and error["problems"][0]["path"] == "$.ticketId"


def test_mcp_over_streamable_http_at_slash_mcp(live: LiveService) -> None:
    async def run() -> dict[str, Any]:
        async with Client(f"{live.url}/mcp") as client:
            return await exercise(client)

    check(asyncio.run(run()))


def test_mcp_over_stdio_from_component_mcp(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "component", "--root", str(ROOT), "mcp", "--sandbox", "--state", str(tmp_path / "s.db")],
        env=env,
    )

    async def run() -> dict[str, Any]:
        async with Client(params) as client:
            return await exercise(client)

    check(asyncio.run(run()))


def readme_curl_lines() -> list[str]:
    """The curl examples of the README's service section, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    start = text.index("These run against `component serve --sandbox` as they are:")
    block = text[
        text.index("```bash", start) + len("```bash") : text.index("```", text.index("```bash", start) + 7)
    ]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_readme_curl_examples_run_against_the_sandbox_service(live: LiveService, tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    lines = readme_curl_lines()
    assert len(lines) >= 8
    host = live.url.removeprefix("http://")
    for line in lines:
        command = line.replace("localhost:8080", host)
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (line, done.stderr)
        assert '"error"' not in done.stdout, (line, done.stdout[:500])
        assert done.stdout.strip() or "openapi.json" in line, line
    assert json.loads((tmp_path / "openapi.json").read_text())["openapi"] == "3.1.0"


def test_an_mcp_tool_uses_a_stored_connection_named_by_id(tmp_path: Path) -> None:
    """``connection`` picks a stored connection as ``?connection=`` does on HTTP: one with a wrong key
    is refused by the vendor (so it was used), and its secret never appears in what the tool says."""
    from cryptography.fernet import Fernet

    from tests.conftest import SB_KEY

    with live_service(tmp_path / "s.db", root=ROOT, secret_key=Fernet.generate_key().decode()) as served:
        sandbox = served.service.app.sandbox
        assert sandbox is not None
        values = dict(sandbox.connection("servicebay"))
        for id, key in (("shop-ok", values["apiKey"]), ("shop-bad", SB_KEY)):
            stored = httpx2.put(
                f"{served.url}/v1/connections/{id}",
                json={"connector": "servicebay", "values": {**values, "apiKey": key}},
                timeout=30,
            )
            assert stored.status_code == 201, stored.text

        async def run() -> dict[str, Any]:
            async with Client(f"{served.url}/mcp") as client:
                tool = "servicebay_selectService"
                return {
                    "schema": next(
                        t for t in (await client.list_tools()).tools if t.name == tool
                    ).input_schema,
                    "ok": await client.call_tool(tool, {"connection": "shop-ok"}),
                    "bad": await client.call_tool(tool, {"connection": "shop-bad"}),
                    "default": await client.call_tool(tool, {}),
                    "unknown": await client.call_tool(tool, {"connection": "nope"}),
                    "other": await client.call_tool("servicetitan_selectJob", {"connection": "shop-ok"}),
                    "typed": await client.call_tool(tool, {"connection": 7}),
                }

        seen = asyncio.run(run())
    assert seen["schema"]["properties"]["connection"]["type"] == "string"
    assert "connection" not in seen["schema"].get("required", [])
    assert seen["ok"].is_error is False and seen["ok"].structured_content["result"]
    assert seen["default"].is_error is False
    errors = {
        name: json.loads(seen[name].content[0].text)["error"] for name in ("bad", "unknown", "other", "typed")
    }
    assert all(seen[name].is_error for name in errors)
    assert errors["bad"]["type"] == "invalid_credentials", errors["bad"]
    assert errors["unknown"]["type"] == "unknown" and errors["other"]["type"] == "invalid_connection"
    assert errors["typed"]["problems"][0]["path"] == "$.connection"
    text = json.dumps([str(result) for result in seen.values()])
    assert SB_KEY not in text and SB_KEY[:12] not in text


def test_a_definition_with_an_input_named_connection_is_refused_as_an_mcp_tool() -> None:
    from types import SimpleNamespace

    from component.errors import ComponentError
    from component.service.mcp import _input_schema

    clash: Any = SimpleNamespace(
        ref="x.y", model=SimpleNamespace(inputs={"type": "object", "properties": {"connection": {}}})
    )
    with pytest.raises(ComponentError, match=r"x\.y has an input named 'connection'"):
        _input_schema(clash)
    plain: Any = SimpleNamespace(
        ref="x.z", model=SimpleNamespace(inputs={"type": "object", "required": ["a"]})
    )
    assert _input_schema(plain) == {
        "type": "object",
        "required": ["a"],
        "properties": {"connection": _input_schema(plain)["properties"]["connection"]},
    }
    assert plain.model.inputs == {"type": "object", "required": ["a"]}  # the definition's is left as it was
