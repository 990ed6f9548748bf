"""A wrong type anywhere in a Servicebay or Homebase360 write is a 400 in the vendor's format that
names the field, never a 500, and nothing is stored: every field of every create and update body,
each replaced by values of the wrong JSON types."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest

from component.sandbox import Sandbox, doc_id
from component.sandbox.servicebay import FIELDS, ORG

WRONG: dict[str, Any] = {"object": {"x": {}}, "array": [[1]], "number": 3.5, "boolean": True, "string": "x"}
SB_KEY = "sandbox-servicebay-key"
SB_BODIES: dict[str, dict[str, Any]] = {  # a valid create body of each resource
    "customers": {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"},
    "tickets": {
        "customerId": doc_id("customers", 0),
        "serviceTime": "2026-12-01T15:00:00Z",
        "endTime": "2026-12-01T17:00:00Z",
        "serviceLocation": "offsite",
    },
    "services": {"title": "Tune-up", "priceType": "fixed", "price": 89},
    "inventory": {"itemName": "Filter", "price": 12.5, "stockCount": 3},
    "quotes": {
        "customerId": doc_id("customers", 0),
        "services": [{"title": "Tune-up", "price": 89, "quantity": 1}],
    },
    "invoices": {
        "customerId": doc_id("customers", 0),
        "inventoryItems": [{"title": "Filter", "price": 5, "quantity": 2}],
    },
    "calendar-events": {
        "title": "Van service",
        "startTime": "2026-12-01T15:00:00Z",
        "endTime": "2026-12-01T16:00:00Z",
    },
}
HB_CUSTOMER = {"firstName": "Ann", "phone": {"mobile": "+13035550101"}, "email": ["ann@example.com"]}
HB_JOB = {
    "customerId": doc_id("customers", 0),
    "start": "2026-03-03T15:00:00Z",
    "end": "2026-03-03T17:00:00Z",
    "lineItems": [{"name": "Window Cleaning", "quantity": 1, "unitPrice": "150.00"}],
    "note": "Side gate",
    "leadSource": {"online": True},
}
# Homebase360's fields and the JSON types each takes (the sandbox's rules, from the vendor's spec)
HB_TYPES = {
    "customers": {
        "firstName": {"string"},
        "lastName": {"string"},
        "notes": {"string"},
        "notifications": {"boolean"},
        "phone": {"object"},
        "email": {"array"},
        "address": {"array"},
        "tags": {"array"},
    },
    "jobs": {
        "customerId": {"string"},
        "start": {"string"},
        "end": {"string"},
        "lineItems": {"array"},
        "note": {"string"},
        "leadSource": {"object"},
    },
}


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(rate_limits={"servicebay": None})


def send(sandbox: Sandbox, method: str, url: str, headers: dict[str, str], body: Any) -> httpx2.Response:
    async def go() -> httpx2.Response:
        async with httpx2.AsyncClient(transport=sandbox.transport()) as client:
            return await client.request(method, url, headers=headers, json=body)

    return asyncio.run(go())


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return ({kind} if isinstance(kind, str) else set(kind)) | ({"number"} if "integer" in kind else set())


def _stored(sandbox: Sandbox, vendor: str, partition: str, name: str) -> int:
    return len(sandbox[vendor].state.partition(partition)[name].loaded())


@pytest.mark.parametrize("resource", sorted(FIELDS))
def test_servicebay_refuses_a_wrong_type_in_any_field(sandbox: Sandbox, resource: str) -> None:
    base = f"http://servicebay.sandbox/api/v1/organisations/{ORG}/{resource}"
    headers = {"x-api-key": SB_KEY}
    created = send(sandbox, "POST", base, headers, SB_BODIES[resource])
    assert created.status_code == 201, created.text
    item = f"{base}/{created.json()['data']['id']}"
    before = send(sandbox, "GET", item, headers, None).json()
    stored = _stored(sandbox, "servicebay", ORG, resource)
    for field, schema in FIELDS[resource].items():
        allowed = _types(schema)
        for kind, value in WRONG.items():
            if kind in allowed:
                continue
            for method, url in (("POST", base), ("PUT", item)):
                answer = send(sandbox, method, url, headers, {**SB_BODIES[resource], field: value})
                assert answer.status_code == 400, (method, field, value, answer.text)
                assert answer.json()["success"] is False and field in answer.json()["error"]
    assert _stored(sandbox, "servicebay", ORG, resource) == stored
    assert send(sandbox, "GET", item, headers, None).json() == before


@pytest.mark.parametrize("resource", sorted(HB_TYPES))
def test_homebase360_refuses_a_wrong_type_in_any_field(sandbox: Sandbox, resource: str) -> None:
    base = f"http://homebase360.sandbox/api/v1/{resource}"
    headers = {"x-api-key": "sandbox-homebase360-key"}
    body = HB_CUSTOMER if resource == "customers" else HB_JOB
    created = send(sandbox, "POST", base, headers, body)
    assert created.status_code in (200, 201), created.text
    stored = _stored(sandbox, "homebase360", "sandbox-business", resource)
    for field, allowed in HB_TYPES[resource].items():
        for kind, value in WRONG.items():
            if kind in allowed:
                continue
            answer = send(sandbox, "POST", base, headers, {**body, field: value})
            assert answer.status_code == 400, (field, value, answer.text)
            assert answer.json()["success"] is False and field in answer.json()["error"]
    assert _stored(sandbox, "homebase360", "sandbox-business", resource) == stored
