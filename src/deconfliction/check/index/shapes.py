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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from deconfliction.check.index.grid import CellGrid
from deconfliction.domain import geo
from deconfliction.domain.geo import FloatArray

_M_PER_DEG = geo.EARTH_RADIUS_M * math.pi / 180.0
#: Kinds whose geometry is a polygon (distance 0 inside).
_POLYGONAL = frozenset({"area", "aor"})


@dataclass(frozen=True, slots=True)
class AorRef:
    """What an AOR's shape carries: its unit, the unit's party and name (enough to plan
    a fan-out to thousands of AORs without reading each unit from the store)."""

    unit_id: str
    party_id: str
    name: str


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
    payload: Any = None
    chords: geo.Chords | None = None
    handle: int = -1
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    # A circle around every chord vertex: a cheap lower bound of the distance.
    centre: tuple[float, float] = (0.0, 0.0)
    circumradius_m: float = math.inf

    def distance_m(self, lat: float, lon: float) -> float:
        """Great-circle distance from the point to the shape (0 inside a polygon)."""
        if self.point is not None:
            return float(geo.haversine_scalar_m(lat, lon, self.point[0], self.point[1]))
        assert self.geom is not None
        if self.kind in _POLYGONAL and shapely.contains_xy(self.geom, lon, lat):
            return 0.0
        return self.outside_distance_m(lat, lon)

    def outside_distance_m(self, lat: float, lon: float) -> float:
        """Distance to the lines or boundary, for a point known not to be inside."""
        if self.point is not None:
            return float(geo.haversine_scalar_m(lat, lon, self.point[0], self.point[1]))
        assert self.chords is not None
        return geo.distance_to_precomputed_chords_m(lat, lon, self.chords)

    def lower_bound_m(self, lat: float, lon: float) -> float:
        """No point of the shape is closer than this (spherical metres)."""
        if self.point is not None:
            return float(geo.haversine_scalar_m(lat, lon, self.point[0], self.point[1]))
        to_centre = geo.haversine_scalar_m(lat, lon, self.centre[0], self.centre[1])
        return max(0.0, to_centre - self.circumradius_m)


def distances_m(
    shapes: Sequence[Shape], lats: Sequence[float], lons: Sequence[float]
) -> FloatArray:
    """``shapes[k].distance_m(lats[k], lons[k])`` for every k, polygons' containment and
    boundary distances each in one vectorised call (a report batch's hysteresis)."""
    n = len(shapes)
    out = np.zeros(n)
    chorded: list[int] = []
    polygonal: list[int] = []
    for k, shape in enumerate(shapes):
        if shape.point is not None:
            out[k] = shape.distance_m(lats[k], lons[k])
        elif shape.kind in _POLYGONAL:
            polygonal.append(k)
        else:
            chorded.append(k)
    if polygonal:
        geoms = np.empty(len(polygonal), dtype=object)
        geoms[:] = [shapes[k].geom for k in polygonal]
        inside = shapely.contains_xy(
            geoms,
            np.asarray([lons[k] for k in polygonal]),
            np.asarray([lats[k] for k in polygonal]),
        )
        # Inside a polygon: 0 (already in ``out``); outside: to its boundary.
        chorded.extend(k for k, hit in zip(polygonal, inside.tolist(), strict=True) if not hit)
    if chorded:
        chords: list[geo.Chords] = []
        for k in chorded:
            measured = shapes[k].chords
            assert measured is not None
            chords.append(measured)
        out[chorded] = geo.distances_to_precomputed_chords_m(
            [lats[k] for k in chorded], [lons[k] for k in chorded], chords
        )
    return out


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
    shape = Shape(shape_id, kind, party, margin_m, start, end, geom, None, payload)
    shape.chords = geo.Chords.of(lats, lons)
    # Centre: the normalised mean of the vertices' unit vectors; radius: the farthest
    # vertex. A small shape lies inside the convex hull of its boundary, so inside
    # that circle; chords are within centimetres of the edges, hence the slack.
    finite = ~np.isnan(lats)
    phi = np.radians(lats[finite])
    lam = np.radians(lons[finite])
    x = float(np.mean(np.cos(phi) * np.cos(lam)))
    y = float(np.mean(np.cos(phi) * np.sin(lam)))
    z = float(np.mean(np.sin(phi)))
    norm = math.sqrt(x * x + y * y + z * z)
    if norm > 1e-9:
        clat = math.degrees(math.asin(max(-1.0, min(1.0, z / norm))))
        clon = math.degrees(math.atan2(y, x))
        far = float(np.max(geo.haversine_m(clat, clon, lats[finite], lons[finite])))
        if far < 1_000_000:  # beyond that, spherical caps stop behaving like discs
            shape.centre = (clat, clon)
            shape.circumradius_m = far + geo.ABSOLUTE_SLACK_M
    return shape


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


