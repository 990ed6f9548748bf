"""``-v``/``--verbose`` and ``--debug`` work before or after the subcommand; ``-v`` logs the token
request too, its secret redacted."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from component import cli as cli_module
from component.cli import cli
from component.sandbox import Sandbox
from tests.conftest import ROOT

CANARY = "c4n4ry-client-secret-5f1e"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--root", str(ROOT), *args])


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_before_or_after_the_subcommand_logs_each_request(where: str) -> None:
    args = ["run", "homebase360.ping", "--sandbox"]
    out = invoke(*(["-v", *args] if where == "before" else [*args, "-v"]))
    assert out.exit_code == 0, out.output
    assert "component.http GET http://" in out.stderr


def test_verbose_twice_logs_each_line_once() -> None:
    out = invoke("-v", "run", "homebase360.ping", "--sandbox", "--verbose")
    assert out.exit_code == 0, out.output
    assert out.stderr.count("component.http GET") == 1


def test_debug_after_the_subcommand_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: click.Context, sandboxed: bool = False) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli_module, "_runtime", broken)
    out = invoke("run", "homebase360.ping", "--sandbox", "--debug")
    assert out.exit_code == 1
    assert "Traceback (most recent call last)" in out.stderr
    plain = invoke("run", "homebase360.ping", "--sandbox")
    assert "Traceback" not in plain.stderr and '"internal"' in plain.stderr


def test_every_subcommand_at_any_depth_takes_both_flags() -> None:
    for name, command in _commands(cli):
        opts = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"-v", "--verbose", "--debug"} <= opts, name


def test_verbose_logs_the_token_request_with_its_secret_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = Sandbox()
    monkeypatch.setattr(cli_module, "_runtime", lambda ctx, sandboxed=False: sandbox.runtime())
    file = tmp_path / "connection.json"
    file.write_text(json.dumps({**sandbox.connection("servicetitan"), "clientSecret": CANARY}))
    out = invoke("run", "servicetitan.listBusinessUnits", "--connection", str(file), "-v")
    assert out.exit_code == 2, out.output
    stderr = out.stderr
    token_lines = [line for line in stderr.splitlines() if "token request" in line]
    assert len(token_lines) == 1 and "/connect/token" in token_lines[0] and "-> 400" in token_lines[0]
    assert CANARY not in stderr and CANARY not in out.output
    assert json.loads(stderr[stderr.index("{") :])["error"]["type"] == "invalid_credentials"


def test_verbose_logs_a_successful_token_request_then_the_call() -> None:
    out = invoke("run", "servicetitan.listBusinessUnits", "--inputs", '{"pageSize": 1}', "--sandbox", "-v")
    assert out.exit_code == 0, out.output
    lines = [line for line in out.stderr.splitlines() if " component." in line]
    # (a token cached by an earlier run in this process may be tried first and answered 401)
    token = next(n for n, line in enumerate(lines) if "token request" in line and "-> 200" in line)
    assert any("business-units -> 200" in line for line in lines[token + 1 :])
