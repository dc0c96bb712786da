"""TAK outbound against the real server (issue 6): notifications as GeoChat and arrival
markers, answers and checks by chat, the friendly picture, reconnects.

One server for the module with TLS on, and the small world of ``tests/support/world.py``: alpha
(units a-cell, a-drones) and bravo (b-team). The receivers are pytak TLS clients
with certificates the CLI issued, bound to their units; every event any of them
receives is checked against the CoT event rules and round-tripped through takproto
and pytak (:func:`tests.support.tak.validate`).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import takproto  # type: ignore[import-untyped]

from deconfliction.cot.event import UNKNOWN, CotEvent, Detail, Point
from deconfliction.cot.framing import Protocol as Framing
from deconfliction.cot.framing import StreamFramer, decode_frame
from deconfliction.cot.mapping import chat_event
from deconfliction.cot.proto import encode_stream
from deconfliction.cot.xml import render_event
from tests.support.live import Server, free_port, issue
from tests.support.tak import (
    Issued,
    Received,
    Receiver,
    issue_client,
    tls_connect,
    validate,
    wait_for,
)
from tests.support.world import asset, report, seed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # pytak's TLS options
]

ROUTE_INTO_A = {"type": "LineString", "coordinates": [[36.6, 48.5], [35.4, 48.5]]}
CODE = re.compile(r"\[([0-9A-F]{6})\]")


@dataclass
class World:
    server: Server
    data_dir: Path
    root: Path
    tls_port: int
    tcp_port: int
    coord_a: str
    op_a: str
    coord_b: str
    drones: Issued
    bravo: Issued

    def post(self, token: str, path: str, body: Any) -> dict[str, Any]:
        with self.server.client(token) as c:
            r = c.post(path, json=body)
        assert r.status_code in (200, 201), r.text
        answer: dict[str, Any] = r.json()
        return answer

    def get(self, token: str, path: str) -> dict[str, Any]:
        with self.server.client(token) as c:
            r = c.get(path)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def bravo_movement(
        self, asset_id: str, movement_id: str, releasable_to: list[str] | None = None
    ) -> None:
        """A bravo asset (releasable to alpha) with a movement into alpha's AOR (the
        movement itself owner-only unless ``releasable_to`` says otherwise)."""
        self.post(self.coord_b, "/v1/assets", asset(asset_id, "bravo", ["alpha"]))
        start = datetime.now(UTC) + timedelta(hours=1)
        self.post(
            self.coord_b,
            "/v1/movements",
            {
                "id": movement_id,
                "asset_id": asset_id,
                "route": ROUTE_INTO_A,
                "corridor_m": 500,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=3)).isoformat(),
            }
            | ({"releasable_to": releasable_to} if releasable_to is not None else {}),
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("takout")
    data_dir = root / "data"
    tls_port, tcp_port = free_port(), free_port()
    server = Server(
        data_dir, "--cot-tls-port", str(tls_port), "--cot-tcp-port", str(tcp_port)
    ).start()
    try:
        admin = issue(data_dir, "admin")
        with server.client() as client:
            seed(client, admin)
        yield World(
            server=server,
            data_dir=data_dir,
            root=root,
            tls_port=tls_port,
            tcp_port=tcp_port,
            coord_a=issue(data_dir, "coordinator", "a-cell"),
            op_a=issue(data_dir, "operator", "a-drones"),
            coord_b=issue(data_dir, "coordinator", "b-team"),
            drones=issue_client(data_dir, "a-drones", root / "drones"),
            bravo=issue_client(data_dir, "b-team", root / "bravo"),
        )
    finally:
        server.stop()


def say(receiver: Receiver, text: str, uid: str = "ANDROID-drones-1") -> None:
    """A GeoChat message from the receiver's ATAK user to the service."""
    event = chat_event(
        text,
        now=datetime.now(UTC),
        recipient_uid="deconfliction",
        recipient_callsign="DECONFLICTION",
        sender_uid=uid,
        sender_callsign="DRONES-1",
    )
    receiver.send(render_event(event, xml_declaration=True))


