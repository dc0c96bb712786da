"""Framing: events out of arbitrary reads, resynchronisation, TAK Protocol stream and mesh."""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconfliction.cot.errors import CotError, CotTooLarge
from deconfliction.cot.event import CotEvent, Detail, Point, Remarks
from deconfliction.cot.framing import (
    MESH_HEADER,
    Protocol,
    StreamFramer,
    decode_datagram,
    decode_frame,
    detect_protocol,
    read_varint,
)
from deconfliction.cot.proto import encode_mesh, encode_stream
from deconfliction.cot.xml import MAX_EVENT_BYTES, XML_DECLARATION, parse_event, render_event
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit


def big_event(size: int) -> bytes:
    """A well-formed event of about ``size`` bytes (too big to construct as a CotEvent)."""
    return EVENTS[4].replace(b"<detail>", b"<detail><remarks>" + b"x" * size + b"</remarks>")


def big_frame(size: int) -> bytes:
    """A TAK Protocol stream frame declaring (and carrying) ``size`` payload bytes."""
    length = bytearray()
    value = size
    while True:
        byte = value & 0x7F
        value >>= 7
        length.append(byte | (0x80 if value else 0))
        if not value:
            return b"\xbf" + bytes(length) + b"\x0a" * size


def make_event(n: int = 0, remarks: str = "") -> CotEvent:
    return CotEvent(
        uid=f"uid-{n}",
        type="a-f-G-U-C",
        how="m-g",
        time=FIXED_NOW,
        start=FIXED_NOW,
        stale=FIXED_NOW + timedelta(minutes=5),
        point=Point(48.0 + n / 1000, 2.0, 0.0, 10.0, 5.0),
        detail=Detail(callsign=f"C-{n}", remarks=Remarks(remarks) if remarks else None),
    )


EVENTS = [render_event(make_event(n)) for n in range(5)]


def drain(framer: StreamFramer) -> tuple[list[bytes], list[CotError]]:
    frames: list[bytes] = []
    errors: list[CotError] = []
    while True:
        try:
            frame = framer.next_frame()
        except CotError as exc:
            errors.append(exc)
            continue
        if frame is None:
            return frames, errors
        frames.append(frame)


def feed_all(framer: StreamFramer, chunks: list[bytes]) -> tuple[list[bytes], list[CotError]]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames, framer.take_rejected()


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- XML ------------------------------------------------------------------------------------


def test_one_event_in_one_read() -> None:
    framer = StreamFramer(Protocol.XML)
    assert framer.feed(EVENTS[0]) == [EVENTS[0]]
    assert framer.rejected == []


def test_event_split_byte_by_byte() -> None:
    framer = StreamFramer(Protocol.XML)
    frames, errors = feed_all(framer, chunked(EVENTS[0], 1))
    assert frames == [EVENTS[0]]
    assert errors == []


def test_several_events_in_one_read_with_declarations_and_whitespace() -> None:
    stream = (
        XML_DECLARATION
        + EVENTS[0]
        + b"\n\n"
        + XML_DECLARATION
        + EVENTS[1]
        + b"<!-- keepalive -->"
        + EVENTS[2]
        + b"\r\n"
        + b"\xef\xbb\xbf"
        + EVENTS[3]
    )
    framer = StreamFramer(Protocol.XML)
    assert framer.feed(stream) == EVENTS[:4]
    assert framer.rejected == []
    assert [parse_event(frame).uid for frame in EVENTS[:4]] == [f"uid-{n}" for n in range(4)]


def test_self_closing_event_and_spaced_end_tag() -> None:
    ping = b'<event version="2.0" uid="takPong" type="t-x-d-d" how="m-g"/>'
    spaced = EVENTS[1].replace(b"</event>", b"</event  >")
    framer = StreamFramer(Protocol.XML)
    assert framer.feed(ping + spaced + EVENTS[2]) == [ping, spaced, EVENTS[2]]
    with pytest.raises(CotError) as caught:
        parse_event(ping)
    assert caught.value.field == "point"


def test_garbage_between_events_is_reported_once_and_skipped() -> None:
    framer = StreamFramer(Protocol.XML)
    frames = framer.feed(EVENTS[0] + b"hello \x00\xff garbage </event> more" + EVENTS[1])
    assert frames == [EVENTS[0], EVENTS[1]]
    assert len(framer.take_rejected()) == 1


