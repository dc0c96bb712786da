"""A mutation fuzzer for the CoT codec, bounded so that it runs in CI (issue 5).

``test_cot_xml.py`` and ``test_cot_framing.py`` already fuzz with structure in mind
(random bytes, byte flips of one event, garbage between events, every protobuf field).
This file adds a *mutation* fuzzer in the style of atheris/libFuzzer, over every entry
point that reads untrusted bytes — :func:`parse_event`, :func:`decode_payload`,
:func:`decode_datagram` and :class:`StreamFramer` (XML, TAK Protocol stream, detected) —
starting from a corpus of valid inputs (ours, ATAK-like, protobuf stream and mesh) and
applying stacked mutations: byte flips, insertions, deletions, duplicated and swapped
ranges, splices between inputs, truncations and tokens from a dictionary of hostile
markup (DOCTYPE, entities, CDATA, encodings, BOMs, NUL, overlong varints, odd numbers).

The properties: the only exceptions are the codec's own (:class:`CotError`, of which
:class:`CotTooLarge` is one); an event that parses renders (unless its type is
hostile, which the renderer refuses) and parses back to itself; and a framer keeps its
memory within the event limit plus the chunk it was given. A hang fails too: every
example runs under a generous watchdog (``HANG_S``), which guards against loops, not
speed. ``DECONFLICTION_FUZZ_EXAMPLES`` sets the examples per target (default 300: a few
seconds in all); set it to 100000 for a long run by hand.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconfliction.cot.errors import CotError, HostileTypeError
from deconfliction.cot.event import Chat, CotEvent, Detail, Point
from deconfliction.cot.framing import Protocol, StreamFramer, decode_datagram, decode_frame
from deconfliction.cot.mapping import chat_event
from deconfliction.cot.proto import decode_payload, encode_mesh, encode_stream
from deconfliction.cot.xml import MAX_EVENT_BYTES, parse_event, render_event
from tests.support.clock import FIXED_NOW
from tests.support.cot_events import full_event

pytestmark = pytest.mark.unit

EXAMPLES = int(os.environ.get("DECONFLICTION_FUZZ_EXAMPLES", "300"))
#: A single example taking this long is a hang (the slowest take milliseconds).
HANG_S = 30

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _event(uid: str, cot_type: str, **detail: Any) -> CotEvent:
    return CotEvent(
        uid=uid,
        type=cot_type,
        how="m-g",
        time=FIXED_NOW,
        start=FIXED_NOW,
        stale=FIXED_NOW + timedelta(minutes=5),
        point=Point(48.8566, 2.3522, 35.0, 10.0, 5.0),
        detail=Detail(**detail),
    )


def _corpus_events() -> list[CotEvent]:
    return [
        _event("ANDROID-1", "a-f-G-U-C", callsign="BLUE-7"),
        full_event(),  # every detail field at once (tests/cot/test_xml.py)
        _event(
            "GeoChat.ANDROID-1.RAVEN.m-1",
            "b-t-f",
            chat=Chat(
                chatroom="RAVEN",
                chat_id="ANDROID-9",
                sender_callsign="BLUE-7",
                message_id="m-1",
                parent="RootContactGroup",
                group_owner=False,
                members=("ANDROID-1", "ANDROID-9"),
            ),
        ),
        chat_event(
            "ACK B5C6D7 <&> ünï",
            now=FIXED_NOW,
            recipient_uid="ANDROID-1",
            recipient_callsign="BLUE-7",
            message_id="m-2",
        ),
    ]


EVENTS = _corpus_events()
XML_SEEDS = [render_event(e) for e in EVENTS] + [
    render_event(EVENTS[0], xml_declaration=True),
    # As ATAK writes them: attributes in another order, a self-closing detail, a ping.
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" '
    b'uid="ANDROID-x" type="t-x-c-t" time="2026-03-01T12:00:00.000Z" '
    b'start="2026-03-01T12:00:00.000Z" stale="2026-03-01T12:00:20.000Z" how="h-g-i-g-o">'
    b'<point lat="0.0" lon="0.0" hae="9999999.0" ce="9999999.0" le="9999999.0"/><detail/>'
    b"</event>",
]
STREAM_SEEDS = [encode_stream(e) for e in EVENTS]
MESH_SEEDS = [encode_mesh(e) for e in EVENTS]
#: Protobuf payloads without their framing.
PAYLOAD_SEEDS = [frame[2:] if frame[1] < 0x80 else frame[3:] for frame in STREAM_SEEDS]
ALL_SEEDS = XML_SEEDS + STREAM_SEEDS + MESH_SEEDS + PAYLOAD_SEEDS

DICTIONARY = [
    b"<!DOCTYPE event [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>",
    b'<!DOCTYPE lolz [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
    b"<!ENTITY % p SYSTEM 'http://127.0.0.1:9/x'>%p;",
    b"&x;",
    b"&b;",
    b"&#0;",
    b"&#x110000;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"<?xml-stylesheet href='x'?>",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
    b"<event",
    b"</event>",
    b"<event/>",
    b"</event  >",
    b"<point",
    b"<detail>",
    b"</detail>",
    b' lat="NaN"',
    b' lon="inf"',
    b' ce="9999999"',
    b' lat="1e309"',
    b' lat="0x1p3"',
    b' lat="1_0"',
    b' time="2026-13-45T99:99:99Z"',
    b' stale="0001-01-01T00:00:00Z"',
    b' time="2026-03-01T12:00:00"',
    b' type="a-h-G"',
    b' xmlns="urn:x"',
    b' xmlns:x="urn:x" x:uid="y"',
    b"<a>" * 300,
    b"\xbf",
    b"\xbf\x01\xbf",
    b"\xbf\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",
    b"\x80" * 11,
    b"\x0a\xff\xff\xff\xff\x0f",
    b"9" * 400,
]


@contextlib.contextmanager
def watchdog(seconds: int = HANG_S) -> Iterator[None]:
    """Fail an example that runs for ``seconds`` (a hang), on the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hang(signum: int, frame: Any) -> None:
        raise AssertionError(f"an example ran for {seconds} s: the codec hangs")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --- mutations ------------------------------------------------------------------------------


