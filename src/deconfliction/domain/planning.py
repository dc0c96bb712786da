"""Announcement planning: when can something first be inside an area of responsibility?

Pure functions (no I/O). docs/design/principles.md: a movement's earliest possible arrival anywhere
on its route is its start plus the along-route distance divided by the asset's
maximum speed. Entry into an AOR is the earliest possible arrival at the first
point of the route within ``corridor_m`` of the AOR (the asset may be anywhere
in the corridor). The along-route distance is the true WGS 84 geodesic length of
the route (pyproj) up to that point; the point itself is found in a local
azimuthal-equidistant frame centred on the AOR (exact distances from its centre,
well under 0.1 % distortion at a few hundred kilometres), the corridor widened by
the spherical metric's error so that the entry is never late. An operating area
"enters" an AOR it overlaps at its start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from deconfliction.domain import geo

_GEOD = Geod(ellps="WGS84")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """Where a route first comes within its corridor of an area, and how far along."""

    along_m: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime | None
    end: datetime | None

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        if self.end is not None and start is not None and start > self.end:
            return False
        return not (self.start is not None and end is not None and end < self.start)


def _parts(geom: BaseGeometry) -> list[BaseGeometry]:
    return list(getattr(geom, "geoms", [geom]))


def _project_polygon(geom: BaseGeometry, lat0: float, lon0: float) -> BaseGeometry:
    """A (multi)polygon in the local frame, edges densified first (straight in lon/lat)."""
    out = []
    for poly in _parts(geom):
        rings = []
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(shapely.segmentize(ring, geo.DENSIFY_DEG).coords)
            rings.append(geo.local_xy(lat0, lon0, xy[:, 1], xy[:, 0]))
        out.append(shapely.make_valid(shapely.Polygon(rings[0], rings[1:])))
    return shapely.union_all(out) if len(out) > 1 else out[0]


@dataclass(frozen=True, slots=True, eq=False)
class RoutePlan:
    """A route prepared once for testing many AORs (a movement's fan-out).

    The route densified to ``geo.DENSIFY_DEG`` chords, every part's segments in one
    array, in route order: their end points, their boxes (degrees), their WGS 84 geodesic
    lengths and the distance travelled before each (the along-route distance).
    """

    corridor_m: float
    lat0: FloatArray
    lon0: FloatArray
    lat1: FloatArray
    lon1: FloatArray
    before_m: FloatArray
    length_m: FloatArray
    #: An R-tree of the segments' boxes (degrees), for many AORs at once.
    tree: shapely.STRtree

    @classmethod
    def of(cls, route: BaseGeometry, corridor_m: float) -> RoutePlan:
        lat0, lon0, lat1, lon1, lengths = [], [], [], [], []
        for line in _parts(route):
            coords = np.asarray(shapely.segmentize(line, geo.DENSIFY_DEG).coords)
            lons, lats = coords[:, 0], coords[:, 1]
            _, _, seg_m = _GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
            lat0.append(lats[:-1])
            lon0.append(lons[:-1])
            lat1.append(lats[1:])
            lon1.append(lons[1:])
            lengths.append(np.asarray(seg_m, dtype=float))
        length_m = np.concatenate(lengths) if lengths else np.zeros(0)
        before_m = np.concatenate(([0.0], np.cumsum(length_m)[:-1])) if len(length_m) else length_m
        a_lat = np.concatenate(lat0) if lat0 else np.zeros(0)
        a_lon = np.concatenate(lon0) if lon0 else np.zeros(0)
        b_lat = np.concatenate(lat1) if lat1 else np.zeros(0)
        b_lon = np.concatenate(lon1) if lon1 else np.zeros(0)
        tree = shapely.STRtree(
            shapely.box(
                np.minimum(a_lon, b_lon),
                np.minimum(a_lat, b_lat),
                np.maximum(a_lon, b_lon),
                np.maximum(a_lat, b_lat),
            )
        )
        return cls(corridor_m, a_lat, a_lon, b_lat, b_lon, before_m, length_m, tree)

    def candidates(self, aor: BaseGeometry) -> IntArray:
        """The segments that may come within the corridor of the AOR (a superset, by
        boxes: :func:`_corridor_boxes`), in route order; near a pole or the antimeridian,
        all of them."""
        boxes, prunable = _corridor_boxes(np.asarray([aor.bounds]), self.corridor_m)
        if not prunable[0]:
            return np.arange(len(self.length_m))
        return np.sort(self.tree.query(shapely.box(*boxes[0]), predicate="intersects"))


def _corridor_boxes(
    bounds: FloatArray, corridor_m: float
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Each AOR's box (west, south, east, north) widened by the corridor, and whether that
    box can prune at all. Every point within ``d`` of an AOR is within ``d / R`` radians of
    latitude of its box and, below latitude phi, within ``2 asin(sin(d / 2R) / cos phi)``
    of longitude (the haversine bound); near a pole, or across the antimeridian, a box
    bounds nothing."""
    d = geo.widen(corridor_m) + _SEGMENT_SLACK_M
    dlat = math.degrees(d / geo.EARTH_RADIUS_M)
    south, north = bounds[:, 1] - dlat, bounds[:, 3] + dlat
    poleward = np.maximum(np.abs(south), np.abs(north))
    ratio = math.sin(d / (2 * geo.EARTH_RADIUS_M)) / np.cos(np.radians(np.minimum(poleward, 89.0)))
    dlon = np.degrees(2 * np.arcsin(np.minimum(ratio, 1.0)))
    west, east = bounds[:, 0] - dlon, bounds[:, 2] + dlon
    prunable = (poleward < 89.0) & (ratio < 1.0) & (west >= -180.0) & (east <= 180.0)
    return np.column_stack((west, south, east, north)), prunable


_QUAD_SEGS = 16
#: How far inside its circle a buffer's chord comes (cos of half a chord's angle).
_CHORD_INSIDE = math.cos(math.pi / (4 * _QUAD_SEGS))
#: Slack for a chord drawn straight in the AOR's local frame rather than in lon/lat.
_SEGMENT_SLACK_M = 10.0


def route_entry(route: BaseGeometry, corridor_m: float, aor: BaseGeometry) -> RouteEntry | None:
    """The first point of ``route`` within ``corridor_m`` of ``aor``, or None if it never is."""
    return planned_route_entry(RoutePlan.of(route, corridor_m), aor)


def planned_route_entry(plan: RoutePlan, aor: BaseGeometry) -> RouteEntry | None:
    """:func:`route_entry` with the route prepared once (:class:`RoutePlan`)."""
    k_all = plan.candidates(aor)
    if len(k_all) == 0:
        return None
    centre = aor.representative_point()
    lat0, lon0 = float(centre.y), float(centre.x)
    zone = _project_polygon(aor, lat0, lon0)
    if plan.corridor_m > 0:
        # A buffer's arcs are chords inside the true circle: widened so that they lie
        # outside it instead, or a route grazing the corridor would enter late.
        zone = zone.buffer(geo.widen(plan.corridor_m) / _CHORD_INSIDE, quad_segs=_QUAD_SEGS)
    shapely.prepare(zone)
    a = geo.local_xy(lat0, lon0, plan.lat0[k_all], plan.lon0[k_all])
    b = geo.local_xy(lat0, lon0, plan.lat1[k_all], plan.lon1[k_all])
    segments = shapely.linestrings(np.stack((a, b), axis=1))
    hits = shapely.intersects(zone, segments)
    if not hits.any():
        return None
    i = int(np.argmax(hits))
    k = int(k_all[i])
    segment = segments[i]
    hit = shapely.intersection(segment, zone)
    length = segment.length
    fraction = 0.0
    if length > 0:
        points = shapely.points(shapely.get_coordinates(hit))
        fraction = min(1.0, float(np.min(shapely.line_locate_point(segment, points))) / length)
    lon = float(plan.lon0[k] + (plan.lon1[k] - plan.lon0[k]) * fraction)
    lat = float(plan.lat0[k] + (plan.lat1[k] - plan.lat0[k]) * fraction)
    along = float(plan.before_m[k]) + fraction * float(plan.length_m[k])
    return RouteEntry(along, lat, lon)


def route_entries(plan: RoutePlan, aors: Sequence[BaseGeometry]) -> list[RouteEntry | None]:
    """:func:`planned_route_entry` for many AORs at once (a movement's fan-out).

    Simple polygons away from the poles and the antimeridian (nearly every AOR) are done
    together in numpy, in chunks: the candidate (AOR, segment) pairs come from an R-tree of
    the segments' boxes; each pair's segment and the AOR's densified edges are projected
    into the AOR's own azimuthal frame; the first point of the segment within the corridor
    of the AOR is where it first enters the capsule of an edge (or its start, if inside) —
    exact, where the one-by-one path buffers with polygons and is a little later at worst.
    Anything else goes the one-by-one way.
    """
    out: list[RouteEntry | None] = [None] * len(aors)
    if not aors or len(plan.length_m) == 0:
        return out
    geoms = np.empty(len(aors), dtype=object)
    geoms[:] = list(aors)
    boxes, prunable = _corridor_boxes(shapely.bounds(geoms), plan.corridor_m)
    fast = (
        (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0) & prunable
    )
    for i in np.flatnonzero(~fast).tolist():
        out[i] = planned_route_entry(plan, aors[i])
    fast_ids = np.flatnonzero(fast)
    if len(fast_ids) == 0:
        return out
    tree = plan.tree
    for start in range(0, len(fast_ids), _FANOUT_CHUNK):
        ids = fast_ids[start : start + _FANOUT_CHUNK]
        pairs = tree.query(shapely.box(*boxes[ids].T), predicate="intersects")
        found = _first_entries(plan, geoms[ids], pairs, geo.widen(plan.corridor_m))
        for local, entry in found.items():
            out[int(ids[local])] = entry
    return out


#: AORs per numpy pass of :func:`route_entries` (bounds the temporary arrays).
_FANOUT_CHUNK = 1000
#: Metres added to the corridor in the capsule test, so rounding never drops a hit.
_CAPSULE_SLACK_M = 0.01


def _first_entries(
    plan: RoutePlan, polygons: npt.NDArray[np.object_], pairs: IntArray, d: float
) -> dict[int, RouteEntry]:
    """The entries of simple polygons, given their candidate (polygon, segment) pairs.

    A polygon's pairs are tried in route order, in rounds of growing width (its 1st
    candidate segment, then the 2nd-3rd, the 4th-7th, ...), and a polygon stops at its
    first round with a hit: the earliest hit of that round is the first of the route
    (the segments before it all missed). Most routes enter within the first candidate
    or two, so this tests a fraction of the pairs (a 3-4 km AOR has about seven)."""
    if pairs.shape[1] == 0:
        return {}
    order = np.lexsort((pairs[1], pairs[0]))
    qi, qk = pairs[0][order], pairs[1][order]
    edges = _PolygonEdges.of(polygons)
    starts = np.flatnonzero(np.r_[True, qi[1:] != qi[:-1]])
    rank = np.arange(len(qi)) - np.repeat(starts, np.diff(np.r_[starts, len(qi)]))
    t_pair = np.full(len(qi), np.inf)
    resolved = np.zeros(len(polygons), dtype=bool)
    low, width, last = 0, 1, int(rank.max())
    while low <= last:
        chosen = np.flatnonzero((rank >= low) & (rank < low + width) & ~resolved[qi])
        if len(chosen):
            t_pair[chosen] = _pair_entries(plan, edges, qi[chosen], qk[chosen], d)
            resolved[qi[chosen[np.isfinite(t_pair[chosen])]]] = True
        low, width = low + width, width * 2
    hit = np.flatnonzero(np.isfinite(t_pair))
    out: dict[int, RouteEntry] = {}
    if len(hit) == 0:
        return out
    _, first = np.unique(qi[hit], return_index=True)
    for p in hit[first].tolist():
        k = int(qk[p])
        fraction = min(1.0, max(0.0, float(t_pair[p])))
        lon = float(plan.lon0[k] + (plan.lon1[k] - plan.lon0[k]) * fraction)
        lat = float(plan.lat0[k] + (plan.lat1[k] - plan.lat0[k]) * fraction)
        along = float(plan.before_m[k]) + fraction * float(plan.length_m[k])
        out[int(qi[p])] = RouteEntry(along, lat, lon)
    return out


@dataclass(frozen=True)
class _PolygonEdges:
    """Simple polygons' densified exterior edges, each in its polygon's azimuthal frame
    (centred on a point on its surface): edge ``first[i] + j`` is polygon i's j-th."""

    clat: FloatArray
    clon: FloatArray
    p0: FloatArray
    p1: FloatArray
    count: IntArray
    first: IntArray

    @classmethod
    def of(cls, polygons: npt.NDArray[np.object_]) -> _PolygonEdges:
        centres = shapely.get_coordinates(shapely.point_on_surface(polygons))
        clon, clat = centres[:, 0], centres[:, 1]
        rings = shapely.get_exterior_ring(shapely.segmentize(polygons, geo.DENSIFY_DEG))
        coords, owner = shapely.get_coordinates(rings, return_index=True)
        # Every vertex projected once (an edge's end is the next one's start).
        xy = geo.local_xy(clat[owner], clon[owner], coords[:, 1], coords[:, 0])
        same = owner[:-1] == owner[1:]
        e_owner = owner[:-1][same]
        p0, p1 = xy[:-1][same], xy[1:][same]
        count = np.bincount(e_owner, minlength=len(polygons))
        first = np.concatenate(([0], np.cumsum(count)[:-1]))
        return cls(clat, clon, p0, p1, count, first)


def _pair_entries(
    plan: RoutePlan, edges: _PolygonEdges, qi: IntArray, qk: IntArray, d: float
) -> FloatArray:
    """For each (polygon ``qi``, segment ``qk``) pair: the least fraction of the segment
    within ``d`` of the polygon (0 if it starts inside), inf if none."""
    a = geo.local_xy(edges.clat[qi], edges.clon[qi], plan.lat0[qk], plan.lon0[qk])
    b = geo.local_xy(edges.clat[qi], edges.clon[qi], plan.lat1[qk], plan.lon1[qk])
    reps = edges.count[qi]
    pair_of = np.repeat(np.arange(len(qi)), reps)
    offsets = np.arange(len(pair_of)) - np.repeat(np.cumsum(reps) - reps, reps)
    edge = np.repeat(edges.first[qi], reps) + offsets
    p0, p1 = edges.p0[edge], edges.p1[edge]
    ax, ay = a[pair_of, 0], a[pair_of, 1]
    vx, vy = b[pair_of, 0] - ax, b[pair_of, 1] - ay
    t_edge = _capsule_entry(ax, ay, vx, vy, p0, p1, d + _CAPSULE_SLACK_M)
    t_pair = np.full(len(qi), np.inf)
    np.minimum.at(t_pair, pair_of, t_edge)
    # The segment's start inside the polygon (odd crossings of a ray to the east).
    ey0, ey1 = p0[:, 1], p1[:, 1]
    straddles = (ey0 > ay) != (ey1 > ay)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = p0[:, 0] + (ay - ey0) * (p1[:, 0] - p0[:, 0]) / (ey1 - ey0)
    crossings = np.bincount(pair_of, weights=straddles & (ax < x_cross), minlength=len(qi))
    t_pair[crossings % 2 == 1] = 0.0
    return t_pair


def _capsule_entry(
    ax: FloatArray,
    ay: FloatArray,
    vx: FloatArray,
    vy: FloatArray,
    p0: FloatArray,
    p1: FloatArray,
    d: float,
) -> FloatArray:
    """For each segment ``A + t·v`` (t in [0, 1]) and edge ``p0→p1``: the least t at which
    the segment is within ``d`` of the edge (inf if never). The points within ``d`` of an
    edge are the union of two discs at its ends and a rectangle along it."""
    t = np.full(len(ax), np.inf)
    a2 = vx * vx + vy * vy
    with np.errstate(divide="ignore", invalid="ignore"):
        for qx, qy in ((p0[:, 0], p0[:, 1]), (p1[:, 0], p1[:, 1])):
            fx, fy = ax - qx, ay - qy
            c = fx * fx + fy * fy - d * d
            b = 2.0 * (vx * fx + vy * fy)
            disc = b * b - 4.0 * a2 * c
            t1 = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a2)
            entering = (c > 0) & (a2 > 0) & (disc >= 0) & (t1 >= 0) & (t1 <= 1)
            t = np.minimum(t, np.where(c <= 0, 0.0, np.where(entering, t1, np.inf)))
        ex, ey = p1[:, 0] - p0[:, 0], p1[:, 1] - p0[:, 1]
        length = np.hypot(ex, ey)
        ux, uy = ex / length, ey / length
        rx, ry = ax - p0[:, 0], ay - p0[:, 1]
        lo = np.zeros(len(ax))
        hi = np.ones(len(ax))
        for start, rate, low, high in (
            (rx * ux + ry * uy, vx * ux + vy * uy, 0.0, length),
            (ry * ux - rx * uy, vy * ux - vx * uy, -d, d),
        ):
            still = rate == 0
            outside = still & ((start < low) | (start > high))
            ta = (low - start) / rate
            tb = (high - start) / rate
            lo = np.where(still, lo, np.maximum(lo, np.minimum(ta, tb)))
            hi = np.where(still, np.where(outside, -np.inf, hi), np.minimum(hi, np.maximum(ta, tb)))
        slab = (length > 0) & (lo <= hi)
        t = np.minimum(t, np.where(slab, lo, np.inf))
    return np.asarray(t, dtype=np.float64)


