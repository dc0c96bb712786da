"""Checks at coalition scale (issue 18): most of the registry hidden from the asker.

    python bench/coalition_bench.py                          # everything below
    python bench/coalition_bench.py --max-n 100000 --only in_process
    python bench/coalition_bench.py --only sqlite            # HTTP on SQLite, N = 100k
    python bench/coalition_bench.py --only postgres --servers 2

Deterministic (seed 42). The world is ``coalition_world.py``'s: N assets in {100k, 1M}
of 20 parties, 90 % owner-only, 100k operating areas, 10k protected sites, 50k unit
AORs, 1,000 moving friendlies; and the open world beside it (the same draw, everything
releasable to ``*``). Checks (CEP 50 m, a wheeled vehicle with radar) at uniform points,
asked by units ``u0``...``u19``, one of every party in turn. One JSON line per figure:

* ``mode``: ``in_process`` (the engine alone, a fresh subprocess per N and world, fixed
  epoch, 10,000 checks), ``http_sequential`` (one keep-alive connection) or ``http_16``
  (16 client threads) against the real server (``serve``, rate limit off) whose store
  (``backend`` ``sqlite`` or a fresh ``postgres`` database) was written through the
  store's bulk path; ``servers`` 2: two servers on the one PostgreSQL database, the 16
  clients split between them (``--servers 2``, PostgreSQL only).
* ``check_p50_us``, ``check_p99_us``, ``checks_per_s``; ``health_per_s``: sequential
  ``GET /v1/health`` on the same server in the same run (HTTP modes; ratios to it are
  what this shared machine can compare).
* ``hold_rate_empty``: the share of ``HOLD`` answers at points with no asset truly
  within 2 km (up to 1,000 such points; ``None`` when the region has none, as at 1M).
* ``named_in_list``: the share of checks at a friendly's true position (asked by another
  party's unit) whose listed matches name it: its id, or, withheld from the asker, its
  party's withheld entry.
* ``max_gc_pause_ms``: the longest collector pause during the checks (in process only).
* ``stored``: every check answered ``201`` is in the store after the server stopped
  (HTTP modes; ``None`` in process).

The server's start-up backlog (entries into other parties' AORs, ``notifications.md``)
is drained before anything is measured (``step: backlog`` says how long it took).
Needs the PostgreSQL server at ``--postgres-url`` for ``postgres``; set ``TMPDIR``.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import coalition_world as cw
import world
from api_bench import DEFAULT_POSTGRES_URL, create_database, drop_database
from check_bench import EPOCH
from deconfliction.check.index.assets import radius_query
from deconfliction.domain.model import Observation
from deconfliction.service import auth
from deconfliction.store import open_store
from harness import GcWatch, emit, spread, start_server
from http_vs_postgis import health_client

CHECK_CEP_M = 50.0
OBSERVED = {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"}
EMPTY_RADIUS_M = 2000.0
MAX_EMPTY = 1000
EMPTY_CANDIDATES = 300_000
IN_PROCESS_CHECKS = 10_000


@dataclass(frozen=True)
class Ask:
    """One check: the point, the asking unit ``u{unit}`` (party ``unit % 20``), and for a
    friendly check the friendly's asset index (else -1)."""

    lat: float
    lon: float
    unit: int
    friendly: int = -1


#: What a check answered: status, verdict, matches as (id, party_id, details_withheld).
Answer = tuple[int, str, list[tuple[str | None, str, bool]]]


def uniform_asks(rng: np.random.Generator, n: int) -> list[Ask]:
    lat = rng.uniform(cw.LAT_LO, cw.LAT_HI, n).tolist()
    lon = rng.uniform(cw.LON_LO, cw.LON_HI, n).tolist()
    return [Ask(a, b, k % cw.PARTIES) for k, (a, b) in enumerate(zip(lat, lon, strict=True))]


