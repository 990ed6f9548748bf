"""Named rules over several inputs, for what JSON Schema cannot say (an end after its start).

A definition lists them as data (``"checks": [{"rule": "after", "field": "end", "other": "start"}]``);
:func:`problems` runs them after schema validation, so a broken rule never sends a request.
A definition's prefetch may fill an unset side from the existing record (``known``); a failure then
names the side the caller gave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from .models import InputCheck
from .templates import MISSING, as_text, get_path

Problem = dict[str, str]


class Rule(NamedTuple):
    holds: Callable[[Any, Any], bool]
    message: str  # about ``field``; {other} names the other input
    inverse: str  # about ``other`` when ``field`` came from the existing record; {field} names it


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _after(value: Any, other: Any) -> bool:
    later, earlier = _instant(value), _instant(other)
    return later is None or earlier is None or later > earlier


RULES: dict[str, Rule] = {"after": Rule(_after, "must be after {other}", "must be before {field}")}


def describe(check: InputCheck) -> dict[str, str]:
    """A rule as the catalog shows it: ``{"rule", "field", "other", "message"}``.

    ``message`` is what a failed rule reports at ``field``; the rules and their meaning are listed
    in ``component/schema/vocabulary.json`` (``rules``).
    """
    message = check.message or RULES[check.rule].message.format(field=check.field, other=check.other)
    return {"rule": check.rule, "field": check.field, "other": check.other, "message": message}


def problems(
    checks: list[InputCheck], inputs: dict[str, Any], known: Mapping[str, Any] | None = None
) -> list[Problem]:
    """One problem per failed rule, at the JSON path of the input the caller gave.

    ``known`` holds inputs filled from an existing record rather than given by the caller.
    """
    known = known or {}
    found = []
    for check in checks:
        value, other = get_path(inputs, check.field), get_path(inputs, check.other)
        rule = RULES[check.rule]
        if value is MISSING or other is MISSING or rule.holds(value, other):
            continue
        if check.field in known and check.other not in known:
            message = rule.inverse.format(field=check.field, other=check.other)
            found.append({"path": f"$.{check.other}", "message": _current(message, check.field, known)})
            continue
        message = check.message or rule.message.format(field=check.field, other=check.other)
        if check.other in known:
            message = _current(message, check.other, known)
        found.append({"path": f"$.{check.field}", "message": message})
    return found


def _current(message: str, name: str, known: Mapping[str, Any]) -> str:
    return f"{message} (the current {name} is {as_text(known[name])})"
