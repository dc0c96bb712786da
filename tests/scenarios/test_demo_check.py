"""The demo through the real check engine: the incident comes out ``HOLD``, and for the
right reasons, for whoever asks.

``test_demo_scenario.py`` checks the scenario's geometry and timing on their own
terms; here the scenario is loaded into an :class:`~deconfliction.check.engine.Engine`
exactly as the service loads it, and the answers are read as an operator would.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import shapely

from deconfliction.check.engine import Engine
from deconfliction.domain import geo
from deconfliction.domain.model import Observation
from deconfliction.domain.result import CheckResult, Match
from deconfliction.scenarios import DemoScenario, build_demo
from deconfliction.scenarios import demo as demo_module
from deconfliction.service.demo import engine_for
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

CALLSIGN = "Bastion-2"


@pytest.fixture(scope="module")
def scenario() -> DemoScenario:
    return build_demo(FIXED_NOW)


@pytest.fixture(scope="module")
def engine(scenario: DemoScenario) -> Engine:
    return engine_for(scenario)


def party_of_unit(scenario: DemoScenario, unit_id: str) -> str:
    return next(u.party_id for u in scenario.units if u.id == unit_id)


def observation(scenario: DemoScenario, **changes: Any) -> Observation:
    """The incident check with some fields replaced (validated like an API body)."""
    body = scenario.incident_check.model_dump(mode="json")
    body.update(changes)
    return Observation.model_validate(body, context={"now": FIXED_NOW})


def asset_match(result: CheckResult, asset_id: str) -> Match:
    matches = [m for m in result.matches if m.kind == "asset" and m.id == asset_id]
    assert len(matches) == 1, [(m.kind, m.id) for m in result.matches]
    return matches[0]


# --- the incident, as the drone team asks it ------------------------------------------------


def test_the_incident_check_is_hold_on_bastion_2(scenario: DemoScenario, engine: Engine) -> None:
    asker = party_of_unit(scenario, scenario.incident_check.unit_id)
    assert asker == demo_module.NDF
    result = engine.check(scenario.incident_check, asker, FIXED_NOW)
    assert result.verdict == "HOLD"
    match = asset_match(result, demo_module.VARIANT_ASSET)
    # Releasable to the drone team's party: every detail is there.
    assert not match.details_withheld
    assert match.party_id == demo_module.WMA
    assert CALLSIGN in match.reasons[0]
    assert "ASSET_WITHIN_REACH" in match.reason_codes
    assert not match.stale
    assert match.contact
    # What Kestrel 7 saw (wheeled, radar, antenna mast) agrees with the Skyshield-W profile.
    assert match.feature_conflicts == ()
    assert "FEATURES_AGREE" in match.reason_codes
    assert demo_module.VARIANT_ASSET in result.matched_asset_ids
    # Bastion-2's march matches as well (the point is on its route, inside its window).
    kinds = {(m.kind, m.id) for m in result.matches}
    assert ("movement", demo_module.VARIANT_MOVEMENT) in kinds
    # Nothing protected is near: the HOLD is about Bastion-2, nothing is withheld.
    assert all(m.kind in {"asset", "movement"} for m in result.matches)
    assert not any(m.details_withheld for m in result.matches)
    assert result.match_count == len(result.matches)
    assert result.valid_until
    serialised = result.to_dict()
    assert set(serialised) == {
        "verdict",
        "matches",
        "match_count",
        "valid_until",
        "coverage_gaps",
        "evaluated_at",
    }


def test_a_tracked_sighting_still_holds_and_names_the_look_alike(
    scenario: DemoScenario, engine: Engine
) -> None:
    """Features never change the verdict: a 'certain' mobility conflict explains, never clears."""
    obs = observation(
        scenario,
        observed={
            "mobility": "tracked",
            "features": ["radar", "antenna_mast"],
            "certainty": "certain",
        },
    )
    result = engine.check(obs, demo_module.NDF, FIXED_NOW)
    assert result.verdict == "HOLD"
    match = asset_match(result, demo_module.VARIANT_ASSET)
    assert CALLSIGN in match.reasons[0]
    conflicts = {c.feature: c.cue for c in match.feature_conflicts}
    assert set(conflicts) == {"mobility"}
    cue = conflicts["mobility"]
    assert "Type-88" in cue
    assert "wheeled" in cue and "certain" in cue
    assert "FEATURES_CONFLICT" in match.reason_codes
    assert any("the verdict stays HOLD" in reason for reason in match.reasons)


def test_a_party_it_is_not_released_to_gets_hold_without_details(
    scenario: DemoScenario, engine: Engine
) -> None:
    variant = next(a for a in scenario.assets if a.id == demo_module.VARIANT_ASSET)
    humanitarian = next(p.id for p in scenario.parties if p.kind == "humanitarian")
    assert humanitarian not in (variant.releasable_to or [])
    assert humanitarian != variant.party_id
    result = engine.check(scenario.incident_check, humanitarian, FIXED_NOW)
    assert result.verdict == "HOLD"
    assert result.matches
    withheld = [m for m in result.matches if m.party_id == variant.party_id]
    assert len(withheld) == 1
    (match,) = withheld
    assert match.details_withheld
    assert match.kind is None and match.id is None
    assert match.feature_conflicts == ()
    assert match.reason_codes == ("DETAILS_WITHHELD",)
    assert match.contact == next(p.contact for p in scenario.parties if p.id == variant.party_id)
    assert all(m.details_withheld for m in result.matches)
    # Nothing in the answer lets the party locate, or even name, the asset.
    text = json.dumps(result.to_dict())
    assert CALLSIGN not in text
    assert demo_module.VARIANT_ASSET not in text
    assert demo_module.VARIANT_MOVEMENT not in text
    assert "Skyshield" not in text
    assert "km away" not in text


def test_a_check_at_the_field_hospital_lists_the_site_first(
    scenario: DemoScenario, engine: Engine
) -> None:
    (hospital,) = (s for s in scenario.sites if s.kind == "hospital")
    obs = observation(
        scenario,
        position={"lat": hospital.position.lat, "lon": hospital.position.lon},
        cep_m=20,
        observed={"certainty": "probable"},
        note=None,
    )
    result = engine.check(obs, demo_module.NDF, FIXED_NOW)
    assert result.verdict == "HOLD"
    first = result.matches[0]
    assert (first.kind, first.id) == ("site", demo_module.HOSPITAL_SITE)
    assert "PROTECTED_SITE" in first.reason_codes
    assert "hospital" in first.reasons[0]
    assert first.feature_conflicts == ()
    # Bastion-2 is nowhere near the hospital.
    assert demo_module.VARIANT_ASSET not in result.matched_asset_ids
    assert all(m.id != demo_module.VARIANT_MOVEMENT for m in result.matches)


def test_far_from_everything_there_is_no_known_match(
    scenario: DemoScenario, engine: Engine
) -> None:
    incident = scenario.incident_check.position
    far = (incident.lat - 1.8, incident.lon)
    assert 190_000 < geo.geodesic_m(incident.lat, incident.lon, *far) < 210_000
    obs = observation(scenario, position={"lat": far[0], "lon": far[1]})
    result = engine.check(obs, demo_module.NDF, FIXED_NOW)
    assert result.verdict == "NO_KNOWN_MATCH"
    assert result.matches == ()
    assert result.match_count == 0
    assert result.valid_until
    valid_until = datetime.fromisoformat(result.valid_until)
    assert FIXED_NOW < valid_until <= FIXED_NOW + engine.settings.horizon
    assert result.to_dict()["valid_until"] == result.valid_until


# --- the earliest entry, measured independently -----------------------------------------------


def _first_boundary_crossing_m(route: list[tuple[float, float]], aor: Any) -> float:
    """Great-circle distance along ``route`` to its first intersection with the AOR boundary."""
    line = shapely.LineString(route)
    crossings = line.intersection(aor.boundary)
    assert not crossings.is_empty
    first = min(
        (
            shapely.Point(xy)
            for part in getattr(crossings, "geoms", [crossings])
            for xy in part.coords
        ),
        key=line.project,
    )
    at = line.project(first)
    travelled = 0.0
    walked = 0.0
    for a, b in itertools.pairwise(route):
        planar = shapely.LineString([a, b]).length
        step = float(geo.haversine_m(a[1], a[0], b[1], b[0]))
        if walked + planar >= at:
            return travelled + float(geo.haversine_m(a[1], a[0], first.y, first.x))
        walked += planar
        travelled += step
    raise AssertionError("the crossing is not on the route")


def test_earliest_entry_into_the_drone_teams_aor_is_an_hour_after_now(
    scenario: DemoScenario,
) -> None:
    movement = next(m for m in scenario.movements if m.id == demo_module.VARIANT_MOVEMENT)
    route = [(float(x), float(y)) for x, y in movement.route["coordinates"]]
    aor = next(u for u in scenario.units if u.id == demo_module.DRONE_TEAM).aor_shape
    assert not shapely.contains_xy(aor, *route[0])
    variant = next(a for a in scenario.assets if a.id == movement.asset_id)
    kind = next(t for t in scenario.equipment_types if t.id == variant.type_id)
    speed_kmh = variant.max_speed_kmh or kind.max_speed_kmh
    assert speed_kmh == 60
    entry_m = _first_boundary_crossing_m(route, aor)
    assert 87_000 < entry_m < 93_000
    entry_at = movement.start + timedelta(hours=entry_m / 1000.0 / speed_kmh)
    assert abs(entry_at - (FIXED_NOW + timedelta(hours=1))) <= timedelta(minutes=3), (
        entry_at - FIXED_NOW
    )
    narrative = scenario.narrative
    assert abs(narrative.enters_drone_aor_at - entry_at) < timedelta(seconds=5)
    assert narrative.announcement_deadline == narrative.enters_drone_aor_at - timedelta(minutes=30)
    assert movement.start == FIXED_NOW - timedelta(minutes=30)
    # At now Bastion-2 has driven about 30 km of it, and is not yet inside.
    newest = max((r for r in scenario.reports if r.asset_id == variant.id), key=lambda r: r.time)
    assert not shapely.contains_xy(aor, newest.position.lon, newest.position.lat)
    driven_km = (newest.time - movement.start).total_seconds() / 3600.0 * speed_kmh
    assert 28.0 <= driven_km <= 30.0
