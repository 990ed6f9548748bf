"""Rules over several inputs (``checks``) and a connection's own base URL."""

from __future__ import annotations

from component.checks import problems
from component.models import InputCheck

AFTER = [InputCheck(rule="after", field="end", other="start")]


def test_after_passes_when_end_is_later_or_a_side_is_unset() -> None:
    assert problems(AFTER, {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T11:00:00Z"}) == []
    assert problems(AFTER, {"end": "2026-01-01T11:00:00Z"}) == []
    assert problems(AFTER, {"start": "2026-01-01T10:00:00Z"}) == []


def test_after_names_the_field_when_end_is_not_later() -> None:
    same = {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T10:00:00+00:00"}
    assert problems(AFTER, same) == [{"path": "$.end", "message": "must be after start"}]
    custom = [InputCheck(rule="after", field="end", other="start", message="end must follow start")]
    earlier = {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T04:00:00-05:00"}
    assert problems(custom, earlier) == [{"path": "$.end", "message": "end must follow start"}]
