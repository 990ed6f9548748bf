"""What keeps start-up cheap: lazy imports, the catalog cache and its invalidation, one TLS context."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from component import catalog as catalog_module
from component import catalog_cache, formats
from component.errors import DefinitionError
from component.http import ssl_context
from tests.conftest import ROOT, ST_CONNECTION, make_runtime

HEAVY = (
    "httpx2",
    "pydantic",
    "jsonschema",
    "fastjsonschema",
    "rich",
    "starlette",
    "uvicorn",
    "component.runtime",
)
_PROBE = """
import json, sys
heavy = json.loads(sys.argv[2])
from component.cli import main
sys.argv = ["component", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
found = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print("\\nLOADED " + json.dumps(found))
"""


def loaded_by(args: list[str], cache_dir: Path) -> tuple[str, list[str]]:
    """Run ``component ARGS`` in a fresh interpreter; its output and the heavy modules it imported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), catalog_cache.CACHE_ENV: str(cache_dir)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    output, _, modules = done.stdout.rpartition("\nLOADED ")
    assert modules, done.stderr
    return output, json.loads(modules)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"]])
def test_version_and_help_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    output, modules = loaded_by(args, tmp_path)
    assert "component" in output.lower()
    assert modules == []


def test_cached_catalog_json_needs_no_runtime(tmp_path: Path) -> None:
    cold, cold_modules = loaded_by(["catalog", "--json"], tmp_path)
    warm, warm_modules = loaded_by(["catalog", "--json"], tmp_path)
    assert "jsonschema" in cold_modules  # the first run checks everything and fills the cache
    assert warm_modules == []
    assert warm == cold  # the stored text is printed as the first run printed it
    assert json.loads(warm) == catalog_module.load(ROOT).to_json()


def test_a_one_shot_run_compiles_no_input_validator(tmp_path: Path) -> None:
    # Compiling pays off from a schema's second use; the command line's early check of the inputs
    # (before the connection is read) must not count as the first, or every run would pay for it.
    inputs, connection = tmp_path / "inputs.json", tmp_path / "st.json"
    inputs.write_text(json.dumps({"id": 1}))
    connection.write_text(json.dumps(ST_CONNECTION))
    args = ["run", "servicetitan.getJob", f"--inputs=@{inputs}", f"--connection={connection}", "--dry-run"]
    loaded_by(["catalog", "--json"], tmp_path)  # the cache filled, as after any first run
    output, modules = loaded_by(args, tmp_path)
    assert json.loads(output)["url"].endswith("/jobs/1")
    assert "fastjsonschema" not in {m.split(".")[0] for m in modules}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the definitions with a cache of its own (the key is the content, not the place)."""
    monkeypatch.setenv(catalog_cache.CACHE_ENV, str(tmp_path / "cache"))
    for name in ("actions", "datasources", "triggers"):
        shutil.copytree(ROOT / name, tmp_path / "defs" / name)
    shutil.copy(ROOT / "manifest.json", tmp_path / "defs" / "manifest.json")
    return tmp_path / "defs"


def fresh_load(root: Path) -> catalog_module.Catalog:
    catalog_module._CACHE.pop(root.resolve(), None)
    return catalog_module.load(root)


def cached_text(root: Path) -> str | None:
    """The catalog stored for the tree under ``root``, as ``catalog --json`` prints it, if any."""
    return catalog_cache.read_text(catalog_cache.key_for(root.resolve()))


def cached(root: Path) -> dict[str, Any] | None:
    """The catalog stored for the tree under ``root``, as data, if any."""
    text = cached_text(root)
    return None if text is None else catalog_cache.catalog_of(text)


def edit_definition(root: Path, relative: str, **changes: Any) -> None:
    path = root / relative
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def edit_job(tree: Path, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Change createJob's definition (``change`` edits it in place); the definition as written."""
    path = tree / "actions/servicetitan/createJob.json"
    job: dict[str, Any] = json.loads(path.read_text())
    change(job)
    path.write_text(json.dumps(job))
    return job


def summary(job: dict[str, Any]) -> dict[str, Any]:
    """createJob's ``summary`` input, whose example is 60 characters long."""
    field: dict[str, Any] = job["inputs"]["properties"]["summary"]
    return field


def test_a_checked_tree_is_cached_under_its_content(tree: Path) -> None:
    assert cached(tree) is None
    loaded = fresh_load(tree)
    assert cached(tree) == loaded.to_json()


