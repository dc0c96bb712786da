"""Checks recorded in groups (issue 18, item 3): checks/s against the HTTP floor, and the
write lock's share per check.

    python bench/record_bench.py --backend sqlite
    python bench/record_bench.py --backend postgres --servers 2
    python bench/record_bench.py --backend postgres --servers 2 --variant before=/tmp/old \\
        --variant after=. --rounds 2

Deterministic (seed 42). The world is the coalition world of ``coalition_world.py``
(``--assets`` assets of 20 parties, 90 % owner-only, the shapes scaled by
``--shapes-scale``; a tenth of the reports hours old, so a check matches hundreds of assets
and tells their owners), or with ``--world fresh`` ``api_bench.py``'s (every report under
two minutes old, as many operating areas as assets: a check has a few candidates, and the
recording weighs more), written once through the store's bulk path; checks (CEP 50 m, a
wheeled vehicle with radar) at uniform points, asked by units ``u0``...``u19`` in turn, as
``coalition_bench.py`` asks them; every unit's AOR outside the region unless
``--busy-aors`` (no start-up backlog of entries, and no escalations of them holding the
write lock while checks are measured). Then, for each ``--variant`` (a source tree whose
``src`` the servers run; default: this one) and round, on the same store: the server
(``serve``, rate limit off) started and its start-up backlog awaited, then

* ``health``: sequential ``GET /v1/health`` (the HTTP floor on this machine, now);
* ``sequential``: checks over one keep-alive connection;
* ``clients``: the same number of checks from ``--clients`` threads (own connections);
* ``servers2`` (``--servers 2``, PostgreSQL): a second server on the same database, the
  clients split between the two.

Each line: ``checks_per_s``, p50/p99 (µs), ``health_per_s`` and the ratio to it, and from
``GET /v1/status/checks`` (an admin token; ``null`` for a variant without it) the
transactions that recorded the checks, their mean and largest size and the write lock's
hold per check (µs: from taking the lock to the commit, per check of the group). At the
end, that every check answered ``201`` is in the store. Variants alternate round by round
(the machine is shared: compare medians).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_bench
import coalition_world as cw
from api_bench import DEFAULT_POSTGRES_URL, create_database, drop_database
from coalition_bench import wait_backlog
from deconfliction.service import auth
from deconfliction.store import CheckRecord, open_store
from deconfliction.store.checks import _INSERT as CHECK_INSERT
from deconfliction.store.checks import check_payload
from harness import emit, spread, start_server

#: With quiet AORs (the default): every unit's AOR, a box south of the region.
QUIET_AOR = {
    "type": "Polygon",
    "coordinates": [[[30.0, 40.0], [31.0, 40.0], [31.0, 41.0], [30.0, 41.0], [30.0, 40.0]]],
}
SEED = 42
CHECK_CEP_M = 50.0
OBSERVED = {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"}
Ask = tuple[float, float, int]


def asks(rng: np.random.Generator, n: int) -> list[Ask]:
    lat = rng.uniform(cw.LAT_LO, cw.LAT_HI, n).tolist()
    lon = rng.uniform(cw.LON_LO, cw.LON_HI, n).tolist()
    return [(a, b, k % cw.PARTIES) for k, (a, b) in enumerate(zip(lat, lon, strict=True))]


def check_client(
    ports: Sequence[int], tokens: list[str], units: list[str]
) -> Callable[[int], Callable[[Ask], int]]:
    """Client thread ``k`` on server ``k % len(ports)``, one keep-alive connection."""

    def make(k: int) -> Callable[[Ask], int]:
        conn = http.client.HTTPConnection("127.0.0.1", ports[k % len(ports)], timeout=120)

        def one(ask: Ask) -> int:
            lat, lon, unit = ask
            body = orjson.dumps(
                {
                    "unit_id": units[unit],
                    "position": {"lat": lat, "lon": lon},
                    "cep_m": CHECK_CEP_M,
                    "observed": OBSERVED,
                }
            )
            headers = {"Authorization": f"Bearer {tokens[unit]}"}
            conn.request("POST", "/v1/checks", body, headers)
            response = conn.getresponse()
            response.read()
            return response.status

        return one

    return make


def health_rate(port: int, n: int = 2000) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    for _ in range(n):
        conn.request("GET", "/v1/health")
        conn.getresponse().read()
    conn.close()
    return round(n / (time.perf_counter() - t0), 1)


def recording(port: int, admin: str) -> dict[str, Any] | None:
    """The server's check-recording counters (``None``: it has no such endpoint)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/v1/status/checks", headers={"Authorization": f"Bearer {admin}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return dict(orjson.loads(body)) if response.status == 200 else None


