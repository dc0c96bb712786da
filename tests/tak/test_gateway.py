"""The CoT gateway against the real server: mutual TLS with certificates the CLI issued,
the trust rule, plain ports, bursts and hostile input (issue 5).

One server for the module (TLS, TCP and UDP on), with the small world of
``tests/support/world.py``: alpha (units a-cell, a-drones) and bravo (b-team). Each test uses
assets of its own, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():  # pytak warns about optional extras it does not need here
    warnings.simplefilter("ignore")
    import pytak

from deconfliction.tak import pki
from tests.support.live import Server, free_port, issue, store_at
from tests.support.tak import (
    Issued,
    client_context,
    cot,
    issue_client,
    send_and_close,
    summary_for,
    tls_connect,
    wait_for,
)
from tests.support.world import asset, check_body, report, seed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # pytak's TLS options
]

#: The module server's idle timeout. Well above the revocation sweep's period (0.5 s): an
#: idle connection whose certificate is revoked must end by the sweep, not by this timeout,
#: also when a loaded machine delays the sweep by a few seconds (at 3 s it sometimes did).
IDLE_S = 8
HOME = (48.5, 35.5)  # inside alpha's box
FAR = (48.95, 35.5)  # 50 km north
#: 3 km north: farther than the asset's reach a minute after its report, within the bound
#: a plain report may widen it by (domain/plain_reports.py); 50 km would be refused.
NEAR = (48.527, 35.5)


@dataclass
class Tak:
    server: Server
    data_dir: Path
    tls_port: int
    tcp_port: int
    udp_port: int
    coord_a: str
    op_a: str
    alpha: Issued
    bravo: Issued

    def register(self, asset_id: str, uid: str, at: tuple[float, float] = HOME) -> None:
        """An alpha asset bound to ``uid``, with an authenticated report at ``at`` (HTTP)."""
        with self.server.client(self.coord_a) as c:
            r = c.post("/v1/assets", json=asset(asset_id, "alpha") | {"cot_uid": uid})
            assert r.status_code == 201, r.text
            r = c.post("/v1/reports", json=[report(asset_id, *at, delta_s=-60)])
            assert r.status_code == 200, r.text

    def check(self, lat: float, lon: float) -> dict[str, Any]:
        with self.server.client(self.op_a) as c:
            r = c.post("/v1/checks", json=check_body("a-drones", lat, lon))
        assert r.status_code == 201, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def holds(self, asset_id: str, lat: float, lon: float) -> bool:
        answer = self.check(lat, lon)
        return answer["verdict"] == "HOLD" and asset_id in {m["id"] for m in answer["matches"]}

    def latest(self, asset_id: str) -> dict[str, dict[str, Any]]:
        """The store's latest report per source for an asset."""
        with store_at(self.data_dir) as store:
            return {
                row["source"]: row for row in store.latest_reports() if row["asset_id"] == asset_id
            }


@pytest.fixture(scope="module")
def tak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tak]:
    root = tmp_path_factory.mktemp("tak")
    data_dir = root / "data"
    tls_port, tcp_port, udp_port = free_port(), free_port(), free_port()
    server = Server(
        data_dir,
        "--cot-tls-port",
        str(tls_port),
        "--cot-tcp-port",
        str(tcp_port),
        "--cot-udp-port",
        str(udp_port),
        "--cot-idle-timeout-s",
        str(IDLE_S),
    ).start()
    try:
        admin = issue(data_dir, "admin")
        with server.client() as client:
            seed(client, admin)
        yield Tak(
            server=server,
            data_dir=data_dir,
            tls_port=tls_port,
            tcp_port=tcp_port,
            udp_port=udp_port,
            coord_a=issue(data_dir, "coordinator", "a-cell"),
            op_a=issue(data_dir, "operator", "a-drones"),
            alpha=issue_client(data_dir, "a-cell", root / "alpha"),
            bravo=issue_client(data_dir, "b-team", root / "bravo"),
        )
    finally:
        server.stop()


