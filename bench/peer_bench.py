"""The radius workload against peers: this project's index, PostGIS and Redis.

Not a test; prints one JSON line per figure. Deterministic (seed 42): 1M points
uniform in lat 50.0-54.5, lon 30.0-37.0; 10,000 queries of 2 km at uniform points.

* ``deconfliction-index``: ``index.assets.radius_query`` in process (haversine on the
  WGS 84 mean sphere, exact test after the cell grid).
* ``postgis``: ``ST_DWithin`` on ``geography`` with a GiST index, through psycopg 3
  (prepared statement, one connection per client; the ids are fetched, as the
  index returns them). Compared on the sphere
  (``use_spheroid => false``) so that hits are comparable with the index.
* ``redis``: ``GEOSEARCH ... BYRADIUS 2000 m`` (Redis's own haversine).

Sequential (one client) and concurrent (``--clients`` threads, each its own
connection). PostGIS needs ``postgresql-15-postgis-3`` (``apt-get install``); the
bench creates and drops its own database. Every line carries the ratio of the
index's queries/s to the peer's.

    python bench/peer_bench.py [--points 1000000] [--queries 10000] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deconfliction.check.index.assets import AssetTable, radius_query
from deconfliction.domain.geo import haversine_m

SEED = 42
LAT_LO, LAT_HI, LON_LO, LON_HI = 50.0, 54.5, 30.0, 37.0
RADIUS_M = 2000.0


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def timed(
    queries: Sequence[tuple[float, float]], one: Callable[[float, float], int]
) -> dict[str, Any]:
    lat_us = []
    hits = 0
    t_all = time.perf_counter()
    for lat, lon in queries:
        t0 = time.perf_counter()
        hits += one(lat, lon)
        lat_us.append((time.perf_counter() - t0) * 1e6)
    elapsed = time.perf_counter() - t_all
    return {
        "queries_per_s": round(len(queries) / elapsed),
        "p50_us": round(float(np.percentile(lat_us, 50)), 1),
        "p99_us": round(float(np.percentile(lat_us, 99)), 1),
        "hits_per_query": round(hits / len(queries), 2),
    }


def concurrent(
    queries: Sequence[tuple[float, float]],
    clients: int,
    make: Callable[[], Callable[[float, float], int]],
) -> dict[str, Any]:
    share = [queries[i::clients] for i in range(clients)]
    workers = [make() for _ in range(clients)]
    lat_us: list[float] = []
    lock = threading.Lock()

    def run(k: int) -> None:
        local = []
        for lat, lon in share[k]:
            t0 = time.perf_counter()
            workers[k](lat, lon)
            local.append((time.perf_counter() - t0) * 1e6)
        with lock:
            lat_us.extend(local)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    t_all = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t_all
    return {
        "clients": clients,
        "queries_per_s": round(len(queries) / elapsed),
        "p50_us": round(float(np.percentile(lat_us, 50)), 1),
        "p99_us": round(float(np.percentile(lat_us, 99)), 1),
    }


def bench_index(
    lat: np.ndarray, lon: np.ndarray, queries: list[tuple[float, float]]
) -> dict[str, Any]:
    n = len(lat)
    table = AssetTable(capacity=n)
    zeros = np.zeros(n, dtype=np.int64)
    slots = table.bulk_upsert([f"p{i}" for i in range(n)], zeros, zeros, zeros, np.zeros(n))
    table.report_batch(slots, lat, lon, np.zeros(n), np.zeros(n))
    table.warm()
    out = timed(queries, lambda a, b: len(radius_query(table, a, b, RADIUS_M)))
    verified = all(
        np.array_equal(
            np.sort(radius_query(table, a, b, RADIUS_M)),
            np.flatnonzero(haversine_m(a, b, lat, lon) <= RADIUS_M),
        )
        for a, b in queries[::50]
    )
    return out | {"verified": verified}


def bench_postgis(
    url: str, lat: np.ndarray, lon: np.ndarray, queries: list[tuple[float, float]], clients: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    import psycopg

    name = f"deconfliction_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db_url = url.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            conn.execute("CREATE TABLE pts (id integer PRIMARY KEY, g geography(Point, 4326))")
            with conn.cursor() as cur, cur.copy("COPY pts (id, g) FROM STDIN") as copy:
                for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
                    copy.write_row((i, f"SRID=4326;POINT({x!r} {y!r})"))
            conn.execute("CREATE INDEX pts_g ON pts USING gist (g)")
            conn.execute("VACUUM ANALYZE pts")
        sql = (
            "SELECT id FROM pts WHERE ST_DWithin(g, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s, false)"
        )

        def make() -> Callable[[float, float], int]:
            conn = psycopg.connect(db_url, autocommit=True, prepare_threshold=0)

            def one(a: float, b: float) -> int:
                return len(conn.execute(sql, (b, a, RADIUS_M)).fetchall())

            return one

        seq = timed(queries, make())
        conc = concurrent(queries, clients, make)
        return seq, conc
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_redis(
    lat: np.ndarray, lon: np.ndarray, queries: list[tuple[float, float]], clients: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    import redis

    key = f"deconfliction:bench:{secrets.token_hex(4)}"
    r = redis.Redis(host="127.0.0.1", port=6379)
    try:
        pipe = r.pipeline(transaction=False)
        for start in range(0, len(lat), 10_000):
            values: list[Any] = []
            for i in range(start, min(len(lat), start + 10_000)):
                values.extend((float(lon[i]), float(lat[i]), i))
            pipe.execute_command("GEOADD", key, *values)
        pipe.execute()

        def make() -> Callable[[float, float], int]:
            client = redis.Redis(host="127.0.0.1", port=6379)

            def one(a: float, b: float) -> int:
                return len(
                    client.execute_command(
                        "GEOSEARCH", key, "FROMLONLAT", b, a, "BYRADIUS", RADIUS_M, "m"
                    )
                )

            return one

        return timed(queries, make()), concurrent(queries, clients, make)
    finally:
        r.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    lat = rng.uniform(LAT_LO, LAT_HI, args.points)
    lon = rng.uniform(LON_LO, LON_HI, args.points)
    queries = list(
        zip(
            rng.uniform(LAT_LO, LAT_HI, args.queries).tolist(),
            rng.uniform(LON_LO, LON_HI, args.queries).tolist(),
            strict=True,
        )
    )
    base = {"workload": "radius", "n_points": args.points, "radius_m": RADIUS_M}
    ours = bench_index(lat, lon, queries)
    emit(**base, system="deconfliction-index", mode="sequential", **ours)
    for system, run in (
        ("postgis", lambda: bench_postgis(args.postgres_url, lat, lon, queries, args.clients)),
        ("redis", lambda: bench_redis(lat, lon, queries, args.clients)),
    ):
        try:
            seq, conc = run()
        except Exception as exc:  # a missing peer is reported, not hidden
            emit(**base, system=system, error=f"{type(exc).__name__}: {exc}")
            continue
        emit(
            **base,
            system=system,
            mode="sequential",
            **seq,
            index_speedup=round(ours["queries_per_s"] / seq["queries_per_s"], 2),
        )
        emit(
            **base,
            system=system,
            mode="concurrent",
            **conc,
            index_sequential_speedup=round(ours["queries_per_s"] / conc["queries_per_s"], 2),
        )


if __name__ == "__main__":
    main()