def is_chat(event: Received, *words: str) -> bool:
    return event.type == "b-t-f" and all(w in event.remarks for w in words)


def test_the_drone_team_gets_the_announcement_and_marker_and_answers_by_chat(
    world: World,
) -> None:
    rx = Receiver(world.tls_port, world.drones)
    try:
        world.bravo_movement("b-sam-1", "b-move-1")
        chat = rx.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-1"))
        text = chat.remarks
        assert "Skyshield-W" in text  # the type
        assert "Answer by" in text and "reply ACK" in text  # the deadline and how to answer
        assert "never approved" in text
        assert chat.point == {"lat": 0.0, "lon": 0.0, "ce": 9999999.0, "le": 9999999.0}
        code = CODE.search(text)
        assert code is not None
        marker = rx.wait(lambda e: e.uid.startswith("deconfliction.arrival."))
        assert marker.type.startswith("a-f-")  # friendly: bravo is a military party
        assert marker.point["lat"] == pytest.approx(48.5, abs=1e-3)
        assert 36.0 < marker.point["lon"] < 36.01  # where the corridor touches alpha's AOR
        assert marker.stale > datetime.now(UTC) + timedelta(hours=3)  # the window's end
        assert marker.uid.lower().endswith(code.group(1).lower())
        briefing = rx.wait(lambda e: is_chat(e, "RECOGNITION BRIEFING", "BRIEFED"))
        assert "radar" in briefing.remarks  # the recognition profile

        say(rx, f"ACK {code.group(1)}")
        reply = rx.wait(lambda e: is_chat(e, "answered acknowledged"))
        assert "TAK certificate" in reply.remarks
        assert reply.point["ce"] == 9999999.0

        board = world.get(world.coord_b, "/v1/dashboard/awareness?asset=b-sam-1")
        told = {row["unit_id"]: row for row in board["told"]}
        answered = told["a-drones"]["response"]
        assert answered["response"] == "acknowledged"
        assert "DRONES-1" in answered["by"] and "CN=a-drones" in answered["by"]
        assert "a-drones" not in board["unanswered"]

        say(rx, "ACK 000000")  # no such code: the reply names the problem
        rx.wait(lambda e: is_chat(e, "Not understood (000000)"))
        brief_code = CODE.search(briefing.remarks)
        assert brief_code is not None
        say(rx, f"OURS {brief_code.group(1)}")  # a briefing takes BRIEFED only
        rx.wait(lambda e: is_chat(e, "Refused (response)"))
        say(rx, f"BRIEFED {brief_code.group(1).lower()}")
        rx.wait(lambda e: is_chat(e, "answered briefed"))
    finally:
        rx.close()


def test_a_check_by_chat_answers_at_zero_zero_and_is_stored(world: World) -> None:
    world.post(world.coord_a, "/v1/assets", asset("alpha-chk-1", "alpha"))
    world.post(world.coord_a, "/v1/reports", [report("alpha-chk-1", 48.3, 35.3)])
    rx = Receiver(world.tls_port, world.drones)
    try:
        say(rx, "CHECK 48.3005 35.3005 wheeled radar")
        reply = rx.wait(lambda e: is_chat(e, "CHECK HOLD"))
        assert "valid until" in reply.remarks and "alpha-chk-1" in reply.remarks
        assert reply.point == {"lat": 0.0, "lon": 0.0, "ce": 9999999.0, "le": 9999999.0}
        check_id = re.search(r"id (chk_[0-9a-f]+)", reply.remarks)
        assert check_id is not None
        stored = world.get(world.op_a, f"/v1/checks/{check_id.group(1)}")  # stored and audited
        assert stored["verdict"] == "HOLD"

        say(rx, "CHECK 37U DB 0000 0000")  # MGRS, far from anything registered
        rx.wait(lambda e: is_chat(e, "CHECK NO_KNOWN_MATCH", "not a clearance"))
        say(rx, "CHECK 95 35")
        rx.wait(lambda e: is_chat(e, "Not understood", "lat"))
        say(rx, "CHECK 48.3 35.3 hovercraft")
        rx.wait(lambda e: is_chat(e, "Not understood (hovercraft)"))
        # A check's position never becomes a map object: only chats sit at 0,0.
        for event in rx.received():
            if event.type != "b-t-f":
                assert (event.point["lat"], event.point["lon"]) != (48.3005, 35.3005)
    finally:
        rx.close()


