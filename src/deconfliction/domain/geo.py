"""Geodesy for the check: distances, radii, MGRS and GeoJSON geometry.

The hot path measures great-circle (haversine) distances on a sphere of the
WGS 84 mean radius. The ratio of a great-circle distance to the true WGS 84
geodesic distance between the same two points stays within
[1 - SPHERE_ERROR, 1 + SPHERE_ERROR] (the meridional and prime-vertical radii of
curvature bound it); every candidate test widens its radius by that error, so
the faster metric never drops a candidate (``tests/domain/test_geo.py`` measures
the bound against pyproj's geodesic). Distances shown to people use pyproj's
true geodesic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from deconfliction.domain.errors import DomainError

FloatArray = npt.NDArray[np.float64]

EARTH_RADIUS_M = 6_371_008.8
#: Worst-case relative error of the spherical metric against WGS 84 (measured max 0.56 %).
SPHERE_ERROR = 0.0060
#: Absolute slack for float rounding and for the chords that stand in for edges.
ABSOLUTE_SLACK_M = 1.0
#: A 99 % radius is this many CEPs (Rayleigh: P(r <= k CEP) = 1 - 2^(-k^2) = 0.99 at k = 2.58).
R99_PER_CEP = 2.58
#: CoT's ``ce`` is a 1-sigma circular error; CEP = 1.1774 sigma.
CEP_PER_CE = 1.1774
#: CoT's marker for "position unknown".
CE_UNKNOWN = 9_999_999.0
#: Edges are split into chords no longer than this many degrees before measuring.
DENSIFY_DEG = 0.01

_GEOD = Geod(ellps="WGS84")
_RAD = math.pi / 180.0


def r99(cep_m: float) -> float:
    """The radius holding the true position with 99 % probability."""
    return R99_PER_CEP * cep_m


def cep_from_ce(ce: float) -> float | None:
    """CEP in metres from CoT ``ce``; ``None`` when the position is unknown."""
    if not math.isfinite(ce) or ce < 0 or ce >= CE_UNKNOWN:
        return None
    return CEP_PER_CE * ce


@overload
def widen(radius_m: float) -> float: ...
@overload
def widen(radius_m: FloatArray) -> FloatArray: ...
def widen(radius_m: float | FloatArray) -> float | FloatArray:
    """A radius in true metres as the spherical metric must test it."""
    return radius_m * (1.0 + SPHERE_ERROR) + ABSOLUTE_SLACK_M


def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in metres; numpy-broadcasting; safe across +-180 deg."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp * 0.5) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def haversine_scalar_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1 = lat1 * _RAD
    p2 = lat2 * _RAD
    a = (
        math.sin((p2 - p1) * 0.5) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin((lon2 - lon1) * _RAD * 0.5) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(a, 1.0)))


def geodesic_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """True WGS 84 geodesic distance in metres (for what people read)."""
    _, _, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(dist)


def local_xy(
    lat0: float | FloatArray, lon0: float | FloatArray, lats: FloatArray, lons: FloatArray
) -> FloatArray:
    """Spherical azimuthal-equidistant coordinates (metres) around (lat0, lon0).

    The distance of every projected vertex from the origin is its exact
    great-circle distance, at any latitude and across the antimeridian.
    ``lat0``/``lon0`` may be arrays too (each point in a frame of its own).
    Returns an (n, 2) array of (east, north).
    """
    p0 = np.radians(lat0)
    p = np.radians(lats)
    dl = np.radians(lons - lon0)
    cos_p = np.cos(p)
    cos_p0 = np.cos(p0)
    a = np.sin((p - p0) * 0.5) ** 2 + cos_p0 * cos_p * np.sin(dl * 0.5) ** 2
    dist = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    bearing = np.arctan2(np.sin(dl) * cos_p, cos_p0 * np.sin(p) - np.sin(p0) * cos_p * np.cos(dl))
    return np.column_stack((dist * np.sin(bearing), dist * np.cos(bearing)))


@dataclass(frozen=True, slots=True)
class Chords:
    """Vertices of densified edges, with what every query needs precomputed.

    NaN vertices separate parts; segments touching them measure NaN and are skipped.
    """

    lat_rad: FloatArray
    cos_lat: FloatArray
    sin_lat: FloatArray
    lon_rad: FloatArray

    @classmethod
    def of(cls, lats: FloatArray, lons: FloatArray) -> Chords:
        lat_rad = np.radians(lats)
        return cls(lat_rad, np.cos(lat_rad), np.sin(lat_rad), np.radians(lons))


def distance_to_chords_m(lat0: float, lon0: float, lats: FloatArray, lons: FloatArray) -> float:
    """Distance from (lat0, lon0) to a polyline given by vertices; NaN rows separate parts."""
    return distance_to_precomputed_chords_m(lat0, lon0, Chords.of(lats, lons))


def distance_to_precomputed_chords_m(lat0: float, lon0: float, chords: Chords) -> float:
    """As :func:`distance_to_chords_m`, on precomputed vertices.

    The same spherical azimuthal-equidistant frame as :func:`local_xy`, with the
    bearing's sine and cosine taken from its components instead of atan2.
    """
    p0 = lat0 * _RAD
    dl = chords.lon_rad - lon0 * _RAD
    x, y, dist = _azimuthal_xy(
        p0, math.cos(p0), math.sin(p0), chords.lat_rad, chords.cos_lat, chords.sin_lat, dl
    )
    if len(x) == 1:
        return float(dist[0])
    return math.sqrt(float(np.fmin.reduce(_closest_on_segments_sq(x, y))))


def _azimuthal_xy(
    p0: float | FloatArray,
    cos_p0: float | FloatArray,
    sin_p0: float | FloatArray,
    lat_rad: FloatArray,
    cos_p: FloatArray,
    sin_lat: FloatArray,
    dl: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vertices in the azimuthal-equidistant frame of their origin (latitude ``p0``,
    longitude differences ``dl``, radians): x, y and the distance (metres)."""
    sin_dl = np.sin(dl)
    cos_dl = np.cos(dl)
    a = np.sin((lat_rad - p0) * 0.5) ** 2 + cos_p0 * cos_p * np.sin(dl * 0.5) ** 2
    dist = (2.0 * EARTH_RADIUS_M) * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    east = sin_dl * cos_p
    north = cos_p0 * sin_lat - sin_p0 * cos_p * cos_dl
    h = np.hypot(east, north)
    scale = np.divide(dist, h, out=np.zeros_like(dist), where=h > 0)
    return east * scale, north * scale, dist


