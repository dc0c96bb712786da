"""The fictional demo scenario: valid, self-consistent, relative to ``now``, never hostile.

Whether its check comes out ``HOLD`` is a matter for the check engine's tests;
here the geometry and timing that make it so are verified on their own terms.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import shapely
from pydantic import BaseModel

from deconfliction.domain import geo
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Movement,
    Observation,
    PositionReport,
    Site,
    Unit,
)
from deconfliction.scenarios import DemoScenario, build_demo
from deconfliction.scenarios import demo as demo_module
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def scenario() -> DemoScenario:
    return build_demo(FIXED_NOW)


def all_objects(s: DemoScenario) -> list[BaseModel]:
    return [*s.records(), s.incident_check]


def by_id(items: list[Any]) -> dict[str, Any]:
    return {item.id: item for item in items}


def variant_reports(s: DemoScenario) -> list[PositionReport]:
    reports = [r for r in s.reports if r.asset_id == demo_module.VARIANT_ASSET]
    return sorted(reports, key=lambda r: r.time)


# --- validity ----------------------------------------------------------------------------


def test_every_object_round_trips_through_json(scenario: DemoScenario) -> None:
    objects = all_objects(scenario)
    assert len(objects) > 20
    for obj in objects:
        dumped = obj.model_dump(mode="json")
        again = type(obj).model_validate(dumped, context={"now": FIXED_NOW})
        assert again == obj, type(obj).__name__
        assert again.model_dump(mode="json") == dumped


def test_records_hold_every_list(scenario: DemoScenario) -> None:
    lists: list[list[Any]] = [
        scenario.parties,
        scenario.units,
        scenario.equipment_types,
        scenario.assets,
        scenario.movements,
        scenario.areas,
        scenario.sites,
        scenario.reports,
    ]
    assert len(scenario.records()) == sum(len(items) for items in lists)
    assert all(len(items) > 0 for items in lists)


def test_ids_are_unique(scenario: DemoScenario) -> None:
    groups: tuple[list[Any], ...] = (
        scenario.parties,
        scenario.units,
        scenario.equipment_types,
        scenario.assets,
        scenario.movements,
        scenario.areas,
        scenario.sites,
    )
    for items in groups:
        ids = [item.id for item in items]
        assert len(ids) == len(set(ids)), ids
    # Registered things share one namespace in the replay and the audit log.
    registered: list[Any] = [
        *scenario.units,
        *scenario.assets,
        *scenario.movements,
        *scenario.areas,
        *scenario.sites,
    ]
    everything = [item.id for item in registered]
    assert len(everything) == len(set(everything))
    cot_uids = [a.cot_uid for a in scenario.assets if a.cot_uid]
    assert len(cot_uids) == len(set(cot_uids))


def test_every_reference_resolves(scenario: DemoScenario) -> None:
    parties = by_id(scenario.parties)
    types = by_id(scenario.equipment_types)
    assets = by_id(scenario.assets)
    units = by_id(scenario.units)
    owned_things: list[Any] = [*scenario.units, *scenario.assets, *scenario.areas, *scenario.sites]
    for owned in owned_things:
        assert owned.party_id in parties, owned.id
    for asset in scenario.assets:
        assert asset.type_id in types, asset.id
        for party in asset.releasable_to or []:
            assert party == "*" or party in parties
    for kind in scenario.equipment_types:
        assert kind.variant_of is None or kind.variant_of in types, kind.id
        for confusable in kind.confusable_with:
            assert confusable.type_id in types, kind.id
            assert confusable.type_id != kind.id
    for movement in scenario.movements:
        assert movement.asset_id in assets
        for party in movement.releasable_to or []:
            assert party == "*" or party in parties
    for area in scenario.areas:
        assert all(a in assets for a in area.asset_ids)
    for report in scenario.reports:
        assert report.asset_id in assets
    assert scenario.incident_check.unit_id in units


def test_each_party_has_a_coordination_cell_and_the_cast_is_complete(
    scenario: DemoScenario,
) -> None:
    parties = by_id(scenario.parties)
    assert {p.kind for p in scenario.parties} == {"military", "humanitarian"}
    assert sum(p.kind == "military" for p in scenario.parties) == 2
    for party in scenario.parties:
        cells = [u for u in scenario.units if u.party_id == party.id and u.coordination_cell]
        assert len(cells) == 1, party.id
    drone_team = by_id(scenario.units)[demo_module.DRONE_TEAM]
    assert "drone_team" in drone_team.roles
    assert not drone_team.coordination_cell
    humanitarian = next(p.id for p in scenario.parties if p.kind == "humanitarian")
    assert [s.kind for s in scenario.sites if s.party_id == humanitarian] == ["hospital"]
    assert all(s.releasable_to == ["*"] for s in scenario.sites)
    assert any(a.kind == "protected" and a.party_id == humanitarian for a in scenario.areas)
    assert parties[drone_team.party_id].kind == "military"


def test_the_variant_and_its_look_alike(scenario: DemoScenario) -> None:
    types = by_id(scenario.equipment_types)
    assets = by_id(scenario.assets)
    variant_asset = assets[demo_module.VARIANT_ASSET]
    variant = types[variant_asset.type_id]
    tracked = types[variant.variant_of]
    assert variant.profile.mobility == "wheeled"
    assert variant.profile.axles == 4
    assert {"radar", "launcher", "antenna_mast"} <= set(variant.profile.features)
    assert variant.max_speed_kmh == 60
    assert tracked.profile.mobility == "tracked"
    assert {"radar", "launcher"} <= set(tracked.profile.features)
    # The look-alike belongs to no one registered: only the "looks like" half of the card.
    (confusable,) = variant.confusable_with
    look_alike = types[confusable.type_id]
    assert "radar" in look_alike.profile.features
    assert look_alike.sidc is None
    assert all(a.type_id != look_alike.id for a in scenario.assets)
    assert "rails" in confusable.cue and "dish" in confusable.cue
    # Releasable to the drone team's party.
    drone_party = by_id(scenario.units)[demo_module.DRONE_TEAM].party_id
    assert variant_asset.party_id != drone_party
    assert drone_party in (variant_asset.releasable_to or [])
    # A tracked one of the drone team's own side exists elsewhere.
    assert any(a.type_id == tracked.id and a.party_id == drone_party for a in scenario.assets)


def test_no_symbol_code_is_hostile(scenario: DemoScenario) -> None:
    parties = by_id(scenario.parties)
    owners: dict[str, set[str]] = {}
    for asset in scenario.assets:
        owners.setdefault(asset.type_id, set()).add(parties[asset.party_id].kind)
    coded = [t for t in scenario.equipment_types if t.sidc]
    assert coded
    for kind in coded:
        sidc = kind.sidc or ""
        assert len(sidc) == 15, kind.id  # MIL-STD-2525C
        assert sidc[0] == "S"
        # Affiliation, the second character: friend, assumed friend or neutral only.
        assert sidc[1] in "FAN", kind.id
        assert sidc[1] not in "HSJKU"
        if "humanitarian" in owners.get(kind.id, set()):
            assert sidc[1] == "N", kind.id
        if "military" in owners.get(kind.id, set()):
            assert sidc[1] in "FA", kind.id


def test_names_are_fictional_markers(scenario: DemoScenario) -> None:
    names = {p.id: p.name for p in scenario.parties}
    assert names == {
        "ndf": "Northland Defence Force",
        "wma": "Westmark Army",
        "ohr": "Open Hands Relief",
    }


# --- time ----------------------------------------------------------------------------------


def _times(s: DemoScenario) -> list[datetime | None]:
    out: list[datetime | None] = []
    for obj in all_objects(s):
        for name in ("time", "start", "end", "aor_start", "aor_end"):
            if name in type(obj).model_fields:
                out.append(getattr(obj, name))
    n = s.narrative
    out += [
        n.now,
        n.arrival_announced_at,
        n.loading_at,
        n.announcement_deadline,
        n.enters_drone_aor_at,
        n.incident_at,
    ]
    out += [t for t, _ in n.timeline()]
    return out


def test_every_time_is_relative_to_now() -> None:
    later = FIXED_NOW + timedelta(days=400, hours=5, minutes=17, seconds=3)
    a, b = build_demo(FIXED_NOW), build_demo(later)
    times_a, times_b = _times(a), _times(b)
    assert len(times_a) == len(times_b) > 20
    for ta, tb in zip(times_a, times_b, strict=True):
        assert (ta is None) == (tb is None)
        if ta is not None and tb is not None:
            assert ta - FIXED_NOW == tb - later
    # And nothing else moves with it.
    for oa, ob in zip(all_objects(a), all_objects(b), strict=True):
        da = oa.model_dump(mode="json", exclude={"time", "start", "end", "aor_start", "aor_end"})
        db = ob.model_dump(mode="json", exclude={"time", "start", "end", "aor_start", "aor_end"})
        assert da == db


def test_the_demo_builds_at_the_real_clock_too() -> None:
    real_now = datetime.now(UTC)
    s = build_demo(real_now)
    assert max(r.time for r in s.reports) <= real_now


def test_now_must_carry_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_demo(datetime(2026, 3, 1, 12, 0))


def test_the_story_runs_in_order(scenario: DemoScenario) -> None:
    n = scenario.narrative
    # Registered and announced before loading; the incident comes while Bastion-2 is still
    # outside the AOR, before the announcement is due and before it can first arrive.
    assert n.arrival_announced_at < n.loading_at < n.incident_at == FIXED_NOW
    assert n.incident_at < n.announcement_deadline < n.enters_drone_aor_at
    assert n.enters_drone_aor_at - n.announcement_deadline == timedelta(minutes=30)
    assert abs(n.enters_drone_aor_at - (FIXED_NOW + timedelta(hours=1))) <= timedelta(minutes=3)
    assert abs(n.announcement_deadline - (FIXED_NOW + timedelta(minutes=30))) <= timedelta(
        minutes=3
    )
    assert [t for t, _ in n.timeline()] == sorted(t for t, _ in n.timeline())
    movement = by_id(scenario.movements)[demo_module.VARIANT_MOVEMENT]
    assert movement.start == FIXED_NOW - timedelta(minutes=30) == n.loading_at
    assert movement.end == FIXED_NOW + timedelta(hours=4)
    assert movement.active_at(FIXED_NOW)
    assert movement.corridor_m == 500


def test_variant_reports_are_recent_and_regular(scenario: DemoScenario) -> None:
    reports = variant_reports(scenario)
    assert len(reports) >= 6
    newest = reports[-1]
    assert timedelta(minutes=1) <= FIXED_NOW - newest.time <= timedelta(minutes=2)
    assert FIXED_NOW - reports[0].time <= timedelta(minutes=35)
    gaps = {b.time - a.time for a, b in itertools.pairwise(reports)}
    assert gaps == {timedelta(minutes=5)}
    assert all(r.cep_m == 15 for r in reports)
    assert all(r.time <= FIXED_NOW for r in scenario.reports)


# --- geometry ------------------------------------------------------------------------------


def _route(movement: Movement) -> list[tuple[float, float]]:
    assert movement.route["type"] == "LineString"
    return [(float(x), float(y)) for x, y in movement.route["coordinates"]]


def _lon_lat(report: PositionReport) -> tuple[float, float]:
    return report.position.lon, report.position.lat


def _along_m(route: list[tuple[float, float]], lon: float, lat: float) -> tuple[float, float]:
    """(distance along the route to the point's nearest spot, distance off the route), by
    walking the route densified to ~1 m steps."""
    line = shapely.segmentize(shapely.LineString(route), 1e-5)
    xy = np.asarray(line.coords)
    steps = geo.haversine_m(xy[:-1, 1], xy[:-1, 0], xy[1:, 1], xy[1:, 0])
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    off = geo.haversine_m(lat, lon, xy[:, 1], xy[:, 0])
    i = int(np.argmin(off))
    return float(cumulative[i]), float(off[i])


def test_the_area_is_where_the_story_says(scenario: DemoScenario) -> None:
    points = [(r.position.lat, r.position.lon) for r in scenario.reports]
    points += [(s.position.lat, s.position.lon) for s in scenario.sites]
    points.append((scenario.incident_check.position.lat, scenario.incident_check.position.lon))
    for movement in scenario.movements:
        points += [(lat, lon) for lon, lat in _route(movement)]
    for lat, lon in points:
        assert 48.0 <= lat <= 49.0 and 35.0 <= lon <= 37.0


def test_the_route_reaches_the_drone_teams_aor_an_hour_after_now_at_max_speed(
    scenario: DemoScenario,
) -> None:
    movement = by_id(scenario.movements)[demo_module.VARIANT_MOVEMENT]
    route = _route(movement)
    aor = by_id(scenario.units)[demo_module.DRONE_TEAM].aor_shape
    types = by_id(scenario.equipment_types)
    asset = by_id(scenario.assets)[movement.asset_id]
    speed_kmh = asset.max_speed_kmh or types[asset.type_id].max_speed_kmh
    assert speed_kmh == 60
    # Walk the route in ~1 m steps; the first step inside the AOR is the entry.
    line = shapely.segmentize(shapely.LineString(route), 1e-5)
    xy = np.asarray(line.coords)
    inside = shapely.contains_xy(aor, xy[:, 0], xy[:, 1])
    assert not inside[0] and inside.any()
    first = int(np.argmax(inside))
    steps = geo.haversine_m(xy[:-1, 1], xy[:-1, 0], xy[1:, 1], xy[1:, 0])
    entry_m = float(np.sum(steps[:first]))
    entry_after_start = timedelta(hours=entry_m / 1000.0 / speed_kmh)
    entry_at = movement.start + entry_after_start
    assert abs(entry_at - (FIXED_NOW + timedelta(hours=1))) <= timedelta(minutes=3), (
        entry_at - FIXED_NOW
    )
    # The narrative's entry time is that same instant.
    n = scenario.narrative
    assert abs(n.enters_drone_aor_at - entry_at) < timedelta(seconds=1)
    # The route goes on into the AOR (a destination inside it), and is of a plausible length.
    assert inside[-1]
    total_km = float(np.sum(steps)) / 1000.0
    assert 95.0 < total_km < 130.0


def test_the_route_runs_along_the_aor_a_few_km_outside_before_entering(
    scenario: DemoScenario,
) -> None:
    movement = by_id(scenario.movements)[demo_module.VARIANT_MOVEMENT]
    route = _route(movement)
    aor = by_id(scenario.units)[demo_module.DRONE_TEAM].aor_shape
    lats, lons = geo.chords(aor)
    line = shapely.segmentize(shapely.LineString(route), 1e-3)
    xy = np.asarray(line.coords)
    steps = geo.haversine_m(xy[:-1, 1], xy[:-1, 0], xy[1:, 1], xy[1:, 0])
    along = np.concatenate([[0.0], np.cumsum(steps)])
    # Where Bastion-2 is at now (the newest report) up to ~5 km before the entry, the road
    # keeps 2-6 km outside the border.
    newest_along, _ = _along_m(route, *_lon_lat(variant_reports(scenario)[-1]))
    stretch = (along >= newest_along) & (along <= 85_000.0)
    assert stretch.sum() > 50
    for lon, lat in xy[stretch]:
        assert not shapely.contains_xy(aor, lon, lat)
        d = geo.distance_to_chords_m(lat, lon, lats, lons)
        assert 2_000.0 <= d <= 6_000.0, (lon, lat, d)


def test_reports_lie_on_the_route_at_the_pace_of_max_speed(scenario: DemoScenario) -> None:
    movement = by_id(scenario.movements)[demo_module.VARIANT_MOVEMENT]
    route = _route(movement)
    for report in variant_reports(scenario):
        along, off = _along_m(route, report.position.lon, report.position.lat)
        assert off < 5.0
        expected = (report.time - movement.start).total_seconds() * 60.0 / 3.6
        assert along == pytest.approx(expected, abs=60.0)
        assert report.speed_kmh == 60


def test_the_incident_observation(scenario: DemoScenario) -> None:
    check = scenario.incident_check
    assert isinstance(check, Observation)
    assert check.unit_id == demo_module.DRONE_TEAM
    assert check.time == FIXED_NOW
    assert check.cep_m == 50
    assert check.note == "radar vehicle?"
    assert check.observed.mobility == "wheeled"
    assert set(check.observed.features) == {"radar", "antenna_mast"}
    assert check.observed.certainty == "probable"
    newest = variant_reports(scenario)[-1]
    d = geo.geodesic_m(
        check.position.lat, check.position.lon, newest.position.lat, newest.position.lon
    )
    assert 500.0 <= d <= 3_000.0
    # Within the asset's reach as docs/design/principles.md defines it (the engine's HOLD
    # rests on this) ...
    assert check.time is not None
    age_h = (check.time - newest.time).total_seconds() / 3600.0
    reach = geo.r99(newest.cep_m) + 60.0 * 1000.0 * age_h + geo.r99(check.cep_m)
    assert d <= reach
    # ... and inside the movement's corridor and in its window ...
    movement = by_id(scenario.movements)[demo_module.VARIANT_MOVEMENT]
    _, off = _along_m(_route(movement), check.position.lon, check.position.lat)
    assert off <= movement.corridor_m + geo.r99(check.cep_m)
    assert movement.active_at(FIXED_NOW)
    # ... and, as the narrative says, just across the drone team's border: its drone looks
    # a few kilometres beyond its own AOR, where Bastion-2 has not yet entered.
    aor = by_id(scenario.units)[demo_module.DRONE_TEAM].aor_shape
    assert not shapely.contains_xy(aor, check.position.lon, check.position.lat)
    lats, lons = geo.chords(aor)
    assert geo.distance_to_chords_m(check.position.lat, check.position.lon, lats, lons) < 5_000
    assert "across the border" in scenario.narrative.summary
    # The drone team's own vehicle is inside its AOR, within drone range, out of the point's reach.
    kestrel = next(r for r in scenario.reports if r.asset_id == demo_module.DRONE_ASSET)
    assert shapely.contains_xy(aor, kestrel.position.lon, kestrel.position.lat)
    d_kestrel = geo.geodesic_m(
        check.position.lat, check.position.lon, kestrel.position.lat, kestrel.position.lon
    )
    assert 4_000.0 < d_kestrel < 15_000.0
    # The observed features agree with the variant's profile, not only with the look-alike's.
    variant = by_id(scenario.equipment_types)[demo_module.SKYSHIELD_W]
    assert check.observed.mobility == variant.profile.mobility
    assert set(check.observed.features) <= set(variant.profile.features)


def test_protected_places_are_away_from_the_incident(scenario: DemoScenario) -> None:
    """The incident's HOLD is about Bastion-2, not a protected place that happens to be near."""
    check = scenario.incident_check
    for site in scenario.sites:
        d = geo.geodesic_m(
            check.position.lat, check.position.lon, site.position.lat, site.position.lon
        )
        assert d > site.radius_m + geo.r99(check.cep_m) + 10_000
    for area in scenario.areas:
        assert isinstance(area, Area)
        lats, lons = geo.chords(area.shape)
        d = geo.distance_to_geometry_m(
            check.position.lat, check.position.lon, area.shape, lats, lons
        )
        assert d > 10_000
    # The convoy (its route and its reports) is far from the incident too.
    convoy = by_id(scenario.movements)[demo_module.CONVOY_MOVEMENT]
    route = np.asarray(_route(convoy))
    assert (
        geo.distance_to_chords_m(check.position.lat, check.position.lon, route[:, 1], route[:, 0])
        > 10_000
    )
    for report in scenario.reports:
        if report.asset_id == demo_module.CONVOY_ASSET:
            d = geo.geodesic_m(
                check.position.lat, check.position.lon, report.position.lat, report.position.lon
            )
            assert d > 10_000


def test_the_march_passes_no_protected_place(scenario: DemoScenario) -> None:
    movement = by_id(scenario.movements)[demo_module.VARIANT_MOVEMENT]
    route = np.asarray(_route(movement))
    for site in scenario.sites:
        d = geo.distance_to_chords_m(site.position.lat, site.position.lon, route[:, 1], route[:, 0])
        assert d > site.radius_m + movement.corridor_m + 10_000, site.id
    for area in scenario.areas:
        assert isinstance(area, Area)
        assert not area.shape.intersects(shapely.LineString(route).buffer(0.05)), area.id


def test_model_types(scenario: DemoScenario) -> None:
    assert all(isinstance(u, Unit) for u in scenario.units)
    assert all(isinstance(t, EquipmentType) for t in scenario.equipment_types)
    assert all(isinstance(a, Asset) for a in scenario.assets)
    assert all(isinstance(s, Site) for s in scenario.sites)