def test_garbage_across_reads_is_reported_once() -> None:
    framer = StreamFramer(Protocol.XML)
    frames, errors = feed_all(
        framer, [b"x" * 1000, b"y" * 1000, b"z" * 10 + EVENTS[0][:20], EVENTS[0][20:]]
    )
    assert frames == [EVENTS[0]]
    assert len(errors) == 1
    assert framer.buffered == 0


def test_truncated_event_does_not_swallow_the_next() -> None:
    framer = StreamFramer(Protocol.XML)
    frames = framer.feed(EVENTS[0][:50] + EVENTS[1] + EVENTS[2])
    assert frames == [EVENTS[1], EVENTS[2]]
    assert [e.field for e in framer.take_rejected()] == ["stream"]


def test_an_unfinished_declaration_does_not_swallow_an_event_containing_its_closer() -> None:
    tricky = render_event(make_event(7, remarks="really?> yes"))
    framer = StreamFramer(Protocol.XML)
    assert framer.feed(b"<?xml version" + tricky + EVENTS[0]) == [tricky, EVENTS[0]]
    assert len(framer.take_rejected()) == 1


def test_oversized_event_raises_and_the_framer_resynchronises() -> None:
    big = big_event(MAX_EVENT_BYTES + 10)
    framer = StreamFramer(Protocol.XML)
    framer.push(big[:40_000])
    assert framer.next_frame() is None
    framer.push(big[40_000:])
    with pytest.raises(CotTooLarge):
        framer.next_frame()
    framer.push(EVENTS[1])
    frames, errors = drain(framer)
    assert frames == [EVENTS[1]]
    assert errors == []


def test_a_ten_megabyte_event_keeps_memory_flat_and_loses_nothing_after() -> None:
    big = big_event(10_000_000)
    framer = StreamFramer(Protocol.XML)
    peak = 0
    frames: list[bytes] = []
    for chunk in chunked(EVENTS[0] + big + EVENTS[1], 65_536):
        frames.extend(framer.feed(chunk))
        peak = max(peak, framer.buffered)
    assert frames == [EVENTS[0], EVENTS[1]]
    assert [type(e) for e in framer.take_rejected()] == [CotTooLarge]
    assert peak <= MAX_EVENT_BYTES + 65_536


def test_a_complete_oversized_event_in_one_read() -> None:
    big = big_event(MAX_EVENT_BYTES)
    framer = StreamFramer(Protocol.XML)
    assert framer.feed(big + EVENTS[0]) == [EVENTS[0]]
    assert [type(e) for e in framer.take_rejected()] == [CotTooLarge]


