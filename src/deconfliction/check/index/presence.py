"""Whether a party has a fresh report near a point (presence gaps), from the table's
per-party coarse grid (``AssetTable.presence``: 0.5° cells of slot sets)."""

from __future__ import annotations

import itertools
from typing import Protocol

import numpy as np
import numpy.typing as npt

from deconfliction.check.index.grid import CellGrid
from deconfliction.domain.geo import haversine_m, haversine_scalar_m

FloatArray = npt.NDArray[np.float64]


class Table(Protocol):
    """What this reads of ``AssetTable``."""

    presence_grid: CellGrid
    presence: dict[int, set[int]]
    lat: FloatArray
    lon: FloatArray
    t0: FloatArray


def fresh(
    table: Table,
    party: int,
    lat: float,
    lon: float,
    t: float,
    max_age_s: float,
    radius_m: float,
) -> bool:
    """Whether ``party`` has any report younger than ``max_age_s`` within ``radius_m``."""
    pgrid = table.presence_grid
    base = party * (pgrid.n_rows * pgrid.max_cols)
    centre = base + pgrid.key(lat, lon)
    if _fresh_in(table, table.presence.get(centre), lat, lon, t, max_age_s, radius_m):
        return True
    for key in pgrid.cells_within(lat, lon, radius_m):
        if base + key != centre and _fresh_in(
            table, table.presence.get(base + key), lat, lon, t, max_age_s, radius_m
        ):
            return True
    return False


def _fresh_in(
    table: Table,
    members: set[int] | None,
    lat: float,
    lon: float,
    t: float,
    max_age_s: float,
    radius_m: float,
) -> bool:
    if not members:
        return False
    # Usually the first few members settle it; the vectorised scan is the fallback.
    for slot in itertools.islice(members, 8):
        if (
            abs(t - table.t0[slot]) < max_age_s
            and haversine_scalar_m(lat, lon, float(table.lat[slot]), float(table.lon[slot]))
            <= radius_m
        ):
            return True
    slots = np.fromiter(members, dtype=np.int64, count=len(members))
    fresh = slots[np.abs(t - table.t0[slots]) < max_age_s]
    return bool(
        fresh.size and (haversine_m(lat, lon, table.lat[fresh], table.lon[fresh]) <= radius_m).any()
    )