def _pytak_send(tak: Tak, issued: Issued, events: list[bytes], *, proto: bool = False) -> None:
    """Send with pytak's own TLS client (protocol_factory) and TX worker."""
    config = pytak.client_functions.ConfigParser()
    config.read_dict(
        {
            "pytak": {
                "COT_URL": f"tls://127.0.0.1:{tak.tls_port}",
                "PYTAK_TLS_CLIENT_CERT": str(issued.cert),
                "PYTAK_TLS_CLIENT_KEY": str(issued.key),
                "PYTAK_TLS_CLIENT_CAFILE": str(issued.ca),
                "TAK_PROTO": "1" if proto else "0",
            }
        }
    )
    section = config["pytak"]

    async def main() -> None:
        _, writer = await pytak.protocol_factory(section)
        worker = pytak.TXWorker(asyncio.Queue(), section, writer)
        for event in events:
            await worker.handle_data(event)
        await writer.drain()
        writer.close()  # TLS close_notify after the data; the server reads everything first
        # The server may be sending this unit's picture meanwhile (issue 6): OpenSSL then
        # reports application data after our close_notify, which only ends our side sooner.
        with contextlib.suppress(ssl.SSLError):
            await writer.wait_closed()

    asyncio.run(main())


def test_authenticated_report_over_tls_with_pytak_sets_the_position(tak: Tak) -> None:
    tak.register("alpha-tls-1", "ANDROID-alpha-1")
    assert tak.holds("alpha-tls-1", *HOME)
    # A humanitarian-looking (neutral) type: binding is by uid, whatever the affiliation.
    event = pytak.gen_cot(lat=FAR[0], lon=FAR[1], ce=8, uid="ANDROID-alpha-1", cot_type="a-n-G")
    assert event is not None
    _pytak_send(tak, tak.alpha, [event])
    wait_for(lambda: tak.holds("alpha-tls-1", *FAR))
    answer = tak.check(*FAR)
    assert answer["verdict"] == "HOLD"
    assert "alpha-tls-1" in {m["id"] for m in answer["matches"]}
    assert not tak.holds("alpha-tls-1", *HOME)  # moved: 50 km in a few seconds is out of reach
    assert tak.latest("alpha-tls-1")["authenticated"]["lat"] == pytest.approx(FAR[0])


def test_tak_protocol_v1_stream_from_pytak_is_accepted(tak: Tak) -> None:
    tak.register("alpha-proto-1", "ANDROID-alpha-proto")
    event = pytak.gen_cot(lat=FAR[0], lon=35.7, ce=8, uid="ANDROID-alpha-proto")
    assert event is not None
    _pytak_send(tak, tak.alpha, [event], proto=True)
    wait_for(lambda: tak.holds("alpha-proto-1", FAR[0], 35.7))


def test_a_certificate_of_another_party_cannot_move_the_asset(tak: Tak) -> None:
    tak.register("alpha-forged-1", "ANDROID-alpha-forged")
    sock = tls_connect(tak.tls_port, tak.bravo.context())
    port = sock.getsockname()[1]
    send_and_close(sock, cot("ANDROID-alpha-forged", *FAR))
    summary = summary_for(tak.server, port)
    assert summary["unit"] == "b-team"
    assert summary["reports"] == 0
    # To bravo the uid is unbound, as one nobody registered: nothing says alpha has it
    # (issue 15, finding 2; docs/design/security.md, "TAK uids and plain-port reports").
    assert summary["rejected"] == {"unbound_uid": 1}
    assert tak.holds("alpha-forged-1", *HOME)
    assert not tak.holds("alpha-forged-1", *FAR)
    assert set(tak.latest("alpha-forged-1")) == {"authenticated"}


def _refused(context: ssl.SSLContext, port: int) -> bool:
    """True if the server refuses the handshake (TLS 1.3 reports it on the first read)."""
    try:
        sock = tls_connect(port, context)
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        sock.sendall(cot("nobody", *HOME))
        return sock.recv(1024) == b""
    except (ssl.SSLError, ConnectionError):
        return True
    finally:
        sock.close()


