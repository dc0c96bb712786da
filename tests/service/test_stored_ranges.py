"""Stored values out of physical range: never a failed check, never a lost candidate.

Rows are read the way the service loads a store (``stored_form.report_from_row``,
``stored_form.stored_model``) with values over the whole float range (inf, NaN, 1e308, negative,
subnormal, NULL) and times over every year a datetime can hold; the engine must answer
every check, and the candidates must include every asset a brute-force scan of the
in-range values finds, plus every asset whose stored values are out of range (it could
be anywhere). Before the ranges (docs/design/check.md, "Out-of-range stored values"),
a cep of 1e308 raised OverflowError in ``CellGrid.count_within`` on every check.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconfliction.check.engine import Engine
from deconfliction.domain import geo, limits
from deconfliction.domain.model import Asset, EquipmentType, Observation, Party
from deconfliction.service import stored_form
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

HORIZON_S = 6 * 3600.0
TYPE_KMH = 60.0

any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, -0.0, math.inf, -math.inf, math.nan]),
)
sane_lat = st.floats(-89.0, 89.0)
sane_lon = st.floats(-179.0, 179.0)
stored_number = st.one_of(st.none(), any_float, st.floats(0, 300))
stored_time = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.floats(-7 * 3600, 60).map(lambda s: FIXED_NOW + timedelta(seconds=s)),
)


@st.composite
def stored_report(draw: st.DrawFn, asset_id: str) -> dict[str, Any]:
    wild = draw(st.booleans())
    return {
        "asset_id": asset_id,
        "time": (draw(stored_time) if wild else draw(stored_time.filter(_in_window))).isoformat(),
        "lat": draw(stored_number) if wild else draw(sane_lat),
        "lon": draw(stored_number) if wild else draw(sane_lon),
        "cep_m": draw(stored_number) if wild else draw(st.floats(0, 300)),
        "extra_radius_m": 0.0,
        "speed_kmh": None,
        "course_deg": None,
        "source": draw(st.sampled_from(["authenticated", "plain"])),
    }


def _in_window(t: datetime) -> bool:
    return limits.TIME_MIN <= t <= FIXED_NOW


def _in_range(row: dict[str, Any]) -> bool:
    """The oracle's own reading of a row: placeable as it is, or anywhere."""
    try:
        lat, lon, cep = float(row["lat"]), float(row["lon"]), float(row["cep_m"])
        t = datetime.fromisoformat(str(row["time"]))
    except (TypeError, ValueError):
        return False
    return (
        -90 <= lat <= 90
        and -180 <= lon <= 180
        and 0 <= cep <= limits.MAX_CEP_M
        and limits.TIME_MIN <= t <= limits.TIME_MAX
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(1, 6),
    speeds=st.lists(
        st.one_of(st.floats(0, 200), st.floats(allow_nan=False, allow_infinity=False)),
        min_size=6,
        max_size=6,
    ),
)
def test_stored_values_never_fail_a_check_nor_lose_a_candidate(
    data: st.DataObject, n: int, speeds: list[float]
) -> None:
    e = Engine()
    kind = EquipmentType.model_validate(
        {"id": "t", "name": "T", "profile": {"mobility": "wheeled"}, "max_speed_kmh": TYPE_KMH}
    )
    assets = [
        stored_form.stored_model(
            Asset,
            {
                "id": f"a{i}",
                "party_id": "pq"[i % 2],
                "type_id": "t",
                "callsign": f"A{i}",
                "max_speed_kmh": speeds[i],
                **({"releasable_to": ["*"]} if i % 3 == 0 else {}),
            },
        )
        for i in range(n)
    ]
    rows = [data.draw(stored_report(f"a{i}")) for i in range(n)]
    e.load(
        parties=[Party(id=p, name=p, kind="military", contact="c") for p in "pq"],
        equipment_types=[kind],
        assets=assets,
        reports=[stored_form.report_from_row(row) for row in rows],
    )
    for _ in range(4):
        lat, lon = data.draw(sane_lat), data.draw(sane_lon)
        cep = data.draw(st.floats(0, 1000))
        obs = Observation.model_validate(
            {"unit_id": "u", "position": {"lat": lat, "lon": lon}, "cep_m": cep}
        )
        result = e.check(obs, "p", FIXED_NOW)  # never raises
        expected = set()
        for asset, row in zip(assets, rows, strict=True):
            own = asset.max_speed_kmh
            if not _in_range(row):
                expected.add(asset.id)  # could be anywhere, at any time
                continue
            t0 = datetime.fromisoformat(str(row["time"])).timestamp()
            age = abs(FIXED_NOW.timestamp() - t0)
            if own is not None and not 0 <= own <= limits.MAX_SPEED_KMH:
                # Any speed at all: anywhere a millisecond after its report.
                if 0.001 <= age <= HORIZON_S:
                    expected.add(asset.id)
                continue
            v = (own if own is not None else TYPE_KMH) / 3.6
            d = geo.haversine_scalar_m(lat, lon, float(row["lat"]), float(row["lon"]))
            reach = geo.widen(2.58 * float(row["cep_m"]) + v * age + 2.58 * cep)
            if age <= HORIZON_S and d <= reach:
                expected.add(asset.id)
        got = set(result.matched_asset_ids)
        assert expected <= got, (expected - got, rows)
        if expected:
            assert result.verdict == "HOLD"