def test_slow_drip_is_linear() -> None:
    """A start tag that never closes, sent in tiny reads, must not make framing quadratic."""
    import time

    for opening in (b"<event ", b"<?xml ", b"<!-- "):
        framer = StreamFramer(Protocol.XML)
        started = time.perf_counter()
        framer.feed(opening)
        for _ in range(MAX_EVENT_BYTES // 8):
            framer.feed(b'a="1234"')
        assert time.perf_counter() - started < 1.0, opening
        framer.feed(b"x" * 100 + EVENTS[0])
        assert framer.feed(EVENTS[1]) == [EVENTS[1]]


def test_auto_detection_picks_xml_and_reports_leading_garbage() -> None:
    framer = StreamFramer()
    assert framer.feed(b"junk" + EVENTS[0]) == [EVENTS[0]]
    assert framer.protocol is Protocol.XML
    assert len(framer.take_rejected()) == 1


# --- TAK Protocol ---------------------------------------------------------------------------

STREAM_FRAMES = [encode_stream(make_event(n)) for n in range(5)]


def payload_of(frame: bytes) -> bytes:
    value, start = read_varint(frame, 1) or (0, 0)
    assert len(frame) - start == value
    return frame[start:]


def test_protobuf_stream_is_detected_and_framed() -> None:
    framer = StreamFramer()
    frames, errors = feed_all(framer, chunked(b"".join(STREAM_FRAMES), 7))
    assert framer.protocol is Protocol.STREAM
    assert errors == []
    assert frames == [payload_of(f) for f in STREAM_FRAMES]
    assert [decode_frame(Protocol.STREAM, f) for f in frames] == [make_event(n) for n in range(5)]


def test_oversized_protobuf_frame_is_skipped_by_its_length() -> None:
    big = big_frame(MAX_EVENT_BYTES + 1)
    framer = StreamFramer(Protocol.STREAM)
    frames, errors = feed_all(framer, chunked(STREAM_FRAMES[0] + big + STREAM_FRAMES[1], 1000))
    assert frames == [payload_of(STREAM_FRAMES[0]), payload_of(STREAM_FRAMES[1])]
    assert [type(e) for e in errors] == [CotTooLarge]


def test_protobuf_garbage_resynchronises_at_the_next_magic_byte() -> None:
    framer = StreamFramer(Protocol.STREAM)
    frames = framer.feed(b"\x00\x01\x02" + STREAM_FRAMES[0])
    assert frames == [payload_of(STREAM_FRAMES[0])]
    assert len(framer.take_rejected()) == 1


def test_overlong_varint_is_an_error() -> None:
    framer = StreamFramer(Protocol.STREAM)
    frames = framer.feed(b"\xbf" + b"\xff" * 11 + STREAM_FRAMES[0])
    assert frames[-1] == payload_of(STREAM_FRAMES[0])
    assert framer.take_rejected()


def test_corrupt_payload_is_a_cot_error() -> None:
    with pytest.raises(CotError) as caught:
        decode_frame(Protocol.STREAM, b"\xff\xff\xff\xff")
    assert caught.value.field == "protobuf"


def test_switch_from_xml_to_protobuf_between_frames() -> None:
    """TAK Protocol negotiation: the client's request is the last XML it sends."""
    framer = StreamFramer()
    framer.push(EVENTS[0] + EVENTS[1] + STREAM_FRAMES[2] + STREAM_FRAMES[3])
    assert framer.next_frame() == EVENTS[0]
    assert framer.next_frame() == EVENTS[1]
    framer.switch(Protocol.STREAM)
    assert framer.next_frame() == payload_of(STREAM_FRAMES[2])
    assert framer.next_frame() == payload_of(STREAM_FRAMES[3])
    assert framer.next_frame() is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", None),
        (b"   ", None),
        (b"<", Protocol.XML),
        (b"\n<?xml", Protocol.XML),
        (b"\xef\xbb\xbf<event", Protocol.XML),
        (b"\xbf", None),
        (b"\xbf\x01", None),
        (b"\xbf\x05", Protocol.STREAM),
        (b"\xbf\x01\xbf", Protocol.MESH),
        (b"\xbf\x8a\x01\x12", Protocol.STREAM),
    ],
)
def test_detect_protocol(data: bytes, expected: Protocol | None) -> None:
    assert detect_protocol(data) is expected


def test_detect_protocol_rejects_other_bytes() -> None:
    with pytest.raises(CotError):
        detect_protocol(b"GET / HTTP/1.1")


def test_datagrams_xml_and_mesh() -> None:
    event = make_event(3)
    assert decode_datagram(render_event(event)) == event
    assert decode_datagram(XML_DECLARATION + render_event(event)) == event
    mesh = encode_mesh(event)
    assert mesh.startswith(MESH_HEADER)
    assert decode_datagram(mesh) == event
    # pytak's unicast UDP: one TAK Protocol stream frame, exactly the datagram.
    assert decode_datagram(encode_stream(event)) == event


@pytest.mark.parametrize(
    "data",
    [
        b"\xbf\x02\xbf" + b"\x12\x00",  # an unknown protocol version
        STREAM_FRAMES[0][:-1],  # a stream frame longer than the datagram
        STREAM_FRAMES[0] + b"\x00",  # ... or shorter
        b"\xbf",
        b"\x00garbage",
        b"",
        MESH_HEADER + b"\xff\xff",
        MESH_HEADER,  # no event in it
    ],
)
def test_bad_datagrams(data: bytes) -> None:
    with pytest.raises(CotError):
        decode_datagram(data)


def test_oversized_datagram() -> None:
    with pytest.raises(CotTooLarge):
        decode_datagram(MESH_HEADER + b"\x00" * (MAX_EVENT_BYTES + 10))


# --- properties -----------------------------------------------------------------------------


def _cuts(data: st.DataObject, length: int) -> list[int]:
    cuts = data.draw(st.lists(st.integers(0, length), max_size=20))
    return sorted(set(cuts))


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


SEPARATORS = st.sampled_from([b"", b"\n", b"\r\n", b"  ", XML_DECLARATION, b"<!-- c -->"])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_chunking_reproduces_exactly_the_events(data: st.DataObject) -> None:
    indices = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=8))
    stream = b"".join(data.draw(SEPARATORS) + EVENTS[i] for i in indices)
    framer = StreamFramer(data.draw(st.sampled_from([Protocol.XML, None])))
    frames, errors = feed_all(framer, _split(stream, _cuts(data, len(stream))))
    assert errors == []
    assert frames == [EVENTS[i] for i in indices]


