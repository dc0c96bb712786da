"""A latitude-banded cell grid on the whole sphere.

Rows are bands of ``cell_deg`` latitude; each row is cut into as many columns as
keep cells roughly square on the ground (one column next to a pole), so a disc
of a given radius touches a bounded number of cells at any latitude. Keys are
plain ints. :meth:`CellGrid.cells_within` returns a superset of the cells a
disc touches: it never misses one, which is what lets the exact test that
follows be the only filter that drops anything.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from deconfliction.domain.geo import EARTH_RADIUS_M

_DEG_PER_RAD = 180.0 / math.pi


class CellGrid:
    __slots__ = ("_ncols_array", "cell_deg", "max_cols", "n_rows", "ncols")

    def __init__(self, cell_deg: float) -> None:
        self.cell_deg = cell_deg
        self.n_rows = math.ceil(180.0 / cell_deg)
        ncols = []
        for row in range(self.n_rows):
            south = -90.0 + row * cell_deg
            north = min(90.0, south + cell_deg)
            poleward = max(abs(south), abs(north))
            ncols.append(max(1, int(360.0 * math.cos(math.radians(poleward)) / cell_deg)))
        self.ncols = ncols
        self.max_cols = max(ncols)
        self._ncols_array = np.asarray(ncols, dtype=np.int64)

    def row_of(self, lat: float) -> int:
        return min(self.n_rows - 1, int((lat + 90.0) / self.cell_deg))

    def key(self, lat: float, lon: float) -> int:
        row = self.row_of(lat)
        n = self.ncols[row]
        col = int((lon + 180.0) / 360.0 * n) % n
        return row * self.max_cols + col

    def keys(
        self, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        rows = np.minimum(self.n_rows - 1, ((lats + 90.0) / self.cell_deg).astype(np.int64))
        n = self._ncols_array[rows]
        cols = ((lons + 180.0) / 360.0 * n).astype(np.int64) % n
        keys: npt.NDArray[np.int64] = rows * self.max_cols + cols
        return keys

    @property
    def n_cells(self) -> int:
        return sum(self.ncols)

    def all_cells(self) -> list[int]:
        return [r * self.max_cols + c for r in range(self.n_rows) for c in range(self.ncols[r])]

    def cells_within(self, lat: float, lon: float, radius_m: float) -> list[int]:
        """Keys of every cell that may hold a point within ``radius_m`` (great circle).

        Any radius is taken: one past half the circumference, infinite or NaN (which
        no caller should pass, but which must not lose a cell) is every cell."""
        # A hair of slack so that float rounding at a cell edge never loses a cell.
        ang = radius_m / EARTH_RADIUS_M + 1e-9
        if not ang < math.pi:  # NaN too
            return self.all_cells()
        dlat = ang * _DEG_PER_RAD
        row_lo = self.row_of(max(-90.0, lat - dlat))
        row_hi = self.row_of(min(90.0, lat + dlat))
        # Bounding meridians of a spherical cap (tangent meridians); a cap that
        # holds a pole spans every longitude.
        phi = math.radians(lat)
        if abs(phi) + ang >= math.pi / 2 - 1e-12:
            dlon = 360.0
        else:
            dlon = math.asin(min(1.0, math.sin(ang) / math.cos(phi))) * _DEG_PER_RAD
        out: list[int] = []
        max_cols = self.max_cols
        for row in range(row_lo, row_hi + 1):
            n = self.ncols[row]
            base = row * max_cols
            if dlon >= 180.0:
                out.extend(range(base, base + n))
                continue
            c_lo = math.floor((lon - dlon + 180.0) / 360.0 * n)
            c_hi = math.floor((lon + dlon + 180.0) / 360.0 * n)
            if c_hi - c_lo + 1 >= n:
                out.extend(range(base, base + n))
            else:
                out.extend(base + (c % n) for c in range(c_lo, c_hi + 1))
        return out

    def count_within(self, lat: float, radius_m: float) -> int:
        """How many cells :meth:`cells_within` would return (cheap estimate, upper bound).

        Bounded by the whole grid, so that no radius (1e308, infinite, NaN) reaches an
        ``int`` of an infinite float."""
        ang = radius_m / EARTH_RADIUS_M
        if not ang < math.pi / 2:  # NaN too
            return self.n_rows * self.max_cols
        dlat = ang * _DEG_PER_RAD
        rows = int(2 * dlat / self.cell_deg) + 2
        phi = math.radians(lat)
        if abs(phi) + ang >= math.pi / 2 - 1e-12:
            return rows * self.max_cols
        dlon = math.asin(min(1.0, math.sin(ang) / math.cos(phi))) * _DEG_PER_RAD
        width = 360.0 / self.ncols[self.row_of(lat)]
        return rows * (int(2 * dlon / width) + 2)

    def cells_for_box(self, south: float, west: float, north: float, east: float) -> list[int]:
        """Cells overlapping a lon/lat box (west <= east; no wrap: callers split)."""
        out: list[int] = []
        for row in range(self.row_of(south), self.row_of(north) + 1):
            n = self.ncols[row]
            width = 360.0 / n
            c_lo = max(0, math.floor((west + 180.0) / width))
            c_hi = min(n - 1, math.floor((east + 180.0) / width))
            base = row * self.max_cols
            out.extend(range(base + c_lo, base + c_hi + 1))
        return out
