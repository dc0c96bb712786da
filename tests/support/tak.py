"""Helpers for the TAK tests: a server with the CoT gateway on, issued certificates, CoT senders."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import ssl
import threading
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import takproto  # type: ignore[import-untyped]

from tests.support.live import Server, run_cli

with warnings.catch_warnings():  # pytak warns about optional extras it does not need here
    warnings.simplefilter("ignore")
    import pytak
    import pytak.classes


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
        sock = _unwrap(sock)
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(10)
    while sock.recv(4096):  # the server closes when it has read everything
        pass
    sock.close()


def _unwrap(sock: ssl.SSLSocket) -> socket.socket:
    """TLS close_notify; if the server is sending meanwhile (a TLS client of a unit is sent
    its picture and notifications, issue 6), a TCP half-close instead: the server reads
    what was sent, then sees the end of the stream."""
    sock.settimeout(10)
    try:
        return sock.unwrap()
    except ssl.SSLError as exc:
        if exc.reason != "APPLICATION_DATA_AFTER_CLOSE_NOTIFY":
            raise
    raw = socket.socket(fileno=sock.detach())
    return raw


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


_ENDED = re.compile(r"cot connection ended \(.*?\): (\{.*\})$")


def connection_summaries(server: Server) -> list[dict[str, Any]]:
    """The per-connection counters the gateway logs when a connection ends."""
    out = []
    for line in server.log().splitlines():
        # "(<why it ended>): {json}"; the reason may hold ": " itself (a connection error).
        match = _ENDED.search(line)
        if match:
            out.append(json.loads(match.group(1)))
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


# --- receiving: pytak clients bound to units, and the CoT event rules -----------------------

_TYPE = re.compile(r"^\w+(-\w+)*$")
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def assert_cot_rules(data: bytes) -> ET.Element:
    """The CoT event rules of issue 6, on one event as the service sent it."""
    root = ET.fromstring(data.strip())
    assert root.tag == "event", root.tag
    for name in ("version", "uid", "type", "how", "time", "start", "stale"):
        assert root.get(name), f"missing {name}: {data[:200]!r}"
    cot_type = root.get("type") or ""
    assert _TYPE.match(cot_type), cot_type
    assert not cot_type.startswith("a-h"), cot_type
    times = {}
    for name in ("time", "start", "stale"):
        text = root.get(name) or ""
        assert _UTC.match(text), (name, text)
        times[name] = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert times["stale"] > times["start"], (times, data[:200])
    point = root.find("point")
    assert point is not None
    assert -90 <= float(point.get("lat") or "nan") <= 90
    assert -180 <= float(point.get("lon") or "nan") <= 180
    assert float(point.get("ce") or "nan") >= 0
    assert float(point.get("le") or "nan") >= 0
    return root


def assert_round_trips(data: bytes) -> None:
    """Through takproto (XML → TAK Protocol v1 → parsed) and back to XML with pytak's
    converter, the event keeps its uid, type, how and position."""
    root = ET.fromstring(data.strip())
    point = root.find("point")
    assert point is not None
    for version in (takproto.TAKProtoVer.STREAM, takproto.TAKProtoVer.MESH):
        message = takproto.parse_proto(bytearray(takproto.xml2proto(data.strip(), version)))
        cot = message.cotEvent
        assert (cot.uid, cot.type, cot.how) == (root.get("uid"), root.get("type"), root.get("how"))
        assert cot.lat == float(point.get("lat") or "nan")
        assert cot.lon == float(point.get("lon") or "nan")
        back = pytak.classes._takmsg2xml(message)
        assert back is not None
        again = ET.fromstring(back)
        assert (again.get("uid"), again.get("type")) == (root.get("uid"), root.get("type"))


def validate(data: bytes) -> ET.Element:
    root = assert_cot_rules(data)
    assert_round_trips(data)
    return root


@dataclass
class Received:
    raw: bytes
    root: ET.Element

    @property
    def uid(self) -> str:
        return self.root.get("uid") or ""

    @property
    def type(self) -> str:
        return self.root.get("type") or ""

    @property
    def remarks(self) -> str:
        remarks = self.root.find("detail/remarks")
        return (remarks.text or "") if remarks is not None else ""

    @property
    def point(self) -> dict[str, float]:
        point = self.root.find("point")
        assert point is not None
        return {k: float(point.get(k) or "nan") for k in ("lat", "lon", "ce", "le")}

    @property
    def stale(self) -> datetime:
        return datetime.fromisoformat((self.root.get("stale") or "").replace("Z", "+00:00"))


class Receiver:
    """A pytak TLS client bound to a unit (its certificate), reading with pytak's RXWorker
    in a thread of its own; every event it gets is checked by :func:`validate`."""

    def __init__(self, port: int, issued: Issued) -> None:
        self.events: list[Received] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._writer: Any = None
        self._ready = threading.Event()
        config = pytak.client_functions.ConfigParser()
        config.read_dict(
            {
                "pytak": {
                    "COT_URL": f"tls://127.0.0.1:{port}",
                    "PYTAK_TLS_CLIENT_CERT": str(issued.cert),
                    "PYTAK_TLS_CLIENT_KEY": str(issued.key),
                    "PYTAK_TLS_CLIENT_CAFILE": str(issued.ca),
                }
            }
        )
        self._section = config["pytak"]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(20), "the receiver did not connect"
        if self.errors:
            raise self.errors[0]

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        outer = self

        class Rx(pytak.RXWorker):  # type: ignore[misc]
            async def handle_data(self, data: bytes) -> None:
                pass

        try:
            reader, writer = await pytak.protocol_factory(self._section)
        except BaseException as exc:
            self.errors.append(exc)
            self._ready.set()
            return
        self._writer = writer
        self._ready.set()
        rx = Rx(asyncio.Queue(), self._section, reader)
        while True:
            try:
                data = await rx.readcot()
            except (ConnectionError, OSError, asyncio.CancelledError):
                return
            if not data:
                return
            try:
                root = validate(data)
            except BaseException as exc:  # kept, and raised by the test
                outer.errors.append(AssertionError(f"{exc!r} in {data[:300]!r}"))
                continue
            with self._lock:
                self.events.append(Received(data, root))

    def send(self, data: bytes) -> None:
        def write() -> None:
            self._writer.write(data)

        self._loop.call_soon_threadsafe(write)

    def received(self) -> list[Received]:
        if self.errors:
            raise self.errors[0]
        with self._lock:
            return list(self.events)

    def wait(self, condition: Callable[[Received], bool], timeout: float = 15.0) -> Received:
        def find() -> Received | None:
            return next((e for e in self.received() if condition(e)), None)

        try:
            found: Received = wait_for(find, timeout)
        except AssertionError:
            seen = [(e.type, e.uid, e.remarks[:120]) for e in self.received()]
            raise AssertionError(f"not received; got {seen}") from None
        return found

    def close(self) -> None:
        def shut() -> None:
            if self._writer is not None:
                self._writer.close()

        if self._loop.is_running():
            self._loop.call_soon_threadsafe(shut)
        self._thread.join(10)
        if self.errors:
            raise self.errors[0]
