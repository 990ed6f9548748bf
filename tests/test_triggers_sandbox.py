"""End to end on the in-process sandbox: records created through actions fire exactly once.

The sandbox and the runtime share one fake clock, so record timestamps, trigger starting points,
lease expiry and the Servicebay rate budget all move together, without real waiting.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from component import catalog as catalog_module
from component.auth import TokenCache
from component.catalog import Catalog
from component.cli import cli
from component.errors import InputValidationError
from component.models import Flow, parse
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox
from component.triggers import SQLiteStateStore, poll_once
from component.triggers.flow import run_triggered_flow
from tests.conftest import ROOT, FakeClock


class Shared:
    """One sandbox for the module (seeding it is the slow part) on one fake clock."""

    def __init__(self, catalog: Catalog) -> None:
        # The sandbox seeds ServiceTitan modifiedOn up to 60 days after its "today"; the clock starts
        # beyond that, so only records created by the tests are new.
        self.clock = FakeClock(wall=datetime(2027, 1, 25, 9, tzinfo=UTC).timestamp())
        self.sandbox = Sandbox(
            today=date(2026, 11, 22),
            clock=lambda: datetime.fromtimestamp(self.clock.wall(), tz=UTC),
            rate_limits={"servicebay": None},
        )
        self.runtime = Runtime(
            catalog,
            transport=self.sandbox.transport(),
            clock=self.clock,
            tokens=TokenCache(),
            budgets=BudgetRegistry(),
            env={},
        )


class World:
    """A test's view: the shared sandbox, a store of its own, and the clock moved on a minute."""

    def __init__(self, shared: Shared, tmp_path: Path) -> None:
        self.clock = shared.clock
        self.sandbox = shared.sandbox
        self.runtime = shared.runtime
        self.clock.t += 60  # records made by earlier tests are older than this test's start
        self.store = SQLiteStateStore(tmp_path / "state.db", clock=self.clock.wall)

    def run(self, ref: str, inputs: dict[str, Any]) -> Any:
        connector = ref.split(".")[0]
        return asyncio.run(self.runtime.run(ref, inputs, self.sandbox.connection(connector)))["data"]

    def poll(self, ref: str, inputs: dict[str, Any], instance: str = "e2e") -> list[dict[str, Any]]:
        delivered: list[dict[str, Any]] = []
        connector = ref.split(".")[0]
        outcome = asyncio.run(
            poll_once(
                self.runtime, ref, inputs, self.sandbox.connection(connector), self.store, instance,
                deliver=delivered.extend,
            )
        )  # fmt: skip
        assert outcome.status == "polled"
        for event in delivered:  # every vendor gives a time: the event carries it, and an identity
            assert event["changedAt"] is not None, event
            assert re.fullmatch(r"[0-9a-f]{32}", event["eventId"]), event
        return delivered

    def preview(self, ref: str, inputs: dict[str, Any], instance: str) -> list[dict[str, Any]]:
        """The events a poll would deliver now (a dry run: nothing committed)."""
        connector = ref.split(".")[0]
        outcome = asyncio.run(
            poll_once(
                self.runtime, ref, inputs, self.sandbox.connection(connector), self.store, instance,
                dry_run=True,
            )
        )  # fmt: skip
        return outcome.events


@pytest.fixture(scope="module")
def shared(catalog: Catalog) -> Shared:
    return Shared(catalog)


@pytest.fixture
def world(shared: Shared, tmp_path: Path) -> World:
    return World(shared, tmp_path)


def example(catalog: Catalog, ref: str) -> dict[str, Any]:
    return dict(catalog.find("actions", ref).model.examples[0])


def test_servicetitan_jobs_created_through_actions_fire_once(world: World, catalog: Catalog) -> None:
    inputs = {"resourceType": "jobs"}
    assert world.poll("servicetitan.pollChangesTrigger", inputs) == []  # the starting point
    world.clock.t += 5
    created = [
        world.run("servicetitan.createJob", example(catalog, "servicetitan.createJob"))["id"]
        for _ in range(3)
    ]
    world.clock.t += 5
    events = world.poll("servicetitan.pollChangesTrigger", inputs)
    assert [(e["type"], e["id"]) for e in events] == [("created", str(i)) for i in created]
    world.clock.t += 5
    assert world.poll("servicetitan.pollChangesTrigger", inputs) == []
    world.clock.t += 5
    more = world.run("servicetitan.createJob", example(catalog, "servicetitan.createJob"))["id"]
    world.clock.t += 5
    assert [e["id"] for e in world.poll("servicetitan.pollChangesTrigger", inputs)] == [str(more)]