def test_clients_without_a_certificate_of_our_ca_are_refused(tak: Tak, tmp_path: Path) -> None:
    # No client certificate at all.
    assert _refused(client_context(None, None, tak.alpha.ca), tak.tls_port)
    # A certificate for the same unit and party, from another CA.
    other = pki.issue_client_certificate(tmp_path / "other", "a-cell", "alpha")
    (tmp_path / "c.pem").write_bytes(other.cert_pem)
    (tmp_path / "k.pem").write_bytes(other.key_pem)
    foreign = client_context(tmp_path / "c.pem", tmp_path / "k.pem", tak.alpha.ca)
    assert _refused(foreign, tak.tls_port)
    wait_for(lambda: tak.server.log().count("TLS handshake failed") >= 2)
    # The gateway still serves a good client.
    tak.register("alpha-after-refusal", "ANDROID-after-refusal")
    sock = tls_connect(tak.tls_port, tak.alpha.context())
    send_and_close(sock, cot("ANDROID-after-refusal", 48.6, 35.5))
    wait_for(lambda: tak.holds("alpha-after-refusal", 48.6, 35.5))


def test_plain_ports_only_widen_and_never_move_the_asset(tak: Tak) -> None:
    tak.register("alpha-plain-1", "ANDROID-alpha-plain")
    sock = socket.create_connection(("127.0.0.1", tak.tcp_port), timeout=10)
    port = sock.getsockname()[1]
    send_and_close(sock, cot("ANDROID-alpha-plain", *NEAR))
    summary = summary_for(tak.server, port)
    assert summary["transport"] == "tcp" and summary["reports"] == 1
    latest = tak.latest("alpha-plain-1")
    assert latest["plain"]["lat"] == pytest.approx(NEAR[0])
    assert latest["authenticated"]["lat"] == pytest.approx(HOME[0])
    # The authenticated position holds: a forged plain report cannot move it out of a check;
    # the reported place is now one where a check finds it too (a widening, the safe side).
    assert tak.holds("alpha-plain-1", *HOME)
    assert tak.holds("alpha-plain-1", *NEAR)
    # UDP: the same rule.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(cot("ANDROID-alpha-plain", 48.535, 35.5), ("127.0.0.1", tak.udp_port))
    wait_for(lambda: tak.latest("alpha-plain-1")["plain"]["lat"] == pytest.approx(48.535))
    assert tak.latest("alpha-plain-1")["authenticated"]["lat"] == pytest.approx(HOME[0])


def test_a_burst_of_1000_events_in_one_write_is_taken_whole(tak: Tak) -> None:
    uids = [f"ANDROID-burst-{n}" for n in range(10)]
    for n, uid in enumerate(uids):
        tak.register(f"alpha-burst-{n}", uid)
    with store_at(tak.data_dir) as store:
        before = store.count_reports()
    burst = b"".join(cot(uids[n % 10], 48.6 + n / 10_000, 35.6) for n in range(1000))
    sock = tls_connect(tak.tls_port, tak.alpha.context())
    port = sock.getsockname()[1]
    sock.sendall(burst)
    # Still connected: one more event on the same connection after the burst.
    sock.sendall(cot(uids[0], 48.7, 35.6))
    send_and_close(sock, b"")
    summary = summary_for(tak.server, port)
    assert summary["events"] == 1001
    assert summary["reports"] == 1001
    assert summary["rejected"] == {}
    with store_at(tak.data_dir) as store:
        assert store.count_reports() - before == 1001
    assert tak.holds("alpha-burst-0", 48.7, 35.6)


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<event version="2.0" uid="&x;" type="a-f-G" how="m-g" time="2026-01-01T00:00:00Z" '
    b'start="2026-01-01T00:00:00Z" stale="2026-01-01T00:10:00Z">'
    b'<point lat="1" lon="1" hae="0" ce="1" le="1"/></event>'
)
LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
    b'<event version="2.0" uid="&lol2;" type="a-f-G" how="m-g" time="2026-01-01T00:00:00Z" '
    b'start="2026-01-01T00:00:00Z" stale="2026-01-01T00:10:00Z">'
    b'<point lat="1" lon="1" hae="0" ce="1" le="1"/></event>'
)


