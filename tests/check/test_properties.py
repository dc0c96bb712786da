"""Zero false negatives, measured: the reach rule against simulated truth.

Assets move at most at their max speed; reports carry circular Gaussian errors
drawn from their CEP (sigma = CEP / 1.1774); the observer's position error is
drawn from its CEP too; checks are made at the true position at random times
before the horizon. The check must say HOLD naming the asset. With Gaussian
errors the 99 % radii allow about 1 % misses at most per draw (measured below);
with errors drawn inside the 99 % radii it must be 100 %.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.check.engine import Engine
from deconfliction.domain.model import Asset, EquipmentType, Observation, Party, PositionReport
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

GEOD = Geod(ellps="WGS84")
HORIZON_S = 6 * 3600


def _engine_with_types(speeds: list[float]) -> Engine:
    e = Engine()
    types = [
        EquipmentType.model_validate(
            {"id": f"t{i}", "name": f"T{i}", "profile": {"mobility": "wheeled"}, "max_speed_kmh": s}
        )
        for i, s in enumerate(speeds)
    ]
    e.load(parties=[Party(id="p", name="P", kind="military", contact="c")], equipment_types=types)
    return e


def _simulate(rng: np.random.Generator, n: int, gaussian: bool) -> float:
    speeds = rng.uniform(5, 120, n)
    e = _engine_with_types(speeds.tolist())
    lat0 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sphere
    lat0 = np.clip(lat0, -89.9, 89.9)
    lon0 = rng.uniform(-180, 180, n)
    cep0 = rng.uniform(1, 200, n)
    cep_obs = rng.uniform(1, 200, n)
    age = rng.uniform(0, HORIZON_S * 0.999, n) * rng.choice([0.001, 0.01, 0.1, 1.0], n)
    frac = rng.uniform(0, 1, n)  # fraction of max speed actually used
    heading = rng.uniform(0, 360, n)

    def error_radius(cep: np.ndarray) -> np.ndarray:
        sigma = cep / 1.1774
        if gaussian:
            return sigma * np.sqrt(rng.chisquare(2, n))
        return 2.58 * cep * np.sqrt(rng.uniform(0, 1, n))  # uniform inside the 99 % disc

    # True position at check time, and the report's and observer's erroneous positions.
    travel = speeds / 3.6 * age * frac
    lon_t, lat_t, _ = GEOD.fwd(lon0, lat0, heading, travel)
    rep_lon, rep_lat, _ = GEOD.fwd(lon0, lat0, rng.uniform(0, 360, n), error_radius(cep0))
    obs_lon, obs_lat, _ = GEOD.fwd(lon_t, lat_t, rng.uniform(0, 360, n), error_radius(cep_obs))
    report_time = FIXED_NOW - timedelta(hours=7)
    for i in range(n):
        e.put(Asset(id=f"a{i}", party_id="p", type_id=f"t{i}", callsign=f"A{i}"))
    e.put_reports(
        [
            PositionReport.model_validate(
                {
                    "asset_id": f"a{i}",
                    "time": report_time,
                    "position": {"lat": float(rep_lat[i]), "lon": float(rep_lon[i])},
                    "cep_m": float(cep0[i]),
                },
                context={"now": FIXED_NOW},
            )
            for i in range(n)
        ]
    )
    hits = 0
    for i in range(n):
        t = report_time + timedelta(seconds=float(age[i]))
        obs = Observation.model_validate(
            {
                "unit_id": "u",
                "time": t,
                "position": {"lat": float(obs_lat[i]), "lon": float(obs_lon[i])},
                "cep_m": float(cep_obs[i]),
            }
        )
        result = e.check(obs, "p", now=t)
        hits += f"a{i}" in result.matched_asset_ids and result.verdict == "HOLD"
    return hits / n


def test_gaussian_errors_hold_in_at_least_99_percent_of_draws() -> None:
    """Measured: 100.0 % of 3,000 draws (seed 42); the rule allows 99 %."""
    rate = _simulate(np.random.default_rng(42), 3000, gaussian=True)
    assert rate >= 0.99, rate


def test_errors_inside_the_99_percent_radius_always_hold() -> None:
    rate = _simulate(np.random.default_rng(7), 2000, gaussian=False)
    assert rate == 1.0, rate


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lat=st.floats(-89.99, 89.99),
    lon=st.floats(-180, 180),
    speed=st.floats(1, 300),
    cep0=st.floats(0, 500),
    cep_obs=st.floats(0, 500),
    age=st.floats(0, HORIZON_S - 1),
    bearing=st.floats(0, 360),
    used=st.floats(0, 1),
    err0=st.floats(0, 1),
    err_obs=st.floats(0, 1),
)
def test_worst_case_within_the_rule_is_always_hold(
    lat: float,
    lon: float,
    speed: float,
    cep0: float,
    cep_obs: float,
    age: float,
    bearing: float,
    used: float,
    err0: float,
    err_obs: float,
) -> None:
    """Adversarial draws: errors and travel right up to the rule's bounds, any latitude."""
    e = _engine_with_types([speed])
    e.put(Asset(id="a", party_id="p", type_id="t0", callsign="A"))
    t0 = FIXED_NOW - timedelta(hours=7)
    lon_t, lat_t, _ = GEOD.fwd(lon, lat, bearing, speed / 3.6 * age * used)
    rep_lon, rep_lat, _ = GEOD.fwd(lon, lat, (bearing + 180) % 360, 2.58 * cep0 * err0)
    obs_lon, obs_lat, _ = GEOD.fwd(lon_t, lat_t, bearing, 2.58 * cep_obs * err_obs)
    e.put_reports(
        [
            PositionReport.model_validate(
                {
                    "asset_id": "a",
                    "time": t0,
                    "position": {"lat": rep_lat, "lon": rep_lon},
                    "cep_m": cep0,
                },
                context={"now": FIXED_NOW},
            )
        ]
    )
    t = t0 + timedelta(seconds=age)
    obs = Observation.model_validate(
        {"unit_id": "u", "time": t, "position": {"lat": obs_lat, "lon": obs_lon}, "cep_m": cep_obs}
    )
    result = e.check(obs, "p", now=t)
    assert result.verdict == "HOLD" and "a" in result.matched_asset_ids
    assert math.isfinite(len(result.matches))
