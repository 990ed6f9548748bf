"""Bad input is refused before anything is sent: a typed error naming the field, CLI exit 2.

Every test here runs against a transport that records each request, and asserts that it recorded
none (or, for a flow, none past the step that read the bad value):

* ServiceTitan ids are positive: any id input (path, query, body, the items of ``…Ids``) that is 0 or
  negative is refused (a Hypothesis property over every id input of every definition);
* Servicebay and Homebase360 document ids are not empty and hold no ``/``, ``\\``, ``..`` or control
  characters;
* a raw path or a path parameter holding a dot segment is refused however it is spelled (percent-
  encoded, double-encoded, with ``\\`` as the separator), also when the value came from an earlier
  step's response;
* a flow file over 10 MB or 100 levels of nesting, or with an unknown filter, is ``invalid_flow``
  naming the place in the file;
* ``flow run --dry-run`` sends nothing, with or without a trigger.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from component import catalog as catalog_module
from component import cli as cli_module
from component import templates
from component.catalog import LoadedDefinition
from component.errors import InputValidationError
from component.flows import FlowError, load_flow, run_flow
from component.jsontext import MAX_BYTES, MAX_DEPTH
from component.models import Flow, parse
from component.runtime import Runtime, check_inputs
from tests.conftest import CONNECTIONS, ROOT, SB_API, FakeClock, all_definitions, make_runtime

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
EXAMPLES = 200 if SLOW else 5
CATALOG = catalog_module.load(ROOT)
DEFINITIONS = all_definitions(CATALOG)
ID_NAME = re.compile(r"^(id|ids|[A-Za-z]+Id|[A-Za-z]+Ids)$")


class Recorder:
    """A transport handler that records every request and answers 599: a test asserts it saw none."""

    def __init__(self, answer: Callable[[httpx2.Request], httpx2.Response] | None = None) -> None:
        self.requests: list[httpx2.Request] = []
        self.answer = answer

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.answer(request) if self.answer else httpx2.Response(599)


@pytest.fixture
def sent() -> Recorder:
    return Recorder()


@pytest.fixture
def runtime(sent: Recorder) -> Runtime:
    return make_runtime(CATALOG, sent, FakeClock(), env={})


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, runtime: Runtime) -> Callable[..., Result]:
    """The CLI on the recording runtime, no connection variables from outside."""
    for connector in CATALOG.connectors.values():
        for prop in connector.model.connection.schema_["properties"].values():
            if "x-env" in prop:
                monkeypatch.delenv(prop["x-env"], raising=False)
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: runtime)

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli_module.cli, ["--root", str(ROOT), *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    return run


def error_of(result: Result) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(result.stderr)["error"]
    return error


def paths_of(error: InputValidationError | dict[str, Any]) -> list[str]:
    problems = error.problems if isinstance(error, InputValidationError) else error["problems"]
    return [problem["path"] for problem in problems]


def connection_file(tmp_path: Path, *, keyed: bool = False, connector: str = "servicetitan") -> str:
    file = tmp_path / f"{connector}.json"
    data = CONNECTIONS if keyed else CONNECTIONS[connector]
    file.write_text(json.dumps(data))
    return str(file)


def call(runtime: Runtime, definition: LoadedDefinition, inputs: Any, *, dry_run: bool = False) -> Any:
    connection = CONNECTIONS[definition.connector]
    if definition.kind == "triggers":
        return check_inputs(definition, inputs)
    if definition.kind == "dataSources":
        return asyncio.run(runtime.picklist(definition.ref, inputs, connection, dry_run=dry_run))
    return asyncio.run(runtime.run(definition.ref, inputs, connection, dry_run=dry_run))


def example(definition: LoadedDefinition) -> dict[str, Any]:
    return dict(definition.model.examples[0]) if definition.model.examples else {}


# --- ServiceTitan ids are positive ---------------------------------------------------------------


def _integer(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "integer" or (isinstance(kind, list) and "integer" in kind)


def id_schemas(schema: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema of an id (``id``, ``…Id``, the items of ``…Ids``) in an input schema."""
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and ID_NAME.match(name):
                if _integer(prop):
                    yield f"{path}.{name}", prop
                items = prop.get("items")
                if isinstance(items, dict) and _integer(items):
                    yield f"{path}.{name}[]", items
            yield from id_schemas(prop, f"{path}.{name}")
        for key in ("items", "anyOf", "oneOf", "allOf"):
            value = schema.get(key)
            for index, part in enumerate(value if isinstance(value, list) else [value] if value else []):
                yield from id_schemas(part, f"{path}.{key}[{index}]" if isinstance(value, list) else path)