def test_hostile_input_is_dropped_and_counted_and_nothing_else_suffers(tak: Tak) -> None:
    tak.register("alpha-hostile-1", "ANDROID-hostile")
    bystander = tls_connect(tak.tls_port, tak.alpha.context())
    bystander_port = bystander.getsockname()[1]
    bystander.sendall(cot("ANDROID-hostile", 48.61, 35.5))

    huge = cot("ANDROID-hostile", 1, 1).replace(b"<detail>", b"<detail>" + b"x" * 200_000)
    stream = b"".join(
        [
            b"\x00\x01garbage that is not CoT\xff\xfe",
            XXE,
            LAUGHS,
            huge,
            cot("ANDROID-hostile", 48.62, 35.5)[:-30],  # truncated, cut off by the next event
            cot("ANDROID-hostile", 91.0, 35.5),  # invalid latitude
            cot("ANDROID-hostile", 48.62, 35.5, ce=9999999),  # unknown ce: no position
            cot("ANDROID-nobody-knows", 48.62, 35.5),  # unbound uid
            cot("ANDROID-hostile", 48.63, 35.5),  # good
        ]
    )
    sock = tls_connect(tak.tls_port, tak.alpha.context())
    port = sock.getsockname()[1]
    send_and_close(sock, stream)
    summary = summary_for(tak.server, port)
    assert summary["reports"] == 1
    rejected = summary["rejected"]
    assert rejected["too_large"] == 1
    assert rejected["no_position"] == 1
    assert rejected["unbound_uid"] == 1
    assert rejected["invalid:point.lat"] == 1
    assert rejected["invalid:event"] == 2  # XXE and billion laughs: entities never expanded
    assert rejected["invalid:stream"] >= 2  # garbage, the truncated event
    assert "unbound CoT uid 'ANDROID-nobody-knows'" in tak.server.log()
    wait_for(lambda: tak.holds("alpha-hostile-1", 48.63, 35.5))

    # The other connection is still up and served.
    bystander.sendall(cot("ANDROID-hostile", 48.64, 35.5))
    send_and_close(bystander, b"")
    assert summary_for(tak.server, bystander_port)["reports"] == 2
    wait_for(lambda: tak.holds("alpha-hostile-1", 48.64, 35.5))
    with tak.server.client() as c:
        assert c.get("/v1/health").status_code == 200


def test_an_idle_connection_is_closed(tak: Tak) -> None:
    sock = tls_connect(tak.tls_port, tak.alpha.context())
    port = sock.getsockname()[1]
    sock.settimeout(IDLE_S + 10)
    try:
        while sock.recv(65536):  # the unit's picture (issue 6), then closed by the server
            pass
    except (ssl.SSLEOFError, ConnectionResetError):
        pass  # closed without close_notify: closed all the same
    finally:
        sock.close()
    summary = summary_for(tak.server, port)
    assert summary["events"] == 0
    assert f"idle for {IDLE_S} s" in tak.server.log()


def _ping(uid: str) -> bytes:
    """A client's ping, as ATAK sends it (made with pytak): no position."""
    event = pytak.gen_cot(
        lat=0, lon=0, ce=9999999, le=9999999, hae=9999999, uid=uid, cot_type="t-x-c-t"
    )
    assert event is not None
    return event


def _pytak_session(tak: Tak, issued: Issued, payloads: list[bytes], *, proto: bool) -> list[Any]:
    """Connect with pytak, send ``payloads`` with its TX worker, and read with takproto until
    a pong arrives: every event read, as takproto ``TakMessage``s."""
    config = pytak.client_functions.ConfigParser()
    config.read_dict(
        {
            "pytak": {
                "COT_URL": f"tls://127.0.0.1:{tak.tls_port}",
                "PYTAK_TLS_CLIENT_CERT": str(issued.cert),
                "PYTAK_TLS_CLIENT_KEY": str(issued.key),
                "PYTAK_TLS_CLIENT_CAFILE": str(issued.ca),
                "TAK_PROTO": "1" if proto else "0",
            }
        }
    )
    section = config["pytak"]

    async def main() -> list[Any]:
        reader, writer = await pytak.protocol_factory(section)
        worker = pytak.TXWorker(asyncio.Queue(), section, writer)
        for payload in payloads:
            await worker.handle_data(payload)
        await writer.drain()
        data = b""
        messages: list[Any] = []
        try:
            while not any(m.cotEvent.type == "t-x-c-t-r" for m in messages):
                chunk = await asyncio.wait_for(reader.read(65536), 15)
                assert chunk, "closed before the pong"
                data += chunk
                messages = _messages(data)
        finally:
            writer.close()
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await writer.wait_closed()
        return messages

    return asyncio.run(main())