def empty_asks(rng: np.random.Generator, w: cw.World, most: int) -> list[Ask]:
    """Uniform points with no asset truly within 2 km (at most ``most``)."""
    table = world.points_table(w.true_lat, w.true_lon, 0.0)
    found: list[Ask] = []
    for a in uniform_asks(rng, EMPTY_CANDIDATES):
        if len(radius_query(table, a.lat, a.lon, EMPTY_RADIUS_M)) == 0:
            found.append(Ask(a.lat, a.lon, len(found) % cw.PARTIES))
            if len(found) >= most:
                break
    return found


def friendly_asks(rng: np.random.Generator, w: cw.World) -> list[Ask]:
    """Each friendly checked at its true position by a unit of another party."""
    offsets = rng.integers(1, cw.PARTIES, len(w.friendlies)).tolist()
    return [
        Ask(float(w.true_lat[i]), float(w.true_lon[i]), (int(w.party[i]) + o) % cw.PARTIES, i)
        for i, o in zip(w.friendlies, offsets, strict=True)
    ]


def hold_rate(answers: Sequence[Answer]) -> float | None:
    if not answers:
        return None
    return round(sum(a[1] == "HOLD" for a in answers) / len(answers), 4)


def named_rate(w: cw.World, asks: Sequence[Ask], answers: Sequence[Answer]) -> float:
    named = 0
    for ask, (_, _, matches) in zip(asks, answers, strict=True):
        fid, owner = w.ids[ask.friendly], cw.party_id(int(w.party[ask.friendly]))
        named += any(m[0] == fid or (m[2] and m[1] == owner) for m in matches)
    return round(named / len(asks), 4)


def pct_us(lat_s: Sequence[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(lat_s), q)) * 1e6, 1)


# in process ------------------------------------------------------------------------------


def in_process(n: int, open_world: bool, n_checks: int = IN_PROCESS_CHECKS) -> dict[str, Any]:
    w, e = cw.loaded_engine(n, open_world, EPOCH)
    rng = np.random.default_rng(cw.SEED + 1)
    asks = uniform_asks(rng, n_checks)
    empty = empty_asks(rng, w, MAX_EMPTY)
    friendly = friendly_asks(rng, w)

    def observe(ask: Ask) -> tuple[Observation, str]:
        """Validated before the clock starts, as check_bench does: the engine is timed."""
        body = {
            "unit_id": f"u{ask.unit}",
            "position": {"lat": ask.lat, "lon": ask.lon},
            "cep_m": CHECK_CEP_M,
            "observed": OBSERVED,
        }
        return Observation.model_validate(body), cw.party_id(ask.unit % cw.PARTIES)

    def one(obs_party: tuple[Observation, str]) -> Answer:
        r = e.check(obs_party[0], obs_party[1], EPOCH)
        return 200, r.verdict, [(m.id, m.party_id, m.details_withheld) for m in r.matches]

    def answers(some: list[Ask]) -> list[Answer]:
        return [one(observe(a)) for a in some]

    timed = [observe(a) for a in asks]
    watch = GcWatch()
    gc.callbacks.append(watch)
    got, lat, elapsed = spread(timed, 1, lambda k: one)
    gc.callbacks.remove(watch)
    by_party: dict[int, list[float]] = {}
    for ask, t in zip(asks, lat, strict=True):
        by_party.setdefault(ask.unit % cw.PARTIES, []).append(t)
    return {
        "workload": w.name,
        "mode": "in_process",
        "backend": None,
        "servers": None,
        "n_assets": n,
        "check_p50_us": pct_us(lat, 50),
        "check_p99_us": pct_us(lat, 99),
        "checks_per_s": round(len(asks) / elapsed),
        "health_per_s": None,
        "hold_rate_empty": hold_rate(answers(empty)),
        "named_in_list": named_rate(w, friendly, answers(friendly)),
        "max_gc_pause_ms": round(watch.longest_ms, 2),
        "stored": None,
        "worst_party_p99_us": max(pct_us(v, 99) for v in by_party.values()),
        "hold_rate_all": hold_rate(got),
        "empty_points": len(empty),
    }


