"""A party's coordination cells: its units marked ``coordination_cell``, whom HOLD notices,
escalations and probing alerts are addressed to. Read from the store page by page, and
remembered per party until a unit is written or removed.
"""

from __future__ import annotations

from deconfliction.store import Store

_UNIT_PAGE = 500


class CoordinationCells:
    """The cells of each party, as last read (cleared whenever a unit is written or removed)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: party → its coordination cells.
        self._cells: dict[str, list[str]] = {}
        self._cells_generation = 0

    def of(self, party_id: str) -> list[str]:
        """The party's coordination cells (cached until a unit is written or removed)."""
        cached = self._cells.get(party_id)
        if cached is not None:
            return cached
        generation = self._cells_generation
        cells: list[str] = []
        after: str | None = None
        while True:
            page = self.store.list("unit", party_ids=[party_id], after_id=after, limit=_UNIT_PAGE)
            cells.extend(u.id for u in page if u.data.get("coordination_cell"))
            if len(page) < _UNIT_PAGE:
                break
            after = page[-1].id
        if generation == self._cells_generation:  # no unit written while this was read
            self._cells[party_id] = cells
        return cells

    def forget(self) -> None:
        """A unit was written or removed: read every party's cells afresh."""
        self._cells_generation += 1
        self._cells.clear()
