"""Event schemas: every trigger declares what it emits, the events it really emits fit, and a flow's
``$steps…``/``$trigger…`` references are checked against the output and event schemas before anything
is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from component import events
from component.catalog import Catalog
from component.cli import cli
from component.flows import check_flow
from component.formats import format_checker
from component.models import Flow, parse
from component.triggers import SQLiteStateStore
from tests.test_catalog import edit, only, problems, tree  # noqa: F401  (the fixture)
from tests.test_triggers_sandbox import World, example, shared, world  # noqa: F401  (fixtures)

ST_CASES = ("technicians", "projects", "payments")


def _event(catalog: Catalog, ref: str, case: str | None = None) -> dict[str, Any]:
    trigger = catalog.find("triggers", ref)
    return events.event_schema(catalog.connector(trigger.connector), trigger, case)


def _assert_fits(schema: dict[str, Any], found: list[dict[str, Any]]) -> None:
    assert found, "no events to check"
    validator = Draft202012Validator(schema, format_checker=format_checker())
    for event in found:
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_every_trigger_declares_its_event_in_the_catalog(catalog: Catalog) -> None:
    shown = catalog.to_json()["connectors"]
    count = 0
    for name, connector in catalog.connectors.items():
        for key, trigger in connector.definitions["triggers"].items():
            event = shown[name]["triggers"][key]["event"]
            assert event["required"] == ["eventId", "type", "id", "changedAt", "record"], trigger.ref
            assert event["properties"]["record"].get("properties") or event["properties"]["record"].get(
                "anyOf"
            )
            count += 1
    assert count == 8
    variants = shown["servicetitan"]["triggers"]["pollChangesTrigger"]["event"]["properties"]["record"]
    assert len(variants["anyOf"]) == 9


@pytest.mark.parametrize("case", ST_CASES)
def test_servicetitan_events_fit_their_schema(world: World, catalog: Catalog, case: str) -> None:  # noqa: F811
    inputs = {"resourceType": case, "lookBack": "2000-01-01"}
    found = world.poll("servicetitan.pollChangesTrigger", inputs, f"events-{case}")
    _assert_fits(_event(catalog, "servicetitan.pollChangesTrigger", case), found)


@pytest.mark.parametrize("case", ["customers", "technicians"])
def test_servicetitan_deactivated_events_fit_their_schema(world: World, catalog: Catalog, case: str) -> None:  # noqa: F811
    inputs = {"resourceType": case, "lookBack": "2000-01-01", "includeDeactivated": True}
    found = world.poll("servicetitan.pollChangesTrigger", inputs, f"deactivated-{case}")
    deactivated = [event for event in found if event["type"] == "deactivated"]
    assert deactivated and all(event["record"]["active"] is False for event in deactivated)
    assert all(event["record"]["active"] is not False for event in found if event not in deactivated)
    _assert_fits(_event(catalog, "servicetitan.pollChangesTrigger", case), found)
    jobs = _event(catalog, "servicetitan.pollChangesTrigger", "jobs")
    assert jobs["properties"]["type"]["enum"] == ["created", "updated"]  # jobs are never deactivated


def test_a_servicetitan_event_does_not_fit_another_resources_schema(world: World, catalog: Catalog) -> None:  # noqa: F811
    found = world.poll(
        "servicetitan.pollChangesTrigger", {"resourceType": "technicians", "lookBack": "2000-01-01"}
    )
    schema = _event(catalog, "servicetitan.pollChangesTrigger", "payments")
    assert list(Draft202012Validator(schema).iter_errors(found[0])), "the schemas do not tell records apart"


def test_servicebay_and_homebase360_events_fit_their_schema(world: World, catalog: Catalog) -> None:  # noqa: F811
    window = {"daysBack": 0, "daysAhead": 1}
    assert world.poll("servicebay.newJob", {}, "sb") == []
    assert world.poll("homebase360.newJob", window, "hb") == []
    world.clock.t += 5
    world.run("servicebay.createJob", example(catalog, "servicebay.createJob"))
    job = {
        **example(catalog, "homebase360.createJob"),
        "start": "2027-01-25T15:00:00Z",
        "end": "2027-01-25T16:00:00Z",
    }
    world.run("homebase360.createJob", job)
    world.clock.t += 5
    _assert_fits(_event(catalog, "servicebay.newJob"), world.poll("servicebay.newJob", {}, "sb"))
    _assert_fits(_event(catalog, "homebase360.newJob"), world.poll("homebase360.newJob", window, "hb"))


# --- a record source that does not resolve is refused ------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "path", "message"),
    [
        ("listJob#/properties/tickets/items", "$.record", "did you mean 'listJobs'"),
        ("listJobs#/properties/ticket/items", "$.record", "does not point into the output of listJobs"),
        ("getJob#/properties/id/type", "$.record", "is not a schema"),
    ],
)
def test_a_bad_record_source_is_refused(tree: Path, record: str, path: str, message: str) -> None:  # noqa: F811
    def change(d: dict[str, Any]) -> None:
        d["record"] = record

    edit(tree / "triggers/servicebay/newJob.json", change)
    found = only(problems(tree))
    assert (found.file, found.path) == ("triggers/servicebay/newJob.json", path)
    assert message in found.message


def test_variant_record_sources_must_cover_every_case(tree: Path) -> None:  # noqa: F811
    def change(d: dict[str, Any]) -> None:
        del d["record"]["payments"]

    edit(tree / "triggers/servicetitan/pollChangesTrigger.json", change)
    found = only(problems(tree))
    assert found.path == "$.record" and "one record source per variant case" in found.message


# --- flows: references checked against the schemas --------------------------------------------------------


def _flow(steps: list[dict[str, Any]], trigger: dict[str, Any] | None = None) -> Flow:
    data: dict[str, Any] = {"name": "f", "steps": steps}
    if trigger:
        data["trigger"] = trigger
    return parse(Flow, data)


JOB = {"name": "job", "action": "servicetitan.getJob", "inputs": {"id": 400001}}
TECH = {"name": "tech", "picklist": "servicetitan.selectTechnician", "inputs": {}}
JOBS = {"trigger": "servicetitan.pollChangesTrigger", "inputs": {"resourceType": "jobs"}}


@pytest.mark.parametrize(
    ("steps", "trigger", "message"),
    [
        (
            [
                JOB,
                {
                    "name": "c",
                    "action": "servicetitan.getCustomer",
                    "inputs": {"id": "$steps.job.data.customerID"},
                },
            ],
            None,
            "$steps.job.data has no field 'customerID'; did you mean '$steps.job.data.customerId'?",
        ),
        (
            [
                TECH,
                {
                    "name": "t",
                    "action": "servicetitan.getTechnician",
                    "inputs": {"id": "$steps.tech.result.0.kee|int"},
                },
            ],
            None,
            "$steps.tech.result.0 has no field 'kee'; did you mean '$steps.tech.result.0.key'?",
        ),
        (
            [
                {
                    "name": "c",
                    "action": "servicetitan.getCustomer",
                    "inputs": {"id": "$trigger.record.customerID"},
                }
            ],
            JOBS,
            "$trigger.record has no field 'customerID'; did you mean '$trigger.record.customerId'?",
        ),
        (
            [
                {
                    "name": "c",
                    "action": "servicetitan.getCustomer",
                    "inputs": {"id": "$trigger.recrd.customerId"},
                }
            ],
            JOBS,
            "$trigger has no field 'recrd'; did you mean '$trigger.record'?",
        ),
        (
            [
                JOB,
                {
                    "name": "c",
                    "action": "servicetitan.getCustomer",
                    "inputs": {"id": "{steps.job.data.jobNumbr}"},
                },
            ],
            None,
            "did you mean '$steps.job.data.jobNumber'?",
        ),
    ],
)
def test_a_bad_reference_is_named_with_a_did_you_mean(
    catalog: Catalog, steps: list[dict[str, Any]], trigger: dict[str, Any] | None, message: str
) -> None:
    found = check_flow(_flow(steps, trigger), catalog)
    assert len(found) == 1, found
    assert found[0]["path"] == f"$.steps[{len(steps) - 1}].inputs.id"
    assert message in found[0]["message"]


def test_good_references_pass(catalog: Catalog) -> None:
    steps = [
        JOB,
        TECH,
        {
            "name": "a",
            "action": "servicetitan.getAppointment",
            "inputs": {"id": "$steps.job.data.firstAppointmentId"},
        },
        {
            "name": "t",
            "action": "servicetitan.getTechnician",
            "inputs": {"id": "$steps.tech.result.0.key|int"},
        },
        {"name": "c", "action": "servicetitan.getCustomer", "inputs": {"id": "$trigger.record.customerId"}},
        {"name": "e", "action": "servicetitan.getJob", "inputs": {"id": "$trigger.id|int"}},
    ]
    assert check_flow(_flow(steps, JOBS), catalog) == []


def test_a_field_of_another_variant_is_refused_and_any_variant_field_passes_when_the_case_is_not_literal(
    catalog: Catalog,
) -> None:
    step = {"name": "c", "action": "servicetitan.getJob", "inputs": {"id": "$trigger.record.jobId"}}
    assert check_flow(_flow([step], JOBS), catalog)  # a job record has no jobId
    payments = {**JOBS, "inputs": {"resourceType": "appointments"}}
    assert check_flow(_flow([step], payments), catalog) == []  # an appointment has one


def test_the_example_flows_pass(catalog: Catalog) -> None:
    for path in sorted(Path("flows").glob("*.json")):
        assert check_flow(parse(Flow, json.loads(path.read_text())), catalog) == [], path


def test_flow_run_refuses_a_bad_trigger_reference_before_polling(tmp_path: Path) -> None:
    flow = {
        "name": "t",
        "trigger": JOBS,
        "steps": [
            {
                "name": "c",
                "action": "servicetitan.getCustomer",
                "inputs": {"id": "$trigger.record.customerID"},
            }
        ],
    }
    file = tmp_path / "flow.json"
    file.write_text(json.dumps(flow))
    state = tmp_path / "state.db"
    out = CliRunner().invoke(
        cli, ["flow", "run", str(file), "--sandbox", "--instance", "i", "--state", str(state)]
    )
    assert out.exit_code == 2, out.output
    error = json.loads(out.stderr)["error"]
    assert error["type"] == "invalid_flow"
    assert error["problems"][0]["message"].endswith("did you mean '$trigger.record.customerId'?")
    with SQLiteStateStore(state) as store:
        assert store.load("i") is None, "nothing, not even the first poll, ran"