# over HTTP -------------------------------------------------------------------------------


def check_client(port: int, tokens: list[str]) -> Callable[[int], Callable[[Ask], Answer]]:
    def make(k: int) -> Callable[[Ask], Answer]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def one(ask: Ask) -> Answer:
            body = orjson.dumps(
                {
                    "unit_id": f"u{ask.unit}",
                    "position": {"lat": ask.lat, "lon": ask.lon},
                    "cep_m": CHECK_CEP_M,
                    "observed": OBSERVED,
                }
            )
            headers = {
                "Authorization": f"Bearer {tokens[ask.unit]}",
                "Content-Type": "application/json",
            }
            conn.request("POST", "/v1/checks", body, headers)
            response = conn.getresponse()
            data = orjson.loads(response.read())
            if response.status != 201:
                return response.status, "", []
            matches = [(m["id"], m["party_id"], m["details_withheld"]) for m in data["matches"]]
            return 201, data["verdict"], matches

        return one

    return make


def two_ports(ports: list[int], tokens: list[str]) -> Callable[[int], Callable[[Ask], Answer]]:
    """Client thread ``k`` against server ``k % len(ports)``."""
    return lambda k: check_client(ports[k % len(ports)], tokens)(k)


def wait_backlog(data_dir: Path, url: str | None, quiet_s: float = 5.0) -> dict[str, Any]:
    """Until the outbox stops growing for ``quiet_s`` (the start-up backlog drained)."""
    t0 = time.perf_counter()
    store = open_store(data_dir, url)
    try:
        last, since = -1, time.perf_counter()
        while time.perf_counter() - since < quiet_s:
            seq = store.last_outbox_seq()
            if seq != last:
                last, since = seq, time.perf_counter()
            time.sleep(0.5)
    finally:
        store.close()
    return {"seconds": round(time.perf_counter() - t0 - quiet_s, 1), "outbox_seq": last}


def health_rate(port: int, n: int = 2000) -> float:
    one = health_client(port)
    t0 = time.perf_counter()
    for _ in range(n):
        one(0.0, 0.0)
    return round(n / (time.perf_counter() - t0), 1)