def test_servicetitan_look_back_reads_the_seeded_records_once(world: World) -> None:
    inputs = {"resourceType": "technicians", "lookBack": "2000-01-01"}
    first = world.poll("servicetitan.pollChangesTrigger", inputs)
    assert first and len({e["id"] for e in first}) == len(first)
    assert {e["type"] for e in first} == {"created"}
    world.clock.t += 60
    assert world.poll("servicetitan.pollChangesTrigger", inputs) == []


def test_servicetitan_a_record_deactivated_fires_deactivated_once_only_when_asked(
    world: World, catalog: Catalog
) -> None:
    ref = "servicetitan.pollChangesTrigger"
    asked = {"resourceType": "customers", "includeDeactivated": True}
    plain = {"resourceType": "customers"}
    assert world.poll(ref, asked, "with") == [] and world.poll(ref, plain, "without") == []
    world.clock.t += 5
    world.run("servicetitan.updateCustomer", {"id": 100002, "active": False})
    world.run("servicetitan.updateCustomer", {"id": 100003, "doNotMail": True})
    world.clock.t += 5
    events = world.poll(ref, asked, "with")
    assert [(e["type"], e["id"]) for e in events] == [("deactivated", "100002"), ("updated", "100003")]
    assert events[0]["record"]["active"] is False
    # off (the default): the deactivated record is not listed at all, as before
    assert [(e["type"], e["id"]) for e in world.poll(ref, plain, "without")] == [("updated", "100003")]
    world.clock.t += 5
    assert world.poll(ref, asked, "with") == []  # exactly once
    # the accounting lists take activeState=All instead; jobs have no deactivated records to ask for
    payments = {"resourceType": "payments", "includeDeactivated": True}
    assert world.poll(ref, payments, "payments") == []
    world.clock.t += 5
    payment = example(catalog, "servicetitan.updatePayment")
    world.run("servicetitan.updatePayment", {**payment, "active": False})
    world.clock.t += 5
    events = world.poll(ref, payments, "payments")
    assert [(e["type"], e["id"]) for e in events] == [("deactivated", str(payment["id"]))]
    with pytest.raises(InputValidationError, match="includeDeactivated is not available for jobs"):
        world.poll(ref, {"resourceType": "jobs", "includeDeactivated": True}, "jobs")


def test_servicebay_jobs_created_through_actions_fire_once(world: World, catalog: Catalog) -> None:
    # New Customer reads the same way; its full scan of 12,000 seeded customers (120 requests a
    # poll) is left to tests/test_triggers_vendors.py against a smaller fake list.
    assert world.poll("servicebay.newJob", {}, "jobs") == []
    world.clock.t += 5
    first = world.run("servicebay.createJob", example(catalog, "servicebay.createJob"))
    second = world.run("servicebay.createJob", example(catalog, "servicebay.createJob"))
    world.clock.t += 5
    jobs = world.poll("servicebay.newJob", {}, "jobs")
    assert sorted(e["id"] for e in jobs) == sorted([first["id"], second["id"]])
    world.clock.t += 5
    assert world.poll("servicebay.newJob", {}, "jobs") == []


def test_servicebay_quotes_accepted_and_invoices_paid_through_actions_fire_once(
    world: World, catalog: Catalog
) -> None:
    assert world.poll("servicebay.quoteAccepted", {}, "quotes") == []
    assert world.poll("servicebay.invoicePaid", {}, "invoices") == []
    quote = world.run("servicebay.createQuote", example(catalog, "servicebay.createQuote"))
    invoice = world.run("servicebay.createInvoice", example(catalog, "servicebay.createInvoice"))
    world.clock.t += 5
    assert world.poll("servicebay.quoteAccepted", {}, "quotes") == []  # created, not yet accepted
    assert world.poll("servicebay.invoicePaid", {}, "invoices") == []
    world.run("servicebay.updateQuote", {"quoteId": quote["id"], "accepted": True})
    world.run("servicebay.updateInvoice", {"invoiceId": invoice["id"], "paid": True})
    world.clock.t += 5
    previewed = world.preview("servicebay.invoicePaid", {}, "invoices")
    assert [e["id"] for e in world.poll("servicebay.quoteAccepted", {}, "quotes")] == [quote["id"]]
    (paid,) = world.poll("servicebay.invoicePaid", {}, "invoices")
    assert paid["id"] == invoice["id"]
    assert paid["changedAt"] == world.run("servicebay.getInvoice", {"invoiceId": invoice["id"]})["paidDate"]
    assert [e["eventId"] for e in previewed] == [paid["eventId"]]  # the same change, the same identity
    world.clock.t += 5
    assert world.poll("servicebay.quoteAccepted", {}, "quotes") == []
    assert world.poll("servicebay.invoicePaid", {}, "invoices") == []


