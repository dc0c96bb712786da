"""Helpers for the TAK tests: a server with the CoT gateway on, issued certificates, CoT senders."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.integration.live import Server, run_cli


@dataclass(frozen=True)
class Issued:
    unit: str
    directory: Path
    password: str

    @property
    def cert(self) -> Path:
        return self.directory / f"{self.unit}.pem"

    @property
    def key(self) -> Path:
        return self.directory / f"{self.unit}.key.pem"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def data_package(self) -> Path:
        return self.directory / f"{self.unit}-datapackage.zip"

    def context(self) -> ssl.SSLContext:
        return client_context(self.cert, self.key, self.ca)


def issue_client(data_dir: Path, unit: str, out: Path, *extra: str) -> Issued:
    result = run_cli(
        "tak",
        "issue-client",
        "--unit",
        unit,
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        *extra,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    match = re.search(r"password \(shown once[^)]*\): (\S+)", result.stdout)
    assert match, result.stdout
    return Issued(unit, out, match.group(1))


def client_context(cert: Path | None, key: Path | None, ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def cot(
    uid: str,
    lat: float,
    lon: float,
    *,
    ce: float = 10.0,
    cot_type: str = "a-f-G-U-C",
    at: datetime | None = None,
) -> bytes:
    t = (at or datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="m-g" time="{t}" '
        f'start="{t}" stale="{stale}"><point lat="{lat}" lon="{lon}" hae="0" ce="{ce}" '
        f'le="10"/><detail><contact callsign="{uid}"/></detail></event>'
    ).encode()


def tls_connect(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def send_and_close(sock: socket.socket, data: bytes) -> None:
    sock.sendall(data)
    if isinstance(sock, ssl.SSLSocket):
        sock = sock.unwrap()
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(10)
    while sock.recv(4096):  # the server closes when it has read everything
        pass
    sock.close()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def connection_summaries(server: Server) -> list[dict[str, Any]]:
    """The per-connection counters the gateway logs when a connection ends."""
    out = []
    for line in server.log().splitlines():
        _, sep, tail = line.partition("cot connection ended")
        if sep:
            out.append(json.loads(tail.split(": ", 1)[1]))
    return out


def summary_for(server: Server, port: int) -> dict[str, Any]:
    """The counters of the connection from local ``port`` (once it has ended)."""

    def find() -> dict[str, Any] | None:
        for summary in connection_summaries(server):
            if summary["peer"].endswith(f":{port}"):
                return summary
        return None

    found: dict[str, Any] = wait_for(find)
    return found