def _mutate(data: st.DataObject, seed: bytes, others: list[bytes]) -> bytes:
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        kind = data.draw(st.integers(0, 8), label="kind")
        at = data.draw(st.integers(0, len(buf)), label="at")
        if kind == 0 and buf:  # flip a byte
            buf[min(at, len(buf) - 1)] = data.draw(st.integers(0, 255))
        elif kind == 1:  # insert random bytes
            buf[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        elif kind == 2:  # delete a range
            del buf[at : at + data.draw(st.integers(1, 64))]
        elif kind == 3:  # duplicate a range
            piece = buf[at : at + data.draw(st.integers(1, 128))]
            buf[at:at] = piece * data.draw(st.integers(1, 4))
        elif kind == 4:  # a token of the dictionary
            buf[at:at] = data.draw(st.sampled_from(DICTIONARY))
        elif kind == 5:  # splice from another input
            other = data.draw(st.sampled_from(others))
            start = data.draw(st.integers(0, len(other)))
            buf[at:at] = other[start : start + data.draw(st.integers(1, 200))]
        elif kind == 6:  # truncate
            del buf[at:]
        elif kind == 7:  # swap two ranges
            end = data.draw(st.integers(at, len(buf)))
            mid = data.draw(st.integers(at, end))
            buf[at:end] = buf[mid:end] + buf[at:mid]
        elif kind == 8 and buf:  # an interesting byte value
            buf[min(at, len(buf) - 1)] = data.draw(
                st.sampled_from([0x00, 0x0A, 0x22, 0x26, 0x3C, 0x3E, 0x7F, 0x80, 0xBF, 0xFF])
            )
    return bytes(buf)


def inputs(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, a seed as is, or a seed mutated."""

    @st.composite
    def mutated(draw: Callable[..., Any]) -> bytes:
        data = draw(st.data())
        return _mutate(data, data.draw(st.sampled_from(seeds)), ALL_SEEDS)

    return st.one_of(
        st.binary(max_size=400),
        st.sampled_from(seeds),
        mutated(),
        mutated(),
        mutated(),
    )


def _round_trips(event: CotEvent) -> None:
    """An event the codec accepted renders and reads back as itself."""
    try:
        rendered = render_event(event)
    except HostileTypeError:  # a mutation made the type hostile: the renderer refuses it
        return
    assert parse_event(rendered) == event


# --- targets --------------------------------------------------------------------------------


@FUZZ
@given(inputs(XML_SEEDS))
def test_parse_event_only_raises_cot_errors(data: bytes) -> None:
    with watchdog():
        try:
            event = parse_event(data)
        except CotError:
            return
        _round_trips(event)


@FUZZ
@given(inputs(PAYLOAD_SEEDS))
def test_decode_payload_only_raises_cot_errors(data: bytes) -> None:
    with watchdog():
        try:
            event = decode_payload(data)
        except CotError:
            return
        _round_trips(event)


@FUZZ
@given(inputs(XML_SEEDS + MESH_SEEDS))
def test_decode_datagram_only_raises_cot_errors(data: bytes) -> None:
    with watchdog():
        try:
            event = decode_datagram(data)
        except CotError:
            return
        _round_trips(event)


@FUZZ
@given(
    st.data(),
    st.sampled_from([None, Protocol.XML, Protocol.STREAM]),
    st.integers(1, 4096),
)
def test_stream_framer_only_raises_cot_errors_and_stays_bounded(
    data: st.DataObject, protocol: Protocol | None, chunk_size: int
) -> None:
    """A stream of several inputs, mutated as a whole, fed in chunks, pulled and pushed."""
    seeds = XML_SEEDS if protocol is Protocol.XML else STREAM_SEEDS if protocol else ALL_SEEDS
    parts = data.draw(st.lists(inputs(seeds), min_size=1, max_size=6), label="parts")
    stream = b"".join(parts)
    if data.draw(st.booleans(), label="mutate whole stream"):
        stream = _mutate(data, stream, ALL_SEEDS)
    limit = 2048  # a small event limit, so that the oversize paths run too
    with watchdog():
        framer = StreamFramer(protocol, max_bytes=limit)
        frames: list[bytes] = []
        for start in range(0, len(stream), chunk_size):
            framer.push(stream[start : start + chunk_size])
            while True:
                try:
                    frame = framer.next_frame()
                except CotError:
                    continue
                if frame is None:
                    break
                frames.append(frame)
            assert framer.buffered <= limit + chunk_size + 16
        for frame in frames:
            assert framer.protocol is not None
            try:
                event = decode_frame(framer.protocol, frame)
            except CotError:
                continue
            _round_trips(event)


def test_the_corpus_itself_is_valid() -> None:
    """The seeds are good inputs, so the mutations start from what clients really send."""
    for seed in XML_SEEDS:
        parse_event(seed)
    for payload in PAYLOAD_SEEDS:
        decode_payload(payload)
    for mesh in MESH_SEEDS:
        decode_datagram(mesh)
    framer = StreamFramer(None)
    assert len(framer.feed(b"".join(STREAM_SEEDS))) == len(STREAM_SEEDS)
    assert framer.take_rejected() == []


@pytest.mark.parametrize("size", [MAX_EVENT_BYTES + 1, 4 * MAX_EVENT_BYTES])
def test_oversized_inputs_are_refused_by_every_target(size: int) -> None:
    from deconfliction.cot.errors import CotTooLarge

    blob = XML_SEEDS[0].replace(b"<detail>", b"<detail><remarks>" + b"x" * size + b"</remarks>")
    for target in (parse_event, decode_payload, decode_datagram):
        with pytest.raises(CotTooLarge):
            target(blob)