SERVICETITAN = [d for d in DEFINITIONS if d.connector == "servicetitan"]
ALL_ID_SCHEMAS = [
    (definition.ref, where, schema)
    for definition in SERVICETITAN
    for where, schema in id_schemas(definition.model.inputs)
]
# the ids a form sets directly: inputs at the top (path, query and body) and the items of top-level id lists
TOP_IDS = [
    (definition, where.split(".")[1].removesuffix("[]"), where.endswith("[]"))
    for definition in SERVICETITAN
    if definition.kind != "triggers"
    for where, _ in id_schemas(definition.model.inputs)
    if where.count(".") == 1
]


def test_every_servicetitan_id_input_is_at_least_one() -> None:
    assert len(ALL_ID_SCHEMAS) > 200  # path, query and body ids, nested ones too
    unbounded = [(ref, where) for ref, where, schema in ALL_ID_SCHEMAS if schema.get("minimum", 0) < 1]
    assert unbounded == []


def test_a_negative_id_is_refused_by_the_cli_and_nothing_is_sent(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    connection = connection_file(tmp_path)
    for inputs, field in (
        ({"id": -5}, "$.id"),
        ({"id": 0}, "$.id"),
        ({"jobAppointmentId": 500001, "technicianIds": [4001, -2]}, "$.technicianIds[1]"),
    ):
        ref = "servicetitan.getCustomer" if "id" in inputs else "servicetitan.assignTechnicians"
        result = invoke("run", ref, "--inputs", json.dumps(inputs), "--connection", connection)
        assert result.exit_code == 2, result.stderr
        error = error_of(result)
        assert error["type"] == "invalid_input"
        assert field in paths_of(error), error
    assert sent.requests == []


@pytest.mark.parametrize(
    ("definition", "name", "is_list"), TOP_IDS, ids=[f"{d.ref}.{n}" for d, n, _ in TOP_IDS]
)
def test_any_non_positive_servicetitan_id_is_refused_before_sending(
    definition: LoadedDefinition, name: str, is_list: bool
) -> None:
    recorder = Recorder()
    runtime = make_runtime(CATALOG, recorder, FakeClock(), env={})

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not SLOW)
    @given(value=st.integers(max_value=0))
    def refused(value: int) -> None:
        inputs = {**example(definition), name: [value] if is_list else value}
        with pytest.raises(InputValidationError) as caught:
            call(runtime, definition, inputs)
        assert any(path.startswith(f"$.{name}") for path in paths_of(caught.value)), caught.value.problems
        assert recorder.requests == []

    refused()


def test_the_property_reaches_every_kind_of_servicetitan_id() -> None:
    names = {name for _, name, _ in TOP_IDS}
    assert {"id", "customerId", "technicianIds", "ids", "jobId"} <= names
    assert len({d.ref for d, _, _ in TOP_IDS}) > 50


# --- Servicebay and Homebase360 document ids -----------------------------------------------------

DOCUMENT_IDS = [
    (definition, name)
    for definition in DEFINITIONS
    if definition.connector in ("servicebay", "homebase360")
    for name, prop in (definition.model.inputs.get("properties") or {}).items()
    if re.match(r"^(id|[A-Za-z]+Id)$", name) and prop.get("type") == "string"
]
BAD_DOCUMENT_IDS = ["", "a/b", "a\\b", "..", "a..b", "\\..\\admin", "../x", "a\nb", "a\x00b", "a\u2028b"]


