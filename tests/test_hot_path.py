"""Work done once instead of per request: validated connections, session keys, compiled templates."""

from __future__ import annotations

import pytest

from component.catalog import Catalog
from component.errors import ConnectionConfigError
from component.redact import Redactor
from component.runtime import Runtime
from tests.conftest import ST_CONNECTION, ST_SECRET


def test_equal_connections_are_validated_once_per_runtime(catalog: Catalog) -> None:
    runtime = Runtime(catalog, env={})
    first = runtime.connection("servicetitan", dict(ST_CONNECTION))
    assert runtime.connection("servicetitan", dict(ST_CONNECTION)) is first
    other = runtime.connection("servicetitan", {**ST_CONNECTION, "tenant": "42"})
    assert other is not first and other.values["tenant"] == "42"
    assert Runtime(catalog, env={}).connection("servicetitan", ST_CONNECTION) is not first
    assert first.key() == runtime.connection("servicetitan", ST_CONNECTION).key() != other.key()


def test_the_connection_cache_sees_the_environment_and_never_keeps_a_bad_connection(
    catalog: Catalog,
) -> None:
    env = {"SERVICETITAN_TENANT": "111"}
    runtime = Runtime(catalog, env=env)
    partial = {k: v for k, v in ST_CONNECTION.items() if k != "tenant"}
    assert runtime.connection("servicetitan", partial).values["tenant"] == "111"
    env["SERVICETITAN_TENANT"] = "222"
    assert runtime.connection("servicetitan", partial).values["tenant"] == "222"
    for _ in range(2):
        with pytest.raises(ConnectionConfigError) as caught:
            runtime.connection("servicetitan", {**ST_CONNECTION, "environment": "staging"})
        assert ST_SECRET not in str(caught.value.to_dict())


def test_a_secret_added_twice_is_redacted_once_in_every_form() -> None:
    redactor = Redactor()
    redactor.add("s3cret/value")
    redactor.add("s3cret/value")
    assert redactor.text("a s3cret/value s3cret%2Fvalue") == "a *** ***"
