"""The full HTTP check against a bare PostGIS ``ST_DWithin`` query, on the same data.

    python bench/http_vs_postgis.py [--assets 100000] [--queries 5000] [--clients 4]
                                    [--backend postgres|sqlite] [--owners 1]

Not a test; prints one JSON line per figure. Deterministic (seed 42): ``--assets`` assets
uniform in lat 50.0-54.5, lon 30.0-37.0 (the radius workload's region), each with one
report (CEP 10 m, 0-60 s old at the start), and ``--queries`` points uniform in the same
region. The same positions go to both systems:

* ``http-check``: ``POST /v1/checks`` (CEP ``--cep-m``, an operator's token) against the
  real server (``python -m deconfliction serve``, rate limit off) whose store is a fresh
  PostgreSQL database (``--backend postgres``, the default) or SQLite. By default the
  check's CEP is 775 m (its 99 % radius 2 km) and the assets move at most 1 km/h, so the
  check searches about the same 2 km disc as PostGIS (``hits_per_query`` shows it). The whole path:
  HTTP, token lookup, validation, the engine, the answer, and the check **recorded** in
  the store (one committed transaction per check) before the answer goes out.
* ``http-floor``: ``GET /v1/health`` on the same server: what HTTP alone costs.
* ``postgis``: ``SELECT id FROM pts WHERE ST_DWithin(g, <point>::geography, --radius-m,
  false)`` on a ``geography(Point)`` column with a GiST index, from psycopg 3 (prepared,
  one connection per client, ids fetched). Read-only: nothing recorded, no releasability,
  no motion since the report, no wording.

Sequential (one client) and concurrent (``--clients`` threads, one connection each).
Every line carries ``http_over_postgis``: the HTTP check's queries/s over PostGIS's
(above 1: the full check is faster).

``--owners 1`` (the default) gives every asset to the checking unit's party, so a HOLD
writes no notice to another party (a national registry); with ``--owners N`` the assets
are spread over N parties and a HOLD on another party's asset also writes its owner's
``hold_on_your_asset`` notices in the check's transaction (``docs/design/notifications.md``).
Unit AORs lie outside the region, so the start-up and report paths plan no notifications.

PostGIS needs ``postgresql-15-postgis-3`` (``apt-get install``). The bench creates its two
databases (``deconfliction_bench_*``) and drops them, and removes its data directory.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import world
from api_bench import (
    CONTEXT,
    DEFAULT_POSTGRES_URL,
    create_database,
    drop_database,
)
from deconfliction.domain.geo import R99_PER_CEP
from deconfliction.domain.model import PositionReport
from deconfliction.service import auth
from deconfliction.service.stored_form import report_row
from deconfliction.store import Store, open_store
from harness import emit, spread, start_server

SEED = 42
LAT_LO, LAT_HI, LON_LO, LON_HI = 50.0, 54.5, 30.0, 37.0
BATCH = 10_000
RADIUS_M = 2000.0
#: The engine's 99 % radius over CEP (domain.geo).
R99_OVER_CEP = R99_PER_CEP
#: A box south of the region: the units' AORs contain no asset.
AOR = {
    "type": "Polygon",
    "coordinates": [[[30.0, 40.0], [31.0, 40.0], [31.0, 41.0], [30.0, 41.0], [30.0, 40.0]]],
}


def build_store(
    store: Store, lat: np.ndarray, lon: np.ndarray, owners: int, speed_kmh: float
) -> None:
    """Parties, one unit each, a type, the assets and one report each (bulk, not HTTP)."""
    rng = np.random.default_rng(SEED + 1)
    now = datetime.now(UTC)
    n = len(lat)
    with store.transaction():
        for p in range(owners):
            pid = f"party-{p:02d}"
            world.party(store, pid, f"Party {p}", f"net {p}")
            world.unit(store, f"unit-{p:02d}", pid, f"Unit {p}", AOR, cell=True)
        world.equipment_type(store, "type-0", "Type 0", "wheeled", speed_kmh)
        for i in range(n):
            world.asset(
                store,
                f"asset-{i:07d}",
                f"party-{i % owners:02d}",
                "type-0",
                f"C-{i}",
                releasable_to=["*"],
            )
    ages = rng.uniform(0, 60, n)
    for start in range(0, n, BATCH):
        rows = [
            report_row(
                PositionReport.model_validate(
                    {
                        "asset_id": f"asset-{i:07d}",
                        "time": now - timedelta(seconds=float(ages[i])),
                        "position": {"lat": float(lat[i]), "lon": float(lon[i])},
                        "cep_m": 10,
                    }
                )
            )
            for i in range(start, min(n, start + BATCH))
        ]
        store.add_reports(rows, "bench")


def build_postgis(url: str, lat: np.ndarray, lon: np.ndarray) -> None:
    """The same points in a GiST-indexed geography column of the (fresh) database ``url``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
        conn.execute("CREATE TABLE pts (id text PRIMARY KEY, g geography(Point, 4326))")
        with conn.cursor() as cur, cur.copy("COPY pts (id, g) FROM STDIN") as copy:
            for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
                copy.write_row((f"asset-{i:07d}", f"SRID=4326;POINT({x!r} {y!r})"))
        conn.execute("CREATE INDEX pts_g ON pts USING gist (g)")
        conn.execute("VACUUM ANALYZE pts")


