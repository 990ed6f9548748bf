"""Flows: checked whole before the first request, run in order against the sandbox, stopped at the
first failing step; the example flows in flows/ and the demo run end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from component import catalog as catalog_module
from component.auth import TokenCache
from component.cli import cli
from component.demo import run_demo, unsound
from component.flows import FlowError, check_flow, load_flow, run_flow
from component.models import Flow, parse
from component.policy import BudgetRegistry
from component.runtime import Runtime
from component.sandbox import Sandbox
from tests.conftest import FakeClock

CATALOG = catalog_module.load()
FLOWS = sorted((Path(__file__).resolve().parents[1] / "flows").glob("*.json"))
JOB = {
    "customerId": 100001,
    "locationId": 200001,
    "businessUnitId": 1001,
    "jobTypeId": 2001,
    "campaignId": 3001,
    "priority": "Normal",
    "appointments": [{"start": "2026-12-01T15:00:00Z", "end": "2026-12-01T17:00:00Z"}],
}
FLOW: dict[str, Any] = {
    "name": "pick and assign",
    "steps": [
        {"name": "tech", "picklist": "servicetitan.selectTechnician", "inputs": {}},
        {"name": "job", "action": "servicetitan.createJob", "inputs": JOB},
        {
            "name": "assign",
            "action": "servicetitan.assignTechnicians",
            "inputs": {
                "jobAppointmentId": "$steps.job.data.firstAppointmentId",
                "technicianIds": ["$steps.tech.result.0.key|int"],
            },
        },
    ],
}


def flow(data: dict[str, Any]) -> Flow:
    return parse(Flow, data)


def go(sandbox: Sandbox, model: Flow, **options: Any) -> dict[str, Any]:
    runtime = sandbox.runtime(
        catalog=CATALOG, tokens=TokenCache(), budgets=BudgetRegistry(), clock=FakeClock()
    )

    async def scenario() -> dict[str, Any]:
        async with runtime:
            return await run_flow(runtime, model, sandbox.connections(), **options)

    return asyncio.run(scenario())


def test_a_flow_runs_its_steps_in_order_and_reads_earlier_outputs() -> None:
    sandbox = Sandbox()
    summary = go(sandbox, flow(FLOW))
    assert summary["ok"] is True and [s["name"] for s in summary["steps"]] == ["tech", "job", "assign"]
    job = summary["steps"][1]["output"]["data"]
    assign = summary["steps"][2]
    assert assign["inputs"] == {"jobAppointmentId": job["firstAppointmentId"], "technicianIds": [4001]}
    assert assign["output"]["data"]["id"] == job["firstAppointmentId"]
    assert all(step["ms"] >= 0 for step in summary["steps"])


def test_a_failing_step_stops_the_flow_and_is_named() -> None:
    sandbox = Sandbox()
    sandbox.faults("servicetitan").inject(400, "The campaign is inactive.", times=1)
    summary = go(sandbox, flow({**FLOW, "steps": FLOW["steps"][1:2] + FLOW["steps"][:1]}))
    assert summary["ok"] is False and summary["failed"] == "job" and len(summary["steps"]) == 1
    assert summary["steps"][0]["error"]["message"] == "The campaign is inactive."


def test_dry_run_shows_requests_and_what_waits_for_outputs() -> None:
    summary = go(Sandbox(), flow(FLOW), dry_run=True)
    statuses = [(s["name"], s["status"]) for s in summary["steps"]]
    assert statuses == [("tech", "ok"), ("job", "ok"), ("assign", "waiting")]
    assert summary["steps"][1]["output"]["method"] == "POST" and summary["steps"][2]["needs"] == [
        "job",
        "tech",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": [{"name": "a", "action": "servicetitan.nope", "inputs": {}}]}, "unknown action"),
        (
            {
                "steps": [
                    {
                        "name": "a",
                        "action": "servicetitan.assignTechnicians",
                        "inputs": {"jobAppointmentId": "$steps.b.data.id", "technicianIds": [1]},
                    }
                ]
            },
            "does not run before",
        ),
        (
            {
                "steps": [
                    {
                        "name": "a",
                        "action": "servicetitan.assignTechnicians",
                        "inputs": {"jobAppointmentId": "$trigger.id", "technicianIds": [1]},
                    }
                ]
            },
            "only available",
        ),
        (
            {
                "steps": [
                    {
                        "name": "a",
                        "action": "servicetitan.assignTechnicians",
                        "inputs": {"jobAppointmentId": "x", "technicianIds": [1]},
                    }
                ]
            },
            "is not of type 'integer'",
        ),
        (
            {
                "steps": [
                    {"name": "a", "action": "servicetitan.listTechnicians", "inputs": {}},
                    {"name": "a", "action": "servicetitan.listTechnicians", "inputs": {}},
                ]
            },
            "used twice",
        ),
        (
            {
                "steps": [
                    {
                        "name": "a",
                        "action": "servicetitan.listTechnicians",
                        "picklist": "servicetitan.selectTechnician",
                    }
                ]
            },
            "one action or one picklist",
        ),
    ],
)
def test_unsound_flows_are_refused_before_any_request(change: dict[str, Any], message: str) -> None:
    sandbox = Sandbox()
    with pytest.raises(FlowError) as caught:
        go(sandbox, flow({"name": "bad", **change}))
    assert message in caught.value.message
    assert sandbox["servicetitan"].requests == 0


def test_flow_files_are_read_with_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "steps": []}))
    with pytest.raises(FlowError) as caught:
        load_flow(bad)
    assert caught.value.problems[0]["path"] == "$.steps"


def test_cli_flow_run_prints_steps_and_exits_non_zero_on_failure(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(FLOW))
    result = CliRunner().invoke(cli, ["flow", "run", str(good), "--sandbox"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True and "3/3 assign" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**FLOW, "steps": [FLOW["steps"][0], {**FLOW["steps"][2], "name": "x"}]}))
    result = CliRunner().invoke(cli, ["flow", "run", str(broken), "--sandbox"])
    assert result.exit_code == 2 and "does not run before" in result.stderr


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_example_flows_run_against_the_sandbox(path: Path) -> None:
    summary = go(Sandbox(), load_flow(path))
    assert summary["ok"] is True, summary.get("failed")


def test_there_are_example_flows_for_each_vendor_and_across_them() -> None:
    connectors = []
    for path in FLOWS:
        model = load_flow(path)
        used = {(step.action or step.picklist or "").split(".")[0] for step in model.steps}
        connectors.append(used)
        assert check_flow(model, CATALOG) == [], path.name
    assert len(FLOWS) >= 4
    assert {"servicetitan"} in connectors and {"servicebay"} in connectors and {"homebase360"} in connectors
    assert {"servicetitan", "servicebay", "homebase360"} in connectors


def test_the_demo_runs_every_example_flow() -> None:
    sandbox = Sandbox()
    runtime = Runtime(CATALOG, transport=sandbox.transport(), tokens=TokenCache(), budgets=BudgetRegistry())
    summary = asyncio.run(run_demo(runtime, sandbox, None))
    assert summary["ok"] is True and len(summary["flows"]) == len(FLOWS)


def test_an_unsound_flow_is_reported_as_failed_not_raised() -> None:
    bad = flow(
        {
            "name": "bad",
            "steps": [
                {"name": "a", "action": "servicebay.getOrganisation", "inputs": {}},
                {"name": "b", "action": "servicebay.noSuchAction", "inputs": {}},
            ],
        }
    )
    problems = check_flow(bad, CATALOG)
    summary = unsound(bad, FlowError("not sound", problems=problems))
    assert summary["ok"] is False and summary["failed"] == "b"
    assert [s["status"] for s in summary["steps"]] == ["not run", "not run"]
    assert "error" not in summary["steps"][0]
    assert summary["steps"][1]["error"]["problems"][0]["message"].startswith("unknown action")


def test_flow_output_and_logs_show_no_credential(tmp_path: Path) -> None:
    from component.sandbox import CREDENTIALS

    good = tmp_path / "good.json"
    good.write_text(json.dumps(FLOW))
    result = CliRunner().invoke(cli, ["-v", "--debug", "flow", "run", str(good), "--sandbox"])
    assert result.exit_code == 0, result.output
    secrets = [
        v[k] for v in CREDENTIALS.values() for k in ("clientSecret", "applicationKey", "apiKey") if k in v
    ]
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr
