"""The builder service: the application layer over HTTP (Starlette under uvicorn) and MCP.

``component serve`` starts it. Modules: :mod:`.errors` (typed errors to HTTP statuses),
:mod:`.output` (the one place every response body, header and log line is redacted), :mod:`.store`
(connections and pending trigger batches on SQLite), :mod:`.connections` (connections by id, secrets
sealed with Fernet), :mod:`.openapi` (the OpenAPI 3.1 document from the definitions),
:mod:`.routes` (the ``/v1`` endpoints), :mod:`.middleware` (request ids, bearer token, body limit,
access log), :mod:`.mcp` (the catalog as MCP tools) and :mod:`.server` (building and serving it).
"""
