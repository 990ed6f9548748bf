"""Load ``manifest.json`` and every definition it registers; report every problem with file and JSON path.

Definitions are checked once, at load: the models of :mod:`.models` for the format, Draft 2020-12 meta-schema
for ``inputs``, cross references (``x-datasource``, ``$inputs``/``$connection`` references, path
placeholders), examples, hooks, duplicate keys and files that are registered but missing or
present but unregistered. Each definition compiles its input validator on first use. A tree that
passed every check before, unchanged (``catalog_cache``), is loaded without repeating them.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from . import catalog_cache, checks, events, picklists, templates, vocabulary
from .catalog_cache import ROOT_ENV as ROOT_ENV
from .catalog_cache import default_root as default_root
from .errors import DefinitionError, UsageError, did_you_mean
from .jsontext import DuplicateKeyError, no_duplicates
from .models import (
    Action,
    Connector,
    DataSource,
    Definition,
    FormatError,
    Manifest,
    Strict,
    Trigger,
    parse,
    plain,
)
from .schemas import SchemaValidator, schema_problems, validator_for

Kind = Literal["actions", "dataSources", "triggers"]
KINDS: dict[Kind, tuple[str, type[Definition]]] = {
    "actions": ("actions", Action),
    "dataSources": ("datasources", DataSource),
    "triggers": ("triggers", Trigger),
}


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "message": self.message}


@dataclass
class LoadedDefinition:
    connector: str
    kind: Kind
    model: Definition
    file: str

    @cached_property
    def validator(self) -> SchemaValidator:
        return validator_for(self.model.inputs)

    @property
    def key(self) -> str:
        return self.model.key

    @property
    def ref(self) -> str:
        return f"{self.connector}.{self.model.key}"


@dataclass
class LoadedConnector:
    name: str
    model: Connector
    definitions: dict[Kind, dict[str, LoadedDefinition]] = field(
        default_factory=lambda: {"actions": {}, "dataSources": {}, "triggers": {}}
    )

    @cached_property
    def connection_validator(self) -> SchemaValidator:
        return validator_for(self.model.connection.schema_)

    @cached_property
    def secret_fields(self) -> list[str]:
        props = self.model.connection.schema_.get("properties", {})
        return [name for name, prop in props.items() if isinstance(prop, dict) and prop.get("x-secret")]

    @cached_property
    def env_fields(self) -> list[tuple[str, str]]:
        """``(field, environment variable)`` of each connection field with an ``x-env`` default."""
        props = self.model.connection.schema_.get("properties", {})
        return [
            (name, prop["x-env"])
            for name, prop in props.items()
            if isinstance(prop, dict) and prop.get("x-env")
        ]


@dataclass
class Catalog:
    root: Path
    manifest: Manifest
    connectors: dict[str, LoadedConnector]

    def connector(self, name: str) -> LoadedConnector:
        if name not in self.connectors:
            raise UsageError(f"unknown connector {name!r}{did_you_mean(name, self.connectors)}")
        return self.connectors[name]

    def find(self, kind: Kind, ref: str) -> LoadedDefinition:
        """Look up ``connector.key`` (an action alias works too)."""
        connector_name, _, key = ref.partition(".")
        if not key:
            raise UsageError(
                f"name the definition as CONNECTOR.KEY, for example servicetitan.createJob (got {ref!r})"
            )
        definitions = self.connector(connector_name).definitions[kind]
        if key in definitions:
            return definitions[key]
        for loaded in definitions.values():
            if isinstance(loaded.model, Action) and key in loaded.model.aliases:
                return loaded
        label = {"actions": "action", "dataSources": "data source", "triggers": "trigger"}[kind]
        raise UsageError(
            f"unknown {label} {ref!r}{did_you_mean(key, definitions, prefix=connector_name + '.')}"
        )

    def to_json(self) -> dict[str, Any]:
        """The catalog as builders read it (``component catalog --json``)."""
        out: dict[str, Any] = {}
        for name, loaded in self.connectors.items():
            entry: dict[str, Any] = {
                "label": loaded.model.label,
                "description": loaded.model.description,
                "connection": loaded.model.connection.schema_,
            }
            if loaded.model.testConnection is not None:
                entry["testConnection"] = plain(loaded.model.testConnection, omit_none=True)
            for kind in KINDS:
                entry[kind] = {}
                for key, definition in loaded.definitions[kind].items():
                    item: dict[str, Any] = {
                        "label": definition.model.label,
                        "description": definition.model.description,
                        "inputs": definition.model.inputs,
                    }
                    if definition.model.output is not None:
                        item["output"] = definition.model.output
                    if definition.model.checks:
                        item["checks"] = [checks.describe(rule) for rule in definition.model.checks]
                    operation = vendor_operation(definition.model)
                    if operation is not None:
                        item["operation"] = operation
                    if definition.model.notes:
                        item["notes"] = definition.model.notes
                    if definition.model.examples:
                        item["examples"] = definition.model.examples
                    if kind == "triggers" and events.sources(definition):
                        item["event"] = events.event_schema(loaded, definition)
                    entry[kind][key] = item
                    if isinstance(definition.model, Action):
                        for alias in definition.model.aliases:
                            entry[kind][alias] = {**item, "aliasOf": key}
            out[name] = entry
        return {"connectors": out}


_PLACEHOLDER = re.compile(r"\{(?:connection|inputs)\.([^{}]+)\}")


def vendor_operation(model: Definition) -> dict[str, str] | None:
    """The vendor operation a definition calls: ``{"id"?, "method", "path"}``, path as the vendor spells it.

    ``id`` is the vendor's OpenAPI operationId, where the vendor publishes a spec; a raw request (whose
    method or path is an input) calls no one operation and has none.
    """
    request = model.request
    if "$" in request.method or "$" in request.path:
        return None
    operation = {"method": request.method.upper(), "path": _PLACEHOLDER.sub(r"{\1}", request.path)}
    return {"id": request.operationId, **operation} if request.operationId else operation


# --- JSON reading ---------------------------------------------------------------------------------


def read_json(content: bytes) -> Any:
    """Parse JSON, refusing duplicate object keys (json would silently keep the last)."""
    return json.loads(content.decode("utf-8"), object_pairs_hook=no_duplicates)


COMPILED_AT_MOST = 2
"""Most definitions whose examples are checked by compiled checks in one load (see ``check_examples``)."""


def _canonical(value: Any) -> bytes:
    """``value`` as the bytes a unit's key reads: object keys sorted, so their order counts for nothing."""
    return json.dumps(value, sort_keys=True).encode()


