"""``/playground`` on the builder service: the committed page and its assets (offline: nothing from
another origin), the flow files and the schema vocabulary it reads, and what the token guards."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from component.service import playground
from component.service.server import build
from tests.conftest import ROOT

BASE = "http://127.0.0.1"
TOKEN = "playground-token-8d2c"


def client(tmp_path: Path, token: str | None = None) -> Iterator[TestClient]:
    app, _ = build(root=ROOT, sandbox=True, state=tmp_path / "service.db", env={}, token=token, mcp=False)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def c(tmp_path: Path) -> Iterator[TestClient]:
    yield from client(tmp_path)


def test_the_page_and_its_assets_are_served_from_the_package(c: TestClient) -> None:
    moved = c.get("/playground", follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"] == "/playground/"
    page = c.get("/playground/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert c.get(f"/playground/{asset}").status_code == 200
        assert (playground.STATIC / asset).is_file()


def test_the_bundle_loads_nothing_from_another_origin() -> None:
    index = (playground.STATIC / "index.html").read_text()
    assert not re.search(r'(?:src|href)="(?:https?:)?//', index)
    for path in (playground.STATIC / "assets").iterdir():
        text = path.read_text(encoding="utf-8")
        # no import, stylesheet or font from a CDN; URLs in the bundle are only strings it shows
        assert not re.search(r"""(?:import\s*\(|@import|url\()\s*["']?(?:https?:)?//""", text), path.name


def test_flow_files_are_listed_for_the_flow_view(c: TestClient) -> None:
    listed = c.get("/playground/flows.json").json()["flows"]
    files = sorted(f"flows/{p.name}" for p in (ROOT / "flows").glob("*.json"))
    assert [f["file"] for f in listed] == files
    cross = next(f for f in listed if f["file"] == "flows/cross-vendor-intake.json")
    assert cross["flow"] == json.loads((ROOT / "flows" / "cross-vendor-intake.json").read_text())


def test_the_vocabulary_is_served_when_declared(
    c: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playground, "VOCABULARY", tmp_path / "absent.json")
    assert c.get("/playground/vocabulary.json").json() == {}
    declared = {"keywords": {"x-datasource": {"type": "string", "schema": {"type": "string"}}}}
    (tmp_path / "vocabulary.json").write_text(json.dumps(declared))
    monkeypatch.setattr(playground, "VOCABULARY", tmp_path / "vocabulary.json")
    assert c.get("/playground/vocabulary.json").json() == declared


def test_with_a_token_the_page_is_open_and_its_data_is_not(tmp_path: Path) -> None:
    for c in client(tmp_path, token=TOKEN):
        assert c.get("/playground/").status_code == 200
        for path in ("/playground/flows.json", "/playground/vocabulary.json", "/v1/catalog"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200, path


def test_the_open_page_opens_no_other_path(tmp_path: Path) -> None:
    """Paths sent raw (not normalised by a client) to a live service with a token."""
    import http.client

    from tests.service_server import live_service

    with live_service(tmp_path / "service.db", root=ROOT, token=TOKEN, mcp=False) as live:
        host, port = live.url.removeprefix("http://").split(":")
        for path in (
            "/playground//flows.json",
            "/playground/flows.json/",
            "/playground/./flows.json",
            "/playground/../v1/catalog",
            "/playground/%2e%2e/v1/catalog",
            "/playground/assets/../../v1/catalog",
            "/playground/..%2fv1/catalog",
        ):
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            connection.request("GET", path)
            answer = connection.getresponse()
            text = answer.read().decode()
            connection.close()
            assert answer.status in (401, 404), (path, answer.status)
            assert '"flows"' not in text and '"connectors"' not in text, path