def _closest_on_segments_sq(x: FloatArray, y: FloatArray) -> FloatArray:
    """Squared distance from the origin to each segment between consecutive vertices."""
    ax = x[:-1]
    ay = y[:-1]
    dx = x[1:] - ax
    dy = y[1:] - ay
    denom = dx * dx + dy * dy
    t = np.divide(-(ax * dx + ay * dy), denom, out=np.zeros_like(denom), where=denom > 0)
    np.clip(t, 0.0, 1.0, out=t)
    px = ax + t * dx
    py = ay + t * dy
    return np.asarray(px * px + py * py, dtype=np.float64)


def distances_to_precomputed_chords_m(
    lat0s: Sequence[float], lon0s: Sequence[float], chords: Sequence[Chords]
) -> FloatArray:
    """:func:`distance_to_precomputed_chords_m` for many (point, chords) pairs at once.

    A report batch measures thousands of pairs (the hysteresis of every asset that left
    an AOR): one numpy pass over all their vertices instead of a dozen small array
    operations per pair. The same operations in the same order on the same values, so
    each result is the scalar function's (``tests/domain/test_geo.py`` compares them).
    """
    n = len(chords)
    out = np.empty(n)
    counts = np.fromiter((len(c.lat_rad) for c in chords), dtype=np.intp, count=n)
    # Passes of at most _VERTICES_PER_PASS vertices: the temporary arrays stay small
    # whatever the batch (a few long AOR outlines times many reports).
    ends = np.cumsum(counts)
    start = 0
    while start < n:
        before = int(ends[start] - counts[start])
        stop = int(np.searchsorted(ends, before + _VERTICES_PER_PASS, side="right"))
        stop = min(n, max(start + 1, stop))
        out[start:stop] = _distances_pass(
            lat0s[start:stop], lon0s[start:stop], chords[start:stop], counts[start:stop]
        )
        start = stop
    return out


#: Vertices per numpy pass of :func:`distances_to_precomputed_chords_m`.
_VERTICES_PER_PASS = 200_000


