"""TAK ingest benchmark: CoT position reports accepted per second, and the 1,000-client hold.

    python bench/tak_ingest_bench.py [--senders 1,10,100] [--transports tls,tcp] [--events 20000]
    python bench/tak_ingest_bench.py --hold-clients 1000 --hold-seconds 600

Deterministic (seed 42). Starts ``python -m deconfliction serve`` on free ports (SQLite
unless ``--database-url``; TLS and plain TCP gateway on; check rate limit off), registers
one party with ten units and, per sender, five assets bound to CoT uids of its own, and
issues **one client certificate per sender** with ``deconfliction tak issue-client``.

**Throughput** (default): for each transport and number of concurrent senders, every
sender connects (mutual TLS with its certificate, or plain TCP), then all send their share
of ``--events`` position reports (XML, as ATAK does) as fast as the server takes them,
for their own assets; a sender reads and discards whatever the server sends it (its
party's picture). The time runs from the first byte sent until the store holds every
report sent: ``loss`` is sent minus stored, counted in the store, and the gateway's
per-connection counters (its log) must show no rejection. The gateway applies
back-pressure (it reads a connection again only once the last read is stored), so a
sender is slowed, never dropped.

**Hold** (``--hold-clients N``): N TLS clients connect (over 20 CLI-issued certificates)
and stay: all send a ping (``t-x-c-t``) every 60 s, well within the 300 s idle timeout;
``--hold-active`` of them also send a position report every second. Every 10 s the
server's resident memory (``/proc/<pid>/status``), the clients still connected and
``GET /v1/health`` are printed; at the end, the reports sent against stored.

Prints JSON lines. Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deconfliction.service import auth
from deconfliction.store import open_store
from harness import emit, free_port, issue_client, raise_fd_limit, start_server

SEED = 42
PARTY = "own"
UNITS = tuple(f"own-{n}" for n in range(10))
#: The units' area, away from where the reports are, so the benchmark measures ingest and
#: not entry notifications.
AOR = [[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0], [10.0, 10.0]]
ASSETS_PER_SENDER = 5
HOLD_CERTIFICATES = 20
PING_EVERY_S = 60.0
SAMPLE_EVERY_S = 10.0
ENDED = re.compile(r"cot connection ended \(.*?\): (\{.*\})$")
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def uid(sender: int, n: int) -> str:
    return f"BENCH-{sender}-{n % ASSETS_PER_SENDER}"


def report(sender: int, n: int, at: datetime, rng: random.Random) -> bytes:
    t = at.strftime(STAMP)
    stale = (at + timedelta(minutes=5)).strftime(STAMP)
    lat = round(48.1 + rng.random() * 0.8, 6)
    lon = round(35.1 + rng.random() * 0.8, 6)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<event version="2.0" uid="{uid(sender, n)}" type="a-f-G-U-C" how="m-g" time="{t}" '
        f'start="{t}" stale="{stale}"><point lat="{lat}" lon="{lon}" hae="120" ce="8" '
        f'le="10"/><detail><contact callsign="B{sender}-{n % ASSETS_PER_SENDER}"/>'
        f'<__group name="Cyan" role="Team Member"/><track course="90" speed="3"/></detail>'
        f"</event>\n"
    ).encode()


def ping(sender: int) -> bytes:
    t = datetime.now(UTC)
    return (
        f'<event version="2.0" uid="HOLD-{sender}-ping" type="t-x-c-t" how="h-g-i-g-o" '
        f'time="{t.strftime(STAMP)}" start="{t.strftime(STAMP)}" '
        f'stale="{(t + timedelta(seconds=20)).strftime(STAMP)}"><point lat="0" lon="0" '
        f'hae="9999999" ce="9999999" le="9999999"/><detail/></event>'
    ).encode()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


@dataclass
class Bench:
    data_dir: Path
    proc: subprocess.Popen[bytes]
    http: httpx.Client
    admin: str
    tls_port: int
    tcp_port: int
    log: Path
    contexts: list[ssl.SSLContext] = field(default_factory=list)

    def stored(self) -> int:
        with contextlib.closing(open_store(self.data_dir)) as store:
            return store.count_reports()

    def log_size(self) -> int:
        return self.log.stat().st_size

    def summaries(self, ports: set[int], transport: str, since: int) -> list[dict[str, Any]]:
        """The counters of this run's connections: logged after ``since`` (a log offset; the
        local ports of earlier runs' connections are reused)."""
        out = []
        with self.log.open("rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
        for line in text.splitlines():
            match = ENDED.search(line)
            if match:
                summary = json.loads(match.group(1))
                port = int(summary["peer"].rsplit(":", 1)[1])
                if port in ports and summary["transport"] == transport:
                    out.append(summary)
        return out

    def register_assets(self, senders: int) -> None:
        h = {"Authorization": f"Bearer {self.admin}"}
        for sender in range(senders):
            for n in range(ASSETS_PER_SENDER):
                r = self.http.post(
                    "/v1/assets",
                    json={
                        "id": f"bench-{sender}-{n}",
                        "party_id": PARTY,
                        "type_id": "truck",
                        "callsign": f"B{sender}-{n}",
                        "cot_uid": uid(sender, n),
                    },
                    headers=h,
                )
                assert r.status_code == 201, r.text

    def issue(self, count: int) -> None:
        """``count`` certificates, one ``tak issue-client`` each, over the ten units."""
        certs = self.data_dir / "certs"
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            self.contexts = list(
                pool.map(
                    lambda k: issue_client(
                        self.data_dir, UNITS[k % len(UNITS)], certs / f"sender-{k}"
                    ),
                    range(count),
                )
            )


async def _open(
    bench: Bench, transport: str, index: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if transport == "tls":
        return await asyncio.open_connection(
            "127.0.0.1",
            bench.tls_port,
            ssl=bench.contexts[index % len(bench.contexts)],
            server_hostname="127.0.0.1",
        )
    return await asyncio.open_connection("127.0.0.1", bench.tcp_port)


#: Bytes every sender has read from the server (its party's picture on connect, markers).
received = [0]


async def _discard(
    reader: asyncio.StreamReader, pongs: set[int] | None = None, me: int = 0
) -> None:
    """Read whatever the server sends; note in ``pongs`` when it answers a ping."""
    with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
        while chunk := await reader.read(65536):
            received[0] += len(chunk)
            if pongs is not None and b"t-x-c-t-r" in chunk:
                pongs.add(me)


async def _quiet(seconds: float = 0.5, limit: float = 60.0) -> None:
    """Wait until the server has sent nothing for ``seconds``: the picture a TLS client is
    sent on connect is the outbound side's work, not what this benchmark measures."""
    end = time.monotonic() + limit
    last = -1
    while time.monotonic() < end and received[0] != last:
        last = received[0]
        await asyncio.sleep(seconds)


async def _throughput(
    bench: Bench, transport: str, senders: int, per_sender: int, rng: random.Random
) -> dict[str, Any]:
    # Reports end in the past (now - 1 s), one millisecond apart per sender: each asset's
    # reports are in time order and none is in the future.
    start = datetime.now(UTC) - timedelta(seconds=1 + per_sender / 1000)
    payloads = []
    for sender in range(senders):
        events = [
            report(sender, n, start + timedelta(milliseconds=n), rng) for n in range(per_sender)
        ]
        chunks, current = [], bytearray()
        for event in events:
            current += event
            if len(current) >= 64 * 1024:
                chunks.append(bytes(current))
                current = bytearray()
        if current:
            chunks.append(bytes(current))
        payloads.append(chunks)
    before = bench.stored()
    since = bench.log_size()
    connections = [await _open(bench, transport, k) for k in range(senders)]
    ports = {w.get_extra_info("sockname")[1] for _, w in connections}
    readers = [asyncio.ensure_future(_discard(r)) for r, _ in connections]
    await _quiet()

    async def send(writer: asyncio.StreamWriter, chunks: list[bytes]) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()

    sent = senders * per_sender
    t0 = time.perf_counter()
    await asyncio.gather(*(send(w, p) for (_, w), p in zip(connections, payloads, strict=True)))
    t_sent = time.perf_counter()
    loop = asyncio.get_running_loop()
    deadline = t0 + max(120.0, sent / 500)
    stored = 0
    while time.perf_counter() < deadline:
        stored = await loop.run_in_executor(None, bench.stored) - before
        if stored >= sent:
            break
        await asyncio.sleep(0.02)
    t_end = time.perf_counter()
    for _, writer in connections:
        writer.close()
    for _, writer in connections:
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            await writer.wait_closed()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    summaries: list[dict[str, Any]] = []
    for _ in range(100):  # the connection lines are logged as the server sees each close
        summaries = bench.summaries(ports, transport, since)
        if len(summaries) >= senders:
            break
        await asyncio.sleep(0.1)
    rejected: dict[str, int] = {}
    for summary in summaries:
        for reason, count in summary["rejected"].items():
            rejected[reason] = rejected.get(reason, 0) + count
    return {
        "step": "ingest",
        "transport": transport,
        "senders": senders,
        "sent": sent,
        "stored": stored,
        "loss": sent - stored,
        "seconds": round(t_end - t0, 3),
        "events_per_s": round(stored / (t_end - t0)),
        "send_seconds": round(t_sent - t0, 3),
        "taken_by_gateway": sum(s["reports"] for s in summaries),
        "rejected": rejected,
    }


async def _hold(bench: Bench, clients: int, active: int, seconds: float) -> None:
    rng = random.Random(SEED)
    connected = 0
    sent_reports = 0
    ponged: set[int] = set()
    stop = asyncio.Event()
    before = bench.stored()

    async def client(index: int) -> None:
        nonlocal connected, sent_reports
        reader, writer = await _open(bench, "tls", index)
        connected += 1
        drain = asyncio.ensure_future(_discard(reader, ponged, index))
        next_ping = time.monotonic() + rng.random() * PING_EVERY_S
        n = 0
        try:
            while not stop.is_set() and not drain.done():
                now = time.monotonic()
                if now >= next_ping:
                    writer.write(ping(index))
                    next_ping = now + PING_EVERY_S
                if index < active:
                    writer.write(report(index, n, datetime.now(UTC) - timedelta(seconds=1), rng))
                    n += 1
                    sent_reports += 1
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            connected -= 1
            writer.close()
            drain.cancel()

    tasks = []
    for index in range(clients):  # connect a few at a time: the handshakes are RSA
        tasks.append(asyncio.ensure_future(client(index)))
        if index % 20 == 19:
            await asyncio.sleep(0.05)
    t0 = time.monotonic()
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(min(SAMPLE_EVERY_S, max(0.0, seconds - (time.monotonic() - t0))))
        health = await loop.run_in_executor(None, lambda: bench.http.get("/v1/health"))
        rss = rss_mb(bench.proc.pid)
        samples.append(rss)
        emit(
            step="hold_sample",
            t_s=round(time.monotonic() - t0),
            clients_connected=connected,
            server_rss_mb=rss,
            health=health.status_code,
            reports_sent=sent_reports,
        )
    still = connected
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1.0)
    stored = bench.stored() - before
    settled = samples[len(samples) // 3 :] or samples  # after connecting and the pictures
    emit(
        step="hold",
        clients=clients,
        active=active,
        seconds=seconds,
        clients_connected_at_end=still,
        clients_answered_a_ping=len(ponged),
        rss_first_mb=samples[0] if samples else None,
        rss_settled_min_mb=min(settled) if settled else None,
        rss_settled_max_mb=max(settled) if settled else None,
        rss_last_mb=samples[-1] if samples else None,
        reports_sent=sent_reports,
        reports_stored=stored,
        loss=sent_reports - stored,
    )


def start_bench(data_dir: Path, database_url: str | None) -> Bench:
    if database_url:  # for this process's reads and the CLI it runs (certificates)
        os.environ["DECONFLICTION_DATABASE_URL"] = database_url
    store = open_store(data_dir, database_url)
    admin, _ = auth.issue(store, "admin", None, None)
    store.close()
    tls_port, tcp_port = free_port(), free_port()
    log = data_dir / "server.log"
    proc, port = start_server(
        data_dir, database_url, ["--cot-tcp-port", str(tcp_port)], tls_port=tls_port, log=log
    )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    bench = Bench(data_dir, proc, http, admin, tls_port, tcp_port, log)
    h = {"Authorization": f"Bearer {admin}"}
    for path, body in (
        ("/v1/parties", {"id": PARTY, "name": "Own", "kind": "military", "contact": "x"}),
        (
            "/v1/equipment-types",
            {
                "id": "truck",
                "name": "Truck",
                "profile": {"mobility": "wheeled", "features": []},
                "max_speed_kmh": 80,
            },
        ),
        *(
            (
                "/v1/units",
                {
                    "id": unit,
                    "party_id": PARTY,
                    "name": unit,
                    "roles": [],
                    "aor": {"type": "Polygon", "coordinates": [AOR]},
                    "coordination_cell": unit == UNITS[0],
                },
            )
            for unit in UNITS
        ),
    ):
        r = http.post(path, json=body, headers=h)
        assert r.status_code == 201, r.text
    return bench


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--senders", default="1,10,100", help="comma-separated sender counts")
    ap.add_argument("--transports", default="tls,tcp")
    ap.add_argument("--events", type=int, default=20_000, help="reports per run (all senders)")
    ap.add_argument("--hold-clients", type=int, default=0, help="run the hold instead")
    ap.add_argument("--hold-seconds", type=float, default=600.0)
    ap.add_argument("--hold-active", type=int, default=10, help="hold clients also reporting")
    ap.add_argument("--database-url", default=None, help="postgresql://… (default: SQLite)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    raise_fd_limit()
    data_dir = Path(tempfile.mkdtemp(prefix="dcf-takin-"))
    bench: Bench | None = None
    try:
        bench = start_bench(data_dir, args.database_url)
        if args.hold_clients:
            bench.register_assets(args.hold_active)
            bench.issue(HOLD_CERTIFICATES)
            emit(step="setup", mode="hold", clients=args.hold_clients, active=args.hold_active)
            asyncio.run(_hold(bench, args.hold_clients, args.hold_active, args.hold_seconds))
            return
        counts = [int(n) for n in args.senders.split(",")]
        bench.register_assets(max(counts))
        bench.issue(max(counts))
        emit(step="setup", mode="throughput", senders=counts, certificates=len(bench.contexts))
        rng = random.Random(SEED)
        for transport in args.transports.split(","):
            for senders in counts:
                emit(
                    **asyncio.run(
                        _throughput(bench, transport, senders, args.events // senders, rng)
                    )
                )
    finally:
        if bench is not None:
            bench.proc.send_signal(signal.SIGINT)
            try:
                bench.proc.wait(30)
            except subprocess.TimeoutExpired:
                bench.proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