def test_servicebay_calendar_events_created_through_actions_fire_once(world: World) -> None:
    window = {"daysBack": 0, "daysAhead": 7}
    assert world.poll("servicebay.newCalendarEvent", window, "events") == []
    world.clock.t += 5
    inside = world.run(
        "servicebay.createCalendarEvent",
        {"title": "Site visit", "startTime": "2027-01-27T08:00:00Z", "endTime": "2027-01-27T09:00:00Z"},
    )
    world.run(  # outside the window: not listed
        "servicebay.createCalendarEvent",
        {"title": "Far off", "startTime": "2027-06-01T08:00:00Z", "endTime": "2027-06-01T09:00:00Z"},
    )
    world.clock.t += 5
    assert [e["id"] for e in world.poll("servicebay.newCalendarEvent", window, "events")] == [inside["id"]]
    world.clock.t += 5
    assert world.poll("servicebay.newCalendarEvent", window, "events") == []


def test_homebase360_jobs_created_and_updated_through_actions_fire_once(
    world: World, catalog: Catalog
) -> None:
    window = {"daysBack": 0, "daysAhead": 1}
    assert world.poll("homebase360.newJob", window, "new") == []
    assert world.poll("homebase360.updatedJob", window, "updated") == []
    world.clock.t += 5
    job = {
        **example(catalog, "homebase360.createJob"),
        "start": "2027-01-25T15:00:00Z",
        "end": "2027-01-25T16:00:00Z",
    }
    created = world.run("homebase360.createJob", job)
    job_id = created["jobId"]
    world.clock.t += 5
    assert [(e["type"], e["id"]) for e in world.poll("homebase360.newJob", window, "new")] == [
        ("created", job_id)
    ]
    assert world.poll("homebase360.updatedJob", window, "updated") == []  # new jobs fire on New Job only
    world.clock.t += 5
    world.run("homebase360.updateJob", {"jobId": job_id, "note": "Gate code changed"})
    world.clock.t += 5
    assert world.poll("homebase360.newJob", window, "new") == []
    assert [(e["type"], e["id"]) for e in world.poll("homebase360.updatedJob", window, "updated")] == [
        ("updated", job_id)
    ]
    world.clock.t += 5
    assert world.poll("homebase360.updatedJob", window, "updated") == []


FLOW = {
    "name": "New ServiceTitan jobs are dispatched",
    "trigger": {
        "trigger": "servicetitan.pollChangesTrigger",
        "inputs": {"resourceType": "jobs", "showUpdated": False},
    },
    "steps": [
        {"name": "technicians", "picklist": "servicetitan.selectTechnician", "inputs": {}},
        {
            "name": "list",
            "action": "servicetitan.listTechnicians",
            "inputs": {"ids": ["$steps.technicians.result.0.key|int"], "pageSize": 1},
        },
    ],
}


def test_a_flow_runs_its_steps_once_per_event(world: World, catalog: Catalog) -> None:
    flow = parse(Flow, FLOW)
    connections = world.sandbox.connections()

    def once() -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            async with world.runtime:
                return await run_triggered_flow(world.runtime, flow, connections, world.store, "flow-1")

        return asyncio.run(go())

    assert once()["events"] == 0
    world.clock.t += 5
    for _ in range(2):
        world.run("servicetitan.createJob", example(catalog, "servicetitan.createJob"))
    world.clock.t += 5
    summary = once()
    assert summary["ok"] and summary["committed"] and summary["events"] == 2
    assert len(summary["runs"]) == 2 and all(run["ok"] for run in summary["runs"])
    world.clock.t += 5
    assert once()["events"] == 0


