"""Interop with the real TAK libraries: pytak (a TAK client) and takproto (TAK Protocol v1).

No mocks of either library: pytak generates and sends events (over a real local
TCP socket where that is what it does), takproto encodes and decodes protobufs,
and lxml and the standard library's parser read what we render.
"""

from __future__ import annotations

import asyncio
import random
import re
import warnings
import xml.etree.ElementTree as ET
from configparser import ConfigParser
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

with warnings.catch_warnings():  # pytak warns about its optional extras (TLS, websockets)
    warnings.simplefilter("ignore")
    import pytak
    import pytak.classes
    import pytak.functions

import takproto  # type: ignore[import-untyped]

from deconfliction.cot.event import Chat, CotEvent, Dest, Detail, Link, Point, Remarks
from deconfliction.cot.framing import Protocol, StreamFramer, decode_datagram, decode_frame
from deconfliction.cot.mapping import (
    chat_event,
    friendly_type_for,
    position_from_event,
    report_from_event,
)
from deconfliction.cot.proto import decode_payload, encode_mesh, encode_stream
from deconfliction.cot.xml import parse_event, render_event
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.interop


def pytak_config(**values: str) -> Any:
    parser = ConfigParser()
    parser.read_dict({"pytak": values})
    return parser["pytak"]


def marker(n: int, cot_type: str = "a-f-G-U-C") -> CotEvent:
    return CotEvent(
        uid=f"deconfliction.asset.{n}",
        type=cot_type,
        how="h-g-i-g-o",
        time=FIXED_NOW,
        start=FIXED_NOW,
        stale=FIXED_NOW + timedelta(hours=6),
        point=Point(48.85 + n / 100, 2.35, 35.0, 12.5, 3.0),
        detail=Detail(
            callsign=f"BLUE-{n}",
            group_name="Cyan",
            group_role="Team Member",
            course=45.0,
            speed=8.5,
            remarks=Remarks(f"wheeled SAM variant <{n}> & co"),
        ),
    )


def our_events() -> list[CotEvent]:
    return [
        marker(1),
        marker(2, friendly_type_for("SFGPUCDM--*****")),
        marker(3, friendly_type_for("humanitarian")),
        chat_event(
            "HOLD: Blue-7 could be there; valid until 12:20Z",
            now=FIXED_NOW,
            recipient_uid="ANDROID-9",
            recipient_callsign="RAVEN",
            message_id="m-1",
        ),
        chat_event("Announcement: arrival 13:00Z", now=FIXED_NOW, message_id="m-2"),
    ]


# --- the CoT event rules of the outbound issue, encoded --------------------------------------

_TYPE = re.compile(r"^\w+(-\w+)*$")
_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def assert_cot_rules(data: bytes) -> None:
    root = etree.fromstring(data)
    assert root.tag == "event"
    for name in ("version", "uid", "type", "how", "time", "start", "stale"):
        assert root.get(name), name
    cot_type = root.get("type") or ""
    assert _TYPE.match(cot_type)
    assert not cot_type.startswith(("a-h", "a-s", "a-j", "a-k"))
    times = {}
    for name in ("time", "start", "stale"):
        text = root.get(name) or ""
        assert _UTC.match(text), text
        times[name] = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert times["stale"] > times["start"]
    point = root.find("point")
    assert point is not None
    assert -90 <= float(point.get("lat") or "nan") <= 90
    assert -180 <= float(point.get("lon") or "nan") <= 180
    assert float(point.get("ce") or "nan") >= 0
    assert float(point.get("le") or "nan") >= 0


@pytest.mark.parametrize("event", our_events(), ids=lambda e: e.uid)
def test_our_events_follow_the_cot_rules_and_parse_with_lxml_and_the_stdlib(
    event: CotEvent,
) -> None:
    data = render_event(event, xml_declaration=True)
    assert_cot_rules(data)
    assert ET.fromstring(data).get("uid") == event.uid
    assert parse_event(data) == event


# --- pytak produces, we parse ---------------------------------------------------------------


def test_pytak_gen_cot_parses() -> None:
    data = pytak.gen_cot(
        lat=48.8566,
        lon=2.3522,
        ce=10,
        hae=35,
        le=5,
        uid="pytak-1",
        stale=120,
        cot_type="a-f-G-U-C",
        callsign="WOLF",
    )
    event = parse_event(data)
    assert (event.uid, event.type, event.detail.callsign) == ("pytak-1", "a-f-G-U-C", "WOLF")
    assert (event.point.lat, event.point.lon, event.point.ce) == (48.8566, 2.3522, 10.0)
    assert event.stale - event.start == pytest.approx(
        timedelta(seconds=120), abs=timedelta(seconds=1)
    )
    report = report_from_event(event, datetime.now(UTC), "wolf")
    assert report is not None and report.cep_m == pytest.approx(11.774)


def test_pytak_defaults_mean_an_unknown_position() -> None:
    event = parse_event(pytak.gen_cot(uid="pytak-2"))
    assert event.point.ce == 9_999_999.0
    assert position_from_event(event, datetime.now(UTC)) is None


