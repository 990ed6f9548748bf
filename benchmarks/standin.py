"""A ServiceTitan stand-in served by uvicorn, for what the sandbox does not model: any number of
tenants (a token per client id and an empty job list, what a poll with nothing new sees) and 12,000
slim customers (id, name, street, city: ~90 bytes, where a picklist is bound by round trips).
Run as ``python -m benchmarks.standin``; it prints ``{"url": ...}`` and serves until stopped."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from component.service.listening import listen

EMPTY_PAGE = {"page": 1, "pageSize": 1000, "hasMore": False, "totalCount": 0, "data": []}
SLIM_CUSTOMERS = [
    {"id": 100001 + n, "name": f"Customer {n}", "address": {"street": f"{n} Main St", "city": "Denver"}}
    for n in range(12_000)
]
MAX_PAGE_SIZE = 5000


def _encoded(value: object) -> bytes:
    """Compact UTF-8 JSON, as Starlette's JSONResponse writes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


# Each record is encoded once and a page joins the ones it holds, as a vendor serving from a
# document store would: the page still costs work in proportion to its size, not a json.dumps walk.
ENCODED_CUSTOMERS = [_encoded(customer) for customer in SLIM_CUSTOMERS]


def app(latency_ms: float) -> Starlette:
    async def pause() -> None:
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)

    async def token(request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode())
        await pause()
        return JSONResponse({"access_token": f"token-{form['client_id'][0]}", "expires_in": 900})

    async def jobs(request: Request) -> JSONResponse:
        tenant = request.path_params["tenant"]
        if request.headers.get("authorization") != f"Bearer token-client-{tenant}":
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        await pause()
        return JSONResponse(EMPTY_PAGE)

    async def customers(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if request.headers.get("authorization") != f"Bearer token-client-{tenant}":
            return JSONResponse({"title": "Unauthorized"}, status_code=401)
        page = int(request.query_params.get("page", 1))
        size = min(int(request.query_params.get("pageSize", 50)), MAX_PAGE_SIZE)
        items = ENCODED_CUSTOMERS[(page - 1) * size : page * size]
        await pause()
        more = page * size < len(SLIM_CUSTOMERS)
        head = _encoded({"page": page, "pageSize": size, "hasMore": more, "totalCount": None})
        body = b"".join([head[:-1], b',"data":[', b",".join(items), b"]}"])
        return Response(body, media_type="application/json")

    return Starlette(
        routes=[
            Route("/connect/token", token, methods=["POST"]),
            Route("/jpm/v2/tenant/{tenant}/jobs", jobs),
            Route("/crm/v2/tenant/{tenant}/customers", customers),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=0)
    options = parser.parse_args()
    listener = listen("127.0.0.1", 0)  # listening (TCP_NODELAY, as the service's) before it is announced
    print(json.dumps({"url": f"http://127.0.0.1:{listener.getsockname()[1]}"}), flush=True)
    config = uvicorn.Config(app(options.latency_ms), log_level="warning", lifespan="off", backlog=4096)
    uvicorn.Server(config).run(sockets=[listener])
    sys.exit(0)


if __name__ == "__main__":
    main()