Query = Callable[[float, float], int]


def http_client(port: int, token: str, unit: str, cep_m: float) -> Query:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def one(lat: float, lon: float) -> int:
        body = orjson.dumps(
            {
                "unit_id": unit,
                "position": {"lat": lat, "lon": lon},
                "cep_m": cep_m,
                "observed": {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"},
            }
        )
        conn.request("POST", "/v1/checks", body, headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 201:
            raise RuntimeError(f"check answered {response.status}: {data[:200]!r}")
        return int(orjson.loads(data)["match_count"])

    return one


def health_client(port: int) -> Query:
    """``GET /v1/health``: the HTTP round trip alone (the floor under any endpoint)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def one(lat: float, lon: float) -> int:
        conn.request("GET", "/v1/health")
        response = conn.getresponse()
        response.read()
        return 0

    return one


def postgis_client(url: str, radius_m: float) -> Query:
    import psycopg

    conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
    sql = (
        "SELECT id FROM pts WHERE ST_DWithin(g, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s, false)"
    )

    def one(lat: float, lon: float) -> int:
        return len(conn.execute(sql, (lon, lat, radius_m)).fetchall())

    return one


def run(queries: Sequence[tuple[float, float]], clients: list[Query]) -> dict[str, Any]:
    """The queries shared round-robin over the clients (threads); rate and latencies."""
    hits, lat_s, elapsed = spread(queries, len(clients), lambda k: lambda q: clients[k](*q))
    lat_us = [t * 1e6 for t in lat_s]
    return {
        "clients": len(clients),
        "queries": len(lat_us),
        "queries_per_s": round(len(lat_us) / elapsed),
        "p50_us": round(float(np.percentile(lat_us, 50)), 1),
        "p99_us": round(float(np.percentile(lat_us, 99)), 1),
        "hits_per_query": round(sum(hits) / len(lat_us), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=5_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    ap.add_argument("--owners", type=int, default=1, help="parties owning the assets")
    ap.add_argument(
        "--cep-m",
        type=float,
        default=RADIUS_M / R99_OVER_CEP,
        help="the checks' CEP (default: its 99%% radius is the PostGIS radius)",
    )
    ap.add_argument(
        "--speed-kmh",
        type=float,
        default=1.0,
        help="the assets' max speed (default 1 km/h: the reports' age barely widens where "
        "an asset could be, so both systems search about the same disc)",
    )
    ap.add_argument("--radius-m", type=float, default=RADIUS_M, help="the PostGIS radius")
    ap.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    CONTEXT.update(
        workload="http-vs-postgis", backend=args.backend, n_assets=args.assets, owners=args.owners
    )
    rng = np.random.default_rng(SEED)
    lat = rng.uniform(LAT_LO, LAT_HI, args.assets)
    lon = rng.uniform(LON_LO, LON_HI, args.assets)
    queries = list(
        zip(
            rng.uniform(LAT_LO, LAT_HI, args.queries).tolist(),
            rng.uniform(LON_LO, LON_HI, args.queries).tolist(),
            strict=True,
        )
    )
    warm = queries[: min(500, len(queries))]
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    store_url: str | None = None
    postgis_url: str | None = None
    proc = None
    try:
        t0 = time.perf_counter()
        if args.backend == "postgres":
            store_url = create_database(args.postgres_url)
        store = open_store(data_dir, store_url)
        build_store(store, lat, lon, args.owners, args.speed_kmh)
        token, _ = auth.issue(store, "operator", "unit-00", None)
        store.close()
        postgis_url = create_database(args.postgres_url)  # assigned first: always dropped
        build_postgis(postgis_url, lat, lon)
        emit(step="built", seconds=round(time.perf_counter() - t0, 1))
        proc, port = start_server(data_dir, store_url)

        def http_clients(k: int) -> list[Query]:
            return [http_client(port, token, "unit-00", args.cep_m) for _ in range(k)]

        def postgis_clients(k: int) -> list[Query]:
            assert postgis_url is not None
            return [postgis_client(postgis_url, args.radius_m) for _ in range(k)]

        run(warm, http_clients(1))
        run(warm, postgis_clients(1))
        floor = run(queries, [health_client(port)])
        emit(system="http-floor", mode="sequential", endpoint="GET /v1/health", **floor)
        for k, mode in ((1, "sequential"), (args.clients, "concurrent")):
            ours = run(queries, http_clients(k))
            peer = run(queries, postgis_clients(k))
            ratio = round(ours["queries_per_s"] / peer["queries_per_s"], 2)
            emit(system="http-check", mode=mode, cep_m=round(args.cep_m, 1), **ours)
            emit(system="postgis", mode=mode, radius_m=args.radius_m, **peer)
            emit(
                step="ratio",
                mode=mode,
                http_over_postgis=ratio,
                p50_postgis_over_http=round(peer["p50_us"] / ours["p50_us"], 2),
            )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except Exception:
                proc.kill()
                proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
        for url in (store_url, postgis_url):
            if url is not None:
                drop_database(args.postgres_url, url)


if __name__ == "__main__":
    main()