def test_document_ids_are_found() -> None:
    assert len(DOCUMENT_IDS) > 60
    assert {d.connector for d, _ in DOCUMENT_IDS} == {"servicebay", "homebase360"}


@pytest.mark.parametrize(("definition", "name"), DOCUMENT_IDS, ids=[f"{d.ref}.{n}" for d, n in DOCUMENT_IDS])
def test_a_bad_document_id_is_refused_naming_it(
    definition: LoadedDefinition, name: str, runtime: Runtime, sent: Recorder
) -> None:
    for value in BAD_DOCUMENT_IDS:
        with pytest.raises(InputValidationError) as caught:
            call(runtime, definition, {**example(definition), name: value})
        assert f"$.{name}" in paths_of(caught.value), (value, caught.value.problems)
    assert sent.requests == []


# --- paths: dot segments however spelled ---------------------------------------------------------

RAW = [d for d in DEFINITIONS if d.key == "rawRequest"]
ENCODED_TRAVERSAL = [
    "/%2F..%2Fx",
    "/a/%2e%2e/b",
    "/a/%2E%2e",
    "/a/%252e%252e/b",  # decoded twice
    "/a/%5c..%5cb",
    "/a%5C..%5Cadmin",
    "/a/..%2fb",
    "/a/.%2Fb",
    "/a%5cb",  # an encoded backslash, which servers may read as '/'
    "/%2F%2Fevil.example/x",
    "/a/%0d%0aHost:%20evil",
]


@pytest.mark.parametrize("definition", RAW, ids=[d.ref for d in RAW])
@pytest.mark.parametrize("path", ENCODED_TRAVERSAL)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "send"])
def test_encoded_traversal_in_a_raw_path_is_refused_naming_the_path(
    definition: LoadedDefinition, path: str, dry_run: bool, runtime: Runtime, sent: Recorder
) -> None:
    inputs = {"path": path, **({"urlType": "jpm"} if definition.connector == "servicetitan" else {})}
    with pytest.raises(InputValidationError) as caught:
        call(runtime, definition, inputs, dry_run=dry_run)
    assert paths_of(caught.value) == ["$.path"]
    assert sent.requests == []


def test_encoded_traversal_exits_2_from_the_cli(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    connection = connection_file(tmp_path, connector="servicebay")
    result = invoke(
        "run", "servicebay.rawRequest", "--inputs", '{"path": "/%2F..%2Fx"}', "--connection", connection
    )
    assert result.exit_code == 2
    error = error_of(result)
    assert error["type"] == "invalid_input" and paths_of(error) == ["$.path"]
    assert sent.requests == []


@pytest.mark.parametrize(
    "value",
    ["\\..\\admin", "..\\admin", "%2e%2e", "%252e%252E", "a%2F..%2Fb", "x/../y", ".", "a\\.\\b", "%0a"],
)
def test_a_path_parameter_holding_a_dot_segment_is_refused_naming_it(value: str) -> None:
    with pytest.raises(templates.TemplateError) as caught:
        templates.render_path("/customers/{inputs.customerId}/notes", {"inputs": {"customerId": value}})
    assert caught.value.field == "customerId"


def test_a_path_parameter_without_a_dot_segment_is_still_one_encoded_segment() -> None:
    scope = {"inputs": {"id": "a/b\\c%2Fd 50%"}}
    assert templates.render_path("/x/{inputs.id}", scope) == "/x/a%2Fb%5Cc%252Fd%2050%25"


def test_a_connection_value_reaching_a_path_is_checked_too(runtime: Runtime, sent: Recorder) -> None:
    connection = {**CONNECTIONS["servicebay"], "orgId": "org\\..\\admin"}
    with pytest.raises(InputValidationError) as caught:
        asyncio.run(runtime.run("servicebay.listServices", {}, connection, dry_run=True))
    assert paths_of(caught.value) == ["$.orgId"]
    assert sent.requests == []


def test_a_vendor_id_from_one_response_cannot_walk_a_later_path() -> None:
    """A lookup answers with the id ``\\..\\admin``; the next step would put it into its path."""

    def vendor(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"success": True, "data": {"id": "\\..\\admin", "firstName": "X"}})

    recorder = Recorder(vendor)
    runtime = make_runtime(CATALOG, recorder, FakeClock(), env={})
    flow = parse(
        Flow,
        {
            "name": "hostile id",
            "steps": [
                {"name": "find", "action": "servicebay.lookupCustomer", "inputs": {"email": "a@b.co"}},
                {
                    "name": "read",
                    "action": "servicebay.getCustomer",
                    "inputs": {"customerId": "$steps.find.data.id"},
                },
            ],
        },
    )
    summary = asyncio.run(run_flow(runtime, flow, CONNECTIONS))
    assert summary["failed"] == "read"
    error = summary["steps"][1]["error"]
    assert error["type"] == "invalid_input" and "$.customerId" in paths_of(error)
    assert [str(r.url.copy_with(query=None)) for r in recorder.requests] == [
        f"{SB_API}/organisations/org-1/customers/lookup"
    ]


