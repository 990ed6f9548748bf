"""Hostile input, generated for every action, picklist and trigger of every connector from the catalog.

Hypothesis (with hypothesis-jsonschema) draws inputs from each definition's own input schema, so a
definition added later is covered without a line here:

* a valid input builds a request: the dry run shows a URL under the connector's base URL, and the
  preview is plain JSON;
* an invalid input (an unknown field, a wrong type, a missing required field) is an
  ``InputValidationError`` naming that field, and nothing is sent;
* a path parameter holding ``../``, ``?``, ``#``, ``%``, non-ASCII or CR/LF is encoded into its one
  segment or refused.

CI draws a few examples per definition; ``COMPONENT_SLOW_TESTS=1`` draws many more.
"""

from __future__ import annotations

import asyncio
import json
import os
from functools import cache
from typing import Any
from urllib.parse import unquote

import httpx2
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from component import catalog as catalog_module
from component.catalog import LoadedDefinition
from component.errors import InputValidationError, RequestRefusedError
from component.runtime import Runtime, check_inputs
from component.templates import PLACEHOLDER
from tests.conftest import CONNECTIONS, ROOT, FakeClock, all_definitions, make_runtime
from tests.hypothesis_compat import install

install()

SLOW = os.environ.get("COMPONENT_SLOW_TESTS") == "1"
EXAMPLES = 200 if SLOW else 10
CATALOG = catalog_module.load(ROOT)
DEFINITIONS = all_definitions(CATALOG)
HOSTILE_SEGMENTS = [
    "../..",
    "..",
    ".",
    "a/../b",
    "a?b=1",
    "a#frag",
    "100%",
    "%2e%2e",
    "José",
    "a\r\nX: 1",
    "a\nb",
    "\x00",
]
SENT: list[httpx2.Request] = []


def _refuse_to_send(request: httpx2.Request) -> httpx2.Response:
    SENT.append(request)
    return httpx2.Response(599)


def runtime() -> Runtime:
    return make_runtime(CATALOG, _refuse_to_send, FakeClock(), env={})


RUNTIME = runtime()


@cache
def strategy(ref: str) -> st.SearchStrategy[Any]:
    definition = next(d for d in DEFINITIONS if d.ref == ref)
    schema = {k: v for k, v in definition.model.inputs.items() if not k.startswith("x-")}
    return from_schema(schema)


def preview(definition: LoadedDefinition, inputs: Any) -> dict[str, Any]:
    connection = CONNECTIONS[definition.connector]
    if definition.kind == "dataSources":
        return asyncio.run(RUNTIME.picklist(definition.ref, inputs, connection, dry_run=True))
    if definition.kind == "triggers":
        checked = check_inputs(definition, inputs)
        return {"checked": checked}
    return asyncio.run(RUNTIME.run(definition.ref, inputs, connection, dry_run=True))


def base_url(definition: LoadedDefinition) -> str:
    connector = CATALOG.connector(definition.connector).model.connection
    environment = CONNECTIONS[definition.connector].get("environment") or next(iter(connector.environments))
    return connector.environments[environment].baseUrl


def valid_or_refused(definition: LoadedDefinition, inputs: Any) -> dict[str, Any] | None:
    """The dry run of ``inputs``, or None when the runtime refuses them with a typed error."""
    try:
        return preview(definition, inputs)
    except (InputValidationError, RequestRefusedError):
        return None


def _settings() -> Any:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not SLOW,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("definition", DEFINITIONS, ids=[d.ref for d in DEFINITIONS])
def test_inputs_drawn_from_the_schema_build_a_request_or_are_refused_by_name(
    definition: LoadedDefinition,
) -> None:
    @_settings()
    @given(st.data())
    def check(data: st.DataObject) -> None:
        SENT.clear()
        inputs = data.draw(strategy(definition.ref), label="inputs")
        shown = valid_or_refused(definition, inputs)
        if shown is not None and "url" in shown:
            assert shown["url"].startswith(base_url(definition).rstrip("/") + "/")
            json.dumps(shown, allow_nan=False)  # plain JSON, nothing NaN
        assert SENT == []

        # now break it: an unknown field, a wrong type, or a missing required field
        if not isinstance(inputs, dict):
            return
        properties = definition.model.inputs.get("properties", {})
        required = [  # a required field with a default is filled in, not missing
            name
            for name in definition.model.inputs.get("required", [])
            if name in inputs and "default" not in properties.get(name, {})
        ]
        kinds = ["unknown"] + (["type"] if properties else []) + (["missing"] if required else [])
        kind = data.draw(st.sampled_from(kinds), label="break")
        broken = dict(inputs)
        if kind == "unknown":
            field = data.draw(
                st.text(min_size=1, max_size=8).filter(lambda n: n not in properties), label="field"
            )
            broken[field] = 1
        elif kind == "type":
            field = data.draw(st.sampled_from(sorted(properties)), label="field")
            broken[field] = {"not": ["what", "the", "schema", "wants"]}
            assume(definition.validator.problems(broken))
        else:
            field = data.draw(st.sampled_from(required), label="field")
            del broken[field]
        with pytest.raises(InputValidationError) as caught:
            if definition.kind == "triggers":
                check_inputs(definition, broken)
            elif definition.kind == "dataSources":
                asyncio.run(RUNTIME.picklist(definition.ref, broken, CONNECTIONS[definition.connector]))
            else:
                asyncio.run(RUNTIME.run(definition.ref, broken, CONNECTIONS[definition.connector]))
        paths = [problem["path"] for problem in caught.value.problems]
        named = (f"$.{field}", f"$[{json.dumps(field)}]")
        assert any(path.startswith(named) for path in paths) or (kind == "type" and "$" in paths), paths
        assert SENT == []

    check()