def test_a_report_in_range_replaces_one_that_placed_its_asset_anywhere() -> None:
    e = Engine()
    kind = EquipmentType.model_validate(
        {"id": "t", "name": "T", "profile": {"mobility": "wheeled"}, "max_speed_kmh": 60}
    )
    e.load(
        parties=[Party(id="p", name="p", kind="military", contact="c")],
        equipment_types=[kind],
        assets=[Asset(id="a", party_id="p", type_id="t", callsign="A")],
    )
    row = {"asset_id": "a", "time": (FIXED_NOW - timedelta(minutes=5)).isoformat(), "lat": 48.0}
    e.put_reports([stored_form.report_from_row({**row, "lon": 36.0, "cep_m": 1e308})])
    far = Observation.model_validate(
        {"unit_id": "u", "position": {"lat": -40.0, "lon": -100.0}, "cep_m": 10}
    )
    held = e.check(far, "p", FIXED_NOW)
    assert held.verdict == "HOLD" and list(held.matched_asset_ids) == ["a"]
    assert "REPORT_OUT_OF_RANGE" in held.matches[0].reason_codes
    e.put_reports(
        [stored_form.report_from_row({**row, "lon": 36.0, "cep_m": 10.0, "time": FIXED_NOW})]
    )
    assert e.check(far, "p", FIXED_NOW).verdict == "NO_KNOWN_MATCH"


def test_a_buckets_reach_shrinks_when_its_widest_member_leaves() -> None:
    e = Engine()
    kind = EquipmentType.model_validate(
        {"id": "t", "name": "T", "profile": {"mobility": "wheeled"}, "max_speed_kmh": 60}
    )
    e.load(
        parties=[Party(id="p", name="p", kind="military", contact="c")],
        equipment_types=[kind],
        assets=[Asset(id=f"a{i}", party_id="p", type_id="t", callsign="A") for i in range(3)],
    )
    t = (FIXED_NOW - timedelta(seconds=30)).isoformat()
    base = {"time": t, "lat": 48.0, "lon": 36.0}
    e.put_reports(
        [
            stored_form.report_from_row({**base, "asset_id": "a0", "cep_m": 90_000.0}),
            stored_form.report_from_row({**base, "asset_id": "a1", "cep_m": 10.0}),
            stored_form.report_from_row({**base, "asset_id": "a2", "cep_m": 10.0}),
        ]
    )
    (bucket,) = e.assets.buckets.values()
    assert bucket.max_a == geo.r99(90_000.0)
    e.put_reports([stored_form.report_from_row({**base, "asset_id": "a0", "cep_m": 10.0})])
    obs = Observation.model_validate(
        {"unit_id": "u", "position": {"lat": 48.0, "lon": 36.0}, "cep_m": 1}
    )
    e.check(obs, "p", FIXED_NOW)
    (bucket,) = e.assets.buckets.values()
    assert bucket.max_a == geo.r99(10.0)
    assert np.isfinite(bucket.max_v)
