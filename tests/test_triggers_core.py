"""The poll core on its own: markers, purity, state checks, trigger definition checks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest

from component.catalog import Catalog
from component.errors import InputValidationError
from component.models import FormatError, Trigger, parse
from component.runtime import Runtime
from component.triggers import StateMismatchError, StateStoreError
from component.triggers.checks import problems
from component.triggers.core import CLOCK_STEP_BACK, FUTURE_SKEW
from component.triggers.markers import NS, to_iso, to_ns
from tests.conftest import (
    SB_CONNECTION,
    ST_API,
    ST_CONNECTION,
    ST_TOKEN_URL,
    FakeClock,
    FakeVendor,
    make_runtime,
)

JOBS = f"{ST_API}/jpm/v2/tenant/{ST_CONNECTION['tenant']}/jobs"


def test_markers_compare_whatever_the_spelling() -> None:
    base = to_ns("2026-03-01T10:00:00Z")
    assert base is not None
    assert to_ns("2026-03-01T10:00:00.0000000Z") == base
    assert to_ns("2026-03-01T12:00:00+02:00") == base
    assert to_ns("2026-03-01T10:00:00") == base  # no zone: UTC
    assert to_ns("2026-03-01T10:00:00.1234567Z") == base + 123_456_700
    assert to_ns({"_seconds": base // NS, "_nanoseconds": 5}) == base + 5
    assert to_ns(base // NS) == base  # epoch seconds
    assert to_ns(base // 1_000_000) == base  # epoch milliseconds
    assert to_ns("2026-03-01") == base - 10 * 3600 * NS
    for bad in ("yesterday", "2026-13-01", "", None, True, [1], 1e308, float("inf"), float("nan"), 10**40):
        assert to_ns(bad) is None  # the last four name no calendar date
    assert to_iso(base + 123_456_789) == "2026-03-01T10:00:00.123456Z"  # rounded down: a safe lower bound


def page(records: list[dict[str, Any]], more: bool = False) -> httpx2.Response:
    return httpx2.Response(200, json={"page": 1, "pageSize": 1000, "hasMore": more, "data": records})


def job(rid: int, created: str, modified: str) -> dict[str, Any]:
    return {"id": rid, "createdOn": created, "modifiedOn": modified}


def test_poll_is_pure_same_state_in_same_events_out(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route(
        "GET",
        JOBS,
        page(
            [
                job(1, "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"),
                job(2, "2025-01-01T00:00:00Z", "2026-01-03T00:00:00Z"),
            ]
        ),
    )
    state = {"mode": "watermark", "variant": "jobs", "floor": "2026-01-01", "watermark": None, "recent": {}}
    one = asyncio.run(
        runtime.poll("servicetitan.pollChangesTrigger", {"resourceType": "jobs"}, ST_CONNECTION, state)
    )
    two = asyncio.run(
        runtime.poll("servicetitan.pollChangesTrigger", {"resourceType": "jobs"}, ST_CONNECTION, state)
    )
    assert one.events == two.events
    assert [(e["type"], e["id"]) for e in one.events] == [("created", "1"), ("updated", "2")]
    assert one.state["watermark"] == "2026-01-03T00:00:00Z"
    assert json.loads(json.dumps(one.state)) == one.state
    query = vendor.api_requests[0].url.params
    assert query["modifiedOnOrAfter"] == "2026-01-01"
    assert query["sort"] == "+ModifiedOn"
    assert query["pageSize"] == "1000"
    assert vendor.api_requests[0].headers["ST-App-Key"] == ST_CONNECTION["applicationKey"]  # same pipeline


def test_the_next_poll_asks_from_the_watermark_less_the_overlap(runtime: Runtime, vendor: FakeVendor) -> None:
    vendor.route("GET", JOBS, page([]))
    state = {
        "mode": "watermark",
        "variant": "jobs",
        "floor": "2026-01-01",
        "watermark": "2026-01-03T00:01:00.5000000Z",
        "recent": {"9": "2026-01-03T00:01:00.5000000Z"},
    }
    result = asyncio.run(
        runtime.poll("servicetitan.pollChangesTrigger", {"resourceType": "jobs"}, ST_CONNECTION, state)
    )
    assert vendor.api_requests[0].url.params["modifiedOnOrAfter"] == "2026-01-03T00:00:00.500000Z"
    assert result.events == []
    assert result.state["watermark"] == state["watermark"]
    assert result.state["recent"] == state["recent"]


def test_a_new_instance_without_look_back_checks_the_connection_with_one_request(
    runtime: Runtime, vendor: FakeVendor, clock: FakeClock
) -> None:
    vendor.route("GET", JOBS, page([]))
    result = asyncio.run(
        runtime.poll("servicetitan.pollChangesTrigger", {"resourceType": "jobs"}, ST_CONNECTION, None)
    )
    assert result.events == [] and result.requests == 1
    (sent,) = [r for r in vendor.requests if r.url.path.endswith("/jobs")]
    assert to_ns(sent.url.params["modifiedOnOrAfter"]) == int(clock.wall()) * NS
    assert to_ns(result.state["floor"]) == int(clock.wall()) * NS


def test_bad_credentials_show_on_a_new_instance_s_first_poll(
    runtime: Runtime, vendor: FakeVendor, clock: FakeClock
) -> None:
    from component.errors import AuthError

    vendor.route("GET", JOBS, httpx2.Response(401, json={"title": "Unauthorized", "status": 401}))
    with pytest.raises(AuthError):
        asyncio.run(
            runtime.poll("servicetitan.pollChangesTrigger", {"resourceType": "jobs"}, ST_CONNECTION, None)
        )


def test_an_instance_cannot_silently_switch_resource(runtime: Runtime) -> None:
    state = {"mode": "watermark", "variant": "jobs", "floor": "2026-01-01", "watermark": None, "recent": {}}
    with pytest.raises(StateMismatchError, match="new instance id"):
        asyncio.run(
            runtime.poll(
                "servicetitan.pollChangesTrigger", {"resourceType": "invoices"}, ST_CONNECTION, state
            )
        )


def test_bad_inputs_are_refused_before_anything_is_sent(runtime: Runtime, vendor: FakeVendor) -> None:
    for inputs in ({"resourceType": "widgets"}, {"resourceType": "jobs", "lookBack": "last week"}):
        with pytest.raises(InputValidationError):
            asyncio.run(runtime.poll("servicetitan.pollChangesTrigger", inputs, ST_CONNECTION, None))
    assert vendor.requests == []


def test_an_unsorted_page_stops_the_poll_rather_than_miss_records(catalog: Catalog, clock: FakeClock) -> None:
    vendor = FakeVendor()
    vendor.route(
        "GET",
        f"{ST_API}/accounting/v2/tenant/{ST_CONNECTION['tenant']}/invoices",
        page(
            [
                job(2, "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z"),
                job(1, "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"),
            ],
            more=True,
        ),
    )
    runtime = make_runtime(catalog, vendor, clock, env={})
    state = {
        "mode": "watermark",
        "variant": "invoices",
        "floor": "2026-01-01",
        "watermark": None,
        "recent": {},
    }
    with pytest.raises(Exception, match="not sorted by modifiedOn"):
        asyncio.run(
            runtime.poll(
                "servicetitan.pollChangesTrigger", {"resourceType": "invoices"}, ST_CONNECTION, state
            )
        )
    assert ST_TOKEN_URL in {str(r.url) for r in vendor.token_requests}


def test_definitions_give_exactly_one_way_of_polling() -> None:
    base = {"key": "t", "label": "T", "description": "d", "request": {"method": "GET", "path": "/x"}}
    with pytest.raises(FormatError, match="exactly one"):
        parse(Trigger, base)
    with pytest.raises(FormatError, match="exactly one"):
        parse(Trigger, {**base, "watermark": {"field": "m"}, "seen": {}})


def test_trigger_checks_name_the_field_and_problem() -> None:
    trigger = parse(
        Trigger,
        {
            "key": "t",
            "label": "T",
            "description": "d",
            "inputs": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"kind": {"type": "string", "enum": ["a"]}},
            },
            "request": {"method": "GET", "path": "/x"},
            "watermark": {"field": "m"},
            "sorted": True,
            "variants": {"input": "kind", "cases": {"a": {"path": "/{connection.nope}"}, "b": {}}},
            "emit": {"created": "$inputs.showNew"},
        },
    )
    found = dict(problems(trigger, {"tenant": {}}))
    assert found["$.variants.cases"] == "the cases must be exactly the enum of input 'kind'"
    assert found["$.variants.input"] == "input 'kind' must be required or have a default"
    assert "does not name a connection field" in found["$.variants.cases.a.path"]
    assert found["$.emit.created"] == "$inputs.showNew does not name an input"
    assert found["$.sorted"] == "keyset paging (sorted) needs page pagination"


def test_a_capped_list_must_be_unpaged_windowed_and_ask_for_its_cap() -> None:
    base = {"key": "t", "label": "T", "description": "d", "watermark": {"field": "m"}}
    trigger = parse(
        Trigger,
        {
            **base,
            "request": {"method": "GET", "path": "/x", "query": {"limit": 50}},
            "pagination": {"style": "cursor", "items": "x"},
            "capped": {"limit": 100},
        },
    )
    found = dict(problems(trigger, {}))
    assert found["$.capped"] == "a capped list has no pages; a paged list is not cut short"
    assert found["$.capped.split"] == "splitting by window needs a window"
    assert found["$.capped.limit"] == "the request asks for 50 records a page, not 100"
    good = parse(
        Trigger,
        {
            **base,
            "request": {"method": "GET", "path": "/x", "query": {"limit": 100}},
            "window": {"back": 1},
            "capped": {"limit": 100},
        },
    )
    assert dict(problems(good, {})) == {}
    for uncapped in (
        {"request": {"method": "GET", "path": "/x", "query": {"limit": 100}}},
        {"request": {"method": "GET", "path": "/x"}, "pagination": {"style": "none", "limitParam": "max"}},
    ):
        found = dict(problems(parse(Trigger, {**base, **uncapped, "window": {"back": 1}}), {}))
        assert found == {
            "$.capped": "a list with no pages that asks for a limit may be cut short: declare capped"
        }


# --- the watermark never runs ahead of the clock; a state this trigger did not write is refused -----

POLL = "servicetitan.pollChangesTrigger"
GOOD = {
    "mode": "watermark",
    "variant": "jobs",
    "floor": "2026-01-01",
    "watermark": "2026-06-01T00:00:00Z",
    "recent": {"7": "2026-06-01T00:00:00Z"},
    "version": 1,
    "trigger": POLL,
}


def poll_jobs(runtime: Runtime, state: Any) -> Any:
    return asyncio.run(runtime.poll(POLL, {"resourceType": "jobs"}, ST_CONNECTION, state))


def test_a_record_stamped_in_the_future_fires_once_and_never_becomes_the_watermark(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    later = [job(8, "2026-07-01T00:00:00Z", "2026-07-01T00:00:00Z")]
    future = job(9, "9999-12-31T00:00:00Z", "9999-12-31T00:00:00Z")
    vendor.route("GET", JOBS, page([future]), page([future]), page([*later, future]))
    one = poll_jobs(runtime, GOOD)
    assert [(e["type"], e["id"]) for e in one.events] == [("created", "9")]
    assert one.state["watermark"] == GOOD["watermark"]  # not 9999: nothing after it would ever fire
    assert one.state["recent"]["9"] == future["modifiedOn"]  # remembered, so it fires once
    assert poll_jobs(runtime, one.state).events == []
    three = poll_jobs(runtime, one.state)
    assert [(e["type"], e["id"]) for e in three.events] == [("created", "8")]
    assert three.state["watermark"] == "2026-07-01T00:00:00Z"
    assert [r.url.params["modifiedOnOrAfter"] for r in vendor.api_requests] == [
        "2026-05-31T23:59:00Z",
        "2026-05-31T23:59:00Z",
        "2026-05-31T23:59:00Z",
    ]


def test_a_future_record_stamped_again_earlier_is_a_new_version(runtime: Runtime, vendor: FakeVendor) -> None:
    """The vendor corrects a date far ahead, or stamps the next change with its real clock."""
    state = {**GOOD, "recent": {**GOOD["recent"], "9": "9999-12-31T00:00:00Z"}}
    vendor.route("GET", JOBS, page([job(9, "2026-05-01T00:00:00Z", "2026-06-02T00:00:00Z")]))
    result = poll_jobs(runtime, state)
    assert [(e["type"], e["id"]) for e in result.events] == [("updated", "9")]
    assert result.state["recent"]["9"] == "2026-06-02T00:00:00Z"


def test_a_version_stamped_earlier_than_the_one_handled_fires_and_one_read_twice_fires_once(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    """Markers name versions: an earlier one is another version (another vendor server's clock), not
    one to skip. A record listed twice in one poll fires once, as read last (its current version)."""
    older, newer = "2026-06-01T00:00:10Z", "2026-06-01T00:00:05Z"
    vendor.route(
        "GET",
        JOBS,
        page([job(7, "2026-05-01T00:00:00Z", "2026-05-31T23:59:30Z")]),
        page([job(8, "2026-05-01T00:00:00Z", older), job(8, "2026-05-01T00:00:00Z", newer)]),
    )
    one = poll_jobs(runtime, GOOD)
    assert [(e["type"], e["id"]) for e in one.events] == [("updated", "7")]
    two = poll_jobs(runtime, GOOD)
    assert [(e["id"], e["changedAt"]) for e in two.events] == [("8", newer)]
    assert two.state["recent"]["8"] == newer


def test_the_watermark_stops_at_the_clock_plus_the_skew_inclusive(
    runtime: Runtime, vendor: FakeVendor, clock: FakeClock
) -> None:
    bound = int(clock.wall() * NS) + int(FUTURE_SKEW * NS)
    at, beyond = to_iso(bound), to_iso(bound + 1000)
    vendor.route("GET", JOBS, page([job(1, at, at), job(2, beyond, beyond)]))
    result = poll_jobs(runtime, GOOD)
    assert [e["id"] for e in result.events] == ["1", "2"]
    assert result.state["watermark"] == at
    assert set(result.state["recent"]) == {"1", "2"}  # 7 fell out of the overlap window


BAD_STATES: list[Any] = [
    [],
    {},
    "state",
    7,
    {**GOOD, "watermark": 1e308},
    {**GOOD, "watermark": float("inf")},
    {**GOOD, "watermark": float("nan")},
    {**GOOD, "watermark": True},
    {**GOOD, "watermark": "2026-99-01"},
    {**GOOD, "floor": None},
    {**GOOD, "floor": 1_800_000_000},
    {**GOOD, "floor": "soon"},
    {**GOOD, "recent": []},
    {**GOOD, "recent": {"7": 1_800_000_000}},
    {**GOOD, "recent": {"7": "later"}},
    {**GOOD, "mode": None},
    {**GOOD, "mode": "cursor"},
    {k: v for k, v in GOOD.items() if k != "mode"},
    {**GOOD, "version": 2},
    {**GOOD, "version": "1"},
    {**GOOD, "version": True},
    {**GOOD, "trigger": "homebase360.updatedJob"},
    {**GOOD, "mode": "seen", "seen": []},
    {**GOOD, "variant": ["jobs"]},
    {**GOOD, "watermark": "9999-12-31T00:00:00Z"},  # frozen by an older version
    {**GOOD, "cuts": "2026-06-01T00:00:00Z"},
    {**GOOD, "cuts": ["2026-06-01T00:00:00Z", "noon"]},
    {**GOOD, "cuts": ["2026-06-01T00:00:00Z"] * 2001},
]


@pytest.mark.parametrize("state", BAD_STATES, ids=[json.dumps(s)[:60] for s in BAD_STATES])
def test_a_state_this_trigger_did_not_write_is_refused_before_anything_is_sent(
    runtime: Runtime, vendor: FakeVendor, state: Any
) -> None:
    vendor.route("GET", JOBS, page([]))
    with pytest.raises(StateStoreError) as raised:
        poll_jobs(runtime, state)
    assert raised.value.kind in ("state_store", "state_mismatch") and raised.value.exit_code == 2
    assert vendor.requests == []


def test_a_seen_state_is_checked_too(runtime: Runtime, vendor: FakeVendor) -> None:
    good = {"mode": "seen", "variant": None, "floor": "2026-01-01T00:00:00Z", "seen": ["a"], "version": 1}
    for state in (
        {**good, "seen": "a"},
        {**good, "seen": [1]},
        {**good, "floor": "x"},
        {**good, "trigger": POLL},
    ):
        with pytest.raises(StateStoreError):
            asyncio.run(runtime.poll("servicebay.newJob", {}, SB_CONNECTION, state))
    assert vendor.requests == []


def test_a_state_written_before_the_trigger_was_recorded_in_it_still_polls(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    vendor.route("GET", JOBS, page([]))
    old = {k: v for k, v in GOOD.items() if k != "trigger"}
    assert poll_jobs(runtime, old).state == GOOD


def test_a_clock_that_stepped_back_a_little_keeps_its_watermark_and_one_far_back_is_refused(
    runtime: Runtime, vendor: FakeVendor, clock: FakeClock
) -> None:
    now = int(clock.wall() * NS)
    ahead = to_iso(now + int(CLOCK_STEP_BACK * NS))  # written just before this clock stepped back 5 minutes
    vendor.route("GET", JOBS, page([]))
    result = poll_jobs(runtime, {**GOOD, "watermark": ahead, "recent": {"7": ahead}})
    assert result.state["watermark"] == ahead and result.state["recent"] == {"7": ahead}
    beyond = to_iso(now + int(CLOCK_STEP_BACK * NS) + 1000)
    with pytest.raises(StateStoreError, match="more than 300 s past this poll's clock"):
        poll_jobs(runtime, {**GOOD, "watermark": beyond, "recent": {"7": beyond}})
    assert len(vendor.api_requests) == 1


def test_an_event_id_names_the_change_not_its_spelling() -> None:
    from component.triggers.core import event_id

    same = event_id("flow-1", "servicetitan.pollChangesTrigger", "7", "2027-01-15T08:00:00Z")
    assert event_id("flow-1", "servicetitan.pollChangesTrigger", "7", "2027-01-15T08:00:00.0000000Z") == same
    others = {
        event_id("flow-2", "servicetitan.pollChangesTrigger", "7", "2027-01-15T08:00:00Z"),
        event_id("flow-1", "servicebay.newJob", "7", "2027-01-15T08:00:00Z"),
        event_id("flow-1", "servicetitan.pollChangesTrigger", "8", "2027-01-15T08:00:00Z"),
        event_id("flow-1", "servicetitan.pollChangesTrigger", "7", "2027-01-15T08:00:00.0000001Z"),
        event_id("flow-1", "servicetitan.pollChangesTrigger", "7", None),
    }
    assert same not in others and len(others) == 5


@pytest.mark.parametrize(
    "passing",
    [[], {"cursor": None, "ids": []}, {"cursor": True, "ids": []}, {"cursor": "c1", "ids": [1]}, {"ids": []}],
)
def test_a_scan_cursor_this_trigger_did_not_write_is_refused(passing: Any) -> None:
    from component.triggers.core import _check_state

    state = {"mode": "seen", "floor": "2027-01-01T00:00:00Z", "seen": [], "pass": passing}
    with pytest.raises(StateStoreError, match="pass is not a cursor"):
        _check_state(state, "servicebay.newCustomer", "seen", None)
    good = {**state, "pass": {"cursor": "c1", "ids": ["c0"]}}
    assert _check_state(good, "servicebay.newCustomer", "seen", None) == good


@pytest.mark.parametrize(
    ("resource", "path", "param", "value"),
    [
        ("customers", "/crm/v2/tenant/{t}/customers", "active", "Any"),
        ("technicians", "/settings/v2/tenant/{t}/technicians", "active", "Any"),
        ("invoices", "/accounting/v2/tenant/{t}/invoices", "activeState", "All"),
    ],
)
def test_include_deactivated_widens_the_list_and_fires_deactivated_only_when_on(
    runtime: Runtime, vendor: FakeVendor, resource: str, path: str, param: str, value: str
) -> None:
    url = f"{ST_API}{path.format(t=ST_CONNECTION['tenant'])}"
    vendor.route(
        "GET",
        url,
        page(
            [
                {**job(1, "2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"), "active": True},
                {**job(2, "2025-01-01T00:00:00Z", "2026-01-03T00:00:00Z"), "active": False},
                {**job(3, "2026-01-02T00:00:00Z", "2026-01-04T00:00:00Z"), "active": False},
            ]
        ),
    )
    state = {"mode": "watermark", "variant": resource, "floor": "2026-01-01", "watermark": None, "recent": {}}
    ref = "servicetitan.pollChangesTrigger"
    on = asyncio.run(
        runtime.poll(ref, {"resourceType": resource, "includeDeactivated": True}, ST_CONNECTION, state)
    )
    assert [(e["type"], e["id"]) for e in on.events] == [
        ("created", "1"), ("deactivated", "2"), ("deactivated", "3"),
    ]  # fmt: skip
    assert vendor.api_requests[-1].url.params[param] == value
    again = asyncio.run(
        runtime.poll(ref, {"resourceType": resource, "includeDeactivated": True}, ST_CONNECTION, on.state)
    )
    assert again.events == []  # each deactivation fires once
    off = asyncio.run(runtime.poll(ref, {"resourceType": resource}, ST_CONNECTION, state))
    assert param not in vendor.api_requests[-1].url.params  # off: the request is as it always was
    assert {e["type"] for e in off.events} == {"created", "updated"}


def test_include_deactivated_is_refused_where_the_vendor_cannot_list_them(
    runtime: Runtime, vendor: FakeVendor
) -> None:
    for resource in ("jobs", "projects"):
        with pytest.raises(InputValidationError) as caught:
            asyncio.run(
                runtime.poll(
                    "servicetitan.pollChangesTrigger",
                    {"resourceType": resource, "includeDeactivated": True},
                    ST_CONNECTION,
                    None,
                )
            )
        assert caught.value.problems[0]["path"] == "$.includeDeactivated"
    assert not vendor.api_requests


def test_deactivations_must_hang_off_a_false_by_default_boolean_input() -> None:
    base = {
        "key": "t", "label": "T", "description": "d",
        "request": {"method": "GET", "path": "/x"},
        "watermark": {"field": "m"},
        "deactivations": {"input": "inactive", "query": {"active": "Any"}},
    }  # fmt: skip
    for prop, expected in (
        (None, "does not name a boolean input"),
        ({"type": "string"}, "does not name a boolean input"),
        ({"type": "boolean", "default": True}, "must default to false"),
    ):
        inputs = {"type": "object", "properties": {} if prop is None else {"inactive": prop}}
        found = list(problems(parse(Trigger, {**base, "inputs": inputs}), {}))
        assert ("$.deactivations.input", found[0][1]) == found[0] and expected in found[0][1], found
    good = {"type": "object", "properties": {"inactive": {"type": "boolean", "default": False}}}
    assert list(problems(parse(Trigger, {**base, "inputs": good}), {})) == []
