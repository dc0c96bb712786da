"""The coarse lattice on which withheld things are matched (anti-probing, pure).

A check near something the asker may not see must still say ``HOLD`` (no false
negatives), but an exact answer would let repeated checks find the edge of its
reach — and so its position — to the metre. So everything withheld is compared
on a lattice instead: the observed point is replaced by the centre of its cell
(``cell_deg`` × ``cell_deg``), an asset's last report by the centre of *its*
cell, radii are rounded up to whole ``cell_m``, and times to ``step_s`` buckets.
Each rounding only widens (more ``HOLD``, an earlier ``valid_until``), never
narrows, so every exact match is a coarse one; and the answer depends on the
asker's inputs only through (cell, rounded radius, time bucket), so no number of
checks locates a withheld asset better than the cell of its last report
(docs/design/security.md states the bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from deconfliction.domain import geo

#: Metres per degree of latitude (a lower bound of the true value is not needed:
#: ``cell_m`` only sets the rounding step of radii).
_M_PER_DEG = 111_320.0


@dataclass(frozen=True, slots=True)
class Lattice:
    cell_deg: float = 0.02
    step_s: float = 60.0

    @property
    def cell_m(self) -> float:
        """The rounding step of radii (one cell's height)."""
        return self.cell_deg * _M_PER_DEG

    @property
    def half_diagonal_m(self) -> float:
        """No point is farther than this from its cell's centre (largest at the equator)."""
        h = self.cell_deg / 2
        return geo.haversine_scalar_m(0.0, 0.0, h, h) + geo.ABSOLUTE_SLACK_M

    def centre(self, lat: float, lon: float) -> tuple[float, float]:
        c = self.cell_deg
        clat = min(90.0, (math.floor(lat / c) + 0.5) * c)
        clon = (math.floor(lon / c) + 0.5) * c
        if clon > 180.0:
            clon -= 360.0
        return clat, clon

    def centres(self, lats: Any, lons: Any) -> tuple[Any, Any]:
        c = self.cell_deg
        clat = np.minimum(90.0, (np.floor(lats / c) + 0.5) * c)
        clon = (np.floor(lons / c) + 0.5) * c
        return clat, np.where(clon > 180.0, clon - 360.0, clon)

    def up(self, radius_m: Any) -> Any:
        """A radius rounded up to whole cells."""
        return np.ceil(np.asarray(radius_m) / self.cell_m) * self.cell_m

    def down(self, radius_m: Any) -> Any:
        return np.floor(np.asarray(radius_m) / self.cell_m) * self.cell_m

    def bucket(self, t: float) -> float:
        """The start of the time bucket holding ``t``."""
        return math.floor(t / self.step_s) * self.step_s

    # -- a withheld asset's inputs: what the lattice reads of it, and all it reads ---------

    def report_interval(self, t0: Any) -> tuple[Any, Any]:
        """A report time as its ``step_s`` bucket ``[lo, hi)``."""
        lo = np.floor(np.asarray(t0) / self.step_s) * self.step_s
        return lo, lo + self.step_s

    def interval_ages(self, tb: float, lo: Any, hi: Any) -> tuple[Any, Any]:
        """Least and greatest ``|t − t0|`` over ``t`` in the bucket ``[tb, tb + step_s]`` and
        ``t0`` in ``[lo, hi]``: the corners give the greatest; the gap between the two
        intervals, or 0 where they meet, the least."""
        end = tb + self.step_s
        greatest = np.maximum(
            np.maximum(np.abs(tb - lo), np.abs(tb - hi)),
            np.maximum(np.abs(end - lo), np.abs(end - hi)),
        )
        least = np.maximum(0.0, np.maximum(tb - hi, lo - end))
        return least, greatest

    def bucket_ages(self, tb: float, t0: Any) -> tuple[Any, Any]:
        """Least and greatest ``|t − t0|`` over the bucket ``[tb, tb + step_s]``."""
        a1 = np.abs(tb - t0)
        a2 = np.abs(tb + self.step_s - t0)
        inside = (t0 >= tb) & (t0 <= tb + self.step_s)
        return np.where(inside, 0.0, np.minimum(a1, a2)), np.maximum(a1, a2)
