"""The ``format`` checks of input schemas: cheap, explicit and always the same.

jsonschema checks ``date-time``, ``time`` and ``uri`` only when optional packages happen to be
installed, and one of those compiles a grammar at import that costs seconds of start-up. The formats
definitions use are checked here instead: ``date-time``, ``time`` and ``uri`` by small functions
(RFC 3339 and RFC 3986), the rest (``date``, ``email``, ``ipv4``, ``ipv6``, ``uuid``, ``regex``) by
jsonschema's own checkers. Any other format is an annotation, as Draft 2020-12 allows.
:data:`CANONICAL` names the one spelling requests carry of values RFC 3339 lets be written several
ways (``t`` or a space for ``T``, ``z`` for ``Z``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jsonschema import FormatChecker

JSONSCHEMA_FORMATS = ("date", "email", "idn-email", "ipv4", "ipv6", "regex", "uuid")
KNOWN_FORMATS = frozenset({*JSONSCHEMA_FORMATS, "date-time", "time", "uri"})
_TIME = r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.[0-9]+)?"
_OFFSET = r"(?:[Zz]|[+-](?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
_DATE_TIME = re.compile(
    rf"(?P<year>[0-9]{{4}})-(?P<month>[0-9]{{2}})-(?P<day>[0-9]{{2}})[Tt ]{_TIME}{_OFFSET}"
)
_FULL_TIME = re.compile(_TIME + _OFFSET)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]*")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _valid_time(match: re.Match[str]) -> bool:
    offset_ok = match["oh"] is None or (int(match["oh"]) < 24 and int(match["om"]) < 60)
    # second 60 is a leap second, which RFC 3339 allows
    return int(match["hour"]) < 24 and int(match["minute"]) < 60 and int(match["second"]) <= 60 and offset_ok


def is_date_time(instance: object) -> bool:
    """RFC 3339 ``date-time``: a real calendar date, a time and a mandatory offset.

    As RFC 3339 allows (section 5.6), ``T`` may be a lower-case ``t`` or a space and ``Z`` a
    lower-case ``z``; :func:`canonical_date_time` spells them the one way requests carry.
    """
    if not isinstance(instance, str):
        return True
    if _usual(instance):
        try:  # in this shape, what fromisoformat accepts the full check accepts too
            datetime.fromisoformat(instance)
            return True
        except ValueError:  # a leap second, or not a date-time
            pass
    match = _DATE_TIME.fullmatch(instance)
    if match is None:
        return False
    if match["om"] is None or match["om"] < "60":
        try:  # what fromisoformat accepts (in C, quickly) the full check accepts too
            datetime.fromisoformat(instance)
            return True
        except ValueError:  # a leap second, a lower-case "t" or "z", or not a date-time
            pass
    return _valid_date_time(match)


def _usual(text: str) -> bool:
    """Whether ``text`` is spelled ``YYYY-MM-DDThh:mm:ssZ`` if its other characters are digits, the
    usual spelling, told without a regular expression. Digits are left to ``fromisoformat``, which
    takes only ASCII digits there: with these separators it reads nothing but that spelling."""
    return (
        len(text) == 20
        and text[19] == "Z"
        and text[10] == "T"
        and text[4] == text[7] == "-"
        and text[13] == text[16] == ":"
        and text.isascii()
    )


def _valid_date_time(match: re.Match[str]) -> bool:
    """The full check of a date-time of the right shape: each range, and a real calendar date."""
    if not _valid_time(match):
        return False
    try:
        date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return False
    return True


def canonical_date_time(value: str) -> str:
    """A valid date-time with ``T`` between date and time and an upper-case ``Z``; anything else as is.

    ``2024-01-15 10:00:00z`` -> ``2024-01-15T10:00:00Z``. Only the separator and the ``Z`` change:
    fractions and offsets stay as written, so the instant is the same.
    """
    if len(value) < 11 or (value[10] == "T" and value[-1] != "z") or not is_date_time(value):
        return value
    return value[:10] + "T" + value[11:-1] + value[-1].upper()


def canonical_time(value: str) -> str:
    """A valid ``time`` with an upper-case ``Z``; anything else as is."""
    return value[:-1] + "Z" if value.endswith("z") and is_time(value) else value


# Formats whose valid values have more than one spelling: the one requests carry (the inputs'
# canonical form, applied after validation by ``SchemaValidator.canonical``).
CANONICAL: dict[str, Callable[[str], str]] = {"date-time": canonical_date_time, "time": canonical_time}


def is_time(instance: object) -> bool:
    """RFC 3339 ``full-time``: ``14:30:00Z``, ``14:30:00.5+02:00``."""
    if not isinstance(instance, str):
        return True
    match = _FULL_TIME.fullmatch(instance)
    return match is not None and _valid_time(match)


def is_uri(instance: object) -> bool:
    """An absolute URI (RFC 3986): a scheme, then no spaces, controls or stray ``%``."""
    if not isinstance(instance, str):
        return True
    return _URI.fullmatch(instance) is not None and _PERCENT.search(instance) is None


@cache
def format_checker() -> FormatChecker:
    """The one format checker every input schema is compiled with (built on first use)."""
    from jsonschema import FormatChecker

    checker = FormatChecker(JSONSCHEMA_FORMATS)
    checker.checks("date-time")(is_date_time)
    checker.checks("time")(is_time)
    checker.checks("uri")(is_uri)
    return checker


@cache
def format_functions() -> dict[str, Callable[[object], bool]]:
    """Each known format as a plain predicate (for compiled validators), backed by :func:`format_checker`
    (built when a value of such a format is first checked: compiling a check loads no jsonschema)."""

    def predicate(name: str) -> Callable[[object], bool]:
        return lambda value: format_checker().conforms(value, name)

    own: dict[str, Callable[[object], bool]] = {"date-time": is_date_time, "time": is_time, "uri": is_uri}
    return {name: own.get(name) or predicate(name) for name in KNOWN_FORMATS}