# --- flow files ----------------------------------------------------------------------------------

STEP = {"name": "tech", "picklist": "servicetitan.selectTechnician", "inputs": {}}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def write_flow(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "flow.json"
    file.write_text(text)
    return file


def test_a_flow_file_over_10_mb_is_refused(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    padding = "x" * (MAX_BYTES + 1)
    file = write_flow(tmp_path, json.dumps({"name": "big", "description": padding, "steps": [STEP]}))
    result = invoke("flow", "run", str(file), "--connection", connection_file(tmp_path, keyed=True))
    assert result.exit_code == 2, result.stderr
    error = error_of(result)
    assert error["type"] == "invalid_flow" and "10 MB" in error["message"]
    assert paths_of(error) == ["$"]
    assert sent.requests == []


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000], ids=["just-too-deep", "deeper-than-the-parser"])
def test_a_flow_nested_too_deeply_is_refused_naming_where(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path, depth: int
) -> None:
    step = json.dumps({**STEP, "inputs": {"deep": "DEEP"}}).replace(
        '"DEEP"', '{"a": ' * depth + "1" + "}" * depth
    )
    file = write_flow(tmp_path, '{"name": "deep", "steps": [' + step + "]}")  # too deep for json.dumps
    result = invoke("flow", "run", str(file), "--connection", connection_file(tmp_path, keyed=True))
    assert result.exit_code == 2, result.stderr
    error = error_of(result)
    assert error["type"] == "invalid_flow" and f"deeper than {MAX_DEPTH} levels" in error["message"]
    (where,) = paths_of(error)
    assert where.startswith("$.steps[0].inputs.deep.a.a.a")
    assert sent.requests == []


@pytest.mark.parametrize(
    ("inputs", "where"),
    [
        ({"jobAppointmentId": "$steps.tech.result.0.key|evil", "technicianIds": [1]}, "jobAppointmentId"),
        ({"jobAppointmentId": 1, "technicianIds": ["$steps.tech.result.0.key|evil"]}, "technicianIds[0]"),
    ],
)
def test_an_unknown_filter_is_refused_naming_where(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path, inputs: dict[str, Any], where: str
) -> None:
    steps = [STEP, {"name": "assign", "action": "servicetitan.assignTechnicians", "inputs": inputs}]
    file = write_flow(tmp_path, json.dumps({"name": "filters", "steps": steps}))
    result = invoke("flow", "run", str(file), "--connection", connection_file(tmp_path, keyed=True))
    assert result.exit_code == 2, result.stderr
    error = error_of(result)
    assert error["type"] == "invalid_flow" and "unknown filter 'evil'" in error["message"]
    assert paths_of(error) == [f"$.steps[1].inputs.{where}"]
    assert sent.requests == []


def test_load_flow_refuses_depth_and_size_as_invalid_flow(tmp_path: Path) -> None:
    with pytest.raises(FlowError) as caught:
        load_flow(write_flow(tmp_path, json.dumps({"name": "d", "steps": [{**STEP, "inputs": nested(200)}]})))
    assert caught.value.kind == "invalid_flow" and caught.value.exit_code == 2


