"""The index against a brute-force scan: exactly the same candidates, never fewer.

The scan applies the same rule and metric to every registered item with no grid
and no buckets, so any difference is the index dropping or inventing a
candidate. Data cluster around the antimeridian, a pole and an ordinary place.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from deconfliction.check.engine import Engine
from deconfliction.domain import geo
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Movement,
    Observation,
    Party,
    PositionReport,
    Site,
)
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit

CENTRES = [(0.0, 179.9), (89.5, 0.0), (-60.0, -179.95), (48.5, 36.0)]


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _square(lat: float, lon: float, half: float) -> dict[str, object]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [[[_wrap(x), y] for x, y in ring]]}


def _build(
    seed: int,
) -> tuple[
    Engine,
    dict[str, tuple[float, float, float, float, float]],
    list[Area],
    list[Site],
    list[Movement],
    np.random.Generator,
]:
    rng = np.random.default_rng(seed)
    e = Engine()
    types = [
        EquipmentType.model_validate(
            {"id": f"t{i}", "name": f"T{i}", "profile": {"mobility": "wheeled"}, "max_speed_kmh": s}
        )
        for i, s in enumerate((10, 40, 80, 200))
    ]
    e.load(
        parties=[Party(id=p, name=p, kind="military", contact="c") for p in "pq"],
        equipment_types=types,
    )
    truth: dict[str, tuple[float, float, float, float, float]] = {}
    areas, sites, movements = [], [], []
    reports = []
    for i in range(600):
        clat, clon = CENTRES[i % len(CENTRES)]
        lat = float(np.clip(clat + rng.normal(0, 0.3), -89.99, 89.99))
        lon = _wrap(clon + rng.normal(0, 0.3))
        tcode = int(rng.integers(0, 4))
        e.put(
            Asset(
                id=f"a{i}",
                party_id="pq"[i % 2],
                type_id=f"t{tcode}",
                callsign=f"A{i}",
                releasable_to=["*"],
            )
        )
        age = float(
            rng.choice(
                [rng.uniform(0, 120), rng.uniform(0, 3 * 3600), rng.uniform(5 * 3600, 8 * 3600)]
            )
        )
        cep = float(rng.uniform(0, 300))
        reports.append(
            PositionReport.model_validate(
                {
                    "asset_id": f"a{i}",
                    "time": FIXED_NOW - timedelta(seconds=age),
                    "position": {"lat": lat, "lon": lon},
                    "cep_m": cep,
                },
                context={"now": FIXED_NOW},
            )
        )
        truth[f"a{i}"] = (lat, lon, age, 2.58 * cep, (10, 40, 80, 200)[tcode] / 3.6)
    e.put_reports(reports)
    for i in range(150):
        clat, clon = CENTRES[i % len(CENTRES)]
        lat = float(np.clip(clat + rng.normal(0, 0.3), -89.0, 89.0))
        lon = _wrap(clon + rng.normal(0, 0.3))
        start = FIXED_NOW + timedelta(hours=float(rng.uniform(-3, 1)))
        if i % 3 == 0:
            a = Area.model_validate(
                {
                    "id": f"ar{i}",
                    "party_id": "p",
                    "kind": "operating",
                    "geometry": _square(lat, lon, float(rng.uniform(0.005, 0.1))),
                    "start": start,
                    "end": start + timedelta(hours=3),
                }
            )
            areas.append(a)
            e.put(a)
        elif i % 3 == 1:
            s = Site.model_validate(
                {
                    "id": f"s{i}",
                    "party_id": "q",
                    "kind": "shelter",
                    "position": {"lat": lat, "lon": lon},
                    "radius_m": float(rng.uniform(0, 3000)),
                    "releasable_to": ["*"],
                }
            )
            sites.append(s)
            e.put(s)
        else:
            end_lon = _wrap(lon + float(rng.uniform(-0.3, 0.3)))
            m = Movement.model_validate(
                {
                    "id": f"m{i}",
                    "asset_id": f"a{i}",
                    "route": {
                        "type": "LineString",
                        "coordinates": [[lon, lat], [end_lon, lat + 0.1]],
                    },
                    "corridor_m": float(rng.uniform(0, 2000)),
                    "start": start,
                    "end": start + timedelta(hours=2),
                }
            )
            movements.append(m)
            e.put(m)
    return e, truth, areas, sites, movements, rng


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_returns_exactly_the_brute_force_candidates(seed: int) -> None:
    e, truth, areas, sites, movements, rng = _build(seed)
    horizon = 6 * 3600
    ids = list(truth)
    lat0 = np.array([truth[k][0] for k in ids])
    lon0 = np.array([truth[k][1] for k in ids])
    age = np.array([truth[k][2] for k in ids])
    a99 = np.array([truth[k][3] for k in ids])
    v = np.array([truth[k][4] for k in ids])
    for q in range(300):
        clat, clon = CENTRES[q % len(CENTRES)]
        lat = float(np.clip(clat + rng.normal(0, 0.3), -89.99, 89.99))
        lon = _wrap(clon + rng.normal(0, 0.3))
        cep = float(rng.uniform(0, 500))
        r_obs = 2.58 * cep
        obs = Observation.model_validate(
            {"unit_id": "u", "position": {"lat": lat, "lon": lon}, "cep_m": cep}
        )
        result = e.check(obs, "p", FIXED_NOW)
        d = geo.haversine_m(lat, lon, lat0, lon0)
        expected_assets = {
            ids[i]
            for i in np.flatnonzero((age <= horizon) & (d <= geo.widen(a99 + v * age + r_obs)))
        }
        t = FIXED_NOW.timestamp()
        expected_shapes = set()
        for ar in areas:
            shape = e.shapes.get("area", ar.id)
            assert shape is not None
            if ar.start.timestamp() <= t <= ar.end.timestamp() and shape.distance_m(
                lat, lon
            ) <= geo.widen(r_obs):
                expected_shapes.add(("area", ar.id))
        for s in sites:
            dist = geo.haversine_scalar_m(lat, lon, s.position.lat, s.position.lon)
            if dist <= geo.widen(s.radius_m + r_obs):
                expected_shapes.add(("site", s.id))
        for m in movements:
            shape = e.shapes.get("movement", m.id)
            assert shape is not None
            vm = truth[m.asset_id][4]
            widen_s = (m.corridor_m + r_obs) / vm
            if (
                m.start.timestamp() - widen_s <= t <= m.end.timestamp() + widen_s
                and shape.distance_m(lat, lon) <= geo.widen(m.corridor_m + r_obs)
            ):
                expected_shapes.add(("movement", m.id))
                expected_assets.add(m.asset_id)
        got_shapes = {(mm.kind, mm.id) for mm in result.matches if mm.kind != "asset"}
        assert set(result.matched_asset_ids) == expected_assets
        if result.match_count <= 50:
            assert got_shapes == expected_shapes
        assert (result.verdict == "HOLD") == bool(expected_assets or expected_shapes)