def over_http(args: argparse.Namespace, backend: str, n: int, open_world: bool) -> None:
    w = cw.build(n, open_world)
    rng = np.random.default_rng(cw.SEED + 1)
    seq_asks = uniform_asks(rng, args.checks)
    con_asks = uniform_asks(rng, args.checks)
    empty = empty_asks(rng, w, args.empty)
    friendly = friendly_asks(rng, w)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    url: str | None = None
    procs: list[subprocess.Popen[bytes]] = []
    base = {"workload": w.name, "backend": backend, "n_assets": n}
    try:
        t0 = time.perf_counter()
        if backend == "postgres":
            url = create_database(args.postgres_url)
        store = open_store(data_dir, url)
        cw.load_store(store, w, datetime.now(UTC))
        tokens = [auth.issue(store, "operator", f"u{k}", None)[0] for k in range(cw.PARTIES)]
        store.close()
        emit(step="store_built", **base, seconds=round(time.perf_counter() - t0, 1))
        t0 = time.perf_counter()
        proc, port = start_server(data_dir, url, log=data_dir / "server-1.log")
        procs.append(proc)
        emit(step="server_ready", **base, seconds=round(time.perf_counter() - t0, 1))
        emit(step="backlog", **base, **wait_backlog(data_dir, url))
        answers: list[Answer] = []
        answers += spread(seq_asks[:300], 1, check_client(port, tokens))[0]  # warm-up
        lines: list[dict[str, Any]] = []

        def figure(mode: str, servers: int, asks: list[Ask], clients: int, make: Any) -> None:
            health = health_rate(port)
            got, lat, elapsed = spread(asks, clients, make)
            answers.extend(got)
            line = {
                **base,
                "mode": mode,
                "servers": servers,
                "check_p50_us": pct_us(lat, 50),
                "check_p99_us": pct_us(lat, 99),
                "checks_per_s": round(len(asks) / elapsed, 1),
                "health_per_s": health,
                "hold_rate_empty": None,
                "named_in_list": None,
                "max_gc_pause_ms": None,
                "not_201": sum(a[0] != 201 for a in got),
            }
            lines.append(line)
            emit(step="measured", **line)

        figure("http_sequential", 1, seq_asks, 1, check_client(port, tokens))
        got_empty = spread(empty, 1, check_client(port, tokens))[0]
        got_friendly = spread(friendly, 1, check_client(port, tokens))[0]
        answers += got_empty + got_friendly
        lines[0]["hold_rate_empty"] = hold_rate(got_empty)
        lines[0]["named_in_list"] = named_rate(w, friendly, got_friendly)
        figure("http_16", 1, con_asks, 16, check_client(port, tokens))
        if args.servers == 2 and backend == "postgres":
            proc2, port2 = start_server(data_dir, url, log=data_dir / "server-2.log")
            procs.append(proc2)
            figure("http_16", 2, con_asks, 16, two_ports([port, port2], tokens))
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(60)
        procs.clear()
        store = open_store(data_dir, url)
        stored = store.count_checks()
        store.close()
        answered = sum(a[0] == 201 for a in answers)
        emit(step="stored", **base, answered=answered, stored=stored)
        for line in lines:
            line["stored"] = stored == answered and line["not_201"] == 0
            print(json.dumps(line), flush=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        if url is not None:
            drop_database(args.postgres_url, url)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--max-n", type=int, default=1_000_000, help="in process: N up to this")
    ap.add_argument("--http-n", type=int, default=100_000, help="HTTP: N (also capped by max-n)")
    ap.add_argument("--only", choices=("in_process", "sqlite", "postgres"))
    ap.add_argument("--workload", choices=("coalition", "open"), help="default: both")
    ap.add_argument("--checks", type=int, default=3200, help="HTTP: checks per figure")
    ap.add_argument("--in-process-checks", type=int, default=IN_PROCESS_CHECKS)
    ap.add_argument("--empty", type=int, default=500, help="HTTP: empty-point checks")
    ap.add_argument("--servers", type=int, choices=(1, 2), default=1)
    ap.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)  # one in-process run
    ap.add_argument("--shapes-scale", type=float, default=1.0, help="smoke runs only")
    ap.add_argument(
        "--ages", choices=("mix", "fresh"), default="mix", help="fresh: every report 0-2 min old"
    )
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cw.SHAPES_SCALE[0] = args.shapes_scale
    cw.AGES[0] = args.ages
    workloads = [args.workload] if args.workload else ["coalition", "open"]
    if args.n:  # the child of an in-process run: its own process, its own peak memory
        line = in_process(args.n, args.workload == "open", args.in_process_checks)
        print(json.dumps(line), flush=True)
        return
    if args.only in (None, "in_process"):
        sizes = [n for n in (100_000, 1_000_000) if n <= args.max_n] or [args.max_n]
        for n in sizes:
            for wl in workloads:
                if True:
                    extra = ["--shapes-scale", str(args.shapes_scale)]
                    extra += ["--in-process-checks", str(args.in_process_checks)]
                    extra += ["--ages", args.ages]
                    cmd = [sys.executable, __file__, "--n", str(n), "--workload", wl, *extra]
                    subprocess.run(cmd, check=True)
    n_http = min(args.http_n, args.max_n)
    for backend in ("sqlite", "postgres"):
        if args.only in (None, backend):
            for wl in workloads:
                over_http(args, backend, n_http, wl == "open")


if __name__ == "__main__":
    main()
