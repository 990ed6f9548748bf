"""What the benchmarks run against: connections, the catalog without its rate budgets binding, and
an in-process ServiceTitan stand-in for a ``MockTransport`` (the same handler serves our runtime and
the bare-client baselines, so each pays the same for it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import httpx2
import msgspec

from component.catalog import Catalog, load

ST_CONNECTION = {
    "clientId": "bench-client",
    "clientSecret": "bench-secret-0000",
    "tenant": "1000001",
    "applicationKey": "bench-app-key-0000",
    "environment": "integration",
}
ST_API = "https://api-integration.servicetitan.io"
TOKEN = "bench-token-" + "x" * 40
JOB = {
    "id": 400001,
    "jobNumber": "400001",
    "customerId": 100001,
    "locationId": 200001,
    "jobStatus": "Scheduled",
    "completedOn": None,
    "businessUnitId": 1001,
    "jobTypeId": 2001,
    "priority": "Normal",
    "campaignId": 3001,
    "summary": "No cooling upstairs; customer reports a noisy outdoor unit.",
    "customFields": [{"typeId": 8101, "name": "Gate code", "value": "1234"}],
    "appointmentCount": 1,
    "firstAppointmentId": 500001,
    "lastAppointmentId": 500001,
    "recallForId": None,
    "warrantyId": None,
    "jobGeneratedLeadSource": {"jobId": None, "employeeId": None},
    "noCharge": False,
    "notificationsEnabled": True,
    "createdOn": "2026-11-01T15:00:00Z",
    "createdById": 4001,
    "modifiedOn": "2026-11-01T15:00:00Z",
    "tagTypeIds": [8001],
    "leadCallId": None,
    "bookingId": None,
    "soldById": None,
    "externalData": None,
    "customerPo": None,
    "invoiceId": 700001,
    "membershipId": None,
    "total": 420.5,
}
JOB_BYTES = json.dumps(JOB).encode()
TOKEN_BYTES = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 900}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}


def st_handler(client: ModuleType = httpx2) -> Callable[[Any], Any]:
    """Token, a job by id, and job creation, as a handler for ``client.MockTransport`` (httpx2, or
    httpx for its baseline): canned bodies, no work that differs between callers."""

    def handle(request: Any) -> Any:
        if request.url.path.endswith("/connect/token"):
            return client.Response(200, content=TOKEN_BYTES, headers=JSON_HEADERS)
        if request.method == "POST":
            request.read()
        return client.Response(200, content=JOB_BYTES, headers=JSON_HEADERS)

    return handle


def unthrottled(catalog: Catalog | None = None) -> Catalog:
    """A copy of the catalog with each rate budget raised out of reach (the budget code still runs)."""
    catalog = catalog or load()
    connectors = {}
    for name, connector in catalog.connectors.items():
        http = connector.model.http
        if http.rateLimit:
            limit = msgspec.structs.replace(http.rateLimit, requests=10**9)
            model = msgspec.structs.replace(
                connector.model, http=msgspec.structs.replace(http, rateLimit=limit)
            )
            connector = replace(connector, model=model)
        connectors[name] = connector
    return replace(catalog, connectors=connectors)


def find(catalog: Catalog, ref: str, fallback: str) -> str:
    """``ref`` when the catalog has it, else ``fallback`` (definitions land over time)."""
    kind = "dataSources" if ref.split(".")[1].startswith("select") else "actions"
    connector, key = ref.split(".")
    return ref if key in catalog.connectors[connector].definitions[kind] else fallback


ActionCall = tuple[str, dict[str, Any]]


def job_actions(catalog: Catalog) -> tuple[ActionCall, ActionCall]:
    """getJob and createJob calls (rawRequest stands in for getJob where it is not defined yet)."""
    if find(catalog, "servicetitan.getJob", "") == "servicetitan.getJob":
        get: ActionCall = ("servicetitan.getJob", {"id": 400001})
    else:
        get = ("servicetitan.rawRequest", {"urlType": "jpm", "path": "/jobs/400001"})
    create = catalog.find("actions", "servicetitan.createJob").model.examples[0]
    return get, ("servicetitan.createJob", dict(create))
