"""HTTP API benchmark: checks and report batches against the real server on loopback.

    python bench/api_bench.py [--assets 100000] [--checks 5000] [--concurrency 16]
                              [--backend sqlite|postgres] [--postgres-url URL]

Deterministic (seed 42). The world is the check engine's workload
(``bench/check_bench.py``): ``--assets`` assets uniform in lat 50.0-54.5, lon 30.0-37.0,
last report 0-120 s old, max speed 20-80 km/h, CEP 10-50 m; ``--areas`` circular
operating areas of radius 1-3 km; one unit with an AOR per party; checks at uniform
points with CEP 50 m. It is built through the store's bulk path (not one HTTP call per
object), then the bench starts
``python -m deconfliction serve`` on a free port (rate limit off), then:

* sequential checks over one keep-alive connection (``http.client``: little client
  overhead), reporting checks/s, p50, p99;
* the same with ``--concurrency`` clients (threads, one keep-alive connection each);
* that every answered check was stored (count in the store);
* report batches of 10,000 through ``POST /v1/reports``, reporting reports/s.

``--backend sqlite`` (the default) keeps the store in a temporary data directory;
``--backend postgres`` creates a fresh database ``deconfliction_bench_<random>`` on the
server of ``--postgres-url`` (its user needs CREATEDB), runs the same workload with
``serve --database-url``, and drops the database afterwards (also on Ctrl-C or SIGTERM).

``--quiet-aors`` moves every unit's AOR out of the region: nothing is inside another
party's AOR, so the start-up backlog and the reports' unannounced entries vanish
(``docs/design/notifications.md``, "Known costs"); HOLD notices to owners remain.

Prints one JSON object per line, each naming the backend. Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import http.client
import math
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import world
from deconfliction.domain.model import PositionReport
from deconfliction.service import auth
from deconfliction.service.stored_form import report_row
from deconfliction.store import Store, open_store
from harness import emit, percentiles, run_threads, start_server

SEED = 42
PARTIES = 20
#: The region the assets and checks are spread over (degrees), as in check_bench.py.
LAT0, LAT1 = 50.0, 54.5
LON0, LON1 = 30.0, 37.0
BATCH = 10_000
#: Each party's units work in a box this many degrees wide (a few parties per point).
AOR_DEG = 2.0


#: Every line names the backend (set by main()).
CONTEXT: dict[str, Any] = {}
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def create_database(admin_url: str) -> str:
    """A fresh, empty database on the server of ``admin_url``; its URL."""
    import psycopg
    from psycopg import sql

    name = f"deconfliction_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def drop_database(admin_url: str, url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _aor(rng: random.Random) -> dict[str, Any]:
    """A party's area of responsibility: a box of AOR_DEG degrees somewhere in the region."""
    lat = rng.uniform(LAT0, LAT1 - AOR_DEG)
    lon = rng.uniform(LON0, LON1 - AOR_DEG)
    ring = [[lon, lat], [lon + AOR_DEG, lat], [lon + AOR_DEG, lat + AOR_DEG], [lon, lat + AOR_DEG]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _circle(lat: float, lon: float, radius_m: float, n: int = 32) -> dict[str, Any]:
    ring = []
    for k in range(n):
        ang = 2 * math.pi * k / n
        ring.append(
            [
                lon + radius_m / (111_195.0 * math.cos(math.radians(lat))) * math.sin(ang),
                lat + radius_m / 111_195.0 * math.cos(ang),
            ]
        )
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


#: With ``--quiet-aors``: every unit's AOR, a box south of the region (no asset inside).
QUIET_AOR = {
    "type": "Polygon",
    "coordinates": [[[30.0, 40.0], [31.0, 40.0], [31.0, 41.0], [30.0, 41.0], [30.0, 40.0]]],
}


def build_store(
    store: Store, n_assets: int, n_areas: int, rng: random.Random, quiet_aors: bool = False
) -> None:
    now = datetime.now(UTC)
    with store.transaction():
        for p in range(PARTIES):
            pid = f"party-{p:02d}"
            world.party(store, pid, f"Party {p}", f"net {p}")
            aor = _aor(rng)  # drawn either way: the rest of the world stays the same
            world.unit(store, f"unit-{p:02d}", pid, f"Unit {p}", QUIET_AOR if quiet_aors else aor)
        for t, (mobility, speed) in enumerate((("wheeled", 80.0), ("tracked", 50.0))):
            world.equipment_type(store, f"type-{t}", f"Type {t}", mobility, speed)
        for i in range(n_assets):
            pid = f"party-{i % PARTIES:02d}"
            world.asset(
                store,
                f"asset-{i:06d}",
                pid,
                f"type-{i % 2}",
                f"C-{i}",
                releasable_to=["*"] if i % 3 == 0 else None,
                max_speed_kmh=round(rng.uniform(20, 80), 1),
            )
        for i in range(n_areas):
            pid = f"party-{i % PARTIES:02d}"
            aid = f"area-{i:06d}"
            store.create(
                "area",
                aid,
                pid,
                {
                    "id": aid,
                    "party_id": pid,
                    "kind": "operating",
                    "geometry": _circle(
                        rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1), rng.uniform(1000, 3000)
                    ),
                    "start": (now - timedelta(hours=1)).isoformat(),
                    "end": (now + timedelta(hours=12)).isoformat(),
                    "asset_ids": [],
                    "releasable_to": ["*"],
                },
                "bench",
            )
    for start in range(0, n_assets, BATCH):
        rows = []
        for i in range(start, min(n_assets, start + BATCH)):
            rows.append(
                report_row(
                    PositionReport.model_validate(
                        {
                            "asset_id": f"asset-{i:06d}",
                            "time": now - timedelta(seconds=rng.uniform(0, 120)),
                            "position": {
                                "lat": rng.uniform(LAT0, LAT1),
                                "lon": rng.uniform(LON0, LON1),
                            },
                            "cep_m": rng.uniform(10, 50),
                        }
                    )
                )
            )
        store.add_reports(rows, "bench")