def _messages(data: bytes) -> list[Any]:
    """Every complete event in what the server sent — XML events, then (once the client
    speaks it) TAK Protocol frames — each read by takproto."""
    import takproto  # type: ignore[import-untyped]

    from deconfliction.cot.framing import read_varint

    messages = []
    pos = 0
    while pos < len(data):
        if data[pos] == 0xBF:
            header = read_varint(data, pos + 1)
            if header is None or header[1] + header[0] > len(data):
                break
            length, start = header
            messages.append(takproto.parse_proto(bytearray(data[pos : start + length])))
            pos = start + length
        elif data[pos : pos + 1].isspace():
            pos += 1
        else:
            end = data.find(b"</event>", pos)
            if end < 0:
                break
            end += len(b"</event>")
            event = data[pos:end].strip()
            proto = takproto.xml2proto(event, takproto.TAKProtoVer.STREAM)
            messages.append(takproto.parse_proto(bytearray(proto)))
            pos = end
    return messages


def test_tls_clients_are_offered_tak_protocol_first_and_pings_are_answered(tak: Tak) -> None:
    ping = _ping("ANDROID-pinger")
    messages = _pytak_session(tak, tak.alpha, [ping], proto=False)
    first = messages[0].cotEvent
    assert first.type == "t-x-takp-v"
    assert (
        "TakProtocolSupport" in first.detail.xmlDetail and 'version="1"' in first.detail.xmlDetail
    )
    pongs = [m.cotEvent for m in messages if m.cotEvent.type == "t-x-c-t-r"]
    assert len(pongs) == 1 and pongs[0].ce == 9999999  # never a map object
    assert not any(m.cotEvent.type.startswith("a-h") for m in messages)


def test_a_ping_in_tak_protocol_is_answered_in_tak_protocol(tak: Tak) -> None:
    ping = _ping("ANDROID-pinger-2")
    messages = _pytak_session(tak, tak.alpha, [ping], proto=True)
    assert messages[0].cotEvent.type == "t-x-takp-v"  # XML, before the client spoke
    assert messages[-1].cotEvent.type == "t-x-c-t-r"


def test_plain_clients_get_no_announcement_and_pings_are_not_reports(tak: Tak) -> None:
    sock = socket.create_connection(("127.0.0.1", tak.tcp_port), timeout=10)
    port = sock.getsockname()[1]
    send_and_close(sock, cot("ANDROID-plain-pinger", 0, 0, ce=9999999, cot_type="t-x-c-t"))
    summary = summary_for(tak.server, port)
    assert summary["rejected"] == {"control": 1}
    assert summary["reports"] == 0


def _status(tak: Tak, token: str | None) -> Any:
    with tak.server.client(token) as c:
        return c.get("/v1/tak/status")