def _wrapped(
    south: float, west: float, north: float, east: float
) -> list[tuple[float, float, float, float]]:
    """A box whose longitudes run past +-180 as boxes within [-180, 180] (empty if none do)."""
    if west >= -180.0 and east <= 180.0:
        return []
    if east - west >= 360.0:
        return [(south, -180.0, north, 180.0)]
    out = []
    if west < -180.0:
        out.append((south, west + 360.0, north, 180.0))
        west = -180.0
    if east > 180.0:
        out.append((south, -180.0, north, east - 360.0))
        east = 180.0
    out.append((south, west, north, east))
    return out


class ShapeIndex:
    def __init__(self, cell_deg: float = 0.05, max_cells: int = 400) -> None:
        self.grid = CellGrid(cell_deg)
        self.max_cells = max_cells
        self._by_handle: dict[int, Shape] = {}
        self._by_id: dict[tuple[str, str], Shape] = {}
        self._cells: dict[int, set[int]] = {}
        self._cells_of: dict[int, list[int]] = {}
        self._large: set[int] = set()
        self._next = 0
        # Per handle, for the vectorised pre-tests: one box (the whole world for a
        # shape split in several), the margin, and the bounding circle.
        self._box = np.zeros((0, 4))
        self._circle = np.zeros((0, 4))  # centre lat, centre lon, circumradius, margin
        # Polygon geometries by handle (None otherwise), for one vectorised contains test.
        self._polygon = np.empty(0, dtype=object)
        #: Bumped by every put and remove of a kind (caches built over a kind compare it).
        self.versions: dict[str, int] = {}

    def _ensure(self, handle: int) -> None:
        if handle < len(self._box):
            return
        size = max(1024, 2 * len(self._box), handle + 1)
        box = np.zeros((size, 4))
        box[: len(self._box)] = self._box
        circle = np.zeros((size, 4))
        circle[: len(self._circle)] = self._circle
        polygon = np.full(size, None, dtype=object)
        polygon[: len(self._polygon)] = self._polygon
        self._box, self._circle, self._polygon = box, circle, polygon

    def __len__(self) -> int:
        return len(self._by_handle)

    def get(self, kind: str, shape_id: str) -> Shape | None:
        return self._by_id.get((kind, shape_id))

    def shapes(self, kind: str | None = None) -> list[Shape]:
        return [s for s in self._by_handle.values() if kind is None or s.kind == kind]

    def put(self, shape: Shape) -> None:
        self.remove(shape.kind, shape.id)
        self.versions[shape.kind] = self.versions.get(shape.kind, 0) + 1
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
        self._ensure(handle)
        if len(shape.boxes) == 1:
            self._box[handle] = shape.boxes[0]
        else:
            self._box[handle] = (-90.0, -540.0, 90.0, 540.0)
        centre = shape.point if shape.point is not None else shape.centre
        radius = 0.0 if shape.point is not None else shape.circumradius_m
        self._circle[handle] = (centre[0], centre[1], radius, shape.margin_m)
        self._polygon[handle] = shape.geom if shape.kind in _POLYGONAL else None
        self._by_handle[handle] = shape
        self._by_id[(shape.kind, shape.id)] = shape

    def remove(self, kind: str, shape_id: str) -> None:
        shape = self._by_id.pop((kind, shape_id), None)
        if shape is None:
            return
        self.versions[kind] = self.versions.get(kind, 0) + 1
        handle = shape.handle
        for key in self._cells_of.pop(handle, []):
            members = self._cells[key]
            members.discard(handle)
            if not members:
                del self._cells[key]
        self._large.discard(handle)
        del self._by_handle[handle]
        self._polygon[handle] = None

    def touching(
        self,
        geom: BaseGeometry,
        margin_m: float = 0.0,
        kind: str | None = "aor",
        *,
        exact: bool = True,
    ) -> list[Shape]:
        """Every shape (of ``kind``) that a line or polygon comes within ``margin_m`` plus the
        shape's own margin of, without testing every shape.

        The cells come from the grid: for a line, the cells around each vertex of the
        densified line (every point of a chord is within half a chord of a vertex); for a
        polygon, the cells of its margin-widened bounding boxes. An exact test follows
        (:func:`deconfliction.domain.planning.geometries_within`) unless ``exact`` is
        false: then the grid's superset is returned for a caller whose own test is exact
        (a movement's fan-out, :func:`deconfliction.domain.planning.planned_route_entry`).
        A polygon too big for the grid (more than ``max_cells`` times 50 cells) falls back
        to every shape.
        """
        from deconfliction.domain.planning import geometries_within

        margin_deg = geo.widen(margin_m) / _M_PER_DEG
        handles: set[int] = set(self._large)
        cells = self._cells
        keys: list[int] | None = []
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            budget = self.max_cells * 50
            for part in getattr(geom, "geoms", [geom]):
                west, south, east, north = part.bounds
                s = max(-90.0, south - margin_deg)
                n = min(90.0, north + margin_deg)
                poleward = min(89.0, max(abs(s), abs(n)))
                dlon = margin_deg / math.cos(math.radians(poleward))
                w, e = max(-180.0, west - dlon), min(180.0, east + dlon)
                for box in _wrapped(s, west - dlon, n, east + dlon) or [(s, w, n, e)]:
                    assert keys is not None
                    keys.extend(self.grid.cells_for_box(*box))
                    if len(keys) > budget:
                        keys = None
                        break
                if keys is None:
                    break
        # Lines, and polygon boundaries too (cheap, and they keep the wrap cases exact).
        boundary = geom.boundary if geom.geom_type in ("Polygon", "MultiPolygon") else geom
        half_chord = geo.DENSIFY_DEG * _M_PER_DEG / 2.0 + geo.ABSOLUTE_SLACK_M
        radius = geo.widen(margin_m) + half_chord
        if keys is not None:
            for line in getattr(boundary, "geoms", [boundary]):
                for lon, lat in shapely.segmentize(line, geo.DENSIFY_DEG).coords:
                    keys.extend(self.grid.cells_within(lat, lon, radius))
        if keys is None:
            handles = set(self._by_handle)
        else:
            for key in set(keys):
                members = cells.get(key)
                if members:
                    handles |= members
        out: list[Shape] = []
        for handle in sorted(handles):
            shape = self._by_handle[handle]
            if kind is not None and shape.kind != kind:
                continue
            if not exact:
                out.append(shape)
                continue
            target = shape.geom
            if target is None:
                assert shape.point is not None
                target = shapely.Point(shape.point[1], shape.point[0])
            if geometries_within(geom, target, shape.margin_m + margin_m):
                out.append(shape)
        return out

    def near(self, lat: float, lon: float, r_obs: float) -> list[tuple[Shape, float]]:
        """Every shape within its margin plus ``r_obs`` of the point, with its distance.

        The grid and a box test pass a superset; the exact test compares the
        distance with the widened radius.
        """
        radius = geo.widen(r_obs)
        handles: set[int] = set(self._large)
        cells = self._cells
        for key in self.grid.cells_within(lat, lon, radius):
            members = cells.get(key)
            if members:
                handles |= members
        # Box test: the margin-widened boxes, widened again by the observer's
        # radius (tangent-meridian bound, exact on the sphere).
        ang = radius / geo.EARTH_RADIUS_M
        r_lat = math.degrees(ang) + 1e-9
        phi = math.radians(lat)
        if abs(phi) + ang >= math.pi / 2 - 1e-9:
            r_lon = 360.0
        else:
            r_lon = math.degrees(math.asin(min(1.0, math.sin(ang) / math.cos(phi)))) + 1e-9
        if not handles:
            return []
        lons = (lon, lon - 360.0, lon + 360.0) if abs(lon) + r_lon > 180.0 else (lon,)
        h = np.fromiter(handles, dtype=np.int64, count=len(handles))
        box = self._box[h]
        in_lat = (box[:, 0] - r_lat <= lat) & (lat <= box[:, 2] + r_lat)
        in_lon = np.zeros(len(h), dtype=bool)
        for x in lons:
            in_lon |= (box[:, 1] - r_lon <= x) & (x <= box[:, 3] + r_lon)
        h = h[in_lat & in_lon]
        circle = self._circle[h]
        limit = geo.widen(circle[:, 3] + r_obs)
        lower = geo.haversine_m(lat, lon, circle[:, 0], circle[:, 1]) - circle[:, 2]
        keep = lower <= limit
        out: list[tuple[Shape, float]] = []
        by_handle = self._by_handle
        kept = h[keep]
        limits = limit[keep].tolist()
        # One vectorised point-in-polygon test (None, for a non-polygon, is never inside).
        inside = shapely.contains_xy(self._polygon[kept], lon, lat).tolist()
        outside: list[tuple[Shape, float]] = []
        for handle, lim, contained in zip(kept.tolist(), limits, inside, strict=True):
            shape = by_handle[handle]
            if len(shape.boxes) > 1 and not any(
                south - r_lat <= lat <= north + r_lat
                and any(west - r_lon <= x <= east + r_lon for x in lons)
                for south, west, north, east in shape.boxes
            ):
                continue
            if contained:
                out.append((shape, 0.0))
            else:
                outside.append((shape, lim))
        if outside:
            # Every boundary distance in one vectorised pass (dense places hold dozens).
            shapes = [shape for shape, _ in outside]
            n = len(shapes)
            distances = distances_m(shapes, [lat] * n, [lon] * n).tolist()
            for (shape, lim), d in zip(outside, distances, strict=True):
                if d <= lim:
                    out.append((shape, d))
        return out