def check_bodies(n: int, rng: random.Random, unit: str) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "unit_id": unit,
                "position": {"lat": rng.uniform(LAT0, LAT1), "lon": rng.uniform(LON0, LON1)},
                "cep_m": 50,
                "observed": {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"},
            }
        )
        for _ in range(n)
    ]


def run_checks(
    port: int, token: str, bodies: list[bytes], out: list[float], codes: list[int]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/v1/checks", body, headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - t0)
        codes.append(response.status)
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--areas", type=int, default=100_000)
    ap.add_argument("--checks", type=int, default=5_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--report-batches", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument(
        "--quiet-aors",
        action="store_true",
        help="put every unit's AOR outside the region: no unannounced entries at start-up "
        "or on ingest (the store's write path without the planner's entry notifications)",
    )
    ap.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="with --backend postgres: the server to create (and drop) the bench database on",
    )
    args = ap.parse_args()
    CONTEXT["backend"] = args.backend
    if args.quiet_aors:
        CONTEXT["aors"] = "quiet"
    # A SIGTERM (e.g. from `timeout`) must still stop the server and remove the data.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(SEED)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    database_url: str | None = None
    try:
        if args.backend == "postgres":
            database_url = create_database(args.postgres_url)
        t0 = time.perf_counter()
        store = open_store(data_dir, database_url)
        build_store(store, args.assets, args.areas, rng, args.quiet_aors)
        token, _ = auth.issue(store, "operator", "unit-00", None)
        admin, _ = auth.issue(store, "admin", None, None)
        store.close()
        emit(
            step="store_built",
            assets=args.assets,
            areas=args.areas,
            seconds=round(time.perf_counter() - t0, 2),
        )

        t0 = time.perf_counter()
        proc, port = start_server(data_dir, database_url)
        emit(step="server_ready", seconds_to_ready=round(time.perf_counter() - t0, 2))

        warm = check_bodies(500, rng, "unit-00")
        run_checks(port, token, warm, [], [])

        bodies = check_bodies(args.checks, rng, "unit-00")
        lat: list[float] = []
        codes: list[int] = []
        t0 = time.perf_counter()
        run_checks(port, token, bodies, lat, codes)
        elapsed = time.perf_counter() - t0
        emit(
            step="checks_sequential",
            checks=len(lat),
            checks_per_s=round(len(lat) / elapsed, 1),
            **percentiles(lat),
            status_201=codes.count(201),
        )
        answered = len(warm) + codes.count(201)

        per_client = max(1, args.checks // args.concurrency)
        lat_c: list[float] = []
        codes_c: list[int] = []
        threads = [
            threading.Thread(
                target=run_checks,
                args=(port, token, check_bodies(per_client, rng, "unit-00"), lat_c, codes_c),
            )
            for _ in range(args.concurrency)
        ]
        elapsed = run_threads(threads)
        emit(
            step="checks_concurrent",
            clients=args.concurrency,
            checks=len(lat_c),
            checks_per_s=round(len(lat_c) / elapsed, 1),
            **percentiles(lat_c),
            status_201=codes_c.count(201),
        )
        answered += codes_c.count(201)

        # Reports: batches of 10,000 through the API (admin token: any party's assets).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        now = datetime.now(UTC)
        batches = []
        for _ in range(args.report_batches):
            batches.append(
                orjson.dumps(
                    [
                        {
                            "asset_id": f"asset-{rng.randrange(args.assets):06d}",
                            "time": (now - timedelta(seconds=rng.uniform(0, 60))).isoformat(),
                            "position": {
                                "lat": rng.uniform(LAT0, LAT1),
                                "lon": rng.uniform(LON0, LON1),
                            },
                            "cep_m": 10,
                        }
                        for _ in range(BATCH)
                    ]
                )
            )
        batch_lat: list[float] = []
        t0 = time.perf_counter()
        for body in batches:
            b0 = time.perf_counter()
            conn.request("POST", "/v1/reports", body, headers)
            response = conn.getresponse()
            response.read()
            batch_lat.append(time.perf_counter() - b0)
            if response.status != 200:
                raise SystemExit(f"reports: {response.status}")
        elapsed = time.perf_counter() - t0
        emit(
            step="reports_batches",
            batches=len(batches),
            batch_size=BATCH,
            reports_per_s=round(len(batches) * BATCH / elapsed, 1),
            **percentiles(batch_lat),
        )

        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        proc = None
        store = open_store(data_dir, database_url)
        stored = store.count_checks()
        reports = store.count_reports()
        store.close()
        emit(
            step="stored",
            checks_answered=answered,
            checks_stored=stored,
            every_check_stored=stored == answered,
            reports_stored=reports,
        )
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            if database_url is not None:
                drop_database(args.postgres_url, database_url)
        else:
            emit(step="kept", data_dir=str(data_dir), database_url=database_url)


if __name__ == "__main__":
    main()
