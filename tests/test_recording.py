"""pytest-recording wiring: committed cassettes replay through the ``vcr`` marker with our filters.

The cassettes under ``tests/cassettes/test_recording/`` were recorded from the fake vendor with
``--record-mode=once``; replay serves them without reaching the transport (``vendor.requests``
stays empty) and they hold no credential.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx2
import pytest

from component.catalog import Catalog
from component.runtime import Runtime
from tests.conftest import CANARIES, SB_API, SB_CONNECTION, ST_API, ST_CONNECTION, FakeVendor

CASSETTES = Path(__file__).parent / "cassettes" / "test_recording"
CUSTOMER = {"id": "abc123", "firstName": "Jane", "lastName": "Doe"}
TENANT = ST_CONNECTION["tenant"]


@pytest.mark.vcr
def test_servicebay_lookup_replays(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route(
        "GET",
        f"{SB_API}/organisations/org-1/customers/lookup",
        httpx2.Response(200, json={"success": True, "data": CUSTOMER}),
    )
    assert runtime.run_sync("servicebay.lookupCustomer", {"phone": "+13038286690"}, SB_CONNECTION) == {
        "data": CUSTOMER
    }
    assert vendor.requests == []  # served from the cassette


@pytest.mark.vcr
def test_servicetitan_token_and_action_replay(runtime: Runtime, vendor: FakeVendor, catalog: Catalog) -> None:
    url = f"{ST_API}/dispatch/v2/tenant/{TENANT}/appointment-assignments/assign-technicians"
    vendor.route("POST", url, httpx2.Response(200, json={"id": 4401, "jobId": 7}))
    inputs = {"jobAppointmentId": 500001, "technicianIds": [4001, 4002]}
    assert runtime.run_sync("servicetitan.assignTechnicians", inputs, ST_CONNECTION) == {
        "data": {"id": 4401, "jobId": 7}
    }
    assert vendor.requests == []  # token and action both served from the cassette


def test_committed_cassettes_hold_no_credentials() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) == 2
    for file in files:
        text = file.read_text()
        assert not any(canary in text for canary in CANARIES), file.name
        assert "tok-1" not in text and "Bearer" not in text.replace('"token_type": "Bearer"', "")
        assert "client_secret=REDACTED" in text or "servicebay" in file.name


def _forms(secret: str) -> set[str]:
    """A secret as it could be written: raw, URL-encoded or base64-encoded."""
    return {secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode()}


def test_no_cassette_holds_a_credential() -> None:
    from component.sandbox import CREDENTIALS

    secrets = set(CANARIES)
    for values in CREDENTIALS.values():
        secrets.update(values[key] for key in ("clientSecret", "applicationKey", "apiKey") if key in values)
    files = sorted(CASSETTES.parent.rglob("*.yaml"))
    assert len(files) > 2
    for file in files:
        text = file.read_text()
        for secret in secrets:
            assert not [form for form in _forms(secret) if form in text], (file.name, secret)
        assert "access_token: " not in text and "Bearer ey" not in text