GARBAGE = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"<event",
            b"<event ",
            b"<event>",
            b"</event>",
            b"<ev",
            b"<",
            b"<?xml",
            b"<!--",
            b"<event/>",
            b"<event x='>'",
            b"\xbf\x01\xbf",
            b"&lol;",
            b"<!DOCTYPE x>",
        ]
    ),
    st.builds(lambda i, cut: EVENTS[i][:cut], st.integers(0, 4), st.integers(1, 200)),
    st.builds(lambda i, cut: EVENTS[i][cut:], st.integers(0, 4), st.integers(1, 200)),
)


def _is_subsequence(needles: list[bytes], haystack: list[bytes]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_garbage_never_loses_a_following_valid_event(data: st.DataObject) -> None:
    indices = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=6))
    garbage = [data.draw(GARBAGE) for _ in indices]
    stream = b"".join(g + EVENTS[i] for g, i in zip(garbage, indices, strict=True))
    framer = StreamFramer(Protocol.XML)
    frames: list[bytes] = []
    for chunk in _split(stream, _cuts(data, len(stream))):
        frames.extend(framer.feed(chunk))  # raises nothing: errors are collected
    assert all(isinstance(e, CotError) for e in framer.rejected)
    assert _is_subsequence([EVENTS[i] for i in indices], frames)
    for frame in frames:  # whatever else came out, parsing it only ever raises CotError
        with contextlib.suppress(CotError):
            parse_event(frame)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_pull_style_raises_only_cot_errors_and_keeps_going(data: st.DataObject) -> None:
    indices = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))
    stream = b"".join(data.draw(GARBAGE) + EVENTS[i] for i in indices)
    framer = StreamFramer(Protocol.XML)
    frames: list[bytes] = []
    for chunk in _split(stream, _cuts(data, len(stream))):
        framer.push(chunk)
        got, _ = drain(framer)
        frames.extend(got)
    assert _is_subsequence([EVENTS[i] for i in indices], frames)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_chunking_of_a_protobuf_stream(data: st.DataObject) -> None:
    indices = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=8))
    stream = b"".join(STREAM_FRAMES[i] for i in indices)
    framer = StreamFramer(data.draw(st.sampled_from([Protocol.STREAM, None])))
    frames, errors = feed_all(framer, _split(stream, _cuts(data, len(stream))))
    assert errors == []
    assert frames == [payload_of(STREAM_FRAMES[i]) for i in indices]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_protobuf_garbage_only_raises_cot_errors(garbage: bytes, size: int) -> None:
    framer = StreamFramer(Protocol.STREAM)
    framer.push(garbage)
    frames, _ = drain(framer)
    for frame in frames:
        with contextlib.suppress(CotError):
            decode_frame(Protocol.STREAM, frame)
    for piece in chunked(garbage, size):
        with contextlib.suppress(CotError):
            decode_datagram(piece)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.text(max_size=12), min_size=8, max_size=8),
    numbers=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=7, max_size=7),
    times=st.lists(st.integers(0, 2**64 - 1), min_size=3, max_size=3),
    battery=st.integers(0, 2**32 - 1),
)
def test_any_well_typed_protobuf_only_raises_cot_errors(
    texts: list[str], numbers: list[float], times: list[int], battery: int
) -> None:
    """Structured fuzz: every field of a TakMessage, filled with anything its type allows."""
    from takproto.proto import TakMessage  # type: ignore[import-untyped]

    message = TakMessage()
    cot = message.cotEvent
    cot.uid, cot.type, cot.how, cot.access = texts[:4]
    cot.detail.contact.callsign, cot.detail.group.name = texts[4:6]
    cot.detail.xmlDetail = texts[6]
    cot.detail.takv.device = texts[7]
    cot.lat, cot.lon, cot.hae, cot.ce, cot.le = numbers[:5]
    cot.detail.track.speed, cot.detail.track.course = numbers[5:7]
    cot.sendTime, cot.startTime, cot.staleTime = times
    cot.detail.status.battery = battery
    payload = message.SerializeToString()
    with contextlib.suppress(CotError):
        decode_frame(Protocol.STREAM, payload)
    with contextlib.suppress(CotError):
        decode_datagram(MESH_HEADER + payload)