def test_the_picture_shows_only_what_the_party_may_see(world: World) -> None:
    alpha_rx = Receiver(world.tls_port, world.drones)
    bravo_rx = Receiver(world.tls_port, world.bravo)
    try:
        world.post(world.coord_a, "/v1/assets", asset("alpha-secret-1", "alpha"))
        world.post(world.coord_a, "/v1/assets", asset("alpha-shared-1", "alpha", ["bravo"]))
        world.post(
            world.coord_a,
            "/v1/sites",
            {
                "id": "alpha-site-secret",
                "party_id": "alpha",
                "kind": "hospital",
                "position": {"lat": 48.6, "lon": 35.6},
                "radius_m": 200,
            },
        )
        world.post(
            world.coord_a,
            "/v1/reports",
            [report("alpha-secret-1", 48.41, 35.41), report("alpha-shared-1", 48.42, 35.42)],
        )
        shared = bravo_rx.wait(lambda e: e.uid == "deconfliction.asset.alpha-shared-1")
        assert shared.type.startswith("a-f-G")
        assert shared.point["lat"] == pytest.approx(48.42)
        assert shared.stale > datetime.now(UTC) + timedelta(hours=5)  # the 6 h horizon
        alpha_rx.wait(lambda e: e.uid == "deconfliction.asset.alpha-secret-1")
        alpha_rx.wait(lambda e: e.uid == "deconfliction.site.alpha-site-secret")
        # A newer report moves the marker at once.
        world.post(world.coord_a, "/v1/reports", [report("alpha-shared-1", 48.45, 35.45, -1)])
        bravo_rx.wait(
            lambda e: (
                e.uid == "deconfliction.asset.alpha-shared-1"
                and e.point["lat"] == pytest.approx(48.45)
            )
        )
        # Bravo's movement is bravo's: its own picture has the route.
        world.bravo_movement("b-sam-2", "b-move-2", ["alpha"])
        route = bravo_rx.wait(lambda e: e.uid == "deconfliction.movement.b-move-2")
        assert route.type == "b-m-r"
        assert len(route.root.findall("detail/link")) == 2
        # ... and alpha's receiver got it too (releasable to alpha), with the announcement;
        alpha_rx.wait(lambda e: e.uid == "deconfliction.movement.b-move-2")
        alpha_rx.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-2"))
        # A movement bravo keeps to itself: its route goes to bravo's clients only, while
        # alpha's drone team is still told of the arrival.
        world.bravo_movement("b-sam-5", "b-move-5")
        bravo_rx.wait(lambda e: e.uid == "deconfliction.movement.b-move-5")
        alpha_rx.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-5"))
        assert not any("b-move-5" in e.uid for e in alpha_rx.received())
        # Everything bravo got: nothing of alpha's that bravo may not see.
        for event in bravo_rx.received():
            assert "alpha-secret" not in event.raw.decode(), event.raw
            assert not event.type.startswith("a-h")
            assert not (event.type == "b-t-f" and "a-drones" in event.remarks)
            if event.uid.startswith("deconfliction.arrival."):
                raise AssertionError(f"bravo got an arrival marker: {event.raw!r}")
        # A deleted site leaves the map on the delete (its write hook), not at a resync.
        with world.server.client(world.coord_a) as c:
            r = c.delete("/v1/sites/alpha-site-secret")
        assert r.status_code == 204, r.text
        alpha_rx.wait(
            lambda e: e.type == "t-x-d-d" and e.uid.endswith("deconfliction.site.alpha-site-secret")
        )
    finally:
        alpha_rx.close()
        bravo_rx.close()