def test_tak_status_for_admins_and_coordinators(tak: Tak) -> None:
    admin = issue(tak.data_dir, "admin")
    alpha = tls_connect(tak.tls_port, tak.alpha.context())
    bravo = tls_connect(tak.tls_port, tak.bravo.context())
    plain = socket.create_connection(("127.0.0.1", tak.tcp_port), timeout=10)
    alpha_port, bravo_port = alpha.getsockname()[1], bravo.getsockname()[1]
    plain_port = plain.getsockname()[1]
    try:
        alpha.sendall(cot("ANDROID-status-alpha-unbound", 48.5, 35.5) + cot("x", 91.0, 35.5))
        bravo.sendall(cot("ANDROID-status-bravo-unbound", 48.5, 35.5))
        plain.sendall(cot("ANDROID-status-plain-unbound", 48.5, 35.5))

        def connection(body: dict[str, Any], port: int) -> dict[str, Any] | None:
            return next((c for c in body["connections"] if c["peer"].endswith(f":{port}")), None)

        def settled() -> dict[str, Any] | None:
            r = _status(tak, admin)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            mine = [connection(body, p) for p in (alpha_port, bravo_port, plain_port)]
            if all(c is not None and c["rejected"].get("unbound_uid") for c in mine):
                return body
            return None

        body = wait_for(settled)
        assert body["enabled"] is True
        assert body["listeners"] == {"tls": tak.tls_port, "tcp": tak.tcp_port, "udp": tak.udp_port}
        mine = connection(body, alpha_port)
        assert mine is not None
        assert (mine["transport"], mine["unit"], mine["party"]) == ("tls", "a-cell", "alpha")
        assert mine["protocol"] == "xml"
        assert mine["rejected"] == {"unbound_uid": 1, "invalid:point.lat": 1}
        assert "sent" in mine  # a TLS client is sent its picture
        unbound = {u["uid"]: u for u in body["unbound"]}
        assert unbound["ANDROID-status-alpha-unbound"]["unit_id"] == "a-cell"
        assert unbound["ANDROID-status-alpha-unbound"]["count"] == 1
        assert unbound["ANDROID-status-bravo-unbound"]["party_id"] == "bravo"
        assert unbound["ANDROID-status-plain-unbound"]["transport"] == "plain"
        assert "refused" in body["closed_totals"]

        # A coordinator of alpha: alpha's TLS connections and unbound uids, nothing else.
        r = _status(tak, tak.coord_a)
        assert r.status_code == 200, r.text
        seen = r.json()
        assert {c["party"] for c in seen["connections"]} == {"alpha"}
        assert connection(seen, alpha_port) is not None
        assert connection(seen, bravo_port) is None and connection(seen, plain_port) is None
        uids = {u["uid"] for u in seen["unbound"]}
        assert "ANDROID-status-alpha-unbound" in uids
        assert not uids & {"ANDROID-status-bravo-unbound", "ANDROID-status-plain-unbound"}
        assert "closed_totals" not in seen

        # Operators and strangers are refused.
        assert _status(tak, tak.op_a).status_code == 403
        assert _status(tak, None).status_code == 401
    finally:
        for sock in (alpha, bravo, plain):
            sock.close()


def test_a_revoked_certificate_is_refused_and_its_open_connection_closed(
    tak: Tak, tmp_path: Path
) -> None:
    from cryptography import x509

    from deconfliction.tak.revocation import revoke
    from tests.support.live import run_cli

    revoked = issue_client(tak.data_dir, "a-cell", tmp_path / "soon-revoked")
    serial = x509.load_pem_x509_certificate(revoked.cert.read_bytes()).serial_number
    held = tls_connect(tak.tls_port, revoked.context())  # connected before the revocation
    held.settimeout(30)
    # Revoked at once, by the function the CLI calls: the module's server closes connections
    # idle for IDLE_S, and a CLI process can take longer than that to start on a loaded
    # machine (the connection then ended as idle, not revoked). The CLI is tried below.
    assert revoke(tak.data_dir, serial, datetime.now(UTC), "test")

    # The open connection is closed by the server (it was idle: the sweep finds it).
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        while held.recv(65536):  # its picture, then the end
            pass
    held.close()
    wait_for(lambda: "certificate revoked" in tak.server.log())

    # The CLI: a new serial revoked, the same again, and one that is not a serial.
    other = issue_client(tak.data_dir, "a-cell", tmp_path / "revoked-by-cli")
    number = x509.load_pem_x509_certificate(other.cert.read_bytes()).serial_number
    result = run_cli("tak", "revoke", "--serial", f"{number:X}", "--data-dir", str(tak.data_dir))
    assert result.returncode == 0, result.stderr
    assert f"certificate serial {number:x} revoked" in result.stdout
    again = run_cli("tak", "revoke", "--serial", f"0x{serial:x}", "--data-dir", str(tak.data_dir))
    assert "already revoked" in again.stdout
    bad = run_cli("tak", "revoke", "--serial", "not-hex", "--data-dir", str(tak.data_dir))
    assert bad.returncode != 0 and "--serial" in bad.stderr
    assert _refused(other.context(), tak.tls_port)
    # A new connection with it is refused at connect; the unit's other certificates still work.
    assert _refused(revoked.context(), tak.tls_port)
    wait_for(lambda: "is revoked" in tak.server.log())  # refused after the handshake, logged
    tak.register("alpha-after-revocation", "ANDROID-after-revocation")
    sock = tls_connect(tak.tls_port, tak.alpha.context())
    send_and_close(sock, cot("ANDROID-after-revocation", 48.66, 35.5))
    wait_for(lambda: tak.holds("alpha-after-revocation", 48.66, 35.5))