PATH_PARAMETERS = [
    (definition, placeholder["path"].lstrip("."))
    for definition in DEFINITIONS
    if definition.kind != "triggers"
    for placeholder in PLACEHOLDER.finditer(definition.model.request.path)
    if placeholder["scope"] == "inputs"
    and not placeholder["reserved"]
    and "." not in placeholder["path"].lstrip(".")
    and definition.model.inputs.get("properties", {}).get(placeholder["path"].lstrip("."), {}).get("type")
    == "string"
]


@pytest.mark.parametrize(
    ("definition", "name"), PATH_PARAMETERS, ids=[f"{d.ref}.{n}" for d, n in PATH_PARAMETERS]
)
@pytest.mark.parametrize("value", HOSTILE_SEGMENTS, ids=[repr(v) for v in HOSTILE_SEGMENTS])
def test_hostile_path_parameters_are_encoded_into_one_segment_or_refused(
    definition: LoadedDefinition, name: str, value: str
) -> None:
    SENT.clear()
    inputs = {**(definition.model.examples[0] if definition.model.examples else {}), name: value}
    shown = valid_or_refused(definition, inputs)
    if shown is not None:
        url = httpx2.URL(shown["url"])
        assert url.host == httpx2.URL(base_url(definition)).host
        assert not url.fragment
        raw_path = url.raw_path.decode().split("?")[0]
        segments = [unquote(segment) for segment in raw_path.split("/")]
        assert value in segments  # whole, in one segment
        assert ".." not in raw_path.split("/") and "." not in raw_path.split("/")[1:]
    assert SENT == []


RAW = [d for d in DEFINITIONS if d.key == "rawRequest"]
HOSTILE_RAW = [
    ({"path": "https://evil.example/x"}, "absolute URL"),
    ({"path": "//evil.example/x"}, "other host"),
    ({"path": "/x", "headers": {"X-A": "1\r\nX-B: 2"}}, "CR LF in a header value"),
    ({"path": "/x", "headers": {"X-A\r\nX-B": "2"}}, "CR LF in a header name"),
    ({"path": "/x", "headers": {"X-A": "a\x00b"}}, "NUL in a header value"),
    ({"path": "/x", "headers": {"X\x00A": "b"}}, "NUL in a header name"),
    ({"path": "/x\r\nHost: evil.example"}, "CR LF in the path"),
    ({"path": "/x\x00"}, "NUL in the path"),
    ({"path": "/../../x"}, "dot segments"),
    ({"path": "/x#frag"}, "a fragment"),
]


@pytest.mark.parametrize("definition", RAW, ids=[d.ref for d in RAW])
@pytest.mark.parametrize(("inputs", "what"), HOSTILE_RAW, ids=[w for _, w in HOSTILE_RAW])
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "send"])
def test_hostile_raw_requests_are_refused(
    definition: LoadedDefinition, inputs: dict[str, Any], what: str, dry_run: bool
) -> None:
    SENT.clear()
    if definition.connector == "servicetitan":
        inputs = {**inputs, "urlType": "jpm"}
    with pytest.raises((RequestRefusedError, InputValidationError)):
        asyncio.run(RUNTIME.run(definition.ref, inputs, CONNECTIONS[definition.connector], dry_run=dry_run))
    assert SENT == []


def test_a_structure_holding_itself_twice_is_refused_at_once(catalog: Any) -> None:
    # each level would hold twice as many of it as the last: looked at once per level, it is too deep
    import time

    shared: dict[str, Any] = {}
    shared["a"] = shared
    shared["b"] = shared
    for ref, inputs in (
        ("servicetitan.rawRequest", {"method": "POST", "path": "/x", "json": shared}),
        ("servicetitan.createJob", {**_job_example(catalog), "appointments": [shared]}),
    ):
        started = time.perf_counter()
        with pytest.raises(InputValidationError):
            check_inputs(catalog.find("actions", ref), inputs)
        assert time.perf_counter() - started < 5  # (it never ended before)


def test_a_key_that_is_not_text_is_refused_by_name(catalog: Any) -> None:
    definition = catalog.find("actions", "servicetitan.getJob")
    with pytest.raises(InputValidationError) as refused:
        check_inputs(definition, {"id": 1, 7: "x"})  # only a caller's own object can hold one
    assert refused.value.details["problems"][0]["path"] == "$[7]"


def _job_example(catalog: Any) -> dict[str, Any]:
    example: dict[str, Any] = catalog.find("actions", "servicetitan.createJob").model.examples[0]
    return example