def _decode_checked(content: bytes) -> Any:
    """JSON whose every check passed before, duplicate keys included: msgspec reads it in a fraction
    of the time; what it refuses (NaN, say, which json reads) goes to :func:`read_json`."""
    import msgspec

    try:
        return msgspec.json.decode(content)
    except msgspec.DecodeError:
        return read_json(content)


# --- loading ----------------------------------------------------------------------------------------


class _Loader:
    """Loads and checks a tree; ``trusted`` skips the costly checks a cached tree already passed.

    ``tracking``: key each unit of checks (a definition file; its schemas; its examples; a connector;
    its connection test) by a digest of every input its checks read (the runtime, the connector's
    manifest entry, the file's bytes…), so they can be remembered; a unit whose key is ``checked``
    (:func:`catalog_cache.checked_units`: it passed in a tree that passed as a whole) is not checked
    again, so a change to one file checks that file. The checks that read across files (references
    between definitions, unregistered or duplicate files) always run. ``snapshot``: the bytes to
    check (:class:`catalog_cache.Snapshot`); without one, files are read as they come.
    """

    def __init__(
        self,
        root: Path,
        *,
        trusted: bool = False,
        tracking: bool = False,
        checked: Collection[str] = (),
        snapshot: catalog_cache.Snapshot | None = None,
    ) -> None:
        self.root = root
        self.trusted = trusted
        self.tracking = tracking and not trusted
        self.checked = frozenset(checked)
        self.snapshot = snapshot
        self.runtime = b""
        if self.tracking:
            self.runtime = snapshot.runtime if snapshot is not None else catalog_cache.runtime_digest()
        self.outside = False  # a file was read that the snapshot lacks: nothing may be stored under its key
        self.units: list[str] = []  # this tree's unit keys: remembered when it passes as a whole
        self.examples_due: list[LoadedDefinition] = []  # definitions whose examples must be checked
        self.entries: dict[str, bytes] = {}  # each connector's part of the manifest, as keys read it
        self.read_bytes: dict[str, bytes] = {}  # each file read, as it was checked
        self.passed: set[str] = set()  # definition files whose checks passed before, unchanged
        self.problems: list[Problem] = []

    def known(self, *parts: bytes) -> bool:
        """Whether the unit whose checks read ``parts`` passed them before (always, when trusted;
        never, when not tracking)."""
        if self.trusted:
            return True
        if not self.tracking:
            return False
        unit = catalog_cache.unit_key(self.runtime, *parts)
        self.units.append(unit)
        return unit in self.checked

    def problem(self, file: str, path: str, message: str) -> None:
        self.problems.append(Problem(file, path, message))

    def read(self, relative: str, *unit: bytes) -> Any:
        """The JSON in a file, or None (its problem recorded). ``unit``: the other inputs of the file's
        unit of checks; a unit that passed them before is marked (:attr:`passed`), and its bytes are
        decoded without looking for duplicate keys again."""
        path = self.root / relative
        try:
            content = None if self.snapshot is None else self.snapshot.files.get(relative)
            if content is None:
                if not path.is_file():
                    self.problem(relative, "$", "file is registered in manifest.json but does not exist")
                    return None
                self.outside = True
                content = path.read_bytes()
            self.read_bytes[relative] = content
            if unit and self.known(*unit, content):
                self.passed.add(relative)
                return _decode_checked(content)
            return read_json(content)
        except OSError as exc:
            self.problem(relative, "$", f"cannot be read: {exc.strerror or type(exc).__name__}")
        except DuplicateKeyError as exc:
            self.problem(relative, "$", f"duplicate key {exc.key!r}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.problem(relative, "$", f"not valid JSON: {exc}")
        return None

    def validate(self, model: type[Strict], data: Any, file: str) -> Any:
        try:
            return parse(model, data)
        except FormatError as exc:
            self.problems.extend(Problem(file, path, message) for path, message in exc.problems)
            return None

    def load(self) -> Catalog | None:
        raw = self.read("manifest.json")
        if raw is None:
            return None
        manifest = self.validate(Manifest, raw, "manifest.json")
        if manifest is None:
            manifest = self.sound_part(raw)
        if not isinstance(manifest, Manifest):
            return None
        entries = raw.get("connectors", {}) if isinstance(raw, dict) else {}
        connectors = {
            name: self.load_connector(name, model, _canonical(entries.get(name)))
            for name, model in manifest.connectors.items()
        }
        self.check_examples()
        self.check_unregistered(raw)
        loaded = {name: c for name, c in connectors.items() if c is not None}
        for connector in loaded.values():
            self.check_cross_references(connector)
        return Catalog(self.root, manifest, loaded)

    def sound_part(self, raw: Any) -> Manifest | None:
        """The connectors that are sound on their own, so their definitions are still checked."""
        connectors = raw.get("connectors") if isinstance(raw, dict) else None
        if not isinstance(connectors, dict):
            return None
        sound = {}
        for name, data in connectors.items():
            try:
                sound[name] = parse(Connector, data)
            except FormatError:
                continue  # already reported against the whole manifest
        return Manifest(name=str(raw.get("name")), version=str(raw.get("version")), connectors=sound)

    def load_connector(self, name: str, model: Connector, entry: bytes) -> LoadedConnector | None:
        """A connector and its definitions; ``entry``: its part of the manifest (in its units' keys)."""
        where = f"$.connectors.{name}"
        schema = model.connection.schema_
        self.entries[name] = entry
        known = self.known(b"connector", name.encode(), entry)
        bad_schema = [] if known else schema_problems(schema)
        for p in bad_schema:
            self.problem("manifest.json", f"{where}.connection.schema{p['path'][1:]}", p["message"])
        for p in [] if known else vocabulary.problems(schema):
            self.problem("manifest.json", f"{where}.connection.schema{p['path'][1:]}", p["message"])
        props = schema.get("properties", {})
        env_field = model.connection.environmentField
        if env_field:
            choices = props.get(env_field, {}).get("enum")
            if choices is None or set(choices) != set(model.connection.environments):
                self.problem(
                    "manifest.json",
                    f"{where}.connection.environmentField",
                    f"connection field {env_field!r} must be an enum of the environments "
                    f"{sorted(model.connection.environments)}",
                )
        for status, fields in model.envelope.credentials.items():
            for index, field_name in enumerate(fields):
                if field_name not in props:
                    self.problem(
                        "manifest.json",
                        f"{where}.envelope.credentials.{status}[{index}]",
                        f"{field_name!r} does not name a connection field",
                    )
        connection_templates = {
            "auth": plain(model.connection.auth),
            "headers": model.connection.headers,
        }
        if model.http.rateLimit:
            connection_templates["rateLimit"] = model.http.rateLimit.key
        for part, template in connection_templates.items():
            for scope, path, _ in templates.references(template):
                if scope != "connection" or path.split(".")[0] not in props:
                    self.problem(
                        "manifest.json",
                        f"{where}.connection.{part}",
                        f"${scope}.{path} does not name a connection field",
                    )
        if bad_schema:
            return None
        loaded = LoadedConnector(name, model)
        for kind, (folder, definition_model) in KINDS.items():
            for index, relative in enumerate(getattr(model, kind)):
                expected_folder = f"{folder}/{name}/"
                if not relative.startswith(expected_folder):
                    self.problem(
                        "manifest.json",
                        f"{where}.{kind}[{index}]",
                        f"definition files of {name} live under {expected_folder}",
                    )
                elif ".." in relative.split("/"):
                    self.problem(
                        "manifest.json",
                        f"{where}.{kind}[{index}]",
                        f"a definition file's path stays under {expected_folder}: no '..'",
                    )
                definition = self.load_definition(name, kind, definition_model, relative, model, entry)
                if definition is None:
                    continue
                table = loaded.definitions[kind]
                keys = [definition.key, *getattr(definition.model, "aliases", [])]
                for key in keys:
                    if key in table or any(key in getattr(d.model, "aliases", []) for d in table.values()):
                        self.problem(
                            relative, "$.key", f"duplicate {kind[:-1]} key {key!r} in connector {name}"
                        )
                table[definition.key] = definition
        return loaded

    def load_definition(
        self,
        connector: str,
        kind: Kind,
        model: type[Definition],
        relative: str,
        owner: Connector,
        entry: bytes,
    ) -> LoadedDefinition | None:
        data = self.read(relative, b"definition", relative.encode(), entry)
        if data is None:
            return None
        if isinstance(data, dict) and isinstance(data.get("pagination"), dict) and owner.pagination:
            defaults = owner.pagination
            own = data["pagination"]
            if own.get("style", defaults.get("style")) == defaults.get("style"):
                data = {**data, "pagination": {**defaults, **own}}
        definition = self.validate(model, data, relative)
        if not isinstance(definition, Definition):
            return None
        if Path(relative).stem != definition.key:
            self.problem(
                relative, "$.key", f"key {definition.key!r} must match the file name {Path(relative).stem!r}"
            )
        loaded = LoadedDefinition(connector, kind, definition, relative)
        if definition.hook and not self.trusted:  # a module outside every key: checked whenever the tree is
            self.check_hook(relative, definition.hook)
        if relative in self.passed:
            return loaded
        # the costly checks read the schemas (the meta-schema's and the vocabulary's), or what the
        # examples are validated against, the examples and the rules: each is skipped while what it
        # reads is unchanged (editing a label, the request or a field's description checks neither)
        costly, examples_known = True, False
        if self.tracking:  # (what a unit's key reads is written out only when units are tracked)
            costly = not self.known(b"schemas", _canonical([definition.inputs, definition.output]))
            rules = [plain(rule) for rule in definition.checks]
            examples = [vocabulary.assertions(definition.inputs), definition.examples, rules]
            examples_known = self.known(b"examples", _canonical(examples))
        bad_inputs = schema_problems(definition.inputs) if costly else []
        for p in bad_inputs:
            self.problem(relative, "$.inputs" + p["path"][1:], p["message"])
        if (
            definition.inputs.get("type") != "object"
            or definition.inputs.get("additionalProperties") is not False
        ):
            self.problem(
                relative, "$.inputs", 'inputs must be an object schema with "additionalProperties": false'
            )
        if definition.output is not None and costly:
            for p in schema_problems(definition.output):
                self.problem(relative, "$.output" + p["path"][1:], p["message"])
        for part, schema in (("inputs", definition.inputs), ("output", definition.output)) if costly else ():
            for p in vocabulary.problems(schema):
                self.problem(relative, f"$.{part}{p['path'][1:]}", p["message"])
        for name in definition.prefetch.into if definition.prefetch else []:
            if name.split(".")[0] not in definition.inputs.get("properties", {}):
                self.problem(relative, f"$.prefetch.into.{name}", f"{name!r} does not name an input")
        for index, rule in enumerate(definition.checks):
            for part in ("field", "other"):
                head = getattr(rule, part).split(".")[0]
                if head not in definition.inputs.get("properties", {}):
                    self.problem(relative, f"$.checks[{index}].{part}", f"{head!r} does not name an input")
        if bad_inputs:
            return None
        if definition.examples and not examples_known:
            self.examples_due.append(loaded)
        self.check_references(relative, definition, owner)
        if isinstance(definition, Trigger):
            from .triggers.checks import problems as trigger_problems

            connection_fields = owner.connection.schema_.get("properties", {})
            for path, message in trigger_problems(definition, connection_fields):
                self.problem(relative, path, message)
        return loaded

    def check_examples(self) -> None:
        """Each due definition's examples against its inputs, then its rules. With no more than
        :data:`COMPILED_AT_MOST` definitions due (the first run after an edit) each is accepted by its
        compiled check, which costs less than loading jsonschema; with more (every check), jsonschema
        checks them all, which costs less than compiling each. jsonschema words every refusal."""
        few = len(self.examples_due) <= COMPILED_AT_MOST
        for loaded in self.examples_due:
            definition = loaded.model
            for index, example in enumerate(definition.examples):
                found = loaded.validator.problems(example, compiled=few, compile_now=few)
                filled = loaded.validator.with_defaults(example)
                for p in found or checks.problems(definition.checks, filled):
                    self.problem(loaded.file, f"$.examples[{index}]{p['path'][1:]}", p["message"])

    def check_hook(self, relative: str, hook: str) -> None:
        module_name, _, function = hook.partition(":")
        try:
            if not callable(getattr(importlib.import_module(module_name), function, None)):
                self.problem(relative, "$.hook", f"{hook} is not a callable")
        except ImportError as exc:
            self.problem(relative, "$.hook", f"cannot import {module_name}: {exc}")

    def check_references(self, relative: str, definition: Definition, owner: Connector) -> None:
        inputs = definition.inputs.get("properties", {})
        required = set(definition.inputs.get("required", []))
        connection = owner.connection.schema_.get("properties", {})
        connection_required = set(owner.connection.schema_.get("required", []))
        allowed_scopes = {"inputs", "connection"} | ({"state"} if isinstance(definition, Trigger) else set())
        request = plain(definition.request)
        extras = {"pagination.when": getattr(definition.pagination, "when", None)}
        if definition.prefetch:
            prefetch = plain(definition.prefetch.request)
            extras.update({f"prefetch.request.{part}": value for part, value in prefetch.items()})
        for part, template in [*request.items(), *extras.items()]:
            for scope, path, filter_name in templates.references(template):
                where = f"$.{part}" if "." in part else f"$.request.{part}"
                head = path.split(".")[0]
                if scope not in allowed_scopes:
                    self.problem(relative, where, f"${scope} is not available in this kind of definition")
                elif scope == "inputs" and path and head not in inputs:
                    self.problem(relative, where, f"$inputs.{path} does not name an input")
                elif scope == "connection" and head not in connection:
                    self.problem(relative, where, f"$connection.{path} does not name a connection field")
                if filter_name and filter_name not in templates.FILTERS:
                    self.problem(
                        relative, where, f"unknown filter {filter_name!r}; known: {sorted(templates.FILTERS)}"
                    )
        for placeholder in templates.PLACEHOLDER.finditer(definition.request.path):
            scope, head = placeholder["scope"], placeholder["path"].lstrip(".").split(".")[0]
            needed = required if scope == "inputs" else connection_required
            what = "input" if scope == "inputs" else "connection"
            if head not in needed:
                self.problem(
                    relative,
                    "$.request.path",
                    f"path placeholder {placeholder[0]} must name a required {what} field",
                )

    def check_cross_references(self, connector: LoadedConnector) -> None:
        sources = {key: d.model.inputs for key, d in connector.definitions["dataSources"].items()}
        for kind in KINDS:
            for definition in connector.definitions[kind].values():
                for path, message in picklists.problems(definition.model.inputs, sources, connector.name):
                    self.problem(definition.file, path, f"x-datasource {message}")
        for definition in connector.definitions["triggers"].values():
            for path, message in _record_problems(connector, definition):
                self.problem(definition.file, path, message)
        self.check_connection_test(connector)

    def check_connection_test(self, connector: LoadedConnector) -> None:
        """``testConnection`` names an action of the connector, and its inputs fit that action."""
        test = connector.model.testConnection
        where = f"$.connectors.{connector.name}.testConnection"
        if test is None:
            return
        actions = connector.definitions["actions"]
        if test.action not in actions:
            hint = did_you_mean(test.action, actions)
            self.problem(
                "manifest.json",
                f"{where}.action",
                f"{test.action!r} is not an action of {connector.name}{hint}",
            )
            return
        action = actions[test.action]
        content = self.read_bytes.get(action.file)
        entry = self.entries[connector.name]
        if content is not None and self.known(b"connection test", connector.name.encode(), entry, content):
            return  # the same inputs against the same action passed before
        for problem in action.validator.problems(test.inputs, compiled=False):
            self.problem("manifest.json", f"{where}.inputs{problem['path'][1:]}", problem["message"])

    def check_unregistered(self, raw: Any) -> None:
        """Definition files on disk that the manifest (as written, sound or not) does not register."""
        registered: set[str] = set()
        connectors = raw.get("connectors") if isinstance(raw, dict) else None
        for connector in connectors.values() if isinstance(connectors, dict) else []:
            for kind in KINDS:
                files = connector.get(kind) if isinstance(connector, dict) else None
                if isinstance(files, list):
                    registered.update(f for f in files if isinstance(f, str))
        on_disk = self.snapshot.files if self.snapshot else catalog_cache.definition_names(self.root)
        for relative in on_disk:
            if relative != "manifest.json" and relative not in registered:
                self.problem(relative, "$", "definition file is not registered in manifest.json")


def _record_problems(connector: LoadedConnector, trigger: LoadedDefinition) -> Iterator[tuple[str, str]]:
    """Each ``record`` source of ``trigger`` that does not name part of an action's output."""
    model: Any = trigger.model
    found = events.sources(trigger)
    if isinstance(model.record, dict):
        cases = set(model.variants.cases) if model.variants is not None else set()
        if set(found) != cases:
            yield "$.record", f"give one record source per variant case: {sorted(cases)}"
    for case, source in found.items():
        try:
            events.record_source(connector, source)
        except events.SourceError as error:
            yield "$.record" + (f".{case}" if case else ""), str(error)


def check(root: Path | None = None) -> tuple[Catalog | None, list[Problem]]:
    """Load the definitions under ``root`` and return the catalog with every problem found."""
    loader = _Loader(root or default_root())
    catalog = loader.load()
    return catalog, loader.problems


_CACHE: dict[Path, Catalog] = {}


def load(root: Path | None = None, *, key: str | None = None) -> Catalog:
    """The catalog, loaded once per root; raises :class:`DefinitionError` listing problems if unsound.

    A tree whose content key is in the catalog cache passed every check unchanged and is loaded
    without repeating them. Otherwise each file whose checks passed before, unchanged, in a tree that
    passed (:func:`catalog_cache.checked_units`), is not checked again: a change to one definition
    checks that one. A tree that passes is added to the cache, unless a file changed while it was
    read. ``key``: the tree's :func:`catalog_cache.key_for`, where the caller has it.
    """
    resolved = (root or default_root()).resolve()
    if resolved not in _CACHE:
        key = key or catalog_cache.key_for(resolved)
        trusted = catalog_cache.known(key)
        checked = [] if trusted else catalog_cache.checked_units()
        # the bytes the key was computed from, where this process read them for it: checked as they are
        snapshot = None if trusted else catalog_cache.taken(resolved, key) or catalog_cache.snapshot(resolved)
        tracking = catalog_cache.cache_dir() is not None  # (units are remembered in the cache)
        loader = _Loader(resolved, trusted=trusted, tracking=tracking, checked=checked, snapshot=snapshot)
        catalog = loader.load()
        if loader.problems or catalog is None:
            raise DefinitionError(
                f"{len(loader.problems)} problem(s) in the definitions under {resolved}; "
                "run 'component validate'",
                problems=[p.to_dict() for p in loader.problems],
            )
        if snapshot is not None:
            # under the key of the bytes checked, which the snapshot holds (a tree changed since the
            # key was computed gives its own); unless a file was read from outside it
            if not loader.outside:
                catalog_cache.store(snapshot.key, catalog.to_json())
            catalog_cache.remember_units(loader.units, checked)
        _CACHE[resolved] = catalog
    return _CACHE[resolved]
