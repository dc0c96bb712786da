"""Areas, movements, sites and AORs under a coarse cell grid.

Each shape is filed under every cell its bounding box touches once widened by
its own margin (a site's radius, a movement's corridor); a query reads the
cells within the observer's radius of the point. A shape too big for that
(more than ``max_cells`` cells) sits in a short list that is tested by box.
Time windows are not filtered here: the check needs shapes outside their
window too, to say when the answer will change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from deconfliction.domain import geo
from deconfliction.index.grid import CellGrid

_M_PER_DEG = geo.EARTH_RADIUS_M * math.pi / 180.0


@dataclass(slots=True, eq=False)
class Shape:
    """One indexed shape. ``margin_m`` is added to the observer's radius."""

    id: str
    kind: str  # "area" | "movement" | "site" | "aor"
    party: int
    margin_m: float
    start: float = -math.inf
    end: float = math.inf
    geom: BaseGeometry | None = None
    point: tuple[float, float] | None = None  # a site's (lat, lon)
    lats: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.empty(0))
    lons: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.empty(0))
    payload: Any = None
    handle: int = -1
    boxes: tuple[tuple[float, float, float, float], ...] = ()

    def distance_m(self, lat: float, lon: float) -> float:
        """Great-circle distance from the point to the shape (0 inside a polygon)."""
        if self.point is not None:
            return float(geo.haversine_scalar_m(lat, lon, self.point[0], self.point[1]))
        assert self.geom is not None
        return geo.distance_to_geometry_m(lat, lon, self.geom, self.lats, self.lons)


def site_shape(
    shape_id: str, kind: str, party: int, lat: float, lon: float, radius_m: float, payload: Any
) -> Shape:
    return Shape(shape_id, kind, party, radius_m, point=(lat, lon), payload=payload)


def geometry_shape(
    shape_id: str,
    kind: str,
    party: int,
    geom: BaseGeometry,
    margin_m: float,
    start: float,
    end: float,
    payload: Any,
) -> Shape:
    lats, lons = geo.chords(geom)
    shapely.prepare(geom)
    return Shape(shape_id, kind, party, margin_m, start, end, geom, None, lats, lons, payload)


def _boxes(shape: Shape) -> tuple[tuple[float, float, float, float], ...]:
    """Bounding boxes (south, west, north, east) widened by the margin, split at +-180."""
    margin_deg = geo.widen(shape.margin_m) / _M_PER_DEG
    if shape.point is not None:
        parts = [(shape.point[0], shape.point[1], shape.point[0], shape.point[1])]
    else:
        assert shape.geom is not None
        geoms = getattr(shape.geom, "geoms", [shape.geom])
        parts = []
        for g in geoms:
            west, south, east, north = g.bounds
            parts.append((south, west, north, east))
    out = []
    for south, west, north, east in parts:
        s = max(-90.0, south - margin_deg)
        n = min(90.0, north + margin_deg)
        poleward = max(abs(s), abs(n))
        if poleward >= 89.999:
            out.append((s, -180.0, n, 180.0))
            continue
        dlon = margin_deg / math.cos(math.radians(poleward))
        w, e = west - dlon, east + dlon
        if e - w >= 360.0:
            out.append((s, -180.0, n, 180.0))
            continue
        if w < -180.0:
            out.append((s, w + 360.0, n, 180.0))
            w = -180.0
        if e > 180.0:
            out.append((s, -180.0, n, e - 360.0))
            e = 180.0
        out.append((s, w, n, e))
    return tuple(out)


class ShapeIndex:
    def __init__(self, cell_deg: float = 0.1, max_cells: int = 400) -> None:
        self.grid = CellGrid(cell_deg)
        self.max_cells = max_cells
        self._by_handle: dict[int, Shape] = {}
        self._by_id: dict[tuple[str, str], Shape] = {}
        self._cells: dict[int, set[int]] = {}
        self._cells_of: dict[int, list[int]] = {}
        self._large: set[int] = set()
        self._next = 0

    def __len__(self) -> int:
        return len(self._by_handle)

    def get(self, kind: str, shape_id: str) -> Shape | None:
        return self._by_id.get((kind, shape_id))

    def shapes(self, kind: str | None = None) -> list[Shape]:
        return [s for s in self._by_handle.values() if kind is None or s.kind == kind]

    def put(self, shape: Shape) -> None:
        self.remove(shape.kind, shape.id)
        handle = self._next
        self._next += 1
        shape.handle = handle
        shape.boxes = _boxes(shape)
        cells: list[int] = []
        for box in shape.boxes:
            cells.extend(self.grid.cells_for_box(*box))
            if len(cells) > self.max_cells:
                break
        if len(cells) > self.max_cells:
            self._large.add(handle)
            cells = []
        else:
            for key in cells:
                members = self._cells.get(key)
                if members is None:
                    self._cells[key] = {handle}
                else:
                    members.add(handle)
        self._cells_of[handle] = cells
        self._by_handle[handle] = shape
        self._by_id[(shape.kind, shape.id)] = shape

    def remove(self, kind: str, shape_id: str) -> None:
        shape = self._by_id.pop((kind, shape_id), None)
        if shape is None:
            return
        handle = shape.handle
        for key in self._cells_of.pop(handle, []):
            members = self._cells[key]
            members.discard(handle)
            if not members:
                del self._cells[key]
        self._large.discard(handle)
        del self._by_handle[handle]

    def near(self, lat: float, lon: float, r_obs: float) -> list[tuple[Shape, float]]:
        """Every shape within its margin plus ``r_obs`` of the point, with its distance.

        Exact after the grid: the distance is compared with the widened radius.
        """
        radius = geo.widen(r_obs)
        handles: set[int] = set()
        cells = self._cells
        for key in self.grid.cells_within(lat, lon, radius):
            members = cells.get(key)
            if members:
                handles |= members
        out: list[tuple[Shape, float]] = []
        by_handle = self._by_handle
        for handle in handles:
            shape = by_handle[handle]
            d = shape.distance_m(lat, lon)
            if d <= geo.widen(shape.margin_m + r_obs):
                out.append((shape, d))
        for handle in self._large:
            shape = by_handle[handle]
            d = shape.distance_m(lat, lon)
            if d <= geo.widen(shape.margin_m + r_obs):
                out.append((shape, d))
        return out