def test_a_plain_port_client_receives_nothing(world: World) -> None:
    plain = socket.create_connection(("127.0.0.1", world.tcp_port), timeout=10)
    rx = Receiver(world.tls_port, world.drones)
    try:
        world.bravo_movement("b-sam-4", "b-move-4")
        rx.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-4"))
        plain.setblocking(False)
        with pytest.raises(BlockingIOError):
            plain.recv(1)
    finally:
        plain.close()
        rx.close()


def test_a_client_that_reconnects_gets_what_it_missed(world: World) -> None:
    issued = issue_client(world.data_dir, "a-drones", world.root / "drones-2")
    first = Receiver(world.tls_port, issued)
    try:
        world.bravo_movement("b-sam-3a", "b-move-3a")
        first.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-3a"))
    finally:
        first.close()
    # Offline: two more arrivals for the unit.
    world.bravo_movement("b-sam-3b", "b-move-3b")
    world.bravo_movement("b-sam-3c", "b-move-3c")
    wait_for(
        lambda: (
            len(
                world.get(world.op_a, "/v1/units/a-drones/notifications?state=all&limit=1000")[
                    "items"
                ]
            )
            > 0
        )
    )
    again = Receiver(world.tls_port, issued)
    try:
        again.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-3b"))
        again.wait(lambda e: is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-3c"))
        again.wait(lambda e: e.uid.startswith("deconfliction.arrival."))
        # Delivered before it went offline: not sent again.
        assert not any(is_chat(e, "ANNOUNCED ARRIVAL", "b-sam-3a") for e in again.received())
    finally:
        again.close()
    summaries = [line for line in world.server.log().splitlines() if "cot connection ended" in line]
    assert any('"sent": {' in line and '"notification":' in line for line in summaries)


def test_a_client_that_negotiates_tak_protocol_is_sent_protobuf(world: World) -> None:
    now = datetime.now(UTC)
    query = CotEvent(
        uid="takp-query",
        type="t-x-takp-q",
        how="m-g",
        time=now,
        start=now,
        stale=now + timedelta(minutes=1),
        point=Point(0.0, 0.0, UNKNOWN, UNKNOWN, UNKNOWN),
        detail=Detail(extra_xml='<TakControl><TakRequest version="1"/></TakControl>'),
    )
    sock = tls_connect(world.tls_port, world.drones.context())
    sock.settimeout(15)
    try:
        sock.sendall(render_event(query))
        data = b""
        while True:
            data += sock.recv(65536)  # the picture in XML, then the answer
            cut = data.find(b"t-x-takp-r")
            if cut >= 0 and b"</event>" in data[cut:]:
                end = data.index(b"</event>", cut) + len(b"</event>")
                data, rest = data[:end], data[end:]
                break
        world.post(world.coord_a, "/v1/assets", asset("alpha-proto-out", "alpha"))
        world.post(world.coord_a, "/v1/reports", [report("alpha-proto-out", 48.31, 35.31)])
        framer = StreamFramer(Framing.STREAM)
        events = [decode_frame(Framing.STREAM, f) for f in framer.feed(rest)]
        while not any(e.uid == "deconfliction.asset.alpha-proto-out" for e in events):
            events += [decode_frame(Framing.STREAM, f) for f in framer.feed(sock.recv(65536))]
        assert framer.rejected == []  # after the answer, only TAK Protocol frames
        marker = next(e for e in events if e.uid == "deconfliction.asset.alpha-proto-out")
        assert marker.type == "a-f-G" and marker.point.lat == pytest.approx(48.31)
        for event in events:  # and each is an event takproto reads, by the CoT rules
            validate(render_event(event))
            message = takproto.parse_proto(bytearray(encode_stream(event)))
            assert message.cotEvent.uid == event.uid
    finally:
        sock.close()
