"""Announcement planning: when can something first be inside an area of responsibility?

Pure functions (no I/O). DESIGN.md: a movement's earliest possible arrival anywhere
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
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from deconfliction.domain import geo

_GEOD = Geod(ellps="WGS84")


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


def route_entry(route: BaseGeometry, corridor_m: float, aor: BaseGeometry) -> RouteEntry | None:
    """The first point of ``route`` within ``corridor_m`` of ``aor``, or None if it never is."""
    centre = aor.representative_point()
    lat0, lon0 = float(centre.y), float(centre.x)
    zone = _project_polygon(aor, lat0, lon0)
    if corridor_m > 0:
        zone = zone.buffer(geo.widen(corridor_m), quad_segs=16)
    shapely.prepare(zone)
    travelled = 0.0
    for line in _parts(route):
        coords = np.asarray(shapely.segmentize(line, geo.DENSIFY_DEG).coords)
        lons, lats = coords[:, 0], coords[:, 1]
        _, _, seg_m = _GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
        seg_m = np.asarray(seg_m, dtype=float)
        xy = geo.local_xy(lat0, lon0, lats, lons)
        segments = shapely.linestrings(np.stack((xy[:-1], xy[1:]), axis=1))
        hits = shapely.intersects(zone, segments)
        if hits.any():
            k = int(np.argmax(hits))
            segment = segments[k]
            hit = shapely.intersection(segment, zone)
            length = segment.length
            fraction = 0.0
            if length > 0:
                points = shapely.points(shapely.get_coordinates(hit))
                fraction = min(
                    1.0, float(np.min(shapely.line_locate_point(segment, points))) / length
                )
            lon = float(lons[k] + (lons[k + 1] - lons[k]) * fraction)
            lat = float(lats[k] + (lats[k + 1] - lats[k]) * fraction)
            along = travelled + float(seg_m[:k].sum()) + fraction * float(seg_m[k])
            return RouteEntry(along, lat, lon)
        travelled += float(seg_m.sum())
    return None


def route_length_m(route: BaseGeometry) -> float:
    """The WGS 84 geodesic length of a (multi)line."""
    return float(sum(_GEOD.geometry_length(line) for line in _parts(route)))


def earliest_arrival(start: datetime, along_m: float, max_speed_kmh: float) -> datetime:
    """DESIGN.md: start plus along-route distance over maximum speed.

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
