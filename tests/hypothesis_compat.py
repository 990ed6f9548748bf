"""hypothesis-jsonschema 0.23 on a newer Hypothesis.

Its object strategy drives ``hypothesis.internal.conjecture.utils.many`` the old way
(``while elements.more(): ...``); newer Hypothesis made ``many`` a context manager to iterate.
:func:`install` gives hypothesis-jsonschema an adapter with the old shape, and does nothing where
``many`` still has ``more``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import hypothesis.internal.conjecture.utils as conjecture_utils
import hypothesis_jsonschema._from_schema as from_schema_module


class _LegacyMany:
    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = conjecture_utils.many(data, **sizes)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self) -> None:
        self._many.reject()


def install() -> None:
    if not hasattr(conjecture_utils.many, "more"):
        from_schema_module.cu = SimpleNamespace(many=_LegacyMany)  # type: ignore[attr-defined]
