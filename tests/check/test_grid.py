"""The cell grid never loses a cell: any point within the radius lies in a returned cell."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.check.index.grid import CellGrid
from deconfliction.domain.geo import EARTH_RADIUS_M, haversine_scalar_m

pytestmark = pytest.mark.unit

GRIDS = [CellGrid(0.05), CellGrid(0.5), CellGrid(7.0)]


def _destination(lat: float, lon: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """Point at a great-circle distance and bearing (spherical, like the index's metric)."""
    phi1 = math.radians(lat)
    lam1 = math.radians(lon)
    theta = math.radians(bearing_deg)
    delta = dist_m / EARTH_RADIUS_M
    phi2 = math.asin(
        math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * math.sin(phi2),
    )
    lon2 = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
    return max(-90.0, min(90.0, math.degrees(phi2))), lon2


@settings(max_examples=800, deadline=None)
@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    radius=st.floats(0, 3_000_000),
    bearing=st.floats(0, 360),
    fraction=st.floats(0, 1),
    grid=st.sampled_from(GRIDS),
)
def test_cells_within_is_a_superset(
    lat: float, lon: float, radius: float, bearing: float, fraction: float, grid: CellGrid
) -> None:
    tlat, tlon = _destination(lat, lon, bearing, radius * fraction)
    if haversine_scalar_m(lat, lon, tlat, tlon) > radius:  # rounding at the rim
        return
    assert grid.key(tlat, tlon) in set(grid.cells_within(lat, lon, radius))


def test_poles_and_antimeridian_share_cells_sensibly() -> None:
    grid = CellGrid(0.05)
    assert grid.key(90.0, 0.0) == grid.key(90.0, 179.0)  # one cell at the pole row
    assert grid.key(10.0, 180.0) == grid.key(10.0, -180.0)
    cells = set(grid.cells_within(0.0, 179.999, 500.0))
    assert grid.key(0.0, -179.999) in cells


def test_count_within_bounds_cells_within() -> None:
    grid = CellGrid(0.05)
    for lat in (-89.0, -45.0, 0.0, 52.0, 85.0):
        for radius in (10.0, 3000.0, 50_000.0):
            assert grid.count_within(lat, radius) >= len(grid.cells_within(lat, 30.0, radius))
