"""Progress of long work (rate-budget waits, pages read), reported through logging.

Library code calls :func:`report`; whoever shows progress attaches a handler to the
``component.progress`` logger (the command line prints one line on stderr). Messages carry
names and counts only, never request contents or credentials.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("component.progress")


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 record``, ``2 records`` (``many`` for an irregular plural)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def report(kind: str, message: str, *args: object, **fields: Any) -> None:
    """One progress event (``message % args``): ``kind`` is ``"budget-wait"`` or ``"pages"``;
    ``fields`` are the same facts as data, for handlers that render them their own way."""
    if log.isEnabledFor(logging.INFO):
        log.info(message, *args, extra={"progress": {"kind": kind, **fields}})