def _distances_pass(
    lat0s: Sequence[float],
    lon0s: Sequence[float],
    chords: Sequence[Chords],
    counts: npt.NDArray[np.intp],
) -> FloatArray:
    n = len(chords)
    out = np.empty(n)
    # A pair with fewer than two vertices has no segment: the scalar function's case.
    few = np.flatnonzero(counts < 2).tolist()
    for k in few:
        out[k] = distance_to_precomputed_chords_m(lat0s[k], lon0s[k], chords[k])
    many = np.flatnonzero(counts >= 2)
    if len(many) == 0:
        return out
    if few:
        keep = many.tolist()
        lat0s = [lat0s[k] for k in keep]
        lon0s = [lon0s[k] for k in keep]
        chords = [chords[k] for k in keep]
        counts = counts[many]
    # Per pair, its origin repeated over its vertices (sine and cosine by ``math``, as
    # the scalar function takes them).
    p0_list = [lat0 * _RAD for lat0 in lat0s]
    p0 = np.repeat(np.asarray(p0_list), counts)
    cos_p0 = np.repeat(np.asarray([math.cos(p) for p in p0_list]), counts)
    sin_p0 = np.repeat(np.asarray([math.sin(p) for p in p0_list]), counts)
    lon0 = np.repeat(np.asarray([lon * _RAD for lon in lon0s]), counts)
    lat_rad = np.concatenate([c.lat_rad for c in chords])
    cos_p = np.concatenate([c.cos_lat for c in chords])
    sin_lat = np.concatenate([c.sin_lat for c in chords])
    dl = np.concatenate([c.lon_rad for c in chords]) - lon0
    x, y, _ = _azimuthal_xy(p0, cos_p0, sin_p0, lat_rad, cos_p, sin_lat, dl)
    squared = _closest_on_segments_sq(x, y)
    starts = np.cumsum(counts) - counts
    # The segment from one pair's last vertex to the next pair's first is no segment:
    # NaN, which ``fmin`` skips (as it skips the segments touching a part separator).
    squared[starts[1:] - 1] = np.nan
    out[many] = np.sqrt(np.fmin.reduceat(squared, starts))
    return out


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A validated point; ``extra_radius_m`` is the half-diagonal of an MGRS square."""

    lat: float
    lon: float
    extra_radius_m: float = 0.0


def _shown(value: float) -> str:
    """A number as an error message may quote it (huge integers abbreviated)."""
    if isinstance(value, int) and abs(value) > 10**20:
        return f"an integer of about {value.bit_length() * math.log10(2):.0f} digits"
    return repr(value)


def check_lat_lon(lat: Any, lon: Any, field: str = "position") -> tuple[float, float]:
    for name, value, bound in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DomainError(f"{field}.{name}", f"must be a number, got {value!r}", value)
        # Only a float can be non-finite; an int may be too large for a float,
        # and int-to-float comparison is exact.
        if isinstance(value, float) and not math.isfinite(value):
            raise DomainError(f"{field}.{name}", f"must be finite, got {value!r}", value)
        if not -bound <= value <= bound:
            raise DomainError(
                f"{field}.{name}",
                f"must be within [-{bound:g}, {bound:g}], got {_shown(value)}",
                value,
            )
    return float(lat), float(lon)


def point_from_mgrs(text: str, field: str = "position.mgrs") -> GeoPoint:
    """The centre of an MGRS square, with half its diagonal as extra radius."""
    import mgrs as mgrs_lib

    if not isinstance(text, str) or not 2 <= len(text) <= 32:
        raise DomainError(field, f"not an MGRS reference: {text!r}", text)
    cleaned = text.replace(" ", "").upper()
    digits_at = len(cleaned)
    while digits_at > 0 and cleaned[digits_at - 1].isdigit():
        digits_at -= 1
    head, digits = cleaned[:digits_at], cleaned[digits_at:]
    if len(digits) % 2 or len(digits) > 10 or len(head) < 3:
        raise DomainError(field, f"not an MGRS reference: {text!r}", text)
    precision = len(digits) // 2
    square_m = 100_000.0 / 10**precision
    easting, northing = digits[:precision], digits[precision:]
    # Ask for the 1 m square at the centre of the given square. The library
    # (GeoTrans) answers with the centre of whatever square it is given, so
    # "37UDB12" alone would also do; spelling out the centre depends on no such
    # convention and costs at most the 1 m square's own half-diagonal.
    pad = "5" + "0" * (4 - precision) if precision < 5 else ""
    centred = f"{head}{easting}{pad}{northing}{pad}"
    offset_m = 0.5 * math.sqrt(2.0)
    try:
        lat, lon = mgrs_lib.MGRS().toLatLon(centred)
    except Exception as exc:  # the library raises several unrelated types
        raise DomainError(field, f"not an MGRS reference: {text!r} ({exc})", text) from None
    lat, lon = check_lat_lon(lat, lon, field)
    # A grid metre is at most 1/k0 ground metres: UTM k0 = 0.9996, UPS (the polar
    # zones A, B, Y, Z, written without a zone number) k0 = 0.994.
    scale = 1.001 if head[0].isdigit() else 1.0061
    half_diagonal = square_m * math.sqrt(2.0) / 2.0 * scale + offset_m
    return GeoPoint(lat, lon, half_diagonal)


def parse_point(value: Any, field: str = "position") -> GeoPoint:
    """``{"lat", "lon"}`` or ``{"mgrs"}`` to a :class:`GeoPoint`."""
    if isinstance(value, GeoPoint):
        return value
    if not isinstance(value, dict):
        raise DomainError(field, f"must be an object with lat/lon or mgrs, got {value!r}", value)
    keys = set(value)
    if keys == {"mgrs"}:
        return point_from_mgrs(value["mgrs"], f"{field}.mgrs")
    if keys == {"lat", "lon"}:
        lat, lon = check_lat_lon(value["lat"], value["lon"], field)
        return GeoPoint(lat, lon)
    raise DomainError(
        field, f"must have exactly lat and lon, or mgrs; got keys {sorted(keys)}", value
    )


# --- GeoJSON geometries ----------------------------------------------------------------

_GEOMETRY_KINDS = {
    "polygon": ("Polygon", "MultiPolygon"),
    "line": ("LineString", "MultiLineString"),
}
MAX_VERTICES = 20_000


def _positions(coords: Any, depth: int, field: str) -> None:
    """Check the nesting and every position of a GeoJSON coordinates array."""
    if not isinstance(coords, list):
        raise DomainError(field, f"coordinates must be arrays, got {coords!r}", coords)
    if depth == 0:
        if len(coords) not in (2, 3):
            raise DomainError(field, f"a position is [lon, lat], got {coords!r}", coords)
        check_lat_lon(coords[1], coords[0], field)
        return
    for item in coords:
        _positions(item, depth - 1, field)


def _unwrap_ring(ring: list[list[float]]) -> tuple[list[list[float]], bool]:
    """Make a ring continuous in longitude; True if it crossed the antimeridian."""
    out = [list(ring[0][:2])]
    crossed = False
    for lon, lat, *_ in ring[1:]:
        prev = out[-1][0]
        shift = 0.0
        while lon + shift - prev > 180:
            shift -= 360
        while lon + shift - prev < -180:
            shift += 360
        crossed = crossed or shift != 0
        out.append([lon + shift, lat])
    return out, crossed


def _split_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """Cut a geometry continuous across +-180 deg into RFC 7946 parts within [-180, 180]."""
    parts = []
    for offset in (-360.0, 0.0, 360.0):
        window = shapely.clip_by_rect(geom, -180.0 + offset, -90.0, 180.0 + offset, 90.0)
        if not window.is_empty:
            parts.append(shapely.affinity.translate(window, xoff=-offset))
    merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    return merged


def parse_geometry(value: Any, kind: str, field: str) -> BaseGeometry:
    """Validate a GeoJSON Polygon/MultiPolygon (``kind="polygon"``) or LineString.

    Edges are straight in longitude/latitude, as GeoJSON defines them. A ring or
    line that jumps across +-180 deg is read as crossing it and split into parts.
    """
    import shapely.affinity  # used by _split_antimeridian

    allowed = _GEOMETRY_KINDS[kind]
    if not isinstance(value, dict) or value.get("type") not in allowed:
        got = value.get("type") if isinstance(value, dict) else value
        raise DomainError(field, f"must be a GeoJSON {' or '.join(allowed)}, got {got!r}", got)
    coords = value.get("coordinates")
    depth = {"Polygon": 2, "MultiPolygon": 3, "LineString": 1, "MultiLineString": 2}[value["type"]]
    _positions(coords, depth, f"{field}.coordinates")
    flat = np.asarray(_flatten(coords, depth), dtype=float)
    if flat.shape[0] > MAX_VERTICES:
        raise DomainError(field, f"at most {MAX_VERTICES} vertices, got {flat.shape[0]}")
    try:
        geom = _build(value["type"], coords)
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise DomainError(field, f"not a valid {value['type']}: {exc}", None) from None
    if geom.is_empty:
        raise DomainError(field, "geometry is empty", None)
    if kind == "line" and geom.length == 0:
        raise DomainError(field, "a route needs two distinct positions", None)
    if not geom.is_valid:
        reason = explain_validity(geom)
        raise DomainError(field, f"invalid {value['type']}: {reason}", reason)
    return geom


def _flatten(coords: Any, depth: int) -> list[list[float]]:
    if depth == 0:
        return [coords[:2]]
    out: list[list[float]] = []
    for item in coords:
        out.extend(_flatten(item, depth - 1))
    return out


def _build(geo_type: str, coords: Any) -> BaseGeometry:
    if geo_type in ("LineString", "MultiLineString"):
        lines = [coords] if geo_type == "LineString" else coords
        parts = []
        crossed = False
        for line in lines:
            if len(line) < 2:
                raise ValueError("a line needs at least two positions")
            unwrapped, c = _unwrap_ring(line)
            crossed = crossed or c
            parts.append(unwrapped)
        geom = shapely.multilinestrings(parts) if len(parts) > 1 else shapely.linestrings(parts[0])
        return _split_antimeridian(geom) if crossed else geom
    polygons = [coords] if geo_type == "Polygon" else coords
    built = []
    crossed = False
    for rings in polygons:
        if not rings:
            raise ValueError("a polygon needs an exterior ring")
        fixed = []
        for ring in rings:
            if len(ring) < 4 or list(ring[0][:2]) != list(ring[-1][:2]):
                raise ValueError("each ring needs four or more positions and must be closed")
            unwrapped, c = _unwrap_ring(ring)
            crossed = crossed or c
            fixed.append(unwrapped)
        built.append(shapely.Polygon(fixed[0], fixed[1:]))
    geom = shapely.MultiPolygon(built) if geo_type == "MultiPolygon" else built[0]
    if crossed and geom.is_valid:
        return _split_antimeridian(geom)
    return geom


def geometry_from_geojson(value: dict[str, Any]) -> BaseGeometry:
    """Rebuild a stored, already validated geometry (fast path for the common kinds)."""
    kind = value["type"]
    coords = value["coordinates"]
    if kind == "Polygon":
        return shapely.Polygon(coords[0], coords[1:])
    if kind == "LineString":
        return shapely.LineString(coords)
    if kind == "MultiPolygon":
        return shapely.MultiPolygon([shapely.Polygon(p[0], p[1:]) for p in coords])
    return shape(value)


def chords(geom: BaseGeometry) -> tuple[FloatArray, FloatArray]:
    """Densified vertices of a geometry's lines or boundary, parts separated by NaN.

    Chords no longer than :data:`DENSIFY_DEG` keep the gap between a straight
    lon/lat edge and its projected chord below a few centimetres at any latitude.
    """
    lines: Sequence[BaseGeometry]
    boundary = geom.boundary if geom.geom_type in ("Polygon", "MultiPolygon") else geom
    lines = list(getattr(boundary, "geoms", [boundary]))
    lats: list[float] = []
    lons: list[float] = []
    for line in lines:
        dense = shapely.segmentize(line, DENSIFY_DEG)
        xy = np.asarray(dense.coords)
        if lats:
            lats.append(math.nan)
            lons.append(math.nan)
        lons.extend(xy[:, 0].tolist())
        lats.extend(xy[:, 1].tolist())
    return np.asarray(lats), np.asarray(lons)


def distance_to_geometry_m(
    lat: float, lon: float, geom: BaseGeometry, lats: FloatArray, lons: FloatArray
) -> float:
    """Great-circle distance to a geometry (0 inside a polygon)."""
    if geom.geom_type in ("Polygon", "MultiPolygon") and shapely.contains_xy(geom, lon, lat):
        return 0.0
    return distance_to_chords_m(lat, lon, lats, lons)