# --- flow run --dry-run sends nothing ------------------------------------------------------------

TRIGGERED = {
    "name": "dispatch new jobs",
    "trigger": {
        "trigger": "servicetitan.pollChangesTrigger",
        "inputs": {"resourceType": "jobs", "lookBack": "2026-01-01"},
    },
    "steps": [
        STEP,
        {"name": "job", "action": "servicetitan.getJob", "inputs": {"id": "$trigger.record.id"}},
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


def dry_run(invoke: Callable[..., Result], tmp_path: Path, flow: dict[str, Any], *extra: str) -> Result:
    file = write_flow(tmp_path, json.dumps(flow))
    connection = connection_file(tmp_path, keyed=True)
    return invoke("flow", "run", str(file), "--connection", connection, "--dry-run", *extra)


def test_dry_run_of_a_triggered_flow_sends_nothing_and_shows_the_poll_and_the_steps(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    state = str(tmp_path / "state.db")
    result = dry_run(invoke, tmp_path, TRIGGERED, "--instance", "i-1", "--state", state)
    assert result.exit_code == 0, result.stderr
    assert sent.requests == []
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["committed"], summary["ok"]) == ("dry-run", False, True)
    request = summary["trigger"]["request"]
    assert request["method"] == "GET" and request["url"].endswith("/jpm/v2/tenant/987654321/jobs")
    assert request["query"]["modifiedOnOrAfter"] == "2026-01-01" and request["query"]["page"] == 1
    assert request["headers"]["Authorization"] == "Bearer ***"
    (run,) = summary["runs"]
    tech, job, assign = run["steps"]
    assert tech["status"] == "ok" and tech["output"]["url"].endswith(
        "/settings/v2/tenant/987654321/technicians"
    )
    assert job["status"] == "waiting" and job["needs"] == ["$trigger"]
    assert job["inputs"] == {"id": "$trigger.record.id"}  # left as written: there is no event yet
    assert assign["status"] == "waiting" and assign["needs"] == ["job", "tech"]
    # and again: a dry run committed no state, so the preview is the same
    again = dry_run(invoke, tmp_path, TRIGGERED, "--instance", "i-1", "--state", state)
    assert json.loads(again.stdout)["trigger"] == summary["trigger"]
    assert sent.requests == []


def test_dry_run_of_a_new_watermark_instance_shows_the_one_request_that_checks_the_connection(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    flow = {**TRIGGERED, "trigger": {**TRIGGERED["trigger"], "inputs": {"resourceType": "jobs"}}}
    result = dry_run(invoke, tmp_path, flow, "--instance", "i-2", "--state", str(tmp_path / "s.db"))
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)["trigger"]["request"]
    assert request["url"].endswith("/jobs") and "modifiedOnOrAfter" in request["query"]
    assert sent.requests == []  # a dry run sends nothing


def test_dry_run_of_an_id_set_trigger_previews_its_list_request(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    flow = {
        "name": "new servicebay customers",
        "trigger": {"trigger": "servicebay.newCustomer", "inputs": {}},
        "steps": [
            {"name": "read", "action": "servicebay.getCustomer", "inputs": {"customerId": "$trigger.id"}},
        ],
    }
    result = dry_run(invoke, tmp_path, flow, "--instance", "i-3", "--state", str(tmp_path / "s.db"))
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["trigger"]["request"]["url"] == f"{SB_API}/organisations/org-1/customers"
    assert summary["runs"][0]["steps"][0]["inputs"] == {"customerId": "$trigger.id"}
    assert sent.requests == []


def test_dry_run_of_a_flow_without_a_trigger_sends_nothing(
    invoke: Callable[..., Result], sent: Recorder, tmp_path: Path
) -> None:
    job = {"name": "job", "action": "servicetitan.getJob", "inputs": {"id": 400001}}
    flow = {"name": "plain", "steps": [STEP, job, TRIGGERED["steps"][2]]}
    result = dry_run(invoke, tmp_path, flow)
    assert result.exit_code == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert [s["status"] for s in steps] == ["ok", "ok", "waiting"]
    assert sent.requests == []