def test_a_cache_hit_skips_the_checks(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_load(tree)

    def refuse(schema: Any) -> Any:
        raise AssertionError("a cached tree is not checked again")

    monkeypatch.setattr(catalog_module, "schema_problems", refuse)
    again = fresh_load(tree)
    job = again.find("actions", "servicetitan.createJob")
    assert job.validator.problems(job.model.examples[0]) == []  # validators still compile on first use


def test_any_change_to_a_definition_invalidates_the_cache(tree: Path) -> None:
    fresh_load(tree)
    edit_definition(tree, "actions/servicetitan/createJob.json", label="Book a Job")
    assert cached(tree) is None
    reloaded = fresh_load(tree)
    assert reloaded.find("actions", "servicetitan.createJob").model.label == "Book a Job"
    assert cached(tree) == reloaded.to_json()
    # a change only the full check catches is caught: the changed tree is checked again, not trusted
    path = tree / "actions/servicetitan/createJob.json"
    data = json.loads(path.read_text())
    data["inputs"]["properties"]["customerId"]["type"] = "whole number"
    path.write_text(json.dumps(data))
    with pytest.raises(DefinitionError):
        fresh_load(tree)
    assert cached(tree) is None


def test_new_unregistered_files_and_the_runtime_source_are_part_of_the_key(
    tree: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = catalog_cache.content_key(tree)
    (tree / "actions" / "servicetitan" / "stray.json").write_text("{}")
    assert catalog_cache.content_key(tree) != key
    (tree / "actions" / "servicetitan" / "stray.json").unlink()
    assert catalog_cache.content_key(tree) == key
    source = tmp_path / "source"
    shutil.copytree(Path(catalog_cache.__file__).parent, source, ignore=shutil.ignore_patterns("*.pyc"))
    monkeypatch.setattr(catalog_cache, "_PACKAGE", source)
    assert catalog_cache.content_key(tree) == key
    (source / "models.py").write_text((source / "models.py").read_text() + "\n# changed\n")
    assert catalog_cache.content_key(tree) != key


def test_a_corrupt_or_unwritable_cache_is_ignored(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fresh_load(tree)
    key = catalog_cache.content_key(tree)
    folder = catalog_cache.cache_dir()
    assert folder is not None
    for entry in folder.glob(f"catalog-{key[:32]}.json"):
        entry.write_text("{not json")
    assert cached(tree) is None
    assert fresh_load(tree).find("actions", "servicetitan.createJob")
    monkeypatch.setenv(catalog_cache.CACHE_ENV, "off")
    assert catalog_cache.cache_dir() is None
    assert cached(tree) is None


def test_a_settled_tree_is_found_by_its_stamp_without_reading_a_file(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_cache, "SETTLED_NS", 0)
    fresh_load(tree)
    text = cached_text(tree)  # hashed once more, and stamped
    assert text is not None

    def refuse(root: Path) -> str:
        raise AssertionError("an unchanged stamp names the key without hashing")

    hashing = catalog_cache.content_key
    monkeypatch.setattr(catalog_cache, "content_key", refuse)
    assert cached_text(tree) == text
    # the same size and modification time, other bytes: the change time tells, so the bytes are hashed
    monkeypatch.setattr(catalog_cache, "content_key", hashing)
    path = tree / "actions/servicetitan/createJob.json"
    before, data = path.stat(), path.read_bytes()
    same_size = data.replace(b'"label": "Create Job"', b'"label": "Create Jib"')
    assert same_size != data and len(same_size) == len(data)
    path.write_bytes(same_size)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert catalog_cache.cache_dir() == tree.parent / "cache"  # still this tree's own cache
    assert cached_text(tree) is None
    path.write_bytes(data)  # and back: the stored catalog is found again
    assert cached_text(tree) == text


def test_the_key_covers_linked_folders_subpackages_and_cannot_be_shifted(
    tree: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a folder of definitions that is a link: its files are keyed like any other
    real = tmp_path / "servicetitan-real"
    shutil.move(tree / "actions" / "servicetitan", real)
    (tree / "actions" / "servicetitan").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(tree / "actions", target_is_directory=True)  # a link back up: entered once
    key = catalog_cache.content_key(tree)
    edit_definition(tree, "actions/servicetitan/createJob.json", label="Book a Job")
    assert catalog_cache.content_key(tree) != key
    # the checks' own code in a subpackage is part of the runtime's source
    source = tmp_path / "source"
    shutil.copytree(Path(catalog_cache.__file__).parent, source, ignore=shutil.ignore_patterns("*.pyc"))
    monkeypatch.setattr(catalog_cache, "_PACKAGE", source)
    key = catalog_cache.content_key(tree)
    checks = source / "triggers" / "checks.py"
    checks.write_text(checks.read_text() + "\n# changed\n")
    assert catalog_cache.content_key(tree) != key
    # bytes moved from one file into the one before it (with the names between) are another tree
    first, second = tree / "manifest.json", tree / "actions" / "homebase360" / "createCustomer.json"
    key = catalog_cache.content_key(tree)
    first.write_bytes(
        first.read_bytes() + b"\0actions/homebase360/createCustomer.json\0" + second.read_bytes()
    )
    second.unlink()
    assert catalog_cache.content_key(tree) != key


def test_a_registered_path_may_not_step_out_of_its_folder(tree: Path) -> None:
    manifest = json.loads((tree / "manifest.json").read_text())
    files = manifest["connectors"]["servicetitan"]["actions"]
    files[files.index("actions/servicetitan/createJob.json")] = (
        "actions/servicetitan/../servicetitan/createJob.json"
    )
    (tree / "manifest.json").write_text(json.dumps(manifest))
    _, problems = catalog_module.check(tree)
    assert any("no '..'" in problem.message for problem in problems), problems


def test_the_bytes_checked_are_the_bytes_the_key_names(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the load checks the bytes its key was computed from, however the files change meanwhile: the
    # catalog it stores under that key is theirs, and the changed tree is another key
    reading = catalog_module._Loader.load

    def edited_meanwhile(loader: Any) -> Any:
        edit_definition(tree, "actions/servicetitan/createJob.json", label="Book a Job")
        return reading(loader)

    key = catalog_cache.key_for(tree.resolve())
    with monkeypatch.context() as patched:  # (undo() would also drop the fixture's cache folder)
        patched.setattr(catalog_module._Loader, "load", edited_meanwhile)
        loaded = fresh_load(tree)
    assert loaded.find("actions", "servicetitan.createJob").model.label == "Create Job"
    stored = catalog_cache.read_text(key)
    assert stored is not None and json.loads(stored) == loaded.to_json()
    assert cached(tree) is None  # the tree as it is now has not been checked
    assert fresh_load(tree).find("actions", "servicetitan.createJob").model.label == "Book a Job"


def test_a_load_that_reads_a_file_outside_its_snapshot_stores_nothing(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = catalog_cache.snapshot(tree.resolve())
    del snapshot.files["actions/servicetitan/createJob.json"]  # as if it appeared after the key
    monkeypatch.setattr(catalog_cache, "snapshot", lambda root: snapshot)
    monkeypatch.setattr(catalog_cache, "key_for", lambda root: snapshot.key)
    fresh_load(tree)
    assert list((tree.parent / "cache").glob("catalog-*.json")) == []


def checked_schemas(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every schema the next load checks against the meta-schema (the costly per-file checks)."""
    seen: list[Any] = []
    real = catalog_module.schema_problems

    def recording(schema: Any) -> Any:
        seen.append(schema)
        return real(schema)

    monkeypatch.setattr(catalog_module, "schema_problems", recording)
    return seen


def test_a_changed_definition_is_checked_alone(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = checked_schemas(monkeypatch)
    fresh_load(tree)
    assert len(first) > 140  # nothing known yet: every file, and each connection schema
    edit_definition(tree, "actions/servicetitan/createJob.json", label="Book a Job")
    second = checked_schemas(monkeypatch)
    reloaded = fresh_load(tree)
    assert second == []  # its schemas, examples and rules are as they were: only the cheap checks ran
    assert reloaded.find("actions", "servicetitan.createJob").model.label == "Book a Job"
    assert cached(tree) == reloaded.to_json()  # the tree as a whole is now known
    job = edit_job(tree, lambda job: summary(job).update(description="What the job is about."))
    third = checked_schemas(monkeypatch)
    fresh_load(tree)
    assert third == [job["inputs"], job["output"]]  # the edited file's schemas, nothing else


def test_a_changed_reference_is_caught_though_the_schemas_are_known(tree: Path) -> None:
    fresh_load(tree)
    edit_job(tree, lambda job: job["request"].update(path=job["request"]["path"] + "/{inputs.nowhere}"))
    with pytest.raises(DefinitionError) as refused:
        fresh_load(tree)
    assert {p["path"] for p in refused.value.details["problems"]} == {"$.request.path"}


def test_an_example_broken_by_an_edit_is_caught(tree: Path) -> None:
    fresh_load(tree)
    edit_job(tree, lambda job: summary(job).update(maxLength=3))  # its example's is longer
    with pytest.raises(DefinitionError) as refused:
        fresh_load(tree)
    assert [p["path"] for p in refused.value.details["problems"]] == ["$.examples[0].summary"]


def test_a_known_file_is_checked_again_when_what_its_checks_read_changes(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_load(tree)
    # the connector's part of the manifest: each of its definitions reads it (references, pagination)
    manifest = tree / "manifest.json"
    data = json.loads(manifest.read_text())
    data["connectors"]["homebase360"]["description"] += " "
    manifest.write_text(json.dumps(data))
    referenced: list[str] = []
    real = catalog_module._Loader.check_references

    def recording(loader: Any, relative: str, *args: Any) -> None:
        referenced.append(relative)
        real(loader, relative, *args)

    monkeypatch.setattr(catalog_module._Loader, "check_references", recording)
    seen = checked_schemas(monkeypatch)
    fresh_load(tree)
    assert sorted(referenced) == sorted(
        data["connectors"]["homebase360"]["actions"]
        + data["connectors"]["homebase360"]["dataSources"]
        + data["connectors"]["homebase360"]["triggers"]
    )
    assert seen == [
        data["connectors"]["homebase360"]["connection"]["schema"]
    ]  # its definitions' schemas are known
    # the runtime that checks: another one knows nothing
    monkeypatch.setattr(catalog_cache, "runtime_digest", lambda *listed: b"another runtime")
    again = checked_schemas(monkeypatch)
    fresh_load(tree)
    assert len(again) > 140


def test_a_file_with_problems_is_never_remembered_as_checked(tree: Path) -> None:
    fresh_load(tree)
    path = tree / "actions/servicetitan/createJob.json"
    data = json.loads(path.read_text())
    data["examples"][0]["customerId"] = "not a number"
    path.write_text(json.dumps(data))
    for _ in range(2):  # found again on the next load: a refused file is not skipped
        with pytest.raises(DefinitionError) as refused:
            fresh_load(tree)
        assert [p["path"] for p in refused.value.details["problems"]] == ["$.examples[0].customerId"]


def test_a_warm_catalog_prints_on_a_terminal_that_is_not_utf8(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), catalog_cache.CACHE_ENV: str(tmp_path)}
    command = [sys.executable, "-m", "component", "catalog", "--json"]
    first = subprocess.run(command, capture_output=True, env=env, cwd=ROOT)
    warm = subprocess.run(command, capture_output=True, env={**env, "PYTHONIOENCODING": "ascii"}, cwd=ROOT)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == first.stdout
    assert "…".encode() in warm.stdout


def test_a_tree_changed_moments_ago_is_hashed_not_stamped(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Within SETTLED_NS of a change a second same-size change may leave every stat as it was (file times
    # are coarse): such a tree is never stamped, so its bytes decide.
    monkeypatch.setattr(catalog_cache, "SETTLED_NS", 10**18)
    fresh_load(tree)
    assert cached_text(tree) is not None
    folder = catalog_cache.cache_dir()
    assert folder is not None
    assert list(folder.glob("stamp-*")) == []
    path = tree / "actions/servicetitan/createJob.json"
    before = path.stat()
    data = path.read_bytes()
    same_size = data.replace(b'"label": "Create Job"', b'"label": "Create Jib"')
    assert same_size != data and len(same_size) == len(data)
    path.write_bytes(same_size)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cached_text(tree) is None


def test_a_stored_catalog_cut_short_is_not_printed(tree: Path) -> None:
    fresh_load(tree)
    key = catalog_cache.key_for(tree)
    folder = catalog_cache.cache_dir()
    assert folder is not None
    [entry] = folder.glob(f"catalog-{key[:32]}.json")
    whole = entry.read_bytes()
    header, _, body = whole.partition(b"\n")
    assert json.loads(header) == {"key": key, "length": len(body)}
    assert body.decode() == json.dumps(catalog_module.load(tree).to_json(), indent=2, ensure_ascii=False)
    entry.write_bytes(whole[:-10])
    assert catalog_cache.read_text(key) is None
    assert cached(tree) is None


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-12-10T14:00:00Z", True),
        ("2026-12-10t14:00:00.123+05:30", True),
        ("2024-02-29T23:59:60-01:00", True),
        ("2025-02-29T10:00:00Z", False),
        ("2026-12-10T24:00:00Z", False),
        ("2026-12-10T14:00:00", False),
        ("2026-12-10 14:00:00Z", True),  # RFC 3339 section 5.6: a space may separate date and time
        ("2026-12-10 14:00:00z", True),
        ("2026-12-10\t14:00:00Z", False),
        ("2026-12-10  14:00:00Z", False),
        ("2026-12-10T14:00:00+25:00", False),
        ("\uff12\uff10\uff12\uff16-12-10T14:00:00Z", False),  # full-width digits
        ("2026-12-10", False),
    ],
)
def test_date_time_is_rfc3339(value: str, valid: bool) -> None:
    assert formats.is_date_time(value) is valid
    assert formats.format_checker().conforms(value, "date-time") is valid


def test_other_formats() -> None:
    checker = formats.format_checker()
    assert checker.conforms("14:30:00Z", "time") and not checker.conforms("14:30", "time")
    assert checker.conforms("https://example.com/a?b=%20", "uri")
    assert not checker.conforms("/relative/path", "uri")
    assert not checker.conforms("https://exa mple.com", "uri")
    assert not checker.conforms("https://example.com/%zz", "uri")
    assert checker.conforms("2026-02-28", "date") and not checker.conforms("2026-02-30", "date")
    assert checker.conforms("a@b.example", "email") and not checker.conforms("nobody", "email")
    assert not checker.conforms("not-a-uuid", "uuid")
    assert checker.conforms("10.0.0.1", "ipv4") and not checker.conforms("10.0.0.256", "ipv4")
    assert checker.conforms(12, "date-time")  # formats constrain strings only


def test_a_dry_run_opens_no_client(catalog: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a dry run opened an HTTP client")

    monkeypatch.setattr(httpx2, "AsyncClient", no_client)
    runtime = make_runtime(catalog, lambda request: httpx2.Response(500), None, env={})
    job = catalog.find("actions", "servicetitan.createJob").model.examples[0]
    preview = runtime.run_sync("servicetitan.createJob", job, ST_CONNECTION, dry_run=True)
    assert preview["method"] == "POST"

    async def inside() -> Any:
        async with runtime:
            return await runtime.run("servicetitan.createJob", job, ST_CONNECTION, dry_run=True)

    assert asyncio.run(inside()) == preview


def test_every_client_shares_one_tls_context(catalog: Any) -> None:
    from component.runtime import Runtime

    runtime = Runtime(catalog, env={})
    sessions = [
        runtime.session(runtime.connection("servicetitan", {**ST_CONNECTION, "tenant": str(n)}))
        for n in range(3)
    ]

    async def contexts() -> set[int]:
        for session in sessions:
            await session.__aenter__()
        try:
            return {id(s.client._transport._pool._ssl_context) for s in sessions}
        finally:
            for session in sessions:
                await session.__aexit__()

    assert asyncio.run(contexts()) == {id(ssl_context())}


def require_an_input(tree: Path, relative: str) -> None:
    """The action now needs an input ``x`` (its example gives it; the connection test does not)."""
    path = tree / relative
    action = json.loads(path.read_text())
    action["inputs"] = {**action["inputs"], "properties": {"x": {"type": "string"}}, "required": ["x"]}
    action["examples"] = [{"x": "y"}]
    path.write_text(json.dumps(action))


def test_the_connection_test_is_checked_again_when_its_action_changes(tree: Path) -> None:
    # wherever the action lives under its connector's folder
    (tree / "actions/homebase360/sub").mkdir()
    (tree / "actions/homebase360/ping.json").rename(tree / "actions/homebase360/sub/ping.json")
    manifest = tree / "manifest.json"
    data = json.loads(manifest.read_text())
    actions = data["connectors"]["homebase360"]["actions"]
    actions[actions.index("actions/homebase360/ping.json")] = "actions/homebase360/sub/ping.json"
    manifest.write_text(json.dumps(data))
    fresh_load(tree)
    require_an_input(tree, "actions/homebase360/sub/ping.json")
    with pytest.raises(DefinitionError) as refused:
        fresh_load(tree)
    assert [p["path"] for p in refused.value.details["problems"]] == [
        "$.connectors.homebase360.testConnection.inputs.x"
    ]


def test_the_connection_test_is_checked_against_the_bytes_the_key_names(tree: Path) -> None:
    fresh_load(tree)
    key = catalog_cache.key_for(tree.resolve())  # the tree read as it is now
    require_an_input(tree, "actions/homebase360/ping.json")  # changed after the key, before the load
    catalog_module._CACHE.pop(tree.resolve(), None)
    catalog_module.load(tree, key=key)  # checks (and keys) what was read
    with pytest.raises(DefinitionError):  # the changed tree is checked, its connection test too
        fresh_load(tree)


def test_a_hook_is_checked_whenever_the_tree_changed(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # its module is outside every key: it may be gone though the definition naming it is unchanged
    module = tree.parent / "gone_hook.py"
    module.write_text("def fn(request, scope):\n    return request\n")
    monkeypatch.syspath_prepend(str(tree.parent))
    edit_definition(tree, "actions/homebase360/getJobs.json", hook="gone_hook:fn")
    fresh_load(tree)
    module.unlink()
    monkeypatch.delitem(sys.modules, "gone_hook")
    edit_definition(tree, "actions/homebase360/ping.json", label="Ping it")
    with pytest.raises(DefinitionError) as refused:
        fresh_load(tree)
    assert [p["path"] for p in refused.value.details["problems"]] == ["$.hook"]


def test_units_remembered_by_another_process_meanwhile_are_kept(tree: Path) -> None:
    known = catalog_cache.checked_units()
    catalog_cache.remember_units(["a" * 32], known)
    catalog_cache.remember_units(["b" * 32], known)  # read before the first one wrote
    assert catalog_cache.checked_units()[-2:] == ["a" * 32, "b" * 32]
    catalog_cache.remember_units(["a" * 32, "c" * 32], catalog_cache.checked_units())
    assert catalog_cache.checked_units()[-3:] == ["b" * 32, "a" * 32, "c" * 32]  # a load's units: newest


def test_a_description_edit_checks_the_schemas_not_the_examples(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from component.schemas import SchemaValidator

    fresh_load(tree)
    job = edit_job(tree, lambda job: summary(job).update(description="What the job is about."))
    validated: list[Any] = []
    real = SchemaValidator.problems

    def recording(self: SchemaValidator, instance: Any, **options: Any) -> Any:
        validated.append(instance)
        return real(self, instance, **options)

    monkeypatch.setattr(SchemaValidator, "problems", recording)
    seen = checked_schemas(monkeypatch)
    fresh_load(tree)
    assert seen == [job["inputs"], job["output"]]  # the meta-schema and the vocabulary: read again
    assert job["examples"][0] not in validated  # what they are validated against is unchanged


def test_an_edit_loads_no_jsonschema_unless_something_is_refused(tree: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COMPONENT_ROOT": str(tree),
        catalog_cache.CACHE_ENV: str(tree.parent / "cache"),
    }

    def first_run_after(change: Callable[[dict[str, Any]], None]) -> tuple[str, list[str]]:
        edit_job(tree, lambda job: change(summary(job)))
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, json.dumps(["catalog", "--json"]), json.dumps(HEAVY)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tree,
        )
        output, _, modules = done.stdout.rpartition("\nLOADED ")
        loaded = [m for m in json.loads(modules) if m.split(".")[0] == "jsonschema"]
        return output + done.stderr, loaded

    first_run_after(lambda field: None)  # every file checked once
    for change in ({"description": "What the job is about."}, {"maxLength": 1000}):
        output, loaded = first_run_after(lambda field, change=change: field.update(change))
        assert json.loads(output)["connectors"]["servicetitan"]["actions"]["createJob"]
        assert loaded == []  # the schemas, then the example too, accepted by compiled checks
    output, loaded = first_run_after(lambda field: field.update(maxLength=3))
    assert "$.examples[0].summary" in output and loaded != []  # refused: jsonschema words why
