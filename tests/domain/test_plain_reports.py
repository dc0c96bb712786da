"""A plain-port report only ever widens where an asset could be (issue 5): the check finds
the asset at its authenticated position and at the plain report's, never loses it."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.domain.model import PositionReport
from deconfliction.domain.plain_reports import PlainEffect
from tests.support.check_fixtures import asset, engine, observe, report
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

LAT, LON = 48.5, 35.5


def plain(aid: str, lat: float, lon: float, ago: timedelta, cep: float = 10.0) -> PositionReport:
    r = report(aid, lat, lon, ago, cep)
    return r.model_copy(update={"source": "plain"})


def holds(e: object, lat: float, lon: float) -> bool:
    result = e.check(observe(lat, lon, cep=10.0), "b", FIXED_NOW)  # type: ignore[attr-defined]
    return result.verdict == "HOLD" and "blue-7" in {m.id for m in result.matches}


def test_a_plain_report_3_km_away_widens_and_the_authenticated_position_holds() -> None:
    e = engine(asset(rel=["*"]), reports=(report("blue-7", LAT, LON, timedelta(minutes=2)),))
    far = (LAT + 0.03, LON)
    assert holds(e, LAT, LON) and not holds(e, *far)
    e.put_reports([plain("blue-7", *far, timedelta(minutes=1))])
    assert holds(e, LAT, LON)  # never moved
    assert holds(e, *far)  # and found where the plain report puts it
    # A newer authenticated report replaces the widening.
    e.put_reports([report("blue-7", LAT, LON, timedelta(seconds=10))])
    assert holds(e, LAT, LON) and not holds(e, *far)


def test_a_plain_report_beyond_the_bound_is_refused_and_widens_nothing() -> None:
    """50 km from where the authenticated report 2 minutes ago and a top speed of 60 km/h
    allow (issue 15, finding 10): the hint contradicts the authenticated position."""
    e = engine(asset(rel=["*"]), reports=(report("blue-7", LAT, LON, timedelta(minutes=2)),))
    far = (LAT + 0.45, LON)
    at = FIXED_NOW - timedelta(minutes=1)
    assert e.plain_effect("blue-7", *far, at, 10.0) is PlainEffect.IMPLAUSIBLE
    e.put_reports([plain("blue-7", *far, timedelta(minutes=1))])
    assert holds(e, LAT, LON) and not holds(e, *far)


def test_plain_reports_widen_from_the_authenticated_reach_not_from_each_other() -> None:
    """Hints cannot be chained: each in turn within the bound of the one before, together
    they would walk the asset away; each is measured from the authenticated reach."""
    e = engine(asset(rel=["*"]), reports=(report("blue-7", LAT, LON, timedelta(minutes=2)),))
    steps = [LAT + 0.04 * k for k in (1, 2, 3)]  # 4.4 km apart, 1 minute ago
    e.put_reports([plain("blue-7", steps[0], LON, timedelta(minutes=1))])
    assert holds(e, steps[0], LON)
    at = FIXED_NOW - timedelta(minutes=1)
    assert e.plain_effect("blue-7", steps[1], LON, at, 10.0) is PlainEffect.IMPLAUSIBLE
    e.put_reports([plain("blue-7", lat, LON, timedelta(minutes=1)) for lat in steps[1:]])
    assert not holds(e, steps[1], LON) and not holds(e, steps[2], LON)


def test_a_plain_report_older_than_the_authenticated_one_changes_nothing() -> None:
    e = engine(asset(rel=["*"]), reports=(report("blue-7", LAT, LON, timedelta(minutes=1)),))
    e.put_reports([plain("blue-7", LAT + 0.45, LON, timedelta(minutes=5))])
    assert holds(e, LAT, LON) and not holds(e, LAT + 0.45, LON)


def test_without_an_authenticated_report_a_plain_one_places_the_asset() -> None:
    e = engine(asset(rel=["*"]))
    assert not holds(e, LAT, LON)
    e.put_reports([plain("blue-7", LAT, LON, timedelta(minutes=1))])
    assert holds(e, LAT, LON)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-0.5, 0.5),
    st.floats(-0.5, 0.5),
    st.integers(1, 600),
    st.integers(0, 599),
    st.floats(5, 500),
)
def test_plain_reports_never_take_the_asset_out_of_a_check(
    dlat: float, dlon: float, auth_ago_s: int, plain_after_s: int, cep: float
) -> None:
    """Wherever the authenticated report alone makes a check HOLD, it still does after any
    plain report; and a check at a newer plain report's position HOLDs unless the report
    was refused as beyond the bound of ``domain/plain_reports.py``."""
    rng = random.Random(auth_ago_s)
    before = engine(
        asset(rel=["*"]), reports=(report("blue-7", LAT, LON, timedelta(seconds=auth_ago_s)),)
    )
    after = engine(
        asset(rel=["*"]), reports=(report("blue-7", LAT, LON, timedelta(seconds=auth_ago_s)),)
    )
    plain_ago = max(0, auth_ago_s - plain_after_s)
    at = FIXED_NOW - timedelta(seconds=plain_ago)
    effect = after.plain_effect("blue-7", LAT + dlat, LON + dlon, at, cep)
    after.put_reports([plain("blue-7", LAT + dlat, LON + dlon, timedelta(seconds=plain_ago), cep)])
    for _ in range(5):
        lat, lon = LAT + rng.uniform(-0.05, 0.05), LON + rng.uniform(-0.05, 0.05)
        if holds(before, lat, lon):
            assert holds(after, lat, lon)
    # Within the bound, found where the hint puts it; beyond it, refused (no change).
    if effect is not PlainEffect.IMPLAUSIBLE:
        assert holds(after, LAT + dlat, LON + dlon)
