"""The service's OpenAPI 3.1 document: valid by the spec, one operation per definition, and honoured by
the live service under Schemathesis (sandbox mode): no server error, no response that breaks it.

A small example budget always runs; ``COMPONENT_SLOW_TESTS=1`` runs a larger one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, settings

from component.service.openapi import document
from component.service.server import build
from tests.conftest import ROOT
from tests.service_server import LiveService, live_service

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the test extra")
openapi_spec_validator = pytest.importorskip(
    "openapi_spec_validator", reason="openapi-spec-validator is in the test extra"
)

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
EXAMPLES = 25 if SLOW else 2


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    state = tmp_path_factory.mktemp("service") / "service.db"
    with live_service(state, root=ROOT, secret_key=Fernet.generate_key().decode()) as served:
        yield served


def test_the_document_is_valid_openapi_3_1_with_one_operation_per_definition(tmp_path: Path) -> None:
    _, service = build(root=ROOT, sandbox=True, state=tmp_path / "s.db", env={}, mcp=False)
    doc = document(service.app, secured=False)
    openapi_spec_validator.validate(doc)
    assert doc["openapi"] == "3.1.0"
    catalog = service.app.catalog
    for connector in catalog.connectors.values():
        for loaded in connector.definitions["actions"].values():
            operation = doc["paths"][f"/v1/actions/{loaded.ref}"]["post"]
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body["properties"].keys() == loaded.model.inputs.get("properties", {}).keys()
        for loaded in connector.definitions["dataSources"].values():
            assert f"/v1/picklists/{loaded.ref}" in doc["paths"]
        for loaded in connector.definitions["triggers"].values():
            assert f"/v1/triggers/{loaded.ref}/instances/{{instance}}/poll" in doc["paths"]
    operations = [op for path in doc["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    secured = document(service.app, secured=True)
    openapi_spec_validator.validate(secured)
    assert secured["security"] == [{"bearer": []}]


def test_the_live_document_is_the_generated_one(live: LiveService) -> None:
    import httpx2

    served = httpx2.get(f"{live.url}/openapi.json").json()
    assert served == document(live.service.app, secured=False)


def _not_our_failure(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx of the service's own: 502 and 504 carry a vendor's failure (the sandbox's 404 for an id
    that does not exist, say), typed; anything else at 500 or above is a failure."""
    if response.status_code >= 500:
        error = response.json().get("error", {}) if response.text else {}
        vendor_failure = response.status_code in (502, 504) and error.get("type") not in (None, "internal")
        assert vendor_failure, f"server error {response.status_code}: {response.text[:300]}"
    return None


@pytest.fixture(scope="module")
def live_schema(live: LiveService) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def test_the_live_service_honours_its_document(live_schema: Any) -> None:
    """Every operation, ``EXAMPLES`` generated cases each (Hypothesis, derandomized)."""
    from hypothesis import given
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    # Positive data acceptance is left out: a definition's rules (a flow's references, an action's
    # checks across fields) are stricter than JSON Schema can say, and 422 is then the right answer.
    excluded = [not_a_server_error, positive_data_acceptance]

    operations = [result.ok() for result in live_schema.get_all_operations()]
    assert len(operations) > 130
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def honoured(case: Any) -> None:
            if case.method.upper() == "POST" and (case.query or {}).get("timeout") is None:
                # a rate budget full for longer answers 429 at once instead of holding the request
                case.query = {**(case.query or {}), "timeout": 5}
            case.call_and_validate(excluded_checks=excluded, additional_checks=[_not_our_failure], timeout=60)

        try:
            honoured()
        except (Exception, BaseExceptionGroup) as failure:  # every operation runs; failures reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(failure)[:1500]}")
    assert not failures, "\n\n".join(failures)