def counters(ports: Sequence[int], admin: str) -> dict[str, float] | None:
    seen = [recording(p, admin) for p in ports]
    if any(s is None for s in seen):
        return None
    return {
        key: sum(float(s[key]) for s in seen if s is not None)
        for key in ("records", "groups", "lock_held_s", "failed_records")
    } | {"largest": max(float(s["largest"]) for s in seen if s is not None)}


def group_figures(
    before: dict[str, float] | None, after: dict[str, float] | None
) -> dict[str, Any]:
    if before is None or after is None:
        return {
            "groups": None,
            "mean_group": None,
            "largest_group": None,
            "lock_us_per_check": None,
        }
    records = after["records"] - before["records"]
    groups = after["groups"] - before["groups"]
    lock_s = after["lock_held_s"] - before["lock_held_s"]
    return {
        "groups": int(groups),
        "mean_group": round(records / groups, 2) if groups else None,
        "largest_group": int(after["largest"]),  # since the server started
        "lock_us_per_check": round(lock_s / records * 1e6, 1) if records else None,
        "failed_records": int(after["failed_records"] - before["failed_records"]),
    }


def serve(src: Path, data_dir: Path, url: str | None, log: Path) -> tuple[Any, int]:
    """A server running the package of ``src/`` (a variant's source tree)."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src / "src")
    try:
        return start_server(data_dir, url, log=log)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


def measure(
    mode: str,
    ports: Sequence[int],
    work: list[Ask],
    clients: int,
    tokens: list[str],
    units: list[str],
    admin: str,
    base: dict[str, Any],
) -> int:
    """One figure; how many checks were answered 201."""
    health = health_rate(ports[0])
    c0 = counters(ports, admin)
    got, lat, elapsed = spread(work, clients, check_client(ports, tokens, units))
    c1 = counters(ports, admin)
    rate = len(work) / elapsed
    emit(
        **base,
        mode=mode,
        servers=len(ports),
        clients=clients,
        checks=len(work),
        checks_per_s=round(rate, 1),
        p50_us=round(statistics.median(lat) * 1e6),
        p99_us=round(sorted(lat)[int(len(lat) * 0.99)] * 1e6),
        health_per_s=health,
        ratio_to_health=round(rate / health, 3),
        not_201=sum(code != 201 for code in got),
        **group_figures(c0, c1),
    )
    return sum(code == 201 for code in got)


def in_store(store: Any, backend: str, groups: int = 200) -> None:
    """The write lock per check, in the store alone: groups of 1, 4, 16 and 64 checks with
    each check its own event (``add_checks``, what the service does) and, for comparison,
    the whole group as one event (what a report batch does; not what the service does)."""
    body = orjson.dumps(
        {"verdict": "HOLD", "matches": [{"id": f"a{i}", "distance_m": 1.5} for i in range(20)]}
    ).decode()
    request = orjson.dumps({"unit_id": "u0", "position": {"lat": 50.5, "lon": 30.5}}).decode()
    n = 0

    def records(size: int) -> list[CheckRecord]:
        nonlocal n
        n += size
        return [CheckRecord(f"chk{n - k}", "u0", "p0", request, body, "bench") for k in range(size)]

    def one_event(group: list[CheckRecord]) -> None:
        payload = '{"checks":[' + ",".join(check_payload(r) for r in group) + "]}"
        with store.transaction():
            now = store._now()
            seq = store._append_event(now, "check", "create", None, "bench", payload)
            rows = [(r.id, r.unit_id, r.party_id, r.request, r.result, now, seq) for r in group]
            store._execute_many(CHECK_INSERT, rows)

    for size in (1, 4, 16, 64):
        for layout in ("event_per_check", "event_per_group"):
            held = wall = 0.0
            for _ in range(groups if size < 64 else groups // 4):
                group = records(size)
                t0 = time.perf_counter()
                if layout == "event_per_check":
                    store.add_checks(group)
                else:
                    one_event(group)
                wall += time.perf_counter() - t0
                held += store.last_write_lock_s()
            count = (groups if size < 64 else groups // 4) * size
            emit(
                backend=backend,
                mode="in_store",
                group=size,
                layout=layout,
                lock_us_per_check=round(held / count * 1e6, 1),
                wall_us_per_check=round(wall / count * 1e6, 1),
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--world", choices=("coalition", "fresh"), default="coalition")
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--shapes-scale", type=float, default=1.0)
    ap.add_argument("--checks", type=int, default=3200, help="checks per figure")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--servers", type=int, choices=(1, 2), default=1)
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a source tree the servers run (repeat to compare; default: this tree)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="each variant this many times")
    ap.add_argument(
        "--busy-aors",
        action="store_true",
        help="keep the world's unit AORs: the server starts with a backlog of entries to tell "
        "(and escalates them later, holding the write lock meanwhile); by default every AOR "
        "is moved out of the region, so that the checks are measured alone",
    )
    ap.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    ap.add_argument(
        "--in-store",
        action="store_true",
        help="only the store: the write lock per check by group size, each check its own "
        "event or the group one event",
    )
    args = ap.parse_args()
    if args.in_store:
        data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
        url = create_database(args.postgres_url) if args.backend == "postgres" else None
        try:
            store = open_store(data_dir, url, sign=True)  # as the server opens it
            in_store(store, args.backend)
            store.close()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
            if url is not None:
                drop_database(args.postgres_url, url)
        return
    if not args.busy_aors:
        unit_docs = cw._unit_docs
        cw._unit_docs = lambda u: [{**d, "aor": QUIET_AOR} for d in unit_docs(u)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    here = Path(__file__).resolve().parent.parent
    variants = [tuple(v.split("=", 1)) for v in args.variant] or [("this", str(here))]
    cw.SHAPES_SCALE[0] = args.shapes_scale
    rng = np.random.default_rng(cw.SEED + 1)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-bench-"))
    url: str | None = None
    procs: list[subprocess.Popen[bytes]] = []
    answered = 0
    try:
        t0 = time.perf_counter()
        if args.backend == "postgres":
            url = create_database(args.postgres_url)
        store = open_store(data_dir, url)
        if args.world == "coalition":
            cw.load_store(store, cw.build(args.assets, False), datetime.now(UTC))
            units = [f"u{k}" for k in range(cw.PARTIES)]
        else:  # api_bench.py's world: every report fresh, so a check has a few candidates
            api_bench.build_store(
                store, args.assets, args.assets, random.Random(SEED), not args.busy_aors
            )
            units = [f"unit-{k:02d}" for k in range(api_bench.PARTIES)]
        tokens = [auth.issue(store, "operator", unit, None)[0] for unit in units]
        admin, _ = auth.issue(store, "admin", None, None)
        store.close()
        emit(
            step="store_built",
            backend=args.backend,
            assets=args.assets,
            seconds=round(time.perf_counter() - t0, 1),
        )
        for round_ in range(args.rounds):
            for name, src in variants:
                base = {
                    "backend": args.backend,
                    "world": args.world,
                    "variant": name,
                    "round": round_,
                }
                proc, port = serve(Path(src), data_dir, url, data_dir / f"{name}-{round_}-1.log")
                procs.append(proc)
                emit(**base, step="backlog", **wait_backlog(data_dir, url))
                answered += sum(
                    code == 201
                    for code in spread(asks(rng, 300), 1, check_client([port], tokens, units))[0]
                )  # warm-up
                answered += measure(
                    "sequential", [port], asks(rng, args.checks), 1, tokens, units, admin, base
                )
                answered += measure(
                    "clients",
                    [port],
                    asks(rng, args.checks),
                    args.clients,
                    tokens,
                    units,
                    admin,
                    base,
                )
                if args.servers == 2 and url is not None:
                    proc2, port2 = serve(
                        Path(src), data_dir, url, data_dir / f"{name}-{round_}-2.log"
                    )
                    procs.append(proc2)
                    answered += measure(
                        "servers2",
                        [port, port2],
                        asks(rng, args.checks),
                        args.clients,
                        tokens,
                        units,
                        admin,
                        base,
                    )
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                    p.wait(60)
                procs.clear()
        store = open_store(data_dir, url)
        stored = store.count_checks()
        store.close()
        emit(
            step="stored",
            backend=args.backend,
            answered_201=answered,
            stored=stored,
            every_answer_stored=stored >= answered,
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
        if url is not None:
            drop_database(args.postgres_url, url)


if __name__ == "__main__":
    main()
