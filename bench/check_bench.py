"""Benchmark of the check engine (not a test): prints one JSON line per figure.

Deterministic: seed 42 and a fixed epoch instead of the wall clock. Each asset
count runs in a fresh subprocess so that ``peak_rss_mb`` is its own.

    python bench/check_bench.py              # N = 10k, 100k, 1M, then radius and dense
    python bench/check_bench.py --max-n 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import world
from deconfliction.check.engine import Engine
from deconfliction.check.index.assets import radius_query
from deconfliction.domain.geo import haversine_m
from deconfliction.domain.model import (
    Area,
    EquipmentType,
    Observation,
    Party,
    PositionReport,
)
from harness import GcWatch

EPOCH = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SEED = 42
LAT_LO, LAT_HI, LON_LO, LON_HI = 50.0, 54.5, 30.0, 37.0
N_AREAS = 100_000
N_CHECKS = 10_000
N_PARTIES = 10


def _pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def engine_base(n_parties: int = N_PARTIES) -> Engine:
    """An engine with ``n_parties`` parties (``p0``...) and one vehicle type ``veh``, ready."""
    e = Engine()
    e.load(
        parties=[
            Party(id=f"p{i}", name=f"Party {i}", kind="military", contact=f"net {i}")
            for i in range(n_parties)
        ],
        equipment_types=[
            EquipmentType.model_validate(
                {
                    "id": "veh",
                    "name": "Vehicle",
                    "profile": {"mobility": "wheeled", "features": ["radar"]},
                    "max_speed_kmh": 80,
                }
            )
        ],
    )
    return e


def run_check(n: int) -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    watch = GcWatch()
    t_build = time.perf_counter()
    e = engine_base()
    ids = [f"a{i}" for i in range(n)]
    parties = [f"p{i % N_PARTIES}" for i in range(n)]
    speeds = rng.uniform(20, 80, n)
    slots = e.load_asset_arrays(ids, ids, parties, ["veh"] * n, [["*"]] * n, speeds)
    lat = rng.uniform(LAT_LO, LAT_HI, n)
    lon = rng.uniform(LON_LO, LON_HI, n)
    t0 = EPOCH.timestamp() - rng.uniform(0, 120, n)
    a99 = 2.58 * rng.uniform(10, 50, n)
    e.assets.report_batch(slots, lat, lon, t0, a99)
    alat = rng.uniform(LAT_LO, LAT_HI, N_AREAS)
    alon = rng.uniform(LON_LO, LON_HI, N_AREAS)
    arad = rng.uniform(1000, 3000, N_AREAS)
    for i in range(N_AREAS):
        e.put(
            Area.model_construct(
                id=f"op{i}",
                party_id=f"p{i % N_PARTIES}",
                kind="operating",
                geometry=world.circle(float(alat[i]), float(alon[i]), float(arad[i])),
                start=EPOCH - timedelta(hours=1),
                end=EPOCH + timedelta(hours=12),
                asset_ids=[],
                releasable_to=["*"],
            )
        )
    gc.collect()
    gc.freeze()  # what Engine.load does after loading: the registry is long-lived
    build_s = time.perf_counter() - t_build
    gc.callbacks.append(watch)  # pauses during the run, not the one-off build

    qlat = rng.uniform(LAT_LO, LAT_HI, N_CHECKS)
    qlon = rng.uniform(LON_LO, LON_HI, N_CHECKS)
    observations = [
        Observation.model_validate(
            {
                "unit_id": "u",
                "position": {"lat": float(a), "lon": float(b)},
                "cep_m": 50,
                "observed": {"mobility": "wheeled", "features": ["radar"]},
            }
        )
        for a, b in zip(qlat, qlon, strict=True)
    ]
    lat_us: list[float] = []
    matches = 0
    t_all = time.perf_counter()
    for obs in observations:
        t1 = time.perf_counter()
        result = e.check(obs, "p0", EPOCH)
        lat_us.append((time.perf_counter() - t1) * 1e6)
        matches += result.match_count
    checks_per_s = N_CHECKS / (time.perf_counter() - t_all)

    # Single updates through the engine (a report object each), then array batches.
    upd_us: list[float] = []
    reports = [
        PositionReport.model_validate(
            {
                "asset_id": ids[int(i)],
                "time": EPOCH,
                "position": {
                    "lat": float(rng.uniform(LAT_LO, LAT_HI)),
                    "lon": float(rng.uniform(LON_LO, LON_HI)),
                },
                "cep_m": 20,
            },
            context={"now": EPOCH},
        )
        for i in rng.integers(0, n, 10_000)
    ]
    for r in reports:
        t1 = time.perf_counter()
        e.put_reports((r,))
        upd_us.append((time.perf_counter() - t1) * 1e6)
    batch = 10_000
    rounds = max(1, min(50, n // batch))
    b_slots = [rng.choice(slots, batch, replace=False) for _ in range(rounds)]
    t1 = time.perf_counter()
    for k, bs in enumerate(b_slots):
        e.assets.report_batch(
            bs,
            rng.uniform(LAT_LO, LAT_HI, batch),
            rng.uniform(LON_LO, LON_HI, batch),
            np.full(batch, EPOCH.timestamp() + k + 1),
            np.full(batch, 50.0),
        )
    batch_rate = rounds * batch / (time.perf_counter() - t1)
    t1 = time.perf_counter()
    e.put_reports(reports)
    engine_batch_rate = len(reports) / (time.perf_counter() - t1)
    gc.callbacks.remove(watch)
    return {
        "workload": "check",
        "n_assets": n,
        "n_areas": N_AREAS,
        "build_s": round(build_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "check_p50_us": round(_pct(lat_us, 50), 1),
        "check_p99_us": round(_pct(lat_us, 99), 1),
        "checks_per_s": round(checks_per_s),
        "mean_matches": round(matches / N_CHECKS, 2),
        "update_us": round(_pct(upd_us, 50), 2),
        "update_p99_us": round(_pct(upd_us, 99), 2),
        "batch_reports_per_s": round(batch_rate),
        "engine_batch_reports_per_s": round(engine_batch_rate),
        "max_gc_pause_ms": round(watch.longest_ms, 2),
    }


def run_radius() -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    n = 1_000_000
    lat = rng.uniform(LAT_LO, LAT_HI, n)
    lon = rng.uniform(LON_LO, LON_HI, n)
    table = world.points_table(lat, lon, EPOCH.timestamp())
    gc.collect()
    gc.freeze()
    qlat = rng.uniform(LAT_LO, LAT_HI, N_CHECKS).tolist()
    qlon = rng.uniform(LON_LO, LON_HI, N_CHECKS).tolist()
    lat_us: list[float] = []
    results = []
    t_all = time.perf_counter()
    for a, b in zip(qlat, qlon, strict=True):
        t1 = time.perf_counter()
        results.append(radius_query(table, a, b, 2000.0))
        lat_us.append((time.perf_counter() - t1) * 1e6)
    rate = N_CHECKS / (time.perf_counter() - t_all)
    verified = True
    for k in range(0, N_CHECKS, 10):  # every tenth query against a full scan
        brute = np.flatnonzero(haversine_m(qlat[k], qlon[k], lat, lon) <= 2000.0)
        verified &= np.array_equal(np.sort(results[k]), brute)
    return {
        "workload": "radius",
        "n_points": n,
        "queries_per_s": round(rate),
        "p50_us": round(_pct(lat_us, 50), 1),
        "p99_us": round(_pct(lat_us, 99), 1),
        "hits_per_query": round(sum(len(r) for r in results) / N_CHECKS, 2),
        "verified": bool(verified),
    }


def run_dense() -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    n = 5000
    e = engine_base()
    ids = [f"d{i}" for i in range(n)]
    slots = e.load_asset_arrays(ids, ids, ["p1"] * n, ["veh"] * n, [["*"]] * n)
    ang = rng.uniform(0, 2 * math.pi, n)
    rad = 5000 * np.sqrt(rng.uniform(0, 1, n))
    lat = 52.0 + rad * np.cos(ang) / 111_195.0
    lon = 34.0 + rad * np.sin(ang) / (111_195.0 * math.cos(math.radians(52.0)))
    e.assets.report_batch(
        slots, lat, lon, EPOCH.timestamp() - rng.uniform(0, 120, n), np.full(n, 50.0)
    )
    lat_us: list[float] = []
    listed = 0
    counts = 0
    for _ in range(1000):
        obs = Observation.model_validate(
            {
                "unit_id": "u",
                "position": {
                    "lat": 52.0 + float(rng.normal(0, 0.02)),
                    "lon": 34.0 + float(rng.normal(0, 0.03)),
                },
                "cep_m": 50,
                "observed": {"mobility": "wheeled"},
            }
        )
        t1 = time.perf_counter()
        result = e.check(obs, "p0", EPOCH)
        lat_us.append((time.perf_counter() - t1) * 1e6)
        listed = max(listed, len(result.matches))
        counts += result.match_count
    return {
        "workload": "dense",
        "n_assets": n,
        "radius_m": 5000,
        "check_p50_us": round(_pct(lat_us, 50), 1),
        "check_p99_us": round(_pct(lat_us, 99), 1),
        "mean_match_count": round(counts / 1000, 1),
        "max_listed": listed,
        "listed_at_most_50": listed <= 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-n", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["check", "radius", "dense"])
    parser.add_argument("--n", type=int, default=0)
    args = parser.parse_args()
    if args.only == "check":
        print(json.dumps(run_check(args.n)), flush=True)
        return
    if args.only == "radius":
        print(json.dumps(run_radius()), flush=True)
        return
    if args.only == "dense":
        print(json.dumps(run_dense()), flush=True)
        return
    jobs = [
        ["--only", "check", "--n", str(n)] for n in (10_000, 100_000, 1_000_000) if n <= args.max_n
    ]
    if args.max_n >= 1_000_000:
        jobs.append(["--only", "radius"])
    jobs.append(["--only", "dense"])
    for job in jobs:
        subprocess.run([sys.executable, __file__, *job], check=True)


if __name__ == "__main__":
    main()
