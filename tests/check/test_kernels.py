"""The compiled loops against the numpy reference and a brute-force scan.

Two tables take the same writes (reports one by one and in batches, removals, reports
that cannot be placed, speed changes) in random worlds clustered on the antimeridian,
near a pole and at mid-latitudes; between writes, both are queried. The compiled
``gather`` and ``radius_query`` must return exactly the reference's slots (distances
equal to a few ulps: libm's asin against numpy's), and both exactly what a scan of every
slot with the same rule returns.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from deconfliction.check.index import buckets, kernels
from deconfliction.check.index.assets import AssetTable, radius_query
from deconfliction.domain import geo
from deconfliction.domain.limits import ANYWHERE_REACH_M

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed"),
]

CENTRES = [(0.0, 179.9), (89.5, 0.0), (-60.0, -179.95), (48.5, 36.0), (-89.9, 120.0)]
T = 1_800_000_000.0
N = 1500


def _wrap(lon: np.ndarray) -> np.ndarray:
    return (lon + 180.0) % 360.0 - 180.0


def _points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = rng.integers(0, len(CENTRES), n)
    clat = np.asarray([c[0] for c in CENTRES])[k]
    clon = np.asarray([c[1] for c in CENTRES])[k]
    spread = rng.choice([0.01, 0.3, 3.0], n)
    lat = np.clip(clat + rng.normal(0, 1, n) * spread, -90.0, 90.0)
    return lat, _wrap(clon + rng.normal(0, 1, n) * spread)


def _reports(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    lat, lon = _points(rng, n)
    # Ages from seconds to eight hours, a few in the future; a from 0 to 2 km.
    age = rng.choice([60.0, 1800.0, 8 * 3600.0], n) * rng.random(n)
    age[rng.random(n) < 0.05] *= -0.1
    return lat, lon, T - age, rng.uniform(0, 2000, n)


def _tables(rng: np.random.Generator) -> tuple[AssetTable, AssetTable]:
    tables = (AssetTable(capacity=64, compiled=True), AssetTable(capacity=64, compiled=False))
    ids = [f"a{i}" for i in range(N)]
    party = rng.integers(0, 3, N)
    v = rng.uniform(0, 80, N)
    v[:5] = 0.0
    zeros = np.zeros(N, dtype=np.int64)
    for table in tables:
        slots = table.bulk_upsert(ids, party, zeros, zeros, v)
    lat, lon, t0, a = _reports(rng, N)
    for table in tables:
        table.report_batch(slots, lat, lon, t0, a)
    return tables


def _write(rng: np.random.Generator, tables: tuple[AssetTable, AssetTable]) -> None:
    """One random write, the same to both tables."""
    kind = rng.choice(["batch", "one", "remove", "anywhere", "speed", "stay"])
    if kind == "batch":
        k = int(rng.integers(1, 400))
        slots = rng.integers(0, N, k).astype(np.int64)
        lat, lon, t0, a = _reports(rng, k)
        for table in tables:
            table.report_batch(slots, lat, lon, t0, a)
    elif kind == "stay":  # a new report in the same cell and bucket
        slots = np.unique(rng.integers(0, N, 50)).astype(np.int64)
        for table in tables:
            placed = slots[table.has[slots] & ~table.anywhere[slots]]
            table.report_batch(
                placed,
                table.lat[placed].copy(),
                table.lon[placed].copy(),
                table.t0[placed] + 0.001,
                table.a[placed] * 0.5,
            )
    elif kind == "one":
        slot = int(rng.integers(0, N))
        lat, lon, t0, a = (float(x[0]) for x in _reports(rng, 1))
        for table in tables:
            table.report(slot, lat, lon, t0, a)
    elif kind == "remove":
        aid = f"a{int(rng.integers(0, N))}"
        for table in tables:
            table.remove(aid)
            table.upsert(aid, 1, 0, 0, 10.0)  # back, unplaced
    elif kind == "anywhere":
        slot = int(rng.integers(0, N))
        for table in tables:
            table.place_anywhere(slot, T - 30.0)
    else:
        aid = f"a{int(rng.integers(0, N))}"
        v = float(rng.uniform(0, 100))
        for table in tables:
            table.upsert(aid, 2, 0, 0, v)


def _brute_gather(
    table: AssetTable,
    lat: float,
    lon: float,
    t: float,
    r_obs: float,
    min_age: float,
    max_age: float,
    look: float,
) -> set[int]:
    slots = np.flatnonzero(table.has[: len(table.ids)])
    age = np.where(table.anywhere[slots], 0.0, np.abs(t - table.t0[slots]))
    age_max = np.minimum(np.maximum(age, np.abs(t + look - table.t0[slots])), max_age)
    d = geo.haversine_m(lat, lon, table.lat[slots], table.lon[slots])
    reach = geo.widen(table.a[slots] + table.v[slots] * age_max + r_obs) * (1 + kernels.REL)
    keep = (age >= min_age) & (age <= max_age) & (d <= reach)
    return set(slots[keep].tolist())


def _brute_radius(table: AssetTable, lat: float, lon: float, r: float) -> set[int]:
    slots = np.flatnonzero(table.has[: len(table.ids)] & ~table.anywhere[: len(table.ids)])
    d = geo.haversine_m(lat, lon, table.lat[slots], table.lon[slots])
    return set(slots[d <= r].tolist())


def _query(rng: np.random.Generator, tables: tuple[AssetTable, AssetTable]) -> None:
    compiled, reference = tables
    qlat, qlon = (float(x[0]) for x in _points(rng, 1))
    t = T + float(rng.choice([0.0, 300.0, -3600.0]))
    r_obs = float(rng.choice([0.0, 50.0, 3000.0]))
    min_age = float(rng.choice([0.0, 0.0, 1800.0]))
    max_age = float(rng.choice([math.inf, 3600.0, 7 * 3600.0]))
    look = float(rng.choice([0.0, 60.0, 600.0, 3600.0]))
    got = compiled.gather(qlat, qlon, t, r_obs, min_age, max_age, look)
    want = reference.gather(qlat, qlon, t, r_obs, min_age, max_age, look)
    assert len(set(got.slots.tolist())) == len(got.slots)  # no slot twice
    assert set(got.slots.tolist()) == set(want.slots.tolist())
    assert set(got.slots.tolist()) == _brute_gather(
        reference, qlat, qlon, t, r_obs, min_age, max_age, look
    )
    order = np.argsort(got.slots)
    ref_order = np.argsort(want.slots)
    np.testing.assert_allclose(got.dist_m[order], want.dist_m[ref_order], rtol=1e-12, atol=1e-6)
    np.testing.assert_array_equal(got.age_s[order], want.age_s[ref_order])
    r = float(rng.choice([500.0, 20_000.0, 400_000.0]))
    hits = radius_query(compiled, qlat, qlon, r)
    assert len(set(hits.tolist())) == len(hits)
    assert set(hits.tolist()) == set(radius_query(reference, qlat, qlon, r).tolist())
    assert set(hits.tolist()) == _brute_radius(reference, qlat, qlon, r)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_queries_equal_the_reference_and_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tables = _tables(rng)
    if seed == 1:
        tables[0].warm()  # snapshots from the start; otherwise built at reads
    for _ in range(60):
        for _ in range(int(rng.integers(0, 3))):
            _write(rng, tables)
        for _ in range(int(rng.integers(1, 4))):
            _query(rng, tables)


def test_every_way_of_reading_a_bucket_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshot with overlay, rebuild, and the cells' sets while the bucket keeps changing."""
    seen: dict[str, int] = {"snapshot": 0, "sets": 0, "overlay": 0}
    source = buckets.Bucket.source

    def counting(bucket: buckets.Bucket, table: buckets.Columns) -> buckets.Snapshot | None:
        snap = source(bucket, table)
        seen["sets" if snap is None else "snapshot"] += 1
        seen["overlay"] += bool(bucket.joined) and snap is not None
        return snap

    monkeypatch.setattr(buckets.Bucket, "source", counting)
    rng = np.random.default_rng(7)
    tables = _tables(rng)
    for _ in range(40):
        _write(rng, tables)
        _query(rng, tables)
    assert all(seen.values()), seen


def test_a_slot_placed_anywhere_is_gathered_everywhere_unless_aged_out() -> None:
    table = AssetTable(capacity=4, compiled=True)
    zeros = np.zeros(2, dtype=np.int64)
    table.bulk_upsert(["x", "y"], zeros, zeros, zeros, np.zeros(2))
    table.report(1, 10.0, 10.0, T, 5.0)
    table.place_anywhere(0, T - 7200.0)
    g = table.gather(-45.0, 100.0, T, 10.0)
    assert g.slots.tolist() == [0]
    assert g.age_s.tolist() == [0.0]
    assert table.a[0] == ANYWHERE_REACH_M
    assert len(table.gather(-45.0, 100.0, T, 10.0, min_age_s=3600.0).slots) == 0


def test_without_a_writable_cache_the_loops_are_compiled_per_process() -> None:
    namespace: dict[str, object] = {}
    exec("def twice(x):\n    return 2 * x\n", namespace)  # no file: numba cannot cache it
    twice = kernels._jit(namespace["twice"])  # type: ignore[arg-type]
    assert twice(21) == 42
