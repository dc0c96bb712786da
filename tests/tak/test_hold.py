"""Many TLS clients held at once against the real server (issue 5, the short CI version of
``bench/tak_ingest_bench.py --hold-clients 1000 --hold-seconds 600``).

200 mutual-TLS clients (certificates the CLI issued, for units of two parties) connect
and stay for about 15 s: each pings (``t-x-c-t``) every few seconds and must get its
pong (``t-x-c-t-r``), five also report their own asset every second. Meanwhile the
server answers ``GET /v1/health`` and checks, and at the end every client is still
connected and every report it sent is stored. The server's memory is sampled and
printed (``-s``); the flat-memory claim is the benchmark's, not an assertion here.
"""

from __future__ import annotations

import asyncio
import resource
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.live import Server, free_port, issue, store_at
from tests.support.tak import Issued, cot, issue_client
from tests.support.world import asset, check_body, report, seed

pytestmark = pytest.mark.integration

CLIENTS = 200
ACTIVE = 5
HOLD_S = 15.0
PING_EVERY_S = 3.0
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def ping(uid: str) -> bytes:
    t = datetime.now(UTC)
    return (
        f'<event version="2.0" uid="{uid}" type="t-x-c-t" how="h-g-i-g-o" '
        f'time="{t.strftime(STAMP)}" start="{t.strftime(STAMP)}" '
        f'stale="{(t + timedelta(seconds=20)).strftime(STAMP)}"><point lat="0" lon="0" '
        f'hae="9999999" ce="9999999" le="9999999"/><detail/></event>'
    ).encode()


@dataclass
class Client:
    index: int
    connected: bool = False
    closed_by_server: bool = False
    pongs: int = 0
    reports: int = 0
    errors: list[str] = field(default_factory=list)


class Crowd:
    """The clients, on one event loop in a thread of their own."""

    def __init__(self, port: int, certs: list[Issued], active_uids: list[str]) -> None:
        """``certs``: alpha's first (the active clients report alpha assets), then others."""
        self.port = port
        self.alpha = [c.context() for c in certs if c.unit.startswith("a-")]
        self.all = [c.context() for c in certs]
        self.active_uids = active_uids
        self.clients = [Client(i) for i in range(CLIENTS)]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        tasks = []
        for client in self.clients:
            tasks.append(asyncio.ensure_future(self._one(client)))
            if client.index % 20 == 19:
                await asyncio.sleep(0.05)  # the handshakes are RSA: a few at a time
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, client: Client) -> None:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                self.port,
                ssl=self._context(client.index),
                server_hostname="127.0.0.1",
            )
        except (OSError, ssl.SSLError) as exc:
            client.errors.append(f"connect: {exc!r}")
            return
        client.connected = True
        reading = asyncio.ensure_future(self._read(client, reader))
        uid = f"ANDROID-hold-{client.index}"
        next_ping = 0.0
        try:
            while not self.stop.is_set() and not reading.done():
                now = time.monotonic()
                if now >= next_ping:
                    writer.write(ping(uid))
                    next_ping = now + PING_EVERY_S
                if client.index < len(self.active_uids):
                    lat = 48.4 + client.reports / 100_000
                    writer.write(cot(self.active_uids[client.index], lat, 35.4))
                    client.reports += 1
                await writer.drain()
                await asyncio.sleep(1.0)
        except (OSError, ssl.SSLError) as exc:
            client.errors.append(f"write: {exc!r}")
        finally:
            reading.cancel()
            writer.close()

    def _context(self, index: int) -> ssl.SSLContext:
        if index < len(self.active_uids):
            return self.alpha[index % len(self.alpha)]
        return self.all[index % len(self.all)]

    async def _read(self, client: Client, reader: asyncio.StreamReader) -> None:
        tail = b""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    client.closed_by_server = True
                    return
                data = tail + chunk
                client.pongs += data.count(b'type="t-x-c-t-r"')
                tail = data[-32:]  # a marker cut between reads is counted once
                client.pongs -= tail.count(b'type="t-x-c-t-r"')
        except (OSError, ssl.SSLError) as exc:
            client.errors.append(f"read: {exc!r}")
            client.closed_by_server = True


@dataclass
class Held:
    server: Server
    data_dir: Path
    tls_port: int
    op_a: str
    certs: list[Issued]
    active_uids: list[str]


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # the server (a child) inherits the raised limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    root = tmp_path_factory.mktemp("hold")
    data_dir = root / "data"
    tls_port = free_port()
    server = Server(data_dir, "--cot-tls-port", str(tls_port), "--check-rate-limit", "0")
    server.start()
    try:
        admin = issue(data_dir, "admin")
        with server.client() as client:
            seed(client, admin)
        coord_a = issue(data_dir, "coordinator", "a-cell")
        active_uids = [f"ANDROID-hold-asset-{n}" for n in range(ACTIVE)]
        with server.client(coord_a) as c:
            for n, uid in enumerate(active_uids):
                r = c.post("/v1/assets", json=asset(f"alpha-hold-{n}", "alpha") | {"cot_uid": uid})
                assert r.status_code == 201, r.text
                r = c.post("/v1/reports", json=[report(f"alpha-hold-{n}", 48.4, 35.4, -60)])
                assert r.status_code == 200, r.text
        certs = [
            issue_client(data_dir, "a-cell", root / "a-cell"),
            issue_client(data_dir, "a-drones", root / "a-drones"),
            issue_client(data_dir, "b-team", root / "b-team"),
        ]
        yield Held(
            server, data_dir, tls_port, issue(data_dir, "operator", "a-drones"), certs, active_uids
        )
    finally:
        server.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_200_tls_clients_stay_connected_and_the_server_keeps_answering(held: Held) -> None:
    with store_at(held.data_dir) as store:
        before = store.count_reports()
    crowd = Crowd(held.tls_port, held.certs, held.active_uids)
    crowd.thread.start()
    assert held.server.proc is not None
    pid = held.server.proc.pid
    samples: list[float] = []
    checks = 0
    deadline = time.monotonic() + HOLD_S
    with held.server.client(held.op_a) as http:
        while time.monotonic() < deadline:
            assert http.get("/v1/health").status_code == 200
            r = http.post("/v1/checks", json=check_body("a-drones", 48.4, 35.4))
            assert r.status_code == 201, r.text
            assert r.json()["verdict"] == "HOLD"  # the active clients' assets are there
            checks += 1
            samples.append(_rss_mb(pid))
            time.sleep(1.0)
    connected = sum(c.connected and not c.closed_by_server for c in crowd.clients)
    pinged = sum(c.pongs > 0 for c in crowd.clients)
    errors = [e for c in crowd.clients for e in c.errors]
    crowd.stop.set()
    crowd.thread.join(30)
    print(
        f"\n{CLIENTS} clients held {HOLD_S:g} s: {checks} checks, server RSS "
        f"{samples[0]:.0f} → {max(samples):.0f} → {samples[-1]:.0f} MB"
    )
    assert errors == []
    assert connected == CLIENTS
    assert pinged == CLIENTS  # every connection answered its pings: alive, both ways
    sent = sum(c.reports for c in crowd.clients)
    assert sent >= ACTIVE
    with store_at(held.data_dir) as store:
        deadline = time.monotonic() + 15
        while store.count_reports() - before < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.count_reports() - before == sent
