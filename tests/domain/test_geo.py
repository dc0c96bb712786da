"""Geodesy against independent oracles (pyproj's WGS 84 geodesic, its sphere projections, mgrs).

The check's promise is "never miss a candidate": the fast spherical metric, once
its radius is widened by :func:`geo.widen`, must never call a point that is
truly within a radius outside it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import mgrs
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod, Proj

from deconfliction.domain import geo
from deconfliction.domain.errors import DomainError

pytestmark = pytest.mark.unit

GEOD = Geod(ellps="WGS84")
#: Deterministic (the same examples every run, no example database), bounded in time.
SETTINGS = settings(
    deadline=None,
    max_examples=150,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- great-circle distance against the WGS 84 geodesic -----------------------------------


def _pairs(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """24,000 point pairs: anywhere, near the poles, across the antimeridian, special cases."""
    lat1_parts, lon1_parts, lat2_parts, lon2_parts = [], [], [], []

    def by_distance(lat1: np.ndarray, lon1: np.ndarray) -> None:
        n = lat1.size
        az = rng.uniform(-180.0, 180.0, n)
        dist = 10.0 ** rng.uniform(0.0, math.log10(2.0e7), n)  # 1 m .. 20,000 km
        lon2, lat2, _ = GEOD.fwd(lon1, lat1, az, dist)
        lat1_parts.append(lat1)
        lon1_parts.append(lon1)
        lat2_parts.append(np.asarray(lat2))
        lon2_parts.append(np.asarray(lon2))

    # Anywhere, uniform on the sphere.
    n = 12_000
    by_distance(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n))), rng.uniform(-180, 180, n))
    # Near the poles.
    n = 4_000
    lat = rng.uniform(85.0, 90.0, n) * rng.choice([-1.0, 1.0], n)
    by_distance(lat, rng.uniform(-180, 180, n))
    # Across the antimeridian, short and long.
    n = 4_000
    lat1 = rng.uniform(-89.0, 89.0, n)
    lat1_parts.append(lat1)
    lon1_parts.append(rng.uniform(179.0, 180.0, n))
    lat2_parts.append(np.clip(lat1 + rng.normal(0.0, 0.5, n), -90, 90))
    lon2_parts.append(rng.uniform(-180.0, -179.0, n))
    n = 2_000
    lat1_parts.append(rng.uniform(-90, 90, n))
    lon1_parts.append(rng.uniform(90.0, 180.0, n))
    lat2_parts.append(rng.uniform(-90, 90, n))
    lon2_parts.append(rng.uniform(-180.0, -90.0, n))
    # Along meridians and the equator, through the poles, near-antipodal.
    n = 2_000
    lon = rng.uniform(-180, 180, n)
    lat1_parts += [rng.uniform(-90, 90, n // 2), np.zeros(n // 2)]
    lon1_parts += [lon[: n // 2], lon[n // 2 :]]
    lat2_parts += [rng.uniform(-90, 90, n // 2), np.zeros(n // 2)]
    lon2_parts += [lon[: n // 2], lon[n // 2 :] + rng.uniform(-1, 1, n // 2)]
    lat1_parts.append(np.array([90.0, -90.0, 0.0, 45.0, 10.0]))
    lon1_parts.append(np.array([0.0, 0.0, 0.0, 10.0, 0.0]))
    lat2_parts.append(np.array([-90.0, 90.0, 0.0, -45.0, -10.0]))
    lon2_parts.append(np.array([0.0, 0.0, 179.5, -170.0, 179.9]))
    lat1, lon1, lat2, lon2 = (
        np.concatenate(p) for p in (lat1_parts, lon1_parts, lat2_parts, lon2_parts)
    )
    lon2 = (lon2 + 180.0) % 360.0 - 180.0
    return lat1, lon1, lat2, lon2


def test_widened_geodesic_distance_is_never_shorter_than_haversine() -> None:
    """haversine <= widen(true geodesic) on 24,005 pairs: the never-miss guarantee.

    Pairs are uniform on the sphere, near the poles, across the antimeridian,
    along meridians and the equator and near-antipodal, at 1 m to 20,000 km.
    Measured (seed 20260301): max haversine/geodesic = 1.005614 (short hops
    along a meridian near the equator, where the ellipsoid is flattest), min
    0.995533 (east-west near the poles); SPHERE_ERROR = 0.0060 covers both.
    """
    lat1, lon1, lat2, lon2 = _pairs(np.random.default_rng(20260301))
    assert lat1.size >= 20_000
    _, _, true = GEOD.inv(lon1, lat1, lon2, lat2)
    true = np.asarray(true)
    fast = geo.haversine_m(lat1, lon1, lat2, lon2)
    slack = np.vectorize(geo.widen)(true) - fast
    worst = int(np.argmin(slack))
    assert slack.min() >= 0.0, (
        f"haversine {fast[worst]:.3f} m > widened geodesic {geo.widen(true[worst]):.3f} m "
        f"for ({lat1[worst]}, {lon1[worst]}) -> ({lat2[worst]}, {lon2[worst]})"
    )
    # The documented two-sided bound behind it.
    long_enough = true >= 1.0
    ratio = fast[long_enough] / true[long_enough]
    assert ratio.max() <= 1.0 + geo.SPHERE_ERROR
    assert ratio.min() >= 1.0 - geo.SPHERE_ERROR
    assert 1.0055 < ratio.max() < 1.0057  # the measured value quoted above
    # Both spellings of the metric agree, and the short/long distance ranges were covered.
    some = slice(0, None, 97)
    scalar = [
        geo.haversine_scalar_m(*args)
        for args in zip(lat1[some], lon1[some], lat2[some], lon2[some], strict=True)
    ]
    np.testing.assert_allclose(scalar, fast[some], rtol=1e-9, atol=1e-6)
    assert true.min() < 2.0 and true.max() > 19_900_000.0


def test_across_the_antimeridian_close_points_are_close() -> None:
    assert geo.haversine_scalar_m(10.0, 179.9999, 10.0, -179.9999) < 25.0
    assert geo.geodesic_m(10.0, 179.9999, 10.0, -179.9999) < 25.0
    assert float(geo.haversine_m(0.0, 180.0, 0.0, -180.0)) == pytest.approx(0.0, abs=1e-6)


def test_geodesic_m_is_pyproj() -> None:
    assert geo.geodesic_m(48.0, 36.0, 48.5, 36.5) == pytest.approx(
        GEOD.inv(36.0, 48.0, 36.5, 48.5)[2], rel=1e-12
    )


# --- local_xy ------------------------------------------------------------------------------


def test_local_xy_distances_from_the_origin_are_haversine() -> None:
    rng = np.random.default_rng(7)
    for lat0, lon0 in [(48.5, 36.0), (89.99, 10.0), (-89.5, -170.0), (0.0, 179.9), (90.0, 0.0)]:
        n = 2_000
        lats = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
        lons = rng.uniform(-180, 180, n)
        # Half of them near the origin (and across the antimeridian when it is near).
        lats[: n // 2] = np.clip(lat0 + rng.normal(0, 0.5, n // 2), -90, 90)
        lons[: n // 2] = (lon0 + rng.normal(0, 0.5, n // 2) + 180.0) % 360.0 - 180.0
        xy = geo.local_xy(lat0, lon0, lats, lons)
        np.testing.assert_allclose(
            np.hypot(xy[:, 0], xy[:, 1]),
            geo.haversine_m(lat0, lon0, lats, lons),
            rtol=1e-9,
            atol=1e-6,
        )


@pytest.mark.parametrize(
    ("lat0", "lon0"), [(48.5, 36.0), (0.0, 179.9), (-60.0, -179.5), (89.0, 45.0), (90.0, 0.0)]
)
def test_local_xy_is_the_spherical_azimuthal_equidistant_projection(
    lat0: float, lon0: float
) -> None:
    rng = np.random.default_rng(11)
    n = 500
    lats = np.clip(lat0 + rng.uniform(-5, 5, n), -89.9, 89.9)
    lons = (lon0 + rng.uniform(-5, 5, n) + 180.0) % 360.0 - 180.0
    aeqd = Proj(proj="aeqd", lat_0=lat0, lon_0=lon0, R=geo.EARTH_RADIUS_M)
    east, north = aeqd(lons, lats)
    xy = geo.local_xy(lat0, lon0, lats, lons)
    np.testing.assert_allclose(xy[:, 0], east, atol=1e-3)
    np.testing.assert_allclose(xy[:, 1], north, atol=1e-3)


# --- distance to chords and geometries against a brute-force geodesic oracle -------------------

ORACLE_STEP_DEG = 1e-4


def _edges(geom: Any) -> list[np.ndarray]:
    boundary = geom.boundary if geom.geom_type in ("Polygon", "MultiPolygon") else geom
    out: list[np.ndarray] = []
    for line in getattr(boundary, "geoms", [boundary]):
        xy = np.asarray(line.coords)
        out.extend(np.stack([xy[:-1], xy[1:]], axis=1))
    return out


def _sample(edge: np.ndarray, step: float) -> np.ndarray:
    (x0, y0), (x1, y1) = edge
    n = max(2, math.ceil(max(abs(x1 - x0), abs(y1 - y0)) / step) + 1)
    t = np.linspace(0.0, 1.0, n)
    return np.column_stack((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))


def _geodesic_to(lat: float, lon: float, pts: np.ndarray) -> np.ndarray:
    n = len(pts)
    _, _, d = GEOD.inv(np.full(n, lon), np.full(n, lat), pts[:, 0], pts[:, 1])
    return np.asarray(d)


def oracle_m(lat: float, lon: float, geom: Any) -> float:
    """True distance to a geometry whose edges are straight in lon/lat (0 inside).

    Samples every edge at 1e-4 deg and takes the least pyproj geodesic distance,
    then resamples a thousand times finer around the best sample. Edges that a
    coarse 1e-2 deg pass shows to be farther than the best by more than the
    coarse spacing cannot hold the minimum and are skipped.
    """
    if geom.geom_type in ("Polygon", "MultiPolygon") and shapely.contains_xy(geom, lon, lat):
        return 0.0
    coarse_step = 1e-2
    edges = _edges(geom)
    coarse = [float(_geodesic_to(lat, lon, _sample(e, coarse_step)).min()) for e in edges]
    spacing_m = coarse_step * math.pi / 180.0 * 6_400_000.0  # > any 0.01 deg step on Earth
    best = math.inf
    for edge, floor in zip(edges, coarse, strict=True):
        if floor - spacing_m > min(coarse):
            continue
        pts = _sample(edge, ORACLE_STEP_DEG)
        d = _geodesic_to(lat, lon, pts)
        i = int(np.argmin(d))
        lo, hi = pts[max(i - 1, 0)], pts[min(i + 1, len(pts) - 1)]
        fine = _sample(np.array([lo, hi]), ORACLE_STEP_DEG / 1000.0)
        best = min(best, float(d[i]), float(_geodesic_to(lat, lon, fine).min()))
    return best


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


@st.composite
def small_shapes(draw: st.DrawFn) -> tuple[Any, list[tuple[float, float]]]:
    """A small polygon or route somewhere (often near a pole or across +-180) and points near it."""
    region = draw(st.sampled_from(["anywhere", "north pole", "south pole", "antimeridian"]))
    if region == "anywhere":
        lat = draw(st.floats(-84.0, 84.0))
        lon = draw(st.floats(-180.0, 180.0))
    elif region == "north pole":
        lat = draw(st.floats(85.0, 89.7))
        lon = draw(st.floats(-180.0, 180.0))
    elif region == "south pole":
        lat = draw(st.floats(-89.7, -85.0))
        lon = draw(st.floats(-180.0, 180.0))
    else:
        lat = draw(st.floats(-80.0, 80.0))
        lon = draw(st.sampled_from([-1.0, 1.0])) * draw(st.floats(179.7, 180.0))
    radius_m = draw(st.floats(300.0, 40_000.0))
    r_lat = radius_m / 111_000.0
    # Near a pole a few kilometres span many degrees of longitude: long, curved edges.
    r_lon = min(25.0, radius_m / (111_000.0 * max(math.cos(math.radians(lat)), 1e-3)))
    n = draw(st.integers(3, 8))
    jitter = draw(st.lists(st.floats(-0.3, 0.3), min_size=n, max_size=n))
    scale = draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n))
    # Angles in order with gaps below pi: a star-shaped, simple ring.
    angles = [2.0 * math.pi * (k + j) / n for k, j in enumerate(jitter)]
    vertices = [
        (
            _wrap(lon + r_lon * s * math.cos(a)),
            max(-89.9, min(89.9, lat + r_lat * s * math.sin(a))),
        )
        for a, s in zip(angles, scale, strict=True)
    ]
    as_route = draw(st.booleans())
    try:
        if as_route:
            geom = geo.parse_geometry(
                {"type": "LineString", "coordinates": [list(v) for v in vertices]}, "line", "route"
            )
        else:
            ring = [list(v) for v in [*vertices, vertices[0]]]
            geom = geo.parse_geometry({"type": "Polygon", "coordinates": [ring]}, "polygon", "g")
    except DomainError:
        assume(False)
        raise
    points = []
    for _ in range(draw(st.integers(1, 4))):
        a = draw(st.floats(0.0, 2.0 * math.pi))
        if draw(st.booleans()):
            # Anywhere around the shape, out to twenty times its size.
            reach = draw(st.sampled_from([0.5, 1.5, 4.0, 20.0])) * draw(st.floats(0.0, 1.0))
            plat = lat + reach * r_lat * math.sin(a)
            plon = lon + reach * r_lon * math.cos(a)
        else:
            # Close to an edge (1 m to 2 km), where chords and curves part most.
            i = draw(st.integers(0, n - 1))
            (x0, y0), (x1, y1) = vertices[i], vertices[(i + 1) % n]
            x1 = x0 + ((x1 - x0 + 180.0) % 360.0 - 180.0)  # the short way round
            t = draw(st.floats(0.0, 1.0))
            off_m = draw(st.floats(1.0, 2_000.0))
            coslat = max(math.cos(math.radians(y0)), 1e-3)
            plat = y0 + (y1 - y0) * t + off_m / 111_000.0 * math.sin(a)
            plon = x0 + (x1 - x0) * t + off_m / (111_000.0 * coslat) * math.cos(a)
        points.append((max(-90.0, min(90.0, plat)), _wrap(plon)))
    return geom, points


@SETTINGS
@given(small_shapes())
def test_distance_to_geometry_against_a_brute_force_geodesic_oracle(
    case: tuple[Any, list[tuple[float, float]]],
) -> None:
    geom, points = case
    lats, lons = geo.chords(geom)
    for lat, lon in points:
        computed = geo.distance_to_geometry_m(lat, lon, geom, lats, lons)
        truth = oracle_m(lat, lon, geom)
        assert geo.widen(truth) >= computed, (lat, lon, computed, truth)
        assert computed >= truth * (1.0 - 0.007) - 1.0, (lat, lon, computed, truth)
        if geom.geom_type in ("Polygon", "MultiPolygon") and shapely.contains_xy(geom, lon, lat):
            assert computed == 0.0


def test_distance_to_chords_of_a_route_across_the_antimeridian() -> None:
    geom = geo.parse_geometry(
        {"type": "LineString", "coordinates": [[179.8, -30.0], [-179.7, -30.2]]}, "line", "route"
    )
    lats, lons = geo.chords(geom)
    assert np.nanmax(np.abs(lons)) <= 180.0
    for lat, lon in [(-30.1, 180.0), (-29.5, -179.9), (-30.5, 179.95), (-30.2, -179.0)]:
        computed = geo.distance_to_chords_m(lat, lon, lats, lons)
        truth = oracle_m(lat, lon, geom)
        assert truth * (1.0 - 0.007) - 1.0 <= computed <= geo.widen(truth)
        assert truth < 80_000.0


def test_distance_to_chords_of_a_single_vertex_is_the_distance_to_it() -> None:
    d = geo.distance_to_chords_m(48.0, 36.0, np.array([48.1]), np.array([36.1]))
    assert d == pytest.approx(geo.haversine_scalar_m(48.0, 36.0, 48.1, 36.1))


# --- MGRS squares ------------------------------------------------------------------------------


def _square_id(ref: str) -> tuple[str, str]:
    """Zone number (UPS: empty), and the 100 km square letters with the digits."""
    i = 0
    while i < len(ref) and ref[i].isdigit():
        i += 1
    zone = ref[:i]
    return zone, ref[i + 1 :]  # the latitude band letter is redundant


@settings(deadline=None, max_examples=300, derandomize=True, database=None)
@given(
    lat=st.one_of(st.floats(-80.0, 83.99), st.floats(84.01, 89.99), st.floats(-89.99, -80.01)),
    lon=st.floats(-180.0, 179.999),
    precision=st.integers(0, 5),
)
def test_an_mgrs_square_is_covered_by_its_centre_and_extra_radius(
    lat: float, lon: float, precision: int
) -> None:
    """Any point of a square lies within ``extra_radius_m`` of the centre the square gives."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GeoTrans's latitude-band notices
        ref = mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=precision)
        point = geo.point_from_mgrs(ref)
        back = mgrs.MGRS().toMGRS(point.lat, point.lon, MGRSPrecision=precision)
    assert geo.geodesic_m(point.lat, point.lon, lat, lon) <= point.extra_radius_m
    square_m = 100_000.0 / 10**precision
    assert point.extra_radius_m >= square_m * math.sqrt(2.0) / 2.0
    # The centre lies in the same square, unless the square is cut by a zone edge and
    # its nominal centre falls in the next zone (or across the UTM/UPS limit).
    if _square_id(back)[0] == _square_id(ref)[0]:
        assert _square_id(back) == _square_id(ref)


