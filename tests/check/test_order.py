"""The order of a ``HOLD``'s listed matches (docs/design/check.md, "The order of the
listed matches"): protected things first, then withheld entries in a fixed place, then
the rest by feature agreement and, within equal agreement, by what is likely at the
point; withheld entries never move with their hidden geometry."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from deconfliction.check import likely
from deconfliction.check.engine import Engine
from deconfliction.domain.coarse import Lattice
from tests.support.check_fixtures import (
    FIXED_NOW,
    M_PER_DEG_LAT,
    area,
    asset,
    engine,
    movement,
    observe,
    party,
    report,
    site,
    square,
)

pytestmark = pytest.mark.unit

LAT, LON = 48.5, 36.0
M_LAT = 1 / M_PER_DEG_LAT  # degrees of latitude per metre on the sphere


def _dense(*extra: Any, extra_reports: tuple[Any, ...] = ()) -> Engine:
    """60 of the asker's assets reported 10-30 min ago within 5 km of the point, plus
    ``extra``: a dense ``HOLD`` with more matches than are listed."""
    rng = np.random.default_rng(42)
    crowd = [asset(f"crowd-{i:02d}") for i in range(60)]
    reports = tuple(
        report(
            f"crowd-{i:02d}",
            LAT + float(rng.uniform(-5000, 5000)) * M_LAT,
            LON + float(rng.uniform(-0.06, 0.06)),
            timedelta(minutes=float(rng.uniform(10, 30))),
        )
        for i in range(60)
    )
    return engine(*crowd, *extra, reports=reports + extra_reports)


def test_in_a_dense_hold_the_fresh_near_candidate_is_listed_before_the_stale_far_one() -> None:
    """A fresh report 20 m away is listed first. A stale one with a 300 km reach comes
    after it even when its last report is nearer the point (5 m); reported 50 km away,
    it is behind every one of the 60 candidates within 5 km: counted, not listed."""
    e = _dense(
        asset("fresh"),
        asset("stale-near", max_speed_kmh=60),
        asset("stale-far", max_speed_kmh=60),
        extra_reports=(
            report("fresh", LAT + 20 * M_LAT, LON, timedelta(seconds=30)),
            report("stale-near", LAT + 5 * M_LAT, LON, timedelta(hours=5)),
            report("stale-far", LAT + 50_000 * M_LAT, LON, timedelta(hours=5)),
        ),
    )
    result = e.check(observe(LAT, LON), "a", FIXED_NOW)
    assert result.verdict == "HOLD" and result.match_count == 63
    ids = [m.id for m in result.matches]
    assert len(ids) == 50 and ids[0] == "fresh"
    assert ids.index("stale-near") > 0
    assert "stale-far" not in ids and "stale-far" in result.matched_asset_ids

    # Alone with it, the stale asset is still listed second, stale, and counted.
    e = engine(
        asset("fresh"),
        asset("stale", max_speed_kmh=60),
        reports=(
            report("fresh", LAT + 20 * M_LAT, LON, timedelta(seconds=30)),
            report("stale", LAT + 5 * M_LAT, LON, timedelta(hours=5)),
        ),
    )
    result = e.check(observe(LAT, LON), "a", FIXED_NOW)
    assert [m.id for m in result.matches] == ["fresh", "stale"]
    assert [m.stale for m in result.matches] == [False, True]


def test_the_key_grows_with_the_reach_and_with_the_distance() -> None:
    reach = np.array([100.0, 100.0, 200.0, 300_000.0])
    dist = np.array([20.0, 80.0, 20.0, 5.0])
    blur = np.full(4, 52.0)  # a 10 m report seen with a 10 m CEP: 25.8 m + 25.8 m
    keys = likely.asset_keys(reach, dist, blur)
    assert keys[0] < keys[1] and keys[0] < keys[2]  # nearer, smaller: more likely
    assert keys[3] > 100 * keys[0]  # the stale one, though its report is nearer
    # Within the blur distances still order, and an exact report still has a key.
    exact = likely.asset_keys(np.array([10.0, 10.0]), np.array([0.0, 0.5]), np.zeros(2))
    assert 0 < exact[0] < exact[1]


def test_feature_agreement_still_comes_before_what_is_likely() -> None:
    """A stale asset whose type agrees with what was seen is listed before a fresh one
    whose type conflicts: features order first, the key only within equal agreement."""
    e = engine(
        asset("fresh-tracked", type_id="sam-t"),
        asset("stale-wheeled"),
        reports=(
            report("fresh-tracked", LAT + 20 * M_LAT, LON, timedelta(seconds=30)),
            report("stale-wheeled", LAT + 9000 * M_LAT, LON, timedelta(hours=2)),
        ),
    )
    result = e.check(observe(LAT, LON, mobility="wheeled"), "a", FIXED_NOW)
    assert [m.id for m in result.matches] == ["stale-wheeled", "fresh-tracked"]


def test_areas_and_movements_rank_by_the_disc_that_holds_them() -> None:
    """Protected sites first (nearest first); an operating area 20 km across and a
    movement along a 30 km route after a fresh asset, before a stale one reported 30 km
    away."""
    e = engine(
        asset("fresh"),
        asset("stale", max_speed_kmh=60),
        asset("mover"),
        site("hospital", LAT + 150 * M_LAT, LON, 100.0, rel=["*"]),
        area(
            "op-1",
            "a",
            "operating",
            square(LAT, LON, 0.09),
            -timedelta(hours=1),
            timedelta(hours=1),
        ),
        movement(
            "march",
            "mover",
            [[LON - 0.2, LAT], [LON + 0.2, LAT]],
            500.0,
            -timedelta(hours=1),
            timedelta(hours=1),
        ),
        reports=(
            report("fresh", LAT + 20 * M_LAT, LON, timedelta(seconds=30)),
            report("mover", LAT - 60_000 * M_LAT, LON, timedelta(hours=4)),
            report("stale", LAT + 30_000 * M_LAT, LON, timedelta(hours=5)),
        ),
    )
    result = e.check(observe(LAT, LON), "a", FIXED_NOW)
    kinds = [(m.kind, m.id) for m in result.matches]
    assert kinds[0] == ("site", "hospital")
    assert kinds.index(("asset", "fresh")) < kinds.index(("area", "op-1"))
    assert kinds.index(("area", "op-1")) < kinds.index(("movement", "march"))
    assert kinds.index(("movement", "march")) < kinds.index(("asset", "stale"))


# -- withheld entries: a fixed place, nothing of their geometry ---------------------------


def _in_cell(lattice: Lattice, lat: float, lon: float, corner: float) -> tuple[float, float]:
    """A position inside the cell of (lat, lon): ``corner`` 0..1 across it."""
    c = lattice.cell_deg
    return (
        math.floor(lat / c) * c + (0.001 + 0.998 * corner) * c,
        math.floor(lon / c) * c + (0.001 + 0.998 * corner) * c,
    )


def _mixed_world(corner: float) -> Engine:
    """A dense world seen by party a: its own assets, releasable ones of b, two withheld
    assets of b and d, a withheld site and area, all within a few km; ``corner`` moves
    the withheld assets within their lattice cells, nothing else."""
    lattice = Lattice()
    hidden_b = _in_cell(lattice, LAT + 0.01, LON + 0.01, corner)
    hidden_d = _in_cell(lattice, LAT - 0.02, LON - 0.01, 1 - corner)
    return _dense(
        party("d"),
        asset("b-open", party_id="b", rel=["*"]),
        asset("b-hidden", party_id="b"),
        asset("d-hidden", party_id="d", type_id="sam-t"),
        site("d-clinic", LAT + 0.004, LON, 200.0, party_id="d"),
        area(
            "b-zone",
            "b",
            "operating",
            square(LAT, LON, 0.03),
            -timedelta(hours=1),
            timedelta(hours=1),
        ),
        site("open-shelter", LAT - 0.002, LON, 150.0, rel=["*"]),
        extra_reports=(
            report("b-open", LAT + 0.001, LON + 0.001, timedelta(minutes=1)),
            report("b-hidden", *hidden_b, timedelta(minutes=3)),
            report("d-hidden", *hidden_d, timedelta(minutes=40)),
        ),
    )


def test_withheld_entries_keep_their_place_whatever_their_position_in_the_cell() -> None:
    """Checks over a grid, with varied CEPs, times and observed features, answer byte for
    byte the same whether the withheld assets sit at one corner of their cells or the
    opposite one; where listed, withheld entries come right after the visible protected
    things, by party id — never by their hidden distance, reach or age."""
    rng = np.random.default_rng(7)
    sweep = [
        (
            LAT + float(rng.uniform(-0.05, 0.05)),
            LON + float(rng.uniform(-0.07, 0.07)),
            float(rng.choice([3.0, 25.0, 140.0, 900.0])),
            int(rng.integers(-450, 450)),
            bool(rng.integers(0, 2)),
        )
        for _ in range(150)
    ]

    def answers(e: Engine) -> list[dict[str, Any]]:
        out = []
        for lat, lon, cep, dt, seen in sweep:
            observed = {"mobility": "tracked"} if seen else {}
            obs = observe(lat, lon, cep=cep, time=FIXED_NOW + timedelta(seconds=dt), **observed)
            out.append(e.check(obs, "a", now=FIXED_NOW).to_dict())
        return out

    one = answers(_mixed_world(0.0))
    two = answers(_mixed_world(1.0))
    assert one == two
    placed = 0
    for answer in one:
        matches = answer["matches"]
        withheld = [i for i, m in enumerate(matches) if m["details_withheld"]]
        if not withheld:
            continue
        placed += 1
        protected = [i for i, m in enumerate(matches) if "PROTECTED_SITE" in m["reason_codes"]]
        assert withheld == list(range(len(protected), len(protected) + len(withheld)))
        parties = [matches[i]["party_id"] for i in withheld]
        assert parties == sorted(parties)
        assert all(matches[i]["id"] is None and matches[i]["kind"] is None for i in withheld)
    assert placed > 50  # the sweep does meet the withheld entries, among many listed
    assert any(sum(m["details_withheld"] for m in a["matches"]) == 2 for a in one)
    assert any(len(a["matches"]) == 50 for a in one)  # and in capped lists
