"""Named rules over several inputs, for what JSON Schema cannot say (an end after its start).

A definition lists them as data (``"checks": [{"rule": "after", "field": "end", "other": "start"}]``);
:func:`problems` runs them after schema validation, so a broken rule never sends a request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .models import InputCheck
from .templates import MISSING, get_path

Problem = dict[str, str]


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _after(check: InputCheck, inputs: dict[str, Any]) -> str | None:
    later, earlier = _instant(get_path(inputs, check.field)), _instant(get_path(inputs, check.other))
    if later is None or earlier is None or later > earlier:
        return None
    return check.message or f"must be after {check.other}"


RULES: dict[str, Callable[[InputCheck, dict[str, Any]], str | None]] = {"after": _after}


def problems(checks: list[InputCheck], inputs: dict[str, Any]) -> list[Problem]:
    """One problem per failed rule, at the JSON path of the field it checks."""
    found = []
    for check in checks:
        if get_path(inputs, check.field) is MISSING:
            continue
        message = RULES[check.rule](check, inputs)
        if message:
            found.append({"path": f"$.{check.field}", "message": message})
    return found