def test_pytak_dataclasses_and_detail_helpers_parse() -> None:
    simple = parse_event(
        pytak.COTEvent(
            lat=1.5, lon=-2.5, uid="dc-1", ce=3, le=4, hae=5, stale=60, cot_type="a-n-G"
        ).to_bytes()
    )
    assert (simple.type, simple.point.ce) == ("a-n-G", 3.0)
    detail = pytak.cot_detail(flow_tag=True)
    pytak.add_remarks(detail, ["convoy", "<ok>", "&"])
    element = pytak.cot_event(
        lat=10.0,
        lon=20.0,
        ce=1,
        uid="ev-1",
        cot_type="a-f-G",
        detail=detail,
        callsign="SHEPHERD",
        access="Unclassified",
    )
    event = parse_event(pytak.serialize_cot(element))
    assert event.detail.remarks == Remarks("convoy <ok> &")
    assert event.detail.callsign == "SHEPHERD"
    assert event.access == "Unclassified"
    assert "_flow-tags_" in event.detail.extra_xml


def test_pytak_hello_parses_and_pong_is_framed_then_refused() -> None:
    hello = parse_event(pytak.hello_event())
    assert hello.type == "t-x-d-d"
    framer = StreamFramer()
    frames = framer.feed(pytak.functions.tak_pong() + pytak.gen_cot(uid="after-pong"))
    assert len(frames) == 2
    with pytest.raises(Exception) as caught:  # a pong has no point: not an event we accept
        decode_frame(Protocol.XML, frames[0])
    assert caught.type.__name__ == "CotError"
    assert decode_frame(Protocol.XML, frames[1]).uid == "after-pong"


class _Sink:
    """A byte sink with the writer interface pytak's TXWorker writes to."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


def _pytak_send(config: Any, payloads: list[bytes]) -> bytes:
    sink = _Sink()
    worker = pytak.TXWorker(asyncio.Queue(), config, sink)  # type: ignore[arg-type]

    async def run() -> None:
        for payload in payloads:
            await worker.handle_data(payload)

    asyncio.run(run())
    return bytes(sink.data)


def test_pytak_protobuf_stream_is_framed_and_decoded() -> None:
    sent = [
        pytak.gen_cot(lat=40 + n, lon=n, ce=n + 1, uid=f"p-{n}", callsign=f"P{n}") for n in range(6)
    ]
    stream = _pytak_send(pytak_config(TAK_PROTO="1", COT_URL="tcp://127.0.0.1:8087"), sent)
    assert stream[0] == 0xBF
    framer = StreamFramer()
    rng = random.Random(7)
    frames: list[bytes] = []
    position = 0
    while position < len(stream):
        step = rng.randint(1, 40)
        frames.extend(framer.feed(stream[position : position + step]))
        position += step
    assert framer.protocol is Protocol.STREAM
    assert framer.rejected == []
    decoded = [decode_frame(Protocol.STREAM, frame) for frame in frames]
    assert [e.uid for e in decoded] == [f"p-{n}" for n in range(6)]
    assert [e.detail.callsign for e in decoded] == [f"P{n}" for n in range(6)]
    assert [e.point.ce for e in decoded] == [float(n + 1) for n in range(6)]


def test_pytak_mesh_datagrams_decode() -> None:
    config = pytak_config(TAK_PROTO="1", COT_URL="udp://239.2.3.1:6969")
    for n in range(3):
        datagram = _pytak_send(config, [pytak.gen_cot(lat=n, lon=n, ce=2, uid=f"m-{n}")])
        assert datagram[:3] == b"\xbf\x01\xbf"
        assert decode_datagram(datagram).uid == f"m-{n}"


def test_pytak_over_a_real_tcp_socket() -> None:
    """pytak's own network client sends a burst; our framer on the server side loses nothing."""
    received: list[CotEvent] = []
    count = 200

    async def main() -> None:
        done = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            framer = StreamFramer()
            while chunk := await reader.read(4096):
                received.extend(
                    decode_frame(framer.protocol or Protocol.XML, f) for f in framer.feed(chunk)
                )
            assert framer.rejected == []
            writer.close()
            done.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        config = pytak_config(COT_URL=f"tcp://127.0.0.1:{port}")
        _, writer = await pytak.protocol_factory(config)
        worker = pytak.TXWorker(asyncio.Queue(), config, writer)
        for n in range(count):
            await worker.handle_data(pytak.gen_cot(lat=1.0, lon=n / 10, ce=5, uid=f"burst-{n}"))
        writer.close()
        await asyncio.wait_for(done.wait(), 5)
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert [e.uid for e in received] == [f"burst-{n}" for n in range(count)]


def test_pytak_receiver_reads_our_stream() -> None:
    """pytak's RX path (readuntil </event>) splits what we send into parseable events."""
    events = our_events()
    stream = b"".join(render_event(e, xml_declaration=True) for e in events)
    chunks: list[bytes] = []

    class Receiver(pytak.RXWorker):
        async def handle_data(self, data: bytes) -> None:
            chunks.append(data)

    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(stream)
        reader.feed_eof()
        receiver = Receiver(asyncio.Queue(), pytak_config(), reader)  # type: ignore[arg-type]
        while (data := await receiver.readcot()) is not None:
            chunks.append(data)

    asyncio.run(main())
    assert len(chunks) == len(events)
    for chunk, event in zip(chunks, events, strict=True):
        assert ET.fromstring(chunk).get("uid") == event.uid
        assert parse_event(chunk) == event


