"""TAK outbound benchmark: from a report arriving to the updated marker at every receiver.

    python bench/tak_out_bench.py [--receivers 100] [--reports 200]

Deterministic (seed 42). Starts ``python -m deconfliction serve`` on free ports (SQLite,
TLS gateway on), registers two parties, four units of the receiving party and one asset
releasable to everyone, issues client certificates with ``deconfliction tak
issue-client``, and connects ``--receivers`` TLS clients (mutual TLS, spread over the four
units) that read the CoT stream. Then, one report at a time (each at a new position):

* ``http``: ``POST /v1/reports`` by the asset's coordinator;
* ``tls``: a CoT event for the asset's bound uid from a TLS client of the owner party;

and for each, the time from just before the report is sent until each receiver has
read the asset's marker at the new position. Reports are spaced so that the per-client
rate limit never holds one back. Prints JSON lines: per path p50/p99/max over every
(report, receiver) pair, and the gateway's per-client counters from the server log.
Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deconfliction.service import auth
from deconfliction.store import open_store
from harness import CLI, emit, free_port, issue_client, percentiles, start_server

SEED = 42
UNITS = ("rx-1", "rx-2", "rx-3", "rx-4")
BOX = [[35.0, 48.0], [36.0, 48.0], [36.0, 49.0], [35.0, 49.0], [35.0, 48.0]]
ASSET = "bench-asset"
UID = "ANDROID-bench-asset"
ENDED = re.compile(r"cot connection ended \(.*?\): (\{.*\})$")
MARKER = re.compile(rb'uid="deconfliction\.asset\.bench-asset"[^>]*>\s*<point lat="([-0-9.]+)"')


class Receivers:
    """TLS receivers on one event loop (a thread): when each saw the marker at a latitude."""

    def __init__(self, port: int, contexts: list[ssl.SSLContext], n: int) -> None:
        self.port = port
        self.contexts = contexts
        self.n = n
        self.seen: dict[str, dict[int, float]] = {}  # lat text → receiver → time
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.connected = threading.Event()
        self._count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        tasks = [
            asyncio.ensure_future(self._one(i, self.contexts[i % len(self.contexts)]))
            for i in range(self.n)
        ]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, index: int, context: ssl.SSLContext) -> None:
        reader, _ = await asyncio.open_connection(
            "127.0.0.1", self.port, ssl=context, server_hostname="127.0.0.1"
        )
        self._count += 1
        if self._count == self.n:
            self.connected.set()
        buffer = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            buffer += chunk
            *events, buffer = buffer.split(b"</event>")
            for event in events:
                match = MARKER.search(event)
                if match:
                    with self.lock:
                        self.seen.setdefault(match.group(1).decode(), {}).setdefault(index, now)

    def wait(self, lat: str, timeout: float = 10.0) -> dict[int, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = dict(self.seen.get(lat, {}))
            if len(got) >= self.n:
                return got
            time.sleep(0.0005)
        return got


def cot_event(lat: float, lon: float) -> bytes:
    t = datetime.now(UTC)
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale = (t + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f'<event version="2.0" uid="{UID}" type="a-f-G-U-C" how="m-g" time="{stamp}" '
        f'start="{stamp}" stale="{stale}"><point lat="{lat}" lon="{lon}" hae="0" ce="8" '
        f'le="10"/><detail><contact callsign="BENCH"/></detail></event>'
    ).encode()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--receivers", type=int, default=100)
    ap.add_argument("--reports", type=int, default=200)
    ap.add_argument("--gap-s", type=float, default=0.02, help="pause between reports")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(SEED)
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-takout-"))
    proc: subprocess.Popen[bytes] | None = None
    log = data_dir / "server.log"
    try:
        store = open_store(data_dir)
        admin, _ = auth.issue(store, "admin", None, None)
        store.close()
        tls_port = free_port()
        proc, port = start_server(data_dir, tls_port=tls_port, log=log)
        url = f"http://127.0.0.1:{port}"
        http = httpx.Client(base_url=url, timeout=10)
        h = {"Authorization": f"Bearer {admin}"}
        for path, body in (
            ("/v1/parties", {"id": "own", "name": "Own", "kind": "military", "contact": "x"}),
            ("/v1/parties", {"id": "rx", "name": "Rx", "kind": "military", "contact": "y"}),
            (
                "/v1/equipment-types",
                {
                    "id": "truck",
                    "name": "Truck",
                    "profile": {"mobility": "wheeled", "features": []},
                    "max_speed_kmh": 80,
                },
            ),
            (
                "/v1/units",
                {
                    "id": "own-cell",
                    "party_id": "own",
                    "name": "own cell",
                    "roles": [],
                    "aor": {"type": "Polygon", "coordinates": [BOX]},
                    "coordination_cell": True,
                },
            ),
            *(
                (
                    "/v1/units",
                    {
                        "id": unit,
                        "party_id": "rx",
                        "name": unit,
                        "roles": [],
                        "aor": {"type": "Polygon", "coordinates": [BOX]},
                    },
                )
                for unit in UNITS
            ),
            (
                "/v1/assets",
                {
                    "id": ASSET,
                    "party_id": "own",
                    "type_id": "truck",
                    "callsign": "Bench-1",
                    "releasable_to": ["*"],
                    "cot_uid": UID,
                },
            ),
        ):
            r = http.post(path, json=body, headers=h)
            assert r.status_code == 201, r.text
        coord = auth_token(data_dir, "coordinator", "own-cell")
        certs = data_dir / "certs"
        contexts = [issue_client(data_dir, unit, certs / unit) for unit in UNITS]
        sender_context = issue_client(data_dir, "own-cell", certs / "own-cell")
        emit(step="setup", receivers=args.receivers, units=len(UNITS))

        receivers = Receivers(tls_port, contexts, args.receivers)
        if not receivers.connected.wait(60):
            raise SystemExit("the receivers did not all connect")
        sender = socket.create_connection(("127.0.0.1", tls_port))
        tls_sender = sender_context.wrap_socket(sender, server_hostname="127.0.0.1")

        for path in ("http", "tls"):
            latencies: list[float] = []
            missing = 0
            for n in range(args.reports + 10):  # the first ten warm up
                lat = round(48.1 + rng.random() * 0.8, 6)
                lon = round(35.1 + rng.random() * 0.8, 6)
                t0 = time.perf_counter()
                if path == "http":
                    when = (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()
                    r = http.post(
                        "/v1/reports",
                        json=[
                            {
                                "asset_id": ASSET,
                                "time": when,
                                "position": {"lat": lat, "lon": lon},
                                "cep_m": 10,
                            }
                        ],
                        headers={"Authorization": f"Bearer {coord}"},
                    )
                    assert r.status_code == 200, r.text
                else:
                    tls_sender.sendall(cot_event(lat, lon))
                got = receivers.wait(repr(float(lat)))
                if n < 10:
                    continue
                missing += args.receivers - len(got)
                latencies.extend(t - t0 for t in got.values())
                time.sleep(args.gap_s)
            emit(
                step="report_to_marker",
                path=path,
                reports=args.reports,
                receivers=args.receivers,
                missing=missing,
                **percentiles(latencies),
            )
        tls_sender.close()
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log.exists():
            sent = [
                json.loads(match.group(1))
                for line in log.read_text().splitlines()
                if (match := ENDED.search(line))
            ]
            feeds = [s["sent"] for s in sent if "sent" in s]
            if feeds:
                emit(
                    step="per_client_counters",
                    clients=len(feeds),
                    picture_min=min(f.get("picture", 0) for f in feeds),
                    picture_max=max(f.get("picture", 0) for f in feeds),
                    coalesced=sum(f.get("coalesced", 0) for f in feeds),
                )
        shutil.rmtree(data_dir, ignore_errors=True)


def auth_token(data_dir: Path, role: str, unit: str) -> str:
    result = subprocess.run(
        [*CLI, "token", "issue", "--role", role, "--unit", unit, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1].split()[-1]


if __name__ == "__main__":
    main()
