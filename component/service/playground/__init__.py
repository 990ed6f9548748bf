"""The playground page at ``/playground``: every definition as a form, built from its input schema.

The page is a static bundle (``static/``, built from ``playground/`` by ``npm ci && npm run build``
and committed, so neither installing nor testing the project needs Node.js). It talks to the ``/v1``
API like any other client. Two read-only documents the API does not carry are served beside it:
the flow files next to the catalog (``flows.json``) and the schema vocabulary (``vocabulary.json``,
``{}`` when the project declares none). The page and its assets hold no data, so they are served without
the bearer token; everything else, these two documents included, needs it like ``/v1``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..output import JSONBody

if TYPE_CHECKING:
    from ..routes import Service

STATIC = Path(__file__).parent / "static"
VOCABULARY = Path(__file__).parent.parent.parent / "schema" / "vocabulary.json"
PREFIX = "/playground"
_DATA = frozenset({f"{PREFIX}/flows.json", f"{PREFIX}/vocabulary.json"})


def is_public(path: str) -> bool:
    """The page and its assets: served without the service token (they carry no data)."""
    return (path == PREFIX or path.startswith(f"{PREFIX}/")) and path not in _DATA


def flow_documents(root: Path) -> list[dict[str, Any]]:
    """The flow files beside the catalog, parsed; one that is not JSON is left out (``component
    validate`` reports it)."""
    documents = []
    for path in sorted((root / "flows").glob("*.json")):
        try:
            flow = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(flow, dict):
            documents.append({"file": f"flows/{path.name}", "flow": flow})
    return documents


def routes(service: Service) -> list[BaseRoute]:
    """``/playground`` (the page), ``/playground/flows.json`` and ``/playground/vocabulary.json``."""
    from ..routes import endpoint

    async def flows(service: Service, request: Request) -> Response:
        return JSONBody({"flows": flow_documents(service.app.catalog.root)}, service.app.redactor)

    async def vocabulary(service: Service, request: Request) -> Response:
        if not VOCABULARY.is_file():
            return JSONBody({}, service.app.redactor)  # none declared: the page registers what it finds
        return JSONBody(json.loads(VOCABULARY.read_text(encoding="utf-8")), service.app.redactor)

    async def page(request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    return [
        Route(PREFIX, page, methods=["GET"]),
        Route(f"{PREFIX}/flows.json", endpoint(service, flows), methods=["GET"]),
        Route(f"{PREFIX}/vocabulary.json", endpoint(service, vocabulary), methods=["GET"]),
        Mount(PREFIX, StaticFiles(directory=STATIC, html=True, check_dir=False), name="playground"),
    ]
