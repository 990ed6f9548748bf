"""Every fenced example in README.md runs as written, or is listed here with why it cannot.

Each block is claimed by exactly one entry of :data:`HANDLERS` (a text the block contains); a new
block no entry claims fails :func:`test_every_readme_block_is_claimed`. Commands that need a vendor
run against the in-process sandbox: ``--connection st.json`` becomes ``--sandbox`` (the README says
the same commands reach the sandbox that way), and in Python the connections named in the prose
(``st``, ``sb``, ``st_connection``) are the sandbox's. Commands that start a server or install
something are checked against their command's ``--help`` (every option they use exists).
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shlex
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from component.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
BLOCKS = [(match.group(1), match.group(2)) for match in FENCE.finditer(README)]

# Blocks not run, each with its reason (and where the same thing is proven instead).
SKIPPED = {
    "pip install . && component demo": "creates virtual environments and installs; `component demo` is "
    "run by tests/test_terminal.py and the test suite is step 2 itself",
    "grep -i etag": "the curl examples: run against `component serve --sandbox` by tests/test_service_mcp.py",
    "tools/servicetitan_definitions.py --reference": "needs the vendor specs in ../shared/reference "
    "(not in a user's clone); the generator is tested by tests/test_servicetitan_definitions.py",
    "npm ci && npm run build": "needs Node.js and npm; tests/test_playground_bundle.py checks the bundle",
    "manifest.json ─registers─>": "a diagram; its module list is checked by test_the_module_map_is_current",
    "new Ajv2020": "JavaScript; tests/test_ajv_strict.py runs this with Ajv under Node.js",
}


def run_cli(line: str, tmp_path: Path) -> Any:
    args = shlex.split(line)
    assert args[0] == "component", line
    result = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
    assert result.exit_code == 0, (line, result.stderr)
    return result


def commands_in(block: str) -> list[str]:
    """The ``component …`` command lines of a shell block, continuations joined, comments dropped."""
    lines = block.replace("\\\n", " ").splitlines()
    found = []
    for line in lines:
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        line = re.sub(r"^([A-Z_]+=\S+\s+)+", "", line)  # an environment assignment before it
        if line.startswith("component "):
            found.append(line)
    return found


def help_check(block: str, tmp_path: Path) -> None:
    """Each command exists and accepts every option the line uses."""
    commands = commands_in(block)
    assert commands, block
    for line in commands:
        words = line.split()[1:]
        path = []
        for word in words:
            if word.startswith(("-", "[")) or not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        shown = CliRunner().invoke(cli, [*path, "--help"])
        assert shown.exit_code == 0, (line, shown.output)
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line):
            assert option in shown.output, (line, option)


def run_with_sandbox(block: str, tmp_path: Path) -> None:
    for line in commands_in(block):
        assert "--connection st.json" in line, line
        line = line.replace("--connection st.json", "--sandbox")
        line = line.replace("--every 60", f"--state {tmp_path / 'state.db'}")
        result = run_cli(line, tmp_path)
        if "--dry-run" in line:
            shown = json.loads(result.stdout)
            assert shown["method"] == "POST" and "***" in shown["headers"]["Authorization"]
        else:
            assert "poll 1:" in result.stderr


def development(block: str, tmp_path: Path) -> None:
    """``component validate`` runs; ``pip``, ``component schemas`` (it rewrites the committed schema
    files; tests/test_catalog.py checks they are current) and the gates are not run here."""
    assert "component validate" in block
    result = run_cli("component validate", tmp_path)
    assert result.stdout.startswith("ok: ")


def connection_json(block: str, tmp_path: Path) -> None:
    from component.catalog import load

    example = json.loads(block)
    fields = load().connectors["servicetitan"].model.connection.schema_["properties"]
    assert set(example) <= set(fields), set(example) - set(fields)


def mcp_config(block: str, tmp_path: Path) -> None:
    server = json.loads(block)["mcpServers"]["fieldservice"]
    assert server["command"] == "component"
    help_check(" ".join(["component", *server["args"]]), tmp_path)


def flow_json(block: str, tmp_path: Path) -> None:
    """The flow shape: every step names a definition the catalog has (its inputs are elided with …)."""
    from component.catalog import load

    catalog = load()
    for step in json.loads(block)["steps"]:
        kind = "actions" if "action" in step else "dataSources"
        catalog.find(kind, step.get("action") or step["picklist"])  # raises when it does not exist


def definition_json(block: str, tmp_path: Path) -> None:
    """The example is a sound action definition of the format, and the shipped one's key, label and
    request line."""
    from component.models import Action, parse

    example = json.loads(block)
    parse(Action, example)
    shipped = json.loads((ROOT / "actions/servicetitan/assignTechnicians.json").read_text())
    assert example["label"] == shipped["label"]
    for name in ("operationId", "method", "path"):
        assert example["request"][name] == shipped["request"][name], name


# Python blocks: what the prose names, given as sandbox values, and the few texts replaced.
PRELUDE = """
from component import Sandbox
sandbox = Sandbox()
st = st_connection = sandbox.connection("servicetitan")
sb = sandbox.connection("servicebay")
state = None
inputs = {examples["servicetitan.createJob"]}
def handle(events): pass
"""
REPLACED = {
    "from component import Runtime\n": "",
    '{"apiKey": "…", "orgId": "…"}': "sb",
}


def python_block(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from component.errors import UsageError

    for old, new in REPLACED.items():
        block = block.replace(old, new)
    namespace: dict[str, Any] = {}
    create_job = _example("servicetitan.createJob")
    exec(PRELUDE.replace('{examples["servicetitan.createJob"]}', repr(create_job)), namespace)
    sandbox = namespace["sandbox"]
    namespace["Runtime"] = lambda: sandbox.runtime()
    namespace["rt"] = sandbox.runtime()  # the runtime of the block before, for the redact example
    namespace["error"] = UsageError("refused " + sandbox.connection("servicetitan")["clientSecret"])
    # The statements before the first ``await`` run as they are; the rest as top-level await.
    module = ast.parse(block)
    first = next(i for i, node in enumerate(module.body) if _awaits(node))
    monkeypatch.chdir(tmp_path)
    exec(compile(ast.Module(module.body[:first], []), "README.md", "exec"), namespace)
    rest = compile(
        ast.Module(module.body[first:], []), "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )

    async def main() -> None:
        await eval(rest, namespace)

    asyncio.run(main())
    done = namespace
    if "redact(error" in block:
        assert "***" in json.dumps(done["answer"])
    if "poll_once" in block:
        assert done["outcome"].status == "polled"


def _awaits(node: ast.AST) -> bool:
    return any(isinstance(inner, ast.Await | ast.AsyncWith | ast.AsyncFor) for inner in ast.walk(node))


def _example(ref: str) -> dict[str, Any]:
    connector, key = ref.split(".")
    examples = json.loads((ROOT / "actions" / connector / f"{key}.json").read_text())["examples"]
    return dict(examples[0])


HANDLERS: dict[str, Callable[..., None]] = {
    "component catalog [--json]": help_check,
    "servicetitan.assignTechnicians \\": run_with_sandbox,
    "pollChangesTrigger --instance": run_with_sandbox,
    '"clientSecret": "${ST_SECRET}"': connection_json,
    "component serve --sandbox                      #": help_check,
    "component mcp --sandbox": help_check,
    '"mcpServers"': mcp_config,
    "component serve --sandbox        # then browse": help_check,
    '"name": "pick and assign"': flow_json,
    '"key": "assignTechnicians"': definition_json,
    "rt.poll(": python_block,
    "rt.run_sync(": python_block,
    "from component.redact import redact": python_block,
    "component schemas": development,
}


def claimant(block: str) -> str | None:
    claims = [text for text in [*HANDLERS, *SKIPPED] if text in block]
    assert len(claims) <= 1, claims
    return claims[0] if claims else None


def test_every_readme_block_is_claimed() -> None:
    assert len(BLOCKS) >= 20
    unclaimed = [body[:80] for _, body in BLOCKS if claimant(body) is None]
    assert not unclaimed, f"README blocks no test runs or skips with a reason: {unclaimed}"
    texts = [claimant(body) for _, body in BLOCKS]
    assert sorted(set(texts)) == sorted([*HANDLERS, *SKIPPED])  # no stale entry either


@pytest.mark.parametrize("text", list(HANDLERS))
def test_the_readme_example_runs(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = [body for _, body in BLOCKS if text in body]
    handler = HANDLERS[text]
    if handler is python_block:
        handler(block, tmp_path, monkeypatch)
    else:
        handler(block, tmp_path)


def test_the_module_map_is_current() -> None:
    (block,) = [body for _, body in BLOCKS if "manifest.json ─registers─>" in body]
    for name in re.findall(r"^  ([a-z_]+\.py)", block, re.M):
        assert (ROOT / "component" / name).is_file(), name


def test_the_in_process_sandbox_line_runs() -> None:
    """The one-line Python example of "The sandbox" (inline code, not a block)."""
    line = re.search(r"In Python: `(from component import Sandbox; [^`]+)`", README)
    assert line, "the in-process example must show its import"
    code = (
        line.group(1)
        .replace("; ", "\n")
        .replace("await rt.run(ref, inputs,", "return await rt.run(ref, inputs,")
    )
    body = "async def main(ref, inputs):\n" + textwrap.indent(code, "    ")
    namespace: dict[str, Any] = {}
    exec(body, namespace)
    assert asyncio.run(namespace["main"]("servicetitan.getJob", {"id": 400001}))["data"]["id"] == 400001
