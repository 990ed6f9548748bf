"""The vendor reference specs the generators read, and the one-line error when they are missing.

The specs are not part of the project (``../shared/reference`` beside a checkout, or ``--reference
DIR``). Without them a generator stops with one line naming what is missing and how to point at it,
and exits :data:`MISSING_INPUT` (``EX_NOINPUT``), never 1, which ``--check`` keeps for drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

MISSING_INPUT = 66  # sysexits.h EX_NOINPUT: an input file did not exist or was not readable


class MissingReference(Exception):
    """The reference folder holds none of the specs a generator needs."""


def spec_files(reference: Path, vendor: str, pattern: str = "*.subset.json") -> list[Path]:
    """The vendor's spec files under ``reference``; :class:`MissingReference` when there are none."""
    folder = reference / vendor
    found = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not found:
        where = "does not exist" if not reference.is_dir() else f"holds no {vendor}/{pattern}"
        raise MissingReference(
            f"the {vendor} reference specs are missing: {reference} {where}; point at the folder "
            "holding them with --reference DIR (default: ../shared/reference beside the checkout)"
        )
    return found


def report(script: str, error: MissingReference) -> int:
    """Print the error as one line on stderr and return the exit code."""
    print(f"{script}: {error}", file=sys.stderr)
    return MISSING_INPUT
