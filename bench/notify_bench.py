"""Notification benchmark: fan-out of one movement, SSE delivery, and report ingest with
unannounced-entry detection.

    python bench/notify_bench.py [--aors 10000] [--streams 1000] [--detect-aors 100000]

Deterministic (seed 42). Two worlds, each built through the store's bulk path:

* **fan-out**: ``--aors`` units of 50 other parties, each with a 2-4 km box AOR centred
  within 1.5 km of a 500 km route (lat 50.0, lon 30.0 → 37.0); one wheeled asset of the
  owner party. A movement along the route (corridor 500 m) enters every AOR, so it plans
  one ``announced_arrival`` and one ``recognition_briefing`` per unit.

  1. In-process (the service's use case, no HTTP): the time from the write to its commit,
     every notification included, alone (``fanout_commit``); then, in a fresh world, the
     same while a batch of 1,000 reports is sent 50 ms into the fan-out
     (``fanout_commit_with_ingest``) and how long that batch waits (``ingest_during_fanout``).
  2. The real server (``python -m deconfliction serve``) with ``--streams`` units' SSE
     streams connected: ``POST /v1/movements`` until its 201 (the commit), then until
     every stream has received its unit's announcement (``sse_fanout``).

* **detection**: ``--detect-aors`` units of 20 parties with 1-3 km box AORs spread over
  lat 50.0-54.5, lon 30.0-37.0 (about 1.6 AORs over any point); ``--detect-assets``
  assets of a 21st party. Batches of 10,000 authenticated reports (each asset moving up
  to 200 m from its last report, so entries happen at the rate tracks cross AOR borders)
  through the service's report
  use case: reports/s with detection on, and how many entries were told
  (``detection``).

Prints one JSON object per line. Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import math
import random
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

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import world
from deconfliction.domain.model import PositionReport
from deconfliction.service import auth
from deconfliction.service.access import SYSTEM
from deconfliction.service.config import Settings
from deconfliction.service.kinds import MOVEMENT
from deconfliction.store import Store, open_store
from deconfliction.usecases import UseCases
from harness import emit, raise_fd_limit, start_server

SEED = 42
M_PER_DEG = 111_195.0
ROUTE_LAT = 50.0
ROUTE_LON0, ROUTE_LON1 = 30.0, 37.0
LAT0, LAT1 = 50.0, 54.5
LON0, LON1 = 30.0, 37.0
BATCH = 10_000


def box(lat: float, lon: float, half_m: float) -> dict[str, Any]:
    dlat = half_m / M_PER_DEG
    dlon = half_m / (M_PER_DEG * math.cos(math.radians(lat)))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _party(store: Store, pid: str) -> None:
    world.party(store, pid, f"Party {pid}", f"net {pid}")


def _unit(store: Store, uid: str, pid: str, aor: dict[str, Any], cell: bool = False) -> None:
    world.unit(store, uid, pid, f"Unit {uid}", aor, cell)


def _type(store: Store) -> None:
    world.equipment_type(store, "type-w", "Wheeled radar carrier", "wheeled", 80.0, axles=4)


def _asset(store: Store, aid: str, pid: str) -> None:
    world.asset(store, aid, pid, "type-w", f"C-{aid}", releasable_to=["*"])


def build_fanout(store: Store, n_aors: int, rng: random.Random) -> list[str]:
    """The fan-out world; returns the unit ids in order."""
    units = []
    with store.transaction():
        _party(store, "owner")
        _unit(store, "owner-cell", "owner", box(ROUTE_LAT - 1.0, 33.0, 5000), cell=True)
        _type(store)
        _asset(store, "convoy", "owner")
        for p in range(50):
            _party(store, f"p{p:02d}")
        for i in range(n_aors):
            lon = ROUTE_LON0 + (ROUTE_LON1 - ROUTE_LON0) * (i + 0.5) / n_aors
            lat = ROUTE_LAT + rng.uniform(-1500, 1500) / M_PER_DEG
            uid = f"u{i:06d}"
            _unit(store, uid, f"p{i % 50:02d}", box(lat, lon, rng.uniform(1000, 2000)))
            units.append(uid)
    return units


def movement_body(now: datetime) -> dict[str, Any]:
    route = [[ROUTE_LON0 + (ROUTE_LON1 - ROUTE_LON0) * k / 20, ROUTE_LAT] for k in range(21)]
    return {
        "id": "mv-convoy",
        "asset_id": "convoy",
        "route": {"type": "LineString", "coordinates": route},
        "corridor_m": 500,
        "start": (now + timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=12)).isoformat(),
        "releasable_to": ["*"],
    }


def report(asset_id: str, at: datetime, lat: float, lon: float) -> PositionReport:
    return PositionReport.model_validate(
        {"asset_id": asset_id, "time": at, "position": {"lat": lat, "lon": lon}, "cep_m": 20.0}
    )


def open_usecases(data_dir: Path) -> UseCases:
    # As `serve` runs it (background checkpoints, the loaded heap frozen).
    settings = Settings(data_dir=data_dir, check_rate_limit=0, long_running=True)  # type: ignore[call-arg]
    uc = UseCases.open(settings)
    uc.service.load_now()
    if not uc.service.ready:
        raise SystemExit("the service did not load")
    return uc


def fanout_in_process(n_aors: int, with_ingest: bool) -> None:
    rng = random.Random(SEED)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    try:
        store = open_store(data_dir)
        t0 = time.perf_counter()
        build_fanout(store, n_aors, rng)
        # A second asset, for the report batch that runs during the fan-out.
        with store.transaction():
            for i in range(1000):
                _asset(store, f"other-{i:04d}", "owner")
        store.close()
        emit(step="fanout_world", aors=n_aors, seconds=round(time.perf_counter() - t0, 2))
        t0 = time.perf_counter()
        uc = open_usecases(data_dir)
        emit(step="fanout_loaded", seconds=round(time.perf_counter() - t0, 2))
        now = datetime.now(UTC)
        waited: list[float] = []
        started = threading.Event()

        def ingest() -> None:
            # Reports far from every AOR (no entries): what matters is the wait for the lock.
            batch = [
                report(f"other-{i:04d}", now, ROUTE_LAT - 2.0, 30.0 + i * 0.001)
                for i in range(1000)
            ]
            started.wait()
            time.sleep(0.05)
            t = time.perf_counter()
            with uc.service.lock:  # as the HTTP and CoT report paths do
                uc.reports.write(batch, "bench")
            waited.append(time.perf_counter() - t)

        thread = threading.Thread(target=ingest)
        if with_ingest:
            thread.start()
        t0 = time.perf_counter()
        cpu0 = time.thread_time()
        started.set()
        uc.registry.create(SYSTEM, MOVEMENT, movement_body(now))
        commit_s = time.perf_counter() - t0
        # The writing thread's own CPU time: on a shared machine, what the fan-out cost
        # apart from waiting for other processes' turn on the cores.
        cpu_s = time.thread_time() - cpu0
        if with_ingest:
            thread.join()
        rows = uc.service.store.find_notifications(subject="movement:mv-convoy", limit=10**7)
        briefings = uc.service.store.find_notifications(cause="recognition_briefing", limit=10**7)
        emit(
            step="fanout_commit_with_ingest" if with_ingest else "fanout_commit",
            aors=n_aors,
            notifications=len(rows) + len(briefings),
            announced_arrival=len(rows),
            recognition_briefing=len(briefings),
            commit_ms=round(commit_s * 1000, 1),
            commit_cpu_ms=round(cpu_s * 1000, 1),
            per_notification_us=round(commit_s * 1e6 / max(1, len(rows) + len(briefings)), 1),
            per_10000_notifications_ms=round(
                commit_s * 1e7 / max(1, len(rows) + len(briefings)), 1
            ),
        )
        if with_ingest:
            emit(
                step="ingest_during_fanout",
                reports=1000,
                batch_ms=round(waited[0] * 1000, 1) if waited else None,
            )
        uc.service.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# -- SSE fan-out over the real server --------------------------------------------------------


async def _stream(
    port: int, unit: str, token: str, connected: asyncio.Event, got: dict[str, float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /v1/units/{unit}/notifications/stream HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    line = await reader.readline()
    if b" 200 " not in line:
        raise SystemExit(f"stream of {unit}: {line!r}")
    connected.set()
    buf = b""
    while b"announced_arrival" not in buf:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buf = buf[-64:] + chunk
    got[unit] = time.perf_counter()
    writer.close()


async def _fanout_over_sse(port: int, admin: str, tokens: dict[str, str], body: bytes) -> None:
    got: dict[str, float] = {}
    events = {u: asyncio.Event() for u in tokens}
    tasks = [asyncio.create_task(_stream(port, u, t, events[u], got)) for u, t in tokens.items()]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events.values())), 120)
    await asyncio.sleep(0.5)

    def post() -> tuple[int, float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t = time.perf_counter()
        conn.request(
            "POST",
            "/v1/movements",
            body=body,
            headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
        )
        status = conn.getresponse().status
        return status, t

    t_post = time.perf_counter()
    status, _ = await asyncio.to_thread(post)
    t_commit = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*tasks), 600)
    lat = sorted(v - t_post for v in got.values())
    emit(
        step="sse_fanout",
        streams=len(tokens),
        status=status,
        commit_ms=round((t_commit - t_post) * 1000, 1),
        delivered=len(got),
        first_ms=round(lat[0] * 1000, 1) if lat else None,
        p50_ms=round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        all_ms=round(lat[-1] * 1000, 1) if lat else None,
    )


def fanout_over_sse(n_aors: int, n_streams: int) -> None:
    rng = random.Random(SEED)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        store = open_store(data_dir)
        units = build_fanout(store, n_aors, rng)
        step = max(1, len(units) // n_streams)
        tokens = {u: auth.issue(store, "operator", u, None)[0] for u in units[::step][:n_streams]}
        admin, _ = auth.issue(store, "admin", None, None)
        store.close()
        proc, port = start_server(data_dir)
        body = orjson.dumps(movement_body(datetime.now(UTC)))
        asyncio.run(_fanout_over_sse(port, admin, tokens, body))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


# -- report ingest with detection against many AORs ------------------------------------------


def detection(n_aors: int, n_assets: int, batches: int) -> None:
    rng = random.Random(SEED)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    try:
        store = open_store(data_dir)
        t0 = time.perf_counter()
        with store.transaction():
            for p in range(21):
                _party(store, f"p{p:02d}")
            _type(store)
            for i in range(n_aors):
                lat, lon = rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1)
                _unit(store, f"u{i:06d}", f"p{i % 20:02d}", box(lat, lon, rng.uniform(500, 1500)))
            for i in range(n_assets):
                _asset(store, f"a{i:06d}", "p20")
        store.close()
        emit(step="detection_world", aors=n_aors, seconds=round(time.perf_counter() - t0))
        t0 = time.perf_counter()
        uc = open_usecases(data_dir)
        emit(step="detection_loaded", seconds=round(time.perf_counter() - t0, 2))
        now = datetime.now(UTC) - timedelta(minutes=30)
        pos = [(rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1)) for _ in range(n_assets)]
        # The first batch places every asset (each may start inside AORs: entries).
        first = [report(f"a{i:06d}", now, *pos[i]) for i in range(n_assets)]
        t0 = time.perf_counter()
        for k in range(0, len(first), BATCH):
            with uc.service.lock:
                uc.reports.write(first[k : k + BATCH], "bench")
        placed_s = time.perf_counter() - t0
        told = len(uc.service.store.find_notifications(cause="unannounced_entry", limit=10**7))
        emit(
            step="detection_first_reports",
            reports=len(first),
            reports_per_s=round(len(first) / placed_s),
            unannounced_entries=told,
        )
        total = 0
        elapsed = 0.0
        for b in range(batches):
            at = now + timedelta(seconds=10 * (b + 1))
            batch = []
            for _ in range(BATCH):
                i = rng.randrange(n_assets)
                lat, lon = pos[i]
                d = rng.uniform(0, 200) / M_PER_DEG
                ang = rng.uniform(0, 2 * math.pi)
                lat = min(LAT1, max(LAT0, lat + d * math.cos(ang)))
                lon = min(LON1, max(LON0, lon + d * math.sin(ang) / math.cos(math.radians(lat))))
                pos[i] = (lat, lon)
                batch.append(report(f"a{i:06d}", at, lat, lon))
            t = time.perf_counter()
            with uc.service.lock:
                uc.reports.write(batch, "bench")
            elapsed += time.perf_counter() - t
            total += len(batch)
        after = len(uc.service.store.find_notifications(cause="unannounced_entry", limit=10**7))
        emit(
            step="detection",
            aors=n_aors,
            reports=total,
            reports_per_s=round(total / elapsed),
            unannounced_entries=after - told,
        )
        uc.service.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--aors", type=int, default=10_000)
    ap.add_argument("--streams", type=int, default=1_000)
    ap.add_argument("--detect-aors", type=int, default=100_000)
    ap.add_argument("--detect-assets", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--only", choices=("fanout", "sse", "detection"), default=None)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_fd_limit()  # 1,000 streams need more than the usual soft limit of 1,024
    if args.only in (None, "fanout"):
        fanout_in_process(args.aors, with_ingest=False)
        fanout_in_process(args.aors, with_ingest=True)
    if args.only in (None, "sse"):
        fanout_over_sse(args.aors, args.streams)
    if args.only in (None, "detection"):
        detection(args.detect_aors, args.detect_assets, args.batches)


if __name__ == "__main__":
    main()
