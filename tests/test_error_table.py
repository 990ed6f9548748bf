"""The README's error table lists every error type the CLI can print, derived from the code: the kind
of every error class in ``component`` and every error written by hand. The HTTP service's own errors
(``component/service``) are answers of ``serve``, never printed by the CLI, so they are left out."""

from __future__ import annotations

import importlib
import pkgutil
import re

import component
from component.errors import ComponentError
from tests.conftest import ROOT

# an error printed by hand (interrupted, internal): {"error": {"type": "..."}}
_LITERAL = re.compile(r'"error":\s*\{\s*"type":\s*"([a-z_]+)"')


def _subclasses(cls: type[ComponentError]) -> set[type[ComponentError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def kinds_in_code() -> set[str]:
    for module in pkgutil.walk_packages(component.__path__, "component."):
        if not module.name.endswith("__main__"):  # running it would run the CLI
            importlib.import_module(module.name)
    service = "component.service"
    kinds = {ComponentError.kind} | {
        cls.kind for cls in _subclasses(ComponentError) if not cls.__module__.startswith(service)
    }
    for path in (ROOT / "component").rglob("*.py"):
        if "service" in path.relative_to(ROOT / "component").parts:
            continue
        kinds |= set(_LITERAL.findall(path.read_text(encoding="utf-8")))
    return kinds


def kinds_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| exit | error types | meaning |") :].split("\n\n")[0]
    return {kind for row in table.splitlines()[2:] for kind in re.findall(r"`([a-z_]+)`", row.split("|")[2])}


def test_the_readme_error_table_lists_every_error_type() -> None:
    code = kinds_in_code()
    assert {"invalid_credentials", "invalid_flow", "state_mismatch", "interrupted", "internal"} <= code
    assert code - kinds_in_readme() == set()


def test_the_readme_error_table_lists_nothing_the_code_cannot_print() -> None:
    assert kinds_in_readme() - kinds_in_code() == set()
