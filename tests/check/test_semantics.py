"""Every rule of the check semantics (docs/design/principles.md, docs/design/check.md),
one test each (fixed clock, fictional data)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from deconfliction.check.engine import Engine, IndexNotReady
from deconfliction.domain.geo import geodesic_m
from tests.support.check_fixtures import (
    FIXED_NOW,
    M_PER_DEG_LAT,
    area,
    asset,
    engine,
    movement,
    observe,
    report,
    site,
    square,
    unit,
)

pytestmark = pytest.mark.unit

LAT, LON = 48.5, 36.0
KM_LAT = 1000 / M_PER_DEG_LAT  # degrees of latitude per km on the sphere


def test_asset_14_km_away_20_min_ago_at_60_kmh_is_hold_named() -> None:
    e = engine(
        asset(rel=["*"]), reports=(report("blue-7", LAT + 14 * KM_LAT, LON, timedelta(minutes=20)),)
    )
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    (match,) = result.matches
    assert match.kind == "asset" and match.id == "blue-7"
    assert "Blue-7" in match.reasons[0] and "14 km" in match.reasons[0]
    assert "20 min ago" in match.reasons[0] and "60 km/h" in match.reasons[0]
    assert "ASSET_WITHIN_REACH" in match.reason_codes
    assert match.stale is True  # the report is over 15 min old
    assert match.details_withheld is False


def test_same_asset_3_h_ago_400_km_away_is_no_match() -> None:
    e = engine(
        asset(rel=["*"]), reports=(report("blue-7", LAT + 400 * KM_LAT, LON, timedelta(hours=3)),)
    )
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "NO_KNOWN_MATCH"
    assert result.matches == () and result.match_count == 0


def test_reach_boundary_is_r99_plus_speed_times_age_plus_observer_r99() -> None:
    # reach = 2.58*10 + 60/3.6*600 + 2.58*50 = 10154.8 m (true metres).
    reach = 2.58 * 10 + 60 / 3.6 * 600 + 2.58 * 50
    inside = engine(
        asset(),
        reports=(report("blue-7", LAT + (reach - 60) / M_PER_DEG_LAT, LON, timedelta(minutes=10)),),
    )
    assert inside.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "HOLD"
    outside = engine(
        asset(),
        reports=(
            report("blue-7", LAT + (reach * 1.02) / M_PER_DEG_LAT, LON, timedelta(minutes=10)),
        ),
    )
    assert outside.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "NO_KNOWN_MATCH"


def test_certain_tracked_against_wheeled_variant_stays_hold_with_cue() -> None:
    e = engine(
        asset(rel=["*"]), reports=(report("blue-7", LAT + 2 * KM_LAT, LON, timedelta(minutes=5)),)
    )
    obs = observe(LAT, LON, mobility="tracked", features=["radar"], certainty="certain")
    result = e.check(obs, "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    (match,) = result.matches
    conflicts = {c.feature: c.cue for c in match.feature_conflicts}
    assert set(conflicts) == {"mobility"}
    assert "wheeled" in conflicts["mobility"] and "4 axles" in conflicts["mobility"]
    assert "launcher rails" in conflicts["mobility"]  # the confusable cue
    assert "FEATURES_CONFLICT" in match.reason_codes and "FEATURES_AGREE" in match.reason_codes


def test_unreported_features_are_unknown_not_conflicts() -> None:
    e = engine(asset(), reports=(report("blue-7", LAT, LON, timedelta(minutes=1)),))
    (match,) = e.check(observe(LAT, LON), "a", FIXED_NOW).matches
    assert match.feature_conflicts == ()
    assert "FEATURES_AGREE" not in match.reason_codes


def test_feature_agreement_ranks_before_distance() -> None:
    e = engine(
        asset("near-t", type_id="sam-t"),
        asset("far-w", type_id="sam-w"),
        reports=(
            report("near-t", LAT + 0.5 * KM_LAT, LON, timedelta(minutes=2)),
            report("far-w", LAT + 1.5 * KM_LAT, LON, timedelta(minutes=2)),
        ),
    )
    result = e.check(observe(LAT, LON, mobility="wheeled"), "a", FIXED_NOW)
    assert [m.id for m in result.matches] == ["far-w", "near-t"]
    # Without features, distance decides.
    plain = e.check(observe(LAT, LON), "a", FIXED_NOW)
    assert [m.id for m in plain.matches] == ["near-t", "far-w"]


def test_report_past_horizon_is_coverage_gap_not_hold() -> None:
    e = engine(
        asset(rel=["*"]), reports=(report("blue-7", LAT + 5 * KM_LAT, LON, timedelta(hours=7)),)
    )
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "NO_KNOWN_MATCH"
    (gap,) = result.coverage_gaps
    assert gap.party_id == "a"
    assert "Blue-7 has not reported for 7 h" in gap.reason


def test_past_horizon_asset_with_active_operating_area_is_stood_for_by_the_area() -> None:
    op = area(
        "op-1",
        "a",
        "operating",
        square(LAT, LON, 0.1),
        -timedelta(hours=8),
        timedelta(hours=8),
        asset_ids=["blue-7"],
        releasable_to=["*"],
    )
    e = engine(asset(rel=["*"]), op, reports=(report("blue-7", LAT, LON, timedelta(hours=7)),))
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    assert [m.kind for m in result.matches] == ["area"]
    assert not any("has not reported" in g.reason for g in result.coverage_gaps)


def test_site_within_radius_is_hold_listed_first() -> None:
    e = engine(
        asset(rel=["*"]),
        site("field-hospital", LAT + 0.2 * KM_LAT, LON, 300, rel=["*"]),
        reports=(report("blue-7", LAT, LON, timedelta(minutes=1)),),
    )
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    assert [m.kind for m in result.matches] == ["site", "asset"]
    assert "PROTECTED_SITE" in result.matches[0].reason_codes
    assert result.matches[0].feature_conflicts == ()


def test_site_outside_radius_and_observer_r99_is_no_match() -> None:
    e = engine(site("field-hospital", LAT + 1 * KM_LAT, LON, 300, rel=["*"]))
    # 1000 m > 300 m + 2.58*50 m
    assert e.check(observe(LAT, LON), "b", FIXED_NOW).verdict == "NO_KNOWN_MATCH"


def test_area_outside_its_window_is_no_match_and_sets_valid_until() -> None:
    later = area(
        "prot-1",
        "c",
        "protected",
        square(LAT, LON, 0.05),
        timedelta(hours=2),
        timedelta(hours=5),
        releasable_to=["*"],
    )
    e = engine(later)
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "NO_KNOWN_MATCH"
    assert result.valid_until == "2026-03-01T14:00:00Z"
    ended = area(
        "prot-2",
        "c",
        "protected",
        square(LAT, LON, 0.05),
        -timedelta(hours=5),
        -timedelta(hours=1),
        releasable_to=["*"],
    )
    assert engine(ended).check(observe(LAT, LON), "b", FIXED_NOW).verdict == "NO_KNOWN_MATCH"


def test_active_protected_area_is_hold_until_its_end() -> None:
    active = area(
        "prot-1",
        "c",
        "protected",
        square(LAT, LON, 0.05),
        -timedelta(hours=1),
        timedelta(hours=2),
        releasable_to=["*"],
    )
    result = engine(active).check(observe(LAT, LON), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    assert result.matches[0].reason_codes == ("PROTECTED_AREA",)
    assert result.valid_until == "2026-03-01T14:00:00Z"


def test_valid_until_is_earliest_arrival_of_non_matching_asset() -> None:
    # 20 km away, reported now, 60 km/h: it can arrive when
    # 2.58*10 + 16.667*t + 2.58*50 >= 20000 m (true), i.e. after ~1190 s,
    # give or take the metric's slack (which only makes valid_until earlier).
    d = 20_000.0
    e = engine(asset(), reports=(report("blue-7", LAT + d / M_PER_DEG_LAT, LON, timedelta(0)),))
    result = e.check(observe(LAT, LON), "a", FIXED_NOW)
    assert result.verdict == "NO_KNOWN_MATCH"
    true_d = geodesic_m(LAT, LON, LAT + d / M_PER_DEG_LAT, LON)
    exact = (true_d - 2.58 * 10 - 2.58 * 50) / (60 / 3.6)
    from datetime import datetime

    got = (datetime.fromisoformat(result.valid_until) - FIXED_NOW).total_seconds()
    assert exact * 0.98 <= got <= exact + 1, (got, exact)


def test_valid_until_never_later_than_horizon_from_now() -> None:
    result = engine().check(observe(LAT, LON), "a", FIXED_NOW)
    assert result.valid_until == "2026-03-01T18:00:00Z"


def test_point_1_6_km_across_the_antimeridian_is_hold() -> None:
    # 1.6 km at the equator is ~0.0144 deg of longitude.
    e = engine(asset(rel=["*"]), reports=(report("blue-7", 0.0, 179.9928, timedelta(minutes=2)),))
    result = e.check(observe(0.0, -179.9928), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    assert "1.6 km" in result.matches[0].reasons[0]


def test_near_the_pole_across_meridians_is_hold() -> None:
    e = engine(asset(rel=["*"]), reports=(report("blue-7", 89.99, 0.0, timedelta(minutes=3)),))
    assert e.check(observe(89.99, 180.0), "b", FIXED_NOW).verdict == "HOLD"  # ~2.2 km over the pole


def test_movement_corridor_and_widened_window() -> None:
    route = [[36.0, 48.0], [36.0, 49.0]]
    mv = movement("mv-1", "blue-7", route, 500, timedelta(hours=1), timedelta(hours=3))
    e = engine(asset(rel=["*"]), mv)
    # 400 m off the route, window starts in 1 h: widening = (500 + 129)/16.67 = 38 s.
    off = 400 / (M_PER_DEG_LAT * 0.6626)
    assert e.check(observe(48.5, 36.0 + off), "b", FIXED_NOW).verdict == "NO_KNOWN_MATCH"
    at_start = FIXED_NOW + timedelta(hours=1) - timedelta(seconds=30)
    result = e.check(observe(48.5, 36.0 + off, time=at_start), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    assert result.matches[0].kind == "movement"
    assert "MOVEMENT_CORRIDOR" in result.matches[0].reason_codes
    # Window start minus widening bounds valid_until of the earlier check.
    early = e.check(observe(48.5, 36.0 + off), "b", FIXED_NOW)
    assert early.valid_until.startswith("2026-03-01T12:59:2")
    # 2 km off: outside the corridor whatever the time.
    far = 2000 / (M_PER_DEG_LAT * 0.6626)
    assert e.check(observe(48.5, 36.0 + far, time=at_start), "b", FIXED_NOW).verdict == (
        "NO_KNOWN_MATCH"
    )


def test_withheld_match_reveals_nothing_but_party_and_contact() -> None:
    e = engine(
        asset("secret-9", party_id="a", rel=None),
        reports=(report("secret-9", LAT + 1 * KM_LAT, LON, timedelta(minutes=3)),),
    )
    result = e.check(observe(LAT, LON, mobility="tracked"), "b", FIXED_NOW)
    assert result.verdict == "HOLD"
    (match,) = result.matches
    assert match.details_withheld is True and match.party_id == "a"
    assert match.contact == "a hotline 555-0100"
    serial = json.dumps(result.to_dict())
    for forbidden in (
        "secret-9",
        "Secret-9",
        "Rampart",
        "sam-w",
        "48.5",
        "36.0",
        "km",
        " m ",
        "min",
        "ago",
        "wheeled",
        "tracked",
    ):
        assert forbidden not in serial, forbidden
    d = match.to_dict()
    assert set(d) == {
        "kind",
        "id",
        "party_id",
        "reasons",
        "reason_codes",
        "feature_conflicts",
        "stale",
        "details_withheld",
        "contact",
        "owner_response",
    }
    assert d["id"] is None and d["kind"] is None and d["feature_conflicts"] == []
    # The owner's own party sees it in full.
    assert e.check(observe(LAT, LON), "a", FIXED_NOW).matches[0].id == "secret-9"


def test_releasable_party_sees_details() -> None:
    e = engine(asset(rel=["b"]), reports=(report("blue-7", LAT, LON, timedelta(minutes=1)),))
    assert e.check(observe(LAT, LON), "b", FIXED_NOW).matches[0].id == "blue-7"
    assert e.check(observe(LAT, LON), "c", FIXED_NOW).matches[0].details_withheld is True


def test_presence_gap_for_party_operating_without_fresh_reports() -> None:
    aor = unit("cell-a", "a", square(LAT, LON, 0.5))
    e = engine(
        asset(rel=["*"]),
        aor,
        reports=(report("blue-7", LAT + 30 * KM_LAT, LON, timedelta(minutes=30)),),
    )
    result = e.check(observe(LAT, LON), "b", FIXED_NOW)
    assert any(
        g.party_id == "a" and "no position report under 15 min" in g.reason
        for g in result.coverage_gaps
    )
    fresh = engine(
        asset(rel=["*"]),
        aor,
        reports=(report("blue-7", LAT + 30 * KM_LAT, LON, timedelta(minutes=5)),),
    )
    assert fresh.check(observe(LAT, LON), "b", FIXED_NOW).coverage_gaps == ()


def test_at_most_50_matches_listed_with_total_count() -> None:
    assets = [asset(f"u-{i}") for i in range(80)]
    reports = tuple(
        report(f"u-{i}", LAT + i * 0.0001, LON, timedelta(minutes=1)) for i in range(80)
    )
    result = engine(*assets, reports=reports).check(observe(LAT, LON), "a", FIXED_NOW)
    assert result.match_count == 80 and len(result.matches) == 50
    dists = [float(m.reasons[0].split("last seen ")[1].split(" m")[0]) for m in result.matches]
    assert dists == sorted(dists)


def test_every_contract_key_present() -> None:
    result = engine().check(observe(LAT, LON), "a", FIXED_NOW).to_dict()
    assert set(result) == {
        "verdict",
        "matches",
        "match_count",
        "valid_until",
        "coverage_gaps",
        "evaluated_at",
    }
    assert result["evaluated_at"] == "2026-03-01T12:00:00Z"


def test_newer_report_replaces_older_and_older_is_ignored() -> None:
    e = engine(asset(), reports=(report("blue-7", LAT, LON, timedelta(minutes=1)),))
    e.put_reports([report("blue-7", LAT + 100 * KM_LAT, LON, timedelta(minutes=5))])  # older
    assert e.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "HOLD"
    e.put_reports([report("blue-7", LAT + 100 * KM_LAT, LON, timedelta(seconds=10))])
    assert e.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "NO_KNOWN_MATCH"


def test_mgrs_square_half_diagonal_joins_the_radius() -> None:
    import mgrs

    ref = mgrs.MGRS().toMGRS(LAT, LON, MGRSPrecision=1)  # a 10 km square
    e = engine(asset(), reports=(report("blue-7", LAT, LON, timedelta(seconds=0)),))
    from deconfliction.domain.model import Observation

    obs = Observation.model_validate({"unit_id": "u", "position": {"mgrs": ref}, "cep_m": 10})
    assert e.check(obs, "a", FIXED_NOW).verdict == "HOLD"


def test_removed_asset_no_longer_matches() -> None:
    e = engine(asset(), reports=(report("blue-7", LAT, LON, timedelta(minutes=1)),))
    e.remove("asset", "blue-7")
    assert e.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "NO_KNOWN_MATCH"


def test_check_before_load_raises_not_ready() -> None:
    with pytest.raises(IndexNotReady):
        Engine().check(observe(LAT, LON), "a", FIXED_NOW)


def test_asset_speed_override_sets_the_reach_and_reputting_keeps_it() -> None:
    # 12 km away, 10 min old: the type's 60 km/h reaches 10 km (no), a 90 km/h override 15 km.
    r = report("blue-7", LAT + 12 * KM_LAT, LON, timedelta(minutes=10))
    slow = engine(asset(), reports=(r,))
    assert slow.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "NO_KNOWN_MATCH"
    fast = engine(asset(max_speed_kmh=90), reports=(r,))
    assert fast.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "HOLD"
    fast.put(asset(max_speed_kmh=90))  # an unchanged re-put keeps the position and speed
    assert fast.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "HOLD"
    fast.put(asset())  # back to the type's speed
    assert fast.check(observe(LAT, LON), "a", FIXED_NOW).verdict == "NO_KNOWN_MATCH"