def route_length_m(route: BaseGeometry) -> float:
    """The WGS 84 geodesic length of a (multi)line."""
    return float(sum(_GEOD.geometry_length(line) for line in _parts(route)))


def earliest_arrival(start: datetime, along_m: float, max_speed_kmh: float) -> datetime:
    """docs/design/principles.md: start plus along-route distance over maximum speed.

    An asset that cannot move (speed 0) arrives at the start only where the route
    starts; elsewhere it is taken to arrive at the start too (fail toward telling).
    """
    if along_m <= 0 or max_speed_kmh <= 0 or not math.isfinite(max_speed_kmh):
        return start
    return start + timedelta(seconds=along_m / (max_speed_kmh / 3.6))


def polygons_overlap(a: BaseGeometry, b: BaseGeometry) -> bool:
    """Whether two (RFC 7946-split) polygons share any point."""
    return bool(shapely.intersects(a, b))


def entry_for_window(entry: datetime, aor_start: datetime | None) -> datetime:
    """An AOR that opens later is entered, for its unit, when it opens."""
    if aor_start is not None and aor_start > entry:
        return aor_start
    return entry


def _project_any(geom: BaseGeometry, lat0: float, lon0: float) -> BaseGeometry:
    """Any geometry in the local frame around (lat0, lon0), edges densified first."""
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        return _project_polygon(geom, lat0, lon0)
    if kind == "Point":
        xy = geo.local_xy(lat0, lon0, np.asarray([geom.y]), np.asarray([geom.x]))
        return shapely.Point(xy[0])
    lines = []
    for line in _parts(geom):
        coords = np.asarray(shapely.segmentize(line, geo.DENSIFY_DEG).coords)
        lines.append(shapely.LineString(geo.local_xy(lat0, lon0, coords[:, 1], coords[:, 0])))
    return shapely.MultiLineString(lines) if len(lines) > 1 else lines[0]


def geometries_within(a: BaseGeometry, b: BaseGeometry, distance_m: float) -> bool:
    """Whether ``a`` and ``b`` come within ``distance_m`` of each other (widened, so never
    a miss: a few metres of false positive at most)."""
    if distance_m <= 0 or shapely.intersects(a, b):
        return bool(shapely.intersects(a, b))
    centre = b.representative_point()
    lat0, lon0 = float(centre.y), float(centre.x)
    pa = _project_any(a, lat0, lon0)
    pb = _project_any(b, lat0, lon0)
    return bool(shapely.dwithin(pa, pb, geo.widen(distance_m)))
