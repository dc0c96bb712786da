"""Notification planning (pure): answers per cause, the card, entry into an AOR, and the
index finding the AORs a route or polygon touches without testing every AOR."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
import shapely

from deconfliction.check.index.shapes import ShapeIndex, geometry_shape
from deconfliction.domain import planning
from deconfliction.domain.model import EquipmentType
from deconfliction.domain.notifications import (
    ACKNOWLEDGEMENT_MEANS,
    ResponseRefused,
    check_response,
    deadline_for,
    recognition_card,
)
from deconfliction.scenarios.demo import (
    DRONE_TEAM_AOR,
    OHR_ZONE,
    SKYSHIELD_W,
    VARIANT_ROUTE,
    build_demo,
    entry_distance_m,
)
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cause", "ok", "refused"),
    [
        ("announced_arrival", ["acknowledged"], ["briefed", "confirmed_ours"]),
        ("unannounced_entry", ["acknowledged"], ["briefed"]),
        ("escalation", ["acknowledged"], ["confirmed_ours"]),
        ("recognition_briefing", ["briefed"], ["acknowledged"]),
        ("hold_on_your_asset", ["confirmed_ours", "acknowledged"], ["briefed"]),
    ],
)
def test_each_cause_takes_its_answers(cause: str, ok: list[str], refused: list[str]) -> None:
    for answer in ok:
        assert check_response(cause, answer) == answer
    wrong: list[str | None] = [*refused, "approved", None]
    for word in wrong:
        with pytest.raises(ResponseRefused) as info:
            check_response(cause, word)
        assert info.value.field == "response"


def test_the_deadline_is_the_lead_before_entry_but_never_in_the_past() -> None:
    now = FIXED_NOW
    assert deadline_for(now + timedelta(hours=2), now) == now + timedelta(minutes=90)
    # Issue 24: never sooner than the least time to answer (5 min by default), not "now".
    assert deadline_for(now + timedelta(minutes=10), now) == now + timedelta(minutes=5)
    assert deadline_for(now, now) == now + timedelta(minutes=5)
    lead = timedelta(minutes=5)
    assert deadline_for(now + timedelta(hours=1), now, lead) == now + timedelta(minutes=55)
    least = timedelta(minutes=12)
    assert deadline_for(now + timedelta(minutes=10), now, lead, least) == now + least


def test_the_card_shows_what_it_looks_like_and_what_tells_them_apart() -> None:
    types = {t.id: t for t in build_demo(FIXED_NOW).equipment_types}
    card = recognition_card(types[SKYSHIELD_W], types)
    assert card["variant_of"]["name"].startswith("Skyshield-T")
    assert card["profile"] == {
        "mobility": "wheeled",
        "axles": 4,
        "features": ["radar", "launcher", "antenna_mast"],
        "size_class": "large",
    }
    (other,) = card["looks_like"]
    assert other["name"] == "Type-88 search radar truck" and "rails" in other["cue"]
    assert card["acknowledgement"] == ACKNOWLEDGEMENT_MEANS
    assert "never approved" in ACKNOWLEDGEMENT_MEANS
    plain = EquipmentType.model_validate(
        {"id": "x", "name": "X", "profile": {"mobility": "foot"}, "max_speed_kmh": 5}
    )
    assert recognition_card(plain, {})["looks_like"] == []


def test_entry_is_the_first_point_within_the_corridor_never_later() -> None:
    route = shapely.LineString(VARIANT_ROUTE)
    aor = shapely.Polygon(DRONE_TEAM_AOR)
    exact = planning.route_entry(route, 0.0, aor)
    wide = planning.route_entry(route, 500.0, aor)
    assert exact is not None and wide is not None
    # The story's crossing (spherical along-route length) within the geodesic's 0.5 %.
    story = entry_distance_m(VARIANT_ROUTE, DRONE_TEAM_AOR)
    assert story is not None
    assert exact.along_m == pytest.approx(story, rel=0.005)
    assert 480 < exact.along_m - wide.along_m < 530  # the 500 m corridor (widened a hair)
    assert (
        shapely.Polygon(DRONE_TEAM_AOR).buffer(1e-6).contains(shapely.Point(exact.lon, exact.lat))
    )
    assert planning.route_entry(route, 3000.0, shapely.Polygon(OHR_ZONE)) is None
    start = FIXED_NOW
    entry = planning.earliest_arrival(start, exact.along_m, 60.0)
    assert entry - start == timedelta(seconds=exact.along_m / (60 / 3.6))
    assert planning.earliest_arrival(start, 1000.0, 0.0) == start  # cannot move: fail early


def test_a_route_starting_inside_enters_at_its_start_and_across_the_antimeridian() -> None:
    box = shapely.box(10.0, 10.0, 11.0, 11.0)
    inside = planning.route_entry(shapely.LineString([(10.5, 10.5), (12, 12)]), 0.0, box)
    assert inside is not None and inside.along_m == 0.0
    # A route split at +-180 (RFC 7946) entering an AOR on the far side.
    route = shapely.MultiLineString([[(179.0, 0.0), (180.0, 0.0)], [(-180.0, 0.0), (-179.0, 0.0)]])
    aor = shapely.box(-179.5, -0.5, -179.0, 0.5)
    hit = planning.route_entry(route, 0.0, aor)
    assert hit is not None
    assert hit.along_m == pytest.approx(1.5 * 111_320, rel=0.01)
    assert hit.lon == pytest.approx(-179.5, abs=1e-6)


def _aor_index(rng: random.Random, n: int) -> tuple[ShapeIndex, dict[str, shapely.Polygon]]:
    index = ShapeIndex()
    polygons = {}
    for i in range(n):
        lon = rng.uniform(30.0, 34.0)
        lat = rng.uniform(45.0, 49.0)
        w, h = rng.uniform(0.01, 0.3), rng.uniform(0.01, 0.3)
        poly = shapely.box(lon, lat, lon + w, lat + h)
        polygons[f"u{i}"] = poly
        index.put(geometry_shape(f"u{i}", "aor", 0, poly, 0.0, -1e18, 1e18, f"u{i}"))
    return index, polygons


def test_touching_finds_exactly_the_aors_a_brute_force_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    index, polygons = _aor_index(rng, 2000)
    calls = 0
    real = planning.geometries_within

    def counting(a: shapely.Geometry, b: shapely.Geometry, d: float) -> bool:
        nonlocal calls
        calls += 1
        return real(a, b, d)

    monkeypatch.setattr(planning, "geometries_within", counting)
    for _ in range(20):
        coords = [(rng.uniform(30, 34), rng.uniform(45, 49)) for _ in range(rng.randint(2, 4))]
        route = shapely.LineString(coords)
        margin = rng.choice([0.0, 500.0, 5000.0])
        calls = 0
        found = {s.id for s in index.touching(route, margin, "aor")}
        assert calls < len(polygons) / 4  # the grid, not a scan
        expected = {uid for uid, poly in polygons.items() if real(route, poly, margin)}
        assert found == expected
    area = shapely.box(31.0, 46.0, 31.5, 46.4)
    found = {s.id for s in index.touching(area, 0.0, "aor")}
    assert found == {uid for uid, poly in polygons.items() if poly.intersects(area)}


def test_near_is_unchanged_by_touching() -> None:
    index, polygons = _aor_index(random.Random(3), 50)
    lon, lat = polygons["u0"].centroid.x, polygons["u0"].centroid.y
    assert "u0" in {s.id for s, d in index.near(lat, lon, 0.0) if d == 0.0}


def _entry_without_pruning(
    route: shapely.LineString, corridor_m: float, aor: shapely.Polygon
) -> planning.RouteEntry | None:
    """The reference: every segment of the route projected and tested, none skipped."""
    import numpy as np

    from deconfliction.domain import geo

    plan = planning.RoutePlan.of(route, corridor_m)
    centre = aor.representative_point()
    lat0, lon0 = float(centre.y), float(centre.x)
    zone = planning._project_polygon(aor, lat0, lon0)
    if corridor_m > 0:
        zone = zone.buffer(geo.widen(corridor_m) / planning._CHORD_INSIDE, quad_segs=16)
    for k in range(len(plan.length_m)):
        a = geo.local_xy(lat0, lon0, plan.lat0[k : k + 1], plan.lon0[k : k + 1])
        b = geo.local_xy(lat0, lon0, plan.lat1[k : k + 1], plan.lon1[k : k + 1])
        segment = shapely.LineString(np.vstack((a, b)))
        if shapely.intersects(zone, segment):
            hit = shapely.intersection(segment, zone)
            points = shapely.points(shapely.get_coordinates(hit))
            fraction = 0.0
            if segment.length > 0:
                located = np.min(shapely.line_locate_point(segment, points))
                fraction = min(1.0, float(located) / segment.length)
            along = float(plan.before_m[k]) + fraction * float(plan.length_m[k])
            return planning.RouteEntry(along, 0.0, 0.0)
    return None


@pytest.mark.parametrize("seed", range(6))
def test_pruned_segments_find_the_same_entry_as_testing_every_segment(seed: int) -> None:
    """The box pre-filter of RoutePlan drops only segments that cannot be within the
    corridor: the entry (its distance along the route) is the unpruned one, or both none."""
    rng = random.Random(seed)
    lat_band = rng.choice((0.0, 50.0, 70.0, 84.0))
    for _ in range(40):
        pts = [
            (rng.uniform(-3, 3) + 20.0, lat_band + rng.uniform(-2, 2))
            for _ in range(rng.randint(2, 5))
        ]
        route = shapely.LineString(pts)
        lon, lat = rng.uniform(17, 23), lat_band + rng.uniform(-2, 2)
        half = rng.uniform(0.005, 0.2)
        aor = shapely.box(lon - half, lat - half, lon + half, lat + half)
        corridor = rng.choice((0.0, 100.0, 2000.0, 20_000.0))
        got = planning.route_entry(route, corridor, aor)
        want = _entry_without_pruning(route, corridor, aor)
        assert (got is None) == (want is None)
        if got is not None and want is not None:
            assert got.along_m == pytest.approx(want.along_m, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_the_batched_fanout_matches_one_by_one_and_is_never_later(seed: int) -> None:
    """route_entries (numpy, exact capsules) against planned_route_entry (shapely buffers):
    it finds every AOR the other finds; its entry point is within the corridor of the AOR,
    and no earlier point of the route is (never late). The batch mixes
    polygons with holes, multipolygons and AORs by the antimeridian (one-by-one there)."""
    rng = random.Random(100 + seed)
    lat_band = rng.choice((0.0, 48.0, 75.0))
    for _ in range(4):
        lon_c = rng.choice((20.0, 179.0))
        pts = [
            (min(180.0, lon_c + rng.uniform(-0.9, 0.9)), lat_band + rng.uniform(-0.5, 0.5))
            for _ in range(rng.randint(2, 6))
        ]
        route = shapely.LineString(pts)
        corridor = rng.choice((0.0, 50.0, 500.0, 5000.0))
        plan = planning.RoutePlan.of(route, corridor)
        aors = []
        for _ in range(60):
            lon = min(179.99, lon_c + rng.uniform(-1, 1))
            lat = lat_band + rng.uniform(-0.6, 0.6)
            half = rng.uniform(0.002, 0.1)
            box = shapely.box(max(-180, lon - half), lat - half, min(180, lon + half), lat + half)
            shape = rng.random()
            if shape < 0.1:
                box = box.difference(box.centroid.buffer(half / 2))  # a hole
            elif shape < 0.15:
                box = shapely.MultiPolygon(
                    [box, shapely.box(lon + 2 * half, lat, lon + 3 * half, lat + half)]
                )
            aors.append(box)
        batch = planning.route_entries(plan, aors)
        for aor, got in zip(aors, batch, strict=True):
            want = planning.planned_route_entry(plan, aor)
            if want is not None:
                assert got is not None
            if got is not None:
                # The entry is within the corridor (one by one, for holes and
                # multipolygons, buffers circumscribe their circles: 0.12 % more) ...
                point = shapely.Point(got.lon, got.lat)
                assert planning.geometries_within(point, aor, corridor * 1.002 + 1.0)
                # ... and never late: the route up to half a metre before it stays out
                # of (a hair less than) the corridor.
                before = _route_before(plan, got.along_m - 0.5)
                if before is not None:
                    inner = max(0.0, corridor * 0.998 - 2.0)
                    assert not planning.geometries_within(before, aor, inner)


def _route_before(plan: planning.RoutePlan, along_m: float) -> shapely.LineString | None:
    """The route's first ``along_m`` metres (one part), or None if that is a point."""
    if along_m <= 0:
        return None
    j = int(np.searchsorted(plan.before_m, along_m, side="right")) - 1
    fraction = min(1.0, (along_m - float(plan.before_m[j])) / float(plan.length_m[j]))
    points = [(float(plan.lon0[i]), float(plan.lat0[i])) for i in range(j + 1)]
    points.append(
        (
            float(plan.lon0[j] + (plan.lon1[j] - plan.lon0[j]) * fraction),
            float(plan.lat0[j] + (plan.lat1[j] - plan.lat0[j]) * fraction),
        )
    )
    return shapely.LineString(points) if len(points) > 1 else None