def test_flow_run_cli_needs_an_instance_for_a_triggered_flow(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    flow = {
        **FLOW,
        "trigger": {**FLOW["trigger"], "inputs": {"resourceType": "technicians", "lookBack": "2000-01-01"}},
    }  # type: ignore[dict-item]
    path.write_text(json.dumps(flow))
    runner = CliRunner()
    missing = runner.invoke(cli, ["--root", str(ROOT), "flow", "run", str(path), "--sandbox"])
    assert missing.exit_code == 2 and "--instance" in json.loads(missing.stderr)["error"]["message"]
    args = [
        "--root",
        str(ROOT),
        "flow",
        "run",
        str(path),
        "--sandbox",
        "--instance",
        "f",
        "--state",
        str(tmp_path / "s.db"),
    ]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["committed"] and summary["events"] == len(summary["runs"]) > 0
    second = json.loads(runner.invoke(cli, args).stdout)
    assert second["events"] == 0


def test_poll_cli_on_the_sandbox(tmp_path: Path) -> None:
    args = ["--root", str(ROOT), "poll", "servicetitan.pollChangesTrigger", "--sandbox", "--instance", "t"]
    inputs = '{"resourceType": "technicians", "lookBack": "2000-01-01"}'
    result = CliRunner().invoke(
        cli, [*args, "--inputs", inputs, "--state", str(tmp_path / "s.db"), "--dry-run"]
    )
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and all(e["type"] == "created" for e in events)
    assert "dry run, nothing committed" in result.stderr


COVERED = {"servicebay.newCustomer"}  # a full scan of 12,000 customers (120 requests a poll)
TRIGGERS = [
    definition.ref
    for connector in catalog_module.load(ROOT).connectors.values()
    for definition in connector.definitions["triggers"].values()
    if definition.ref not in COVERED
]


@pytest.mark.parametrize("ref", TRIGGERS)
def test_every_triggers_first_example_polls_on_the_sandbox(world: World, catalog: Catalog, ref: str) -> None:
    inputs = dict(catalog.find("triggers", ref).model.examples[0])
    world.poll(ref, inputs)
    world.clock.t += 5
    assert world.poll(ref, inputs) == []  # nothing changed in between


def test_homebase360_new_job_fires_although_its_window_holds_more_jobs_than_the_cap(
    catalog: Catalog, tmp_path: Path
) -> None:
    """The sandbox holds about 400 jobs a day and answers at most 100 a request with no paging: the
    trigger splits the window until no answer is full, so a job added today is read and fires."""
    clock = FakeClock(wall=datetime(2026, 11, 22, 9, tzinfo=UTC).timestamp())
    sandbox = Sandbox(today=date(2026, 11, 22), clock=lambda: datetime.fromtimestamp(clock.wall(), tz=UTC))
    runtime = Runtime(
        catalog,
        transport=sandbox.transport(),
        clock=clock,
        tokens=TokenCache(),
        budgets=BudgetRegistry(),
        env={},
    )
    connection = sandbox.connection("homebase360")
    window = {"daysBack": 0, "daysAhead": 0}

    def poll() -> Any:
        delivered: list[dict[str, Any]] = []
        outcome = asyncio.run(
            poll_once(
                runtime, "homebase360.newJob", window, connection, store, "capped", deliver=delivered.extend
            )
        )
        return delivered, outcome

    with SQLiteStateStore(tmp_path / "state.db", clock=clock.wall) as store:
        assert poll()[0] == []
        clock.t += 5
        job = {
            **example(catalog, "homebase360.createJob"),
            "start": "2026-11-22T23:30:00Z",  # the day's last start: past the first 100 in start order
            "end": "2026-11-22T23:45:00Z",
        }
        job_id = asyncio.run(runtime.run("homebase360.createJob", job, connection))["data"]["jobId"]
        clock.t += 5
        events, outcome = poll()
        assert [(e["type"], e["id"]) for e in events] == [("created", job_id)]
        assert outcome.incomplete == []
        assert outcome.requests > 4  # the day came back full and was split
        clock.t += 5
        assert poll()[0] == []


def test_an_event_id_is_the_same_for_the_same_change_and_another_for_any_other(
    world: World, catalog: Catalog
) -> None:
    assert world.poll("servicebay.newJob", {}, "ids-a") == []
    assert world.poll("servicebay.newJob", {}, "ids-b") == []
    world.clock.t += 5
    job = world.run("servicebay.createJob", example(catalog, "servicebay.createJob"))
    world.clock.t += 5
    before = world.preview("servicebay.newJob", {}, "ids-a")
    (a,) = world.poll("servicebay.newJob", {}, "ids-a")
    (b,) = world.poll("servicebay.newJob", {}, "ids-b")
    assert a["id"] == b["id"] == job["id"] and a["changedAt"] == job["createdAt"]
    assert [e["eventId"] for e in before] == [a["eventId"]]
    assert a["eventId"] != b["eventId"]  # another instance


def test_servicebay_new_customer_scans_12000_customers_over_polls_of_50_requests(
    world: World, catalog: Catalog
) -> None:
    """Half a minute's worth of the key's 100 a minute per poll: a pass over 120 pages takes three
    polls, resumes from the state, and a customer added meanwhile fires exactly once."""
    connection = world.sandbox.connection("servicebay")

    def poll() -> tuple[list[dict[str, Any]], int]:
        delivered: list[dict[str, Any]] = []
        outcome = asyncio.run(
            poll_once(
                world.runtime, "servicebay.newCustomer", {}, connection, world.store, "scan",
                deliver=delivered.extend,
            )
        )  # fmt: skip
        world.clock.t += 60
        return delivered, outcome.requests

    first_pass = [poll() for _ in range(3)]
    assert [requests for _, requests in first_pass] == [50, 50, 20]
    assert all(events == [] for events, _ in first_pass)
    added = world.run("servicebay.createCustomer", example(catalog, "servicebay.createCustomer"))
    second_pass = [poll() for _ in range(3)]
    fired = [e["id"] for events, _ in second_pass for e in events]
    assert fired == [added["id"]]
    assert max(requests for _, requests in second_pass) <= 50
    assert all(events == [] for events, _ in (poll() for _ in range(3)))