def _pytak_plain(url: str, events: list[bytes], *, proto: bool = False) -> None:
    """Send with pytak over a plain port (``tcp://`` or ``udp://``), its own client and TX
    worker (mesh protobuf over UDP, stream protobuf over TCP when ``proto``)."""
    config = pytak.client_functions.ConfigParser()
    config.read_dict({"pytak": {"COT_URL": url, "TAK_PROTO": "1" if proto else "0"}})
    section = config["pytak"]

    async def main() -> None:
        _, writer = await pytak.protocol_factory(section)
        worker = pytak.TXWorker(asyncio.Queue(), section, writer)
        for event in events:
            await worker.handle_data(event)
        if hasattr(writer, "drain"):
            await writer.drain()
        writer.close()
        if hasattr(writer, "wait_closed"):
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("scheme", "proto", "lat"),
    [("tcp", False, 48.521), ("tcp", True, 48.522), ("udp", False, 48.523), ("udp", True, 48.524)],
)
def test_pytak_over_plain_ports_is_stored_as_plain_and_only_widens(
    tak: Tak, scheme: str, proto: bool, lat: float
) -> None:
    asset_id, uid = f"alpha-pytak-{scheme}-{int(proto)}", f"ANDROID-pytak-{scheme}-{int(proto)}"
    tak.register(asset_id, uid)
    event = pytak.gen_cot(lat=lat, lon=FAR[1], ce=8, uid=uid)
    assert event is not None
    port = tak.tcp_port if scheme == "tcp" else tak.udp_port
    url_scheme = "udp+wo" if scheme == "udp" else scheme  # pytak's send-only UDP client
    _pytak_plain(f"{url_scheme}://127.0.0.1:{port}", [event], proto=proto)
    wait_for(lambda: "plain" in tak.latest(asset_id))
    latest = tak.latest(asset_id)
    assert latest["plain"]["lat"] == pytest.approx(lat)
    assert latest["authenticated"]["lat"] == pytest.approx(HOME[0])
    # What a check sees: the authenticated position holds, and the plain report's place is
    # one where a check finds the asset too (it only widens where the asset could be).
    assert tak.holds(asset_id, *HOME)
    assert tak.holds(asset_id, lat, FAR[1])


def test_a_10_megabyte_event_over_tls_is_dropped_and_the_connection_goes_on(tak: Tak) -> None:
    tak.register("alpha-huge-1", "ANDROID-huge")
    huge = cot("ANDROID-huge", 48.6, 35.5).replace(b"<detail>", b"<detail>" + b"x" * 10_000_000)
    sock = tls_connect(tak.tls_port, tak.alpha.context())
    port = sock.getsockname()[1]
    sock.sendall(huge)
    send_and_close(sock, cot("ANDROID-huge", 48.67, 35.5))
    summary = summary_for(tak.server, port)
    assert summary["rejected"] == {"too_large": 1}
    assert summary["reports"] == 1
    wait_for(lambda: tak.holds("alpha-huge-1", 48.67, 35.5))
