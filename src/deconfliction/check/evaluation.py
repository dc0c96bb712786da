"""One evaluation of the check: the observation in numbers, exact and on the withheld
lattice, and what the passes have found so far.

The passes (``matching``, ``withheld``, ``gaps``) add candidates, withheld parties,
coverage gaps and the earliest time the answer may change; ``answer`` words what is
listed. One object per check, and the only one: the passes are functions over it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from deconfliction.check.index.shapes import Shape
from deconfliction.check.view import CheckView
from deconfliction.domain import geo
from deconfliction.domain.features import NOT_COMPARED, Comparison, compare
from deconfliction.domain.model import Observation
from deconfliction.domain.result import CoverageGap

#: Lookahead of the first search for the next arrival (seconds); later searches widen.
ARRIVAL_LOOKAHEADS = (60.0, 600.0, 3600.0)
_NO_SLOTS = np.empty(0, dtype=np.int64)


class Evaluation:
    """One check's inputs and findings. Collects sortable candidates first; only what is
    listed is worded (``answer``)."""

    def __init__(
        self,
        view: CheckView,
        obs: Observation,
        asking_party_id: str | None,
        now: datetime,
        visibility: np.ndarray[Any, np.dtype[np.bool_]],
        any_withheld_asset: bool,
        any_withheld_shape: bool,
    ) -> None:
        self.view = view
        self.obs = obs
        self.asker = asking_party_id
        self.asker_code = view.party_codes.code_of.get(asking_party_id, -2)
        self.now = now.timestamp()
        self.t = obs.time.timestamp() if obs.time else self.now
        self.lat = obs.position.lat
        self.lon = obs.position.lon
        self.r_obs = geo.r99(obs.effective_cep_m)
        self.horizon = view.settings.horizon.total_seconds()
        self.fresh = view.settings.fresh.total_seconds()
        # Earliest time the answer may change; never later than the horizon from now.
        self.changes_at = self.now + self.horizon
        # (group, -score, key, tiebreak, builder): group 0 protected sites and areas (key:
        # distance), 1 withheld (fixed), 2 the rest (key: likely.py's inverse density).
        self.found: list[tuple[int, int, float, str, Any]] = []
        self.withheld: dict[str, int] = {}
        self.gaps: list[CoverageGap] = []
        #: Assets matched exactly, told to their owners: slots from the asset pass (one
        #: each), ids from the movements.
        self.matched_slots: Any = _NO_SLOTS
        self.matched_assets: list[str] = []
        self.asset_total = 0  # visible asset matches, listed or not
        self.comparisons: dict[int, Comparison] = {}
        #: Per type code, once per check: what it is, and the feature reasons and codes.
        self.type_words: dict[int, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
        # The coarse view of the check, for everything withheld (domain/coarse.py).
        lattice = view.settings.withheld
        self.lattice = lattice
        self.clat, self.clon = lattice.centre(self.lat, self.lon)
        self.r_obs_q = float(lattice.up(self.r_obs))
        self.tb = lattice.bucket(self.t)
        self.hd = lattice.half_diagonal_m
        #: Per releasability code, whether the asker may see details.
        self.visibility = visibility
        #: Whether anything could be withheld from the asker at all: the lattice passes
        #: are skipped when not (they would find nothing).
        self.any_withheld_asset = any_withheld_asset
        self.any_withheld_shape = any_withheld_shape

    def visible(self, party_code: int, rel_code: int) -> bool:
        if party_code == self.asker_code:
            return True
        rel = self.view.releasability.values[rel_code]
        return rel == "*" or (self.asker is not None and self.asker in rel)

    def vis(self, slots: Any) -> Any:
        """Which asset slots the asker may see in detail."""
        table = self.view.assets
        return (table.party[slots] == self.asker_code) | self.visibility[table.rel_code[slots]]

    def shape_rel(self, shape: Shape) -> tuple[int, int]:
        """A shape's (party code, releasability code): a movement without its own
        releasability follows its asset's."""
        view = self.view
        payload = shape.payload
        if shape.kind == "movement":
            slot = view.assets.slot_of.get(payload.asset_id)
            owner = shape.party
            if payload.releasable_to is not None or slot is None:
                return owner, view.releasability.code(
                    view.party_codes.values[owner], payload.releasable_to
                )
            return owner, int(view.assets.rel_code[slot])
        return shape.party, view.releasability.code(payload.party_id, payload.releasable_to)

    def comparison(self, type_code: int) -> Comparison:
        cached = self.comparisons.get(type_code)
        if cached is None:
            types = self.view.types
            kind = types.get(self.view.type_codes.values[type_code])
            cached = compare(self.obs.observed, kind, types) if kind is not None else NOT_COMPARED
            self.comparisons[type_code] = cached
        return cached

    def soonest(self, when: float) -> None:
        if self.t < when < self.changes_at:
            self.changes_at = when

    def soonest_withheld(self, when: float) -> None:
        """A change caused by something withheld: rounded down to its time bucket (never
        later), and at the latest "now" (the answer may change at any moment)."""
        if not when < self.changes_at:
            return  # also an open-ended window (inf)
        w = max(self.t, self.lattice.bucket(when))
        if w < self.changes_at:
            self.changes_at = w