def test_polar_mgrs_squares_are_covered_too() -> None:
    """UPS squares (zones A, B, Y, Z): the grid is up to 0.6 % longer than the ground there."""
    rng = np.random.default_rng(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for pole in (90.0, -90.0):
            for precision in (0, 1):
                for _ in range(400):
                    lat = pole - math.copysign(rng.uniform(0.0, 1.5), pole)
                    lon = rng.uniform(-180.0, 180.0)
                    ref = mgrs.MGRS().toMGRS(lat, lon, MGRSPrecision=precision)
                    assert ref[0] in "ABYZ"
                    point = geo.point_from_mgrs(ref)
                    assert geo.geodesic_m(point.lat, point.lon, lat, lon) <= point.extra_radius_m


# --- radii ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cep", [0.0, 1.0, 15.0, 50.0, 1234.5])
def test_r99_is_2_58_ceps(cep: float) -> None:
    assert geo.r99(cep) == pytest.approx(2.58 * cep)


def test_cep_from_ce() -> None:
    assert geo.cep_from_ce(9_999_999) is None
    assert geo.cep_from_ce(9_999_999.0) is None
    assert geo.cep_from_ce(1e12) is None
    assert geo.cep_from_ce(10) == pytest.approx(11.774)
    assert geo.cep_from_ce(0) == 0.0
    for bad in (-1.0, math.nan, math.inf, -math.inf):
        assert geo.cep_from_ce(bad) is None


def test_widen_only_widens() -> None:
    for r in (0.0, 1.0, 100.0, 1e4, 2e7):
        assert geo.widen(r) >= r * (1.0 + geo.SPHERE_ERROR)
        assert geo.widen(r) >= r + geo.ABSOLUTE_SLACK_M