# --- takproto: our events through TAK Protocol v1 and back -----------------------------------


@pytest.mark.parametrize("event", our_events(), ids=lambda e: e.uid)
@pytest.mark.parametrize("version", [takproto.TAKProtoVer.STREAM, takproto.TAKProtoVer.MESH])
def test_takproto_reads_our_xml(event: CotEvent, version: Any) -> None:
    encoded = takproto.xml2proto(render_event(event), version)
    message = takproto.parse_proto(bytearray(encoded))
    cot = message.cotEvent
    assert (cot.uid, cot.type, cot.how) == (event.uid, event.type, event.how)
    assert (cot.lat, cot.lon, cot.ce, cot.le) == (
        event.point.lat,
        event.point.lon,
        event.point.ce,
        event.point.le,
    )
    assert cot.sendTime == int(event.time.timestamp() * 1000)
    assert cot.staleTime == int(event.stale.timestamp() * 1000)
    # ... and what takproto made of it decodes back to the same event.
    back = decode_payload(message.SerializeToString())
    assert back == event
    if version == takproto.TAKProtoVer.MESH:
        assert decode_datagram(bytes(encoded)) == event


@pytest.mark.parametrize("event", our_events(), ids=lambda e: e.uid)
def test_takproto_reads_our_protobuf(event: CotEvent) -> None:
    stream = encode_stream(event)
    mesh = encode_mesh(event)
    for encoded in (stream, mesh):
        message = takproto.parse_proto(bytearray(encoded))
        cot = message.cotEvent
        assert (cot.uid, cot.type, cot.lat, cot.lon, cot.ce) == (
            event.uid,
            event.type,
            event.point.lat,
            event.point.lon,
            event.point.ce,
        )
        assert decode_payload(message.SerializeToString()) == event
    message = takproto.parse_proto(bytearray(stream))
    if event.detail.callsign:
        assert message.cotEvent.detail.contact.callsign == event.detail.callsign
        assert message.cotEvent.detail.track.speed == event.detail.speed
    if event.detail.chat is not None:
        assert "__chat" in message.cotEvent.detail.xmlDetail
        assert "<remarks" in message.cotEvent.detail.xmlDetail


@pytest.mark.parametrize("event", our_events(), ids=lambda e: e.uid)
def test_pytak_converts_our_protobuf_back_to_xml(event: CotEvent) -> None:
    # The pinned pytak (requirements-dev.txt) has this helper; a pytak without it fails here.
    takmsg2xml = pytak.classes._takmsg2xml
    xml = takmsg2xml(takproto.parse_proto(bytearray(encode_stream(event))))
    back = parse_event(xml)
    assert (back.uid, back.type) == (event.uid, event.type)
    # pytak writes coordinates truncated to four decimals (about 10 m).
    assert back.point.lat == pytest.approx(event.point.lat, abs=1e-4)
    assert back.point.lon == pytest.approx(event.point.lon, abs=1e-4)
    assert back.detail.remarks == event.detail.remarks


def test_a_takproto_stream_of_several_events_is_framed_and_decoded() -> None:
    events = our_events() * 3
    stream = b"".join(
        bytes(takproto.xml2proto(render_event(e), takproto.TAKProtoVer.STREAM)) for e in events
    )
    for seed in range(5):
        rng = random.Random(seed)
        framer = StreamFramer()
        frames: list[bytes] = []
        position = 0
        while position < len(stream):
            step = rng.choice([1, 2, 3, 50, 500, 5000])
            frames.extend(framer.feed(stream[position : position + step]))
            position += step
        assert framer.rejected == []
        assert [decode_frame(Protocol.STREAM, f) for f in frames] == events


def test_chat_answer_from_a_geochat_event_produced_by_takproto_roundtrip() -> None:
    """An ATAK-style GeoChat (built with our dataclasses) survives takproto's GeoChat path."""
    event = CotEvent(
        uid="GeoChat.ANDROID-9.deconfliction.abc",
        type="b-t-f",
        how="h-g-i-g-o",
        time=FIXED_NOW,
        start=FIXED_NOW,
        stale=FIXED_NOW + timedelta(days=1),
        point=Point(48.1, 2.1, 0.0, 4.0, 9_999_999.0),
        detail=Detail(
            chat=Chat(
                "DECONFLICTION",
                "deconfliction",
                "RAVEN",
                "abc",
                "RootContactGroup",
                False,
                ("ANDROID-9", "deconfliction"),
            ),
            links=(Link("ANDROID-9", "a-f-G-U-C", "p-p"),),
            remarks=Remarks("ACK 4F2K", source="BAO.F.ATAK.ANDROID-9", to="deconfliction"),
            dests=(Dest(callsign="DECONFLICTION"),),
        ),
    )
    mesh = bytes(takproto.xml2proto(render_event(event)))
    assert decode_datagram(mesh) == event
