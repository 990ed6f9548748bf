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


def test_a_side_from_the_existing_record_moves_the_problem_to_the_given_side() -> None:
    start, end = "2026-01-01T10:00:00Z", "2026-01-01T09:00:00Z"
    assert problems(AFTER, {"start": start, "end": end}, known={"start": start}) == [
        {"path": "$.end", "message": f"must be after start (the current start is {start})"}
    ]
    assert problems(AFTER, {"start": start, "end": end}, known={"end": end}) == [
        {"path": "$.start", "message": f"must be before end (the current end is {end})"}
    ]


def test_picklist_labels_take_the_first_non_empty_alternative() -> None:
    from component.templates import format_item

    label = "{name} ({phone.mobile|email.0|id})"
    assert format_item(label, {"name": "A", "phone": {"mobile": "+1"}, "email": ["a@x"]}) == "A (+1)"
    assert format_item(label, {"name": "A", "phone": {"mobile": ""}, "email": ["a@x"]}) == "A (a@x)"
    assert format_item(label, {"name": "A", "id": 7}) == "A (7)"
    assert format_item(label, {"name": "A"}) == "A ()"


def test_a_custom_unknown_field_message_still_names_each_field() -> None:
    from component.schemas import validator_for

    schema = {
        "type": "object",
        "properties": {"a": {}},
        "additionalProperties": False,
        "x-messages": {"additionalProperties": "only a is allowed"},
    }
    assert validator_for(schema).problems({"a": 1, "b": 2, "c": 3}) == [
        {"path": "$.b", "message": "only a is allowed"},
        {"path": "$.c", "message": "only a is allowed"},
    ]
