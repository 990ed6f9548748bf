"""Change markers (record timestamps) as comparable integers, whatever shape the vendor sends.

ServiceTitan sends ISO 8601 with up to seven fraction digits; other vendors may send dates,
epoch numbers or Firestore-style ``{"_seconds", "_nanoseconds"}`` objects. Every marker becomes
nanoseconds since the Unix epoch (UTC), so ``...:00Z`` and ``...:00.0000000Z`` compare equal.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import UTC, datetime
from typing import Any

NS = 1_000_000_000
DAY = 86_400 * NS
MIN_NS = -62_135_596_800 * NS  # 0001-01-01T00:00:00Z
MAX_NS = 253_402_300_800 * NS - 1  # 9999-12-31T23:59:59.999999999Z
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


def to_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch, or None when ``value`` is not a recognisable time.

    Times outside the years 1 to 9999 (``1e308``, an infinity, NaN) are not recognisable either:
    no calendar date names them.
    """
    ns = _to_ns(value)
    return ns if ns is not None and MIN_NS <= ns <= MAX_NS else None


def _to_ns(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        scale = NS // 1000 if abs(value) >= 100_000_000_000 else NS  # epoch ms or s
        scaled = value * scale
        return None if isinstance(scaled, float) and not math.isfinite(scaled) else int(scaled)
    if isinstance(value, dict):
        whole = value.get("_seconds", value.get("seconds"))
        nanos = value.get("_nanoseconds", value.get("nanoseconds", 0))
        if isinstance(whole, int) and isinstance(nanos, int) and not isinstance(whole, bool):
            return whole * NS + nanos
        return None
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        seconds = calendar.timegm(
            (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), 0, 0, 0)
        )
        datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds * NS + int((fraction or "0")[:9].ljust(9, "0"))


def to_iso(ns: int) -> str:
    """ISO 8601 in UTC, to the microsecond, rounded down (safe as an inclusive lower bound)."""
    moment = datetime.fromtimestamp(ns // NS, tz=UTC).replace(microsecond=ns % NS // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def to_date(ns: int) -> str:
    return datetime.fromtimestamp(ns // NS, tz=UTC).strftime("%Y-%m-%d")


def start_of_day(ns: int) -> int:
    return ns - ns % DAY
