"""Small-int codes for what the index holds per asset: party ids, type ids and
releasability sets, and, per releasability code, who may see the details.

The asset table stores codes, not strings, so that a check compares ints in arrays;
these classes turn the codes back into the values they stand for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Codes:
    """Interns values (party ids, type ids, releasability sets) as small ints."""

    def __init__(self) -> None:
        self.code_of: dict[Any, int] = {}
        self.values: list[Any] = []

    def __call__(self, value: Any) -> int:
        code = self.code_of.get(value)
        if code is None:
            code = self.code_of[value] = len(self.values)
            self.values.append(value)
        return code


class Releasability(Codes):
    """Codes of releasability sets: ``"*"`` (anyone) or the frozenset of parties that may
    see the details, the owner always among them."""

    def __init__(self) -> None:
        super().__init__()
        self._visibility_cache: dict[str | None, np.ndarray[Any, np.dtype[np.bool_]]] = {}

    def code(self, owner: str, releasable_to: Sequence[str] | None) -> int:
        if releasable_to and "*" in releasable_to:
            return self("*")
        return self(frozenset(releasable_to or ()) | {owner})

    def visibility(self, asker: str | None) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """For each releasability code, whether ``asker`` may see details (cached)."""
        n = len(self.values)
        cached = self._visibility_cache.get(asker)
        if cached is not None and len(cached) == n:
            return cached
        table = np.fromiter(
            (rel == "*" or (asker is not None and asker in rel) for rel in self.values),
            dtype=bool,
            count=n,
        )
        self._visibility_cache[asker] = table
        return table
