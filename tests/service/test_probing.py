"""Anti-probing: a scripted sweep of 1,000 checks over a grid by one unit is rate-limited
(429 ``treat_as: HOLD``) and flagged to both parties' coordination cells and the audit log;
and what any sweep can infer about a withheld asset is no better than the documented bound
(docs/design/security.md): the lattice cell of its last report.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.check.engine import Engine
from deconfliction.domain.coarse import Lattice
from tests.support.check_fixtures import (
    area,
    asset,
    engine,
    movement,
    observe,
    report,
    site,
    square,
)
from tests.support.clock import FIXED_NOW
from tests.support.live import Server, issue, run_cli, store_at
from tests.support.world import BOX_C, charlie, now_iso, seed, unit

pytestmark = pytest.mark.integration

SECRET = (48.4567, 36.7891)


def _grid(
    centre: tuple[float, float], rows: int, cols: int, step_deg: float
) -> list[tuple[float, float]]:
    lat0 = centre[0] - step_deg * (rows - 1) / 2
    lon0 = centre[1] - step_deg * (cols - 1) / 2
    return [(lat0 + i * step_deg, lon0 + j * step_deg) for i in range(rows) for j in range(cols)]


def test_a_scripted_sweep_is_rate_limited_and_flagged(data_dir: Path) -> None:
    server = Server(data_dir, "--check-rate-limit", "60").start()
    try:
        admin = issue(data_dir, "admin")
        h = {"Authorization": f"Bearer {admin}"}
        with server.client() as http:
            seed(http, admin)
            for path, body in (
                *charlie(),
                ("/v1/units", unit("b-cell", "bravo", BOX_C, cell=True)),
                (
                    "/v1/assets",
                    {"id": "b-hidden", "party_id": "bravo", "type_id": "sam-w", "callsign": "Wren"},
                ),
            ):
                assert http.post(path, json=body, headers=h).status_code == 201, path
            r = http.post(
                "/v1/reports",
                json=[
                    {
                        "asset_id": "b-hidden",
                        "time": now_iso(-5),
                        "position": {"lat": SECRET[0], "lon": SECRET[1]},
                        "cep_m": 10,
                    }
                ],
                headers=h,
            )
            assert r.status_code in (200, 201), r.text
        op_c = issue(data_dir, "operator", "c-drones")

        # 1,000 points about 450 m apart, nearest the suspected spot first (a prober's order).
        points = sorted(
            _grid(SECRET, 40, 25, 0.004),
            key=lambda p: (p[0] - SECRET[0]) ** 2 + (p[1] - SECRET[1]) ** 2,
        )
        answered: list[tuple[tuple[float, float], dict[str, Any]]] = []
        limited = 0
        started = time.monotonic()
        with server.client(op_c) as c:
            for lat, lon in points:
                r = c.post(
                    "/v1/checks",
                    json={
                        "unit_id": "c-drones",
                        "position": {"lat": lat, "lon": lon},
                        "cep_m": 5,
                        "observed": {"certainty": "probable"},
                    },
                )
                if r.status_code == 429:
                    error = r.json()["error"]
                    assert error["treat_as"] == "HOLD" and error["code"] == "rate_limited"
                    assert int(r.headers["retry-after"]) >= 1
                    limited += 1
                else:
                    assert r.status_code == 201, r.text
                    answered.append(((lat, lon), r.json()))
        elapsed = time.monotonic() - started
        # A bucket of 60, refilled at one a second: the rest is refused.
        assert len(answered) <= 60 + math.ceil(elapsed) + 1, (len(answered), elapsed)
        assert limited == len(points) - len(answered)
        assert limited >= 500

        # Flagged, once, to both parties' coordination cells; nothing about B's asset in it.
        with server.client(admin) as http:
            for cell in ("c-cell", "b-cell"):
                inbox = http.get(
                    f"/v1/units/{cell}/notifications", params={"state": "all"}, headers=h
                ).json()["items"]
                alerts = [n for n in inbox if n["cause"] == "probing_suspected"]
                assert len(alerts) == 1, inbox
                alert = alerts[0]
                assert alert["sweep"]["unit_id"] == "c-drones"
                assert alert["sweep"]["party_id"] == "charlie"
                assert alert["answers"] == ["acknowledged"]
                assert "b-hidden" not in str(alert) and "Wren" not in str(alert)
                # Where C's unit checked goes to C only.
                assert ("bbox" in alert["sweep"]) == (cell == "c-cell")
    finally:
        server.stop()
    # ... and in the audit log: the alerts' events are in the hash chain, which verifies.
    with store_at(data_dir) as store:
        told = [
            n
            for e in store.events(0, 100_000)
            if e.kind == "notification" and e.action == "create"
            for n in e.payload["notifications"]
            if n["cause"] == "probing_suspected"
        ]
        assert len(told) == 2
    verified = run_cli("audit", "verify", "--data-dir", str(data_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # What the answered checks tell: only points whose lattice cell is near the asset's
    # cell HOLD on it (the bound is tested exactly, in-process, below).
    lattice = Lattice()
    holds = [p for p, a in answered if any(m["party_id"] == "bravo" for m in a["matches"])]
    assert holds
    for lat, lon in holds:
        assert _cell_distance_m(lattice, (lat, lon), SECRET) <= _coarse_reach_m(lattice, 5)
    for _, a in answered:  # party and contact only
        assert all(m["details_withheld"] and m["id"] is None for m in a["matches"])


def _cell_distance_m(lattice: Lattice, a: tuple[float, float], b: tuple[float, float]) -> float:
    from deconfliction.domain import geo

    ca = lattice.centre(*a)
    cb = lattice.centre(*b)
    return geo.haversine_scalar_m(ca[0], ca[1], cb[0], cb[1])


def _coarse_reach_m(lattice: Lattice, cep_obs: float, speed_mps: float = 60 / 3.6) -> float:
    """The most a fresh report (10 m CEP, seconds old) reaches on the lattice: its accuracy
    rounded up, its age the greatest over the check's bucket and the report's own (the
    lattice's inputs, docs/design/security.md §2)."""
    from deconfliction.domain import geo

    accuracy = float(lattice.up(geo.r99(10)))
    reach = float(lattice.up(accuracy + speed_mps * (2 * lattice.step_s + 60)))
    return geo.widen(reach + float(lattice.up(geo.r99(cep_obs))) + 2 * lattice.half_diagonal_m)


# -- the bound, exactly: nothing distinguishes two positions in one cell --------------------


def _answers(e: Engine, sweep: list[tuple[float, float, float, int]]) -> list[dict[str, Any]]:
    out = []
    for lat, lon, cep, dt in sweep:
        obs = observe(lat, lon, unit="c-drones", cep=cep, time=FIXED_NOW + timedelta(seconds=dt))
        out.append(e.check(obs, "c", now=FIXED_NOW).to_dict())
    return out


def _world(lat: float, lon: float) -> Engine:
    return engine(
        asset("b-hidden", party_id="b"),
        reports=(report("b-hidden", lat, lon, timedelta(minutes=3)),),
    )


def test_a_sweep_cannot_tell_two_positions_in_one_cell_apart() -> None:
    """1,000 checks on a grid, with varied CEPs and times, answer byte for byte the same
    whether the withheld asset is at one corner of its lattice cell or the opposite one;
    they differ when it is one cell away. So a sweep learns at most the cell."""
    lattice = Lattice()
    c = lattice.cell_deg
    base_lat = math.floor(SECRET[0] / c) * c
    base_lon = math.floor(SECRET[1] / c) * c
    corner_1 = (base_lat + 0.001 * c, base_lon + 0.001 * c)
    corner_2 = (base_lat + 0.999 * c, base_lon + 0.999 * c)
    neighbour = (corner_2[0] + c, corner_2[1])
    grid = _grid(SECRET, 40, 25, 0.01)
    ceps = (3.0, 25.0, 140.0, 900.0)
    sweep = [(lat, lon, ceps[i % 4], (i * 37) % 900 - 450) for i, (lat, lon) in enumerate(grid)]

    one = _answers(_world(*corner_1), sweep)
    two = _answers(_world(*corner_2), sweep)
    assert one == two
    holds = sum(1 for a in one if a["verdict"] == "HOLD")
    assert 0 < holds < len(sweep)  # the sweep does find *something* of party b, coarsely
    assert all(m["details_withheld"] for a in one for m in a["matches"])
    assert _answers(_world(*neighbour), sweep) != one

    # No false negative: wherever the owner's own exact check holds, the asker's holds too.
    exact = _world(*corner_1)
    for (lat, lon, cep, dt), answer in zip(sweep, one, strict=True):
        obs = observe(lat, lon, unit="b-1", cep=cep, time=FIXED_NOW + timedelta(seconds=dt))
        if exact.check(obs, "b", now=FIXED_NOW).verdict == "HOLD":
            assert answer["verdict"] == "HOLD", (lat, lon, cep, dt)


def test_valid_until_from_a_withheld_asset_is_only_ever_earlier() -> None:
    """The owner (exact) and the asker (coarse) ask at the same points: the asker's
    ``valid_until`` is never later, and is on the minute grid or the check's time."""
    far = (SECRET[0] + 0.05, SECRET[1])  # the asset arrives in a while
    e = _world(*SECRET)
    for i, (lat, lon) in enumerate(_grid(far, 10, 10, 0.003)):
        obs_c = observe(lat, lon, unit="c-drones", cep=20)
        obs_b = observe(lat, lon, unit="b-1", cep=20)
        coarse = e.check(obs_c, "c", now=FIXED_NOW + timedelta(seconds=i)).valid_until
        exact = e.check(obs_b, "b", now=FIXED_NOW + timedelta(seconds=i)).valid_until
        assert coarse <= exact, (lat, lon)


# -- the detector alone: deterministic, on an injected clock -------------------------------


def _feed(points: list[tuple[float, float]], every_s: float, unit_id: str = "u") -> list[Any]:
    from deconfliction.service.probing import CheckSeen, SweepDetector

    detector = SweepDetector()
    return [
        detector.observe(unit_id, CheckSeen(1_000_000.0 + i * every_s, lat, lon, ("b",)))
        for i, (lat, lon) in enumerate(points)
    ]


def test_ordinary_use_is_not_flagged() -> None:
    # A team watching one spot: 60 checks in 10 minutes within a few hundred metres.
    spot = [(48.5 + 0.001 * (i % 3), 35.5 + 0.001 * (i % 4)) for i in range(60)]
    assert not any(_feed(spot, 10.0))
    # An escort checking every 30 s along a 10 km road for an hour.
    road = [(48.5 + 0.0015 * i, 35.5 + 0.0009 * i) for i in range(120)]
    assert not any(_feed(road, 30.0))


def test_a_spread_sweep_and_a_small_grid_are_flagged_once() -> None:
    # Irregular points over 20 km (no rows, no columns).
    spread = [(48.0 + (i * 7919 % 97) / 485, 35.0 + (i * 104729 % 89) / 445) for i in range(40)]
    flags = [f for f in _feed(spread, 5.0) if f is not None]
    assert len(flags) == 1  # then the cooldown
    assert flags[0].pattern == "spread" and flags[0].withheld_parties == ("b",)
    grid = [(48.0 + 0.005 * r, 35.0 + 0.005 * c) for r in range(3) for c in range(3)]
    flags = [f for f in _feed(grid, 20.0) if f is not None]
    assert len(flags) == 1 and flags[0].pattern == "grid" and flags[0].checks == 9


# -- the lattice never loses a HOLD, and never gives a later valid_until --------------------

_offset = st.floats(min_value=-0.08, max_value=0.08)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    kind=st.sampled_from(["asset", "site", "area", "movement"]),
    dlat=_offset,
    dlon=_offset,
    age_min=st.floats(min_value=0, max_value=420),
    cep=st.floats(min_value=1, max_value=3000),
    dt_s=st.integers(min_value=-3600, max_value=3600),
    start_min=st.integers(min_value=-120, max_value=120),
    length_min=st.integers(min_value=1, max_value=240),
)
def test_a_withheld_object_holds_wherever_the_exact_answer_does(
    kind: str,
    dlat: float,
    dlon: float,
    age_min: float,
    cep: float,
    dt_s: int,
    start_min: int,
    length_min: int,
) -> None:
    lat, lon = SECRET
    hidden = asset("b-hidden", party_id="b")
    objects: list[Any] = [hidden]
    start, end = timedelta(minutes=start_min), timedelta(minutes=start_min + length_min)
    if kind == "site":
        objects.append(site("b-site", lat, lon, 300.0, party_id="b"))
    elif kind == "area":
        objects.append(area("b-area", "b", "protected", square(lat, lon, 0.01), start, end))
    elif kind == "movement":
        route = [[lon - 0.03, lat - 0.02], [lon + 0.04, lat + 0.01]]
        objects.append(movement("b-mv", "b-hidden", route, 250.0, start, end))
    reports = (report("b-hidden", lat, lon, timedelta(minutes=age_min)),) if kind == "asset" else ()
    e = engine(*objects, reports=reports)
    when = FIXED_NOW + timedelta(seconds=dt_s)
    point = (lat + dlat, lon + dlon)
    asker = e.check(observe(*point, unit="c-1", cep=cep, time=when), "c", now=FIXED_NOW)
    owner = e.check(observe(*point, unit="b-1", cep=cep, time=when), "b", now=FIXED_NOW)
    if owner.verdict == "HOLD":
        assert asker.verdict == "HOLD"
        assert [m.party_id for m in asker.matches] == ["b"]
        assert asker.matches[0].details_withheld
    assert asker.valid_until <= owner.valid_until
