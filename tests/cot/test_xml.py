"""The CoT XML codec: round trips, validation that names the attribute, hostile input."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from deconfliction.cot import xml as cotxml
from deconfliction.cot.errors import CotError, CotTooLarge, HostileTypeError
from deconfliction.cot.event import Detail, Point, Remarks
from deconfliction.cot.xml import (
    MAX_EVENT_BYTES,
    format_number,
    format_time,
    parse_event,
    parse_time,
    render_event,
)
from tests.support.cot_events import full_event, make_event

pytestmark = pytest.mark.unit


def xml_event(
    point: str = 'lat="48.8566" lon="2.3522" hae="35" ce="10" le="5"', **attrs: str
) -> bytes:
    base = {
        "version": "2.0",
        "uid": "u-1",
        "type": "a-f-G-U-C",
        "how": "m-g",
        "time": "2026-03-01T12:00:00Z",
        "start": "2026-03-01T12:00:00Z",
        "stale": "2026-03-01T12:05:00Z",
    }
    base.update(attrs)
    head = " ".join(f'{k}="{v}"' for k, v in base.items() if v is not None)
    return f"<event {head}><point {point}/><detail/></event>".encode()


# --- round trips -------------------------------------------------------------------------


def test_round_trip_of_every_field() -> None:
    event = full_event()
    data = render_event(event)
    assert parse_event(data) == event
    assert parse_event(render_event(event, xml_declaration=True)) == event


def test_rendered_form_is_cot_2_0() -> None:
    root = etree.fromstring(render_event(full_event()))
    assert root.tag == "event"
    assert root.get("version") == "2.0"
    assert [child.tag for child in root] == ["point", "detail"]
    assert root.get("time") == "2026-03-01T12:00:00.000Z"
    point = root.find("point")
    assert point is not None
    assert point.attrib == {
        "lat": "48.8566",
        "lon": "2.3522",
        "hae": "35.0",
        "ce": "10.0",
        "le": "5.0",
    }
    detail = root.find("detail")
    assert detail is not None
    assert detail.findtext("remarks") == "convoy <A> & \"B\" ]]> 'ok' — ünïcödé"
    assert detail.find("__chat/chatgrp") is not None
    assert detail.find("takv") is not None


def test_parse_then_render_is_stable_for_foreign_detail() -> None:
    data = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<event version="2.0" uid="ANDROID-1" type="a-f-G-U-C" how="h-e" '
        b'time="2026-03-01T12:00:00.123Z" start="2026-03-01T12:00:00.123Z" '
        b'stale="2026-03-01T12:06:00.123Z">'
        b'<point lat="48.1" lon="2.2" hae="9999999.0" ce="9999999.0" le="9999999.0"/>'
        b'<detail><takv os="34" version="5.1.0" device="PIXEL" platform="ATAK-CIV"/>'
        b'<contact endpoint="*:-1:stcp" callsign="WOLF" phone="123"/>'
        b'<uid Droid="WOLF"/><precisionlocation altsrc="GPS" geopointsrc="GPS"/>'
        b'<__group role="Team Member" name="Cyan"/><status battery="87"/>'
        b'<track course="123.4" speed="0.0"/><_flow-tags_ x="y"/></detail></event>'
    )
    first = parse_event(data)
    assert first.detail.callsign == "WOLF"
    assert first.detail.group_name == "Cyan"
    assert first.detail.course == 123.4
    assert "precisionlocation" in first.detail.extra_xml
    again = parse_event(render_event(first))
    assert again == first


def test_times_keep_microseconds_and_normalise_to_utc() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    event = make_event(time=moment, start=moment, stale=moment + timedelta(seconds=1))
    assert parse_event(render_event(event)) == event
    assert format_time(moment) == "2026-03-01T12:00:00.123456Z"
    plus_two = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(plus_two) == "2026-03-01T12:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01t12:00:00z", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T12:00:00.5Z", datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-01T12:00:00.1234567Z", datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-03-01T14:30:00+02:30", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2026-03-01T11:00:00-01:00", datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_rfc3339_times(text: str, expected: datetime) -> None:
    assert parse_time(text, "time") == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T12:00:00",  # no zone
        "2026-03-01",
        "2026-13-01T12:00:00Z",
        "2026-02-30T12:00:00Z",
        "2026-03-01T25:00:00Z",
        "2026-03-01T12:00:00+24:00",
        "yesterday",
        "",
        "2026-03-01T12:00:00.Z",
        "x" * 100,
    ],
)
def test_bad_times_are_named(text: str) -> None:
    with pytest.raises(CotError) as caught:
        parse_event(xml_event(start=text))
    assert caught.value.field == "start"


def test_numbers_render_without_exponent() -> None:
    assert format_number(9999999.0) == "9999999.0"
    assert format_number(1e-7) == "0.0000001"
    assert float(format_number(5e-99)) == 5e-99
    assert format_number(-0.5) == "-0.5"
    assert format_number(1e22) == "10000000000000000000000"
    assert "e" not in format_number(1.234e-12).lower()


def test_defaults_for_missing_hae_ce_le_are_unknown() -> None:
    event = parse_event(xml_event(point='lat="1" lon="2"'))
    assert event.point == Point(1.0, 2.0, 9999999.0, 9999999.0, 9999999.0)
    assert not event.point.position_known


# --- validation names the attribute ---------------------------------------------------------


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ('lat="nan" lon="2"', "point.lat"),
        ('lat="NaN" lon="2"', "point.lat"),
        ('lat="inf" lon="2"', "point.lat"),
        ('lat="1e999" lon="2"', "point.lat"),
        ('lat="91" lon="2"', "point.lat"),
        ('lat="-90.0001" lon="2"', "point.lat"),
        ('lat="1" lon="180.5"', "point.lon"),
        ('lat="1" lon="-181"', "point.lon"),
        ('lat="1" lon="0x10"', "point.lon"),
        ('lat="1" lon="1_000"', "point.lon"),
        ('lat="1" lon=""', "point.lon"),
        ('lon="2"', "point.lat"),
        ('lat="1" lon="2" ce="-1"', "point.ce"),
        ('lat="1" lon="2" le="-0.1"', "point.le"),
        ('lat="1" lon="2" hae="abc"', "point.hae"),
    ],
)
def test_bad_point_is_named(point: str, field: str) -> None:
    with pytest.raises(CotError) as caught:
        parse_event(xml_event(point=point))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("attrs", "field"),
    [
        ({"uid": ""}, "uid"),
        ({"uid": None}, "uid"),
        ({"uid": "x" * 129}, "uid"),
        ({"uid": "tab&#9;in"}, "uid"),
        ({"type": "A-f-G"}, "type"),
        ({"type": "a--f"}, "type"),
        ({"type": "a f G"}, "type"),
        ({"type": None}, "type"),
        ({"how": "m g"}, "how"),
        ({"time": None}, "time"),
        ({"stale": "2026-03-01T11:59:59Z"}, "stale"),
        ({"version": "two"}, "version"),
    ],
)
def test_bad_event_attributes_are_named(attrs: dict[str, str | None], field: str) -> None:
    with pytest.raises(CotError) as caught:
        parse_event(xml_event(**attrs))  # type: ignore[arg-type]
    assert caught.value.field == field


def test_uid_of_128_chars_is_accepted() -> None:
    assert parse_event(xml_event(uid="x" * 128)).uid == "x" * 128


def test_unknown_ce_is_accepted() -> None:
    event = parse_event(xml_event(point='lat="0" lon="0" hae="0" ce="9999999" le="9999999"'))
    assert event.point.ce == 9999999.0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "event"),
        (b"   \n", "event"),
        (b"<other/>", "event"),
        (b'<event uid="x" type="a-f-G" how="m-g"/>', "point"),
        (
            b'<event uid="x" type="a-f-G" how="m-g" time="2026-03-01T12:00:00Z" '
            b'start="2026-03-01T12:00:00Z" stale="2026-03-01T12:00:00Z">'
            b'<point lat="1" lon="1"/><point lat="1" lon="1"/></event>',
            "point",
        ),
        (b"<event", "event"),
        (b"\xff\xfe<\x00e\x00", "event"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><event/>', "event"),
        (b"<event>&undefined;</event>", "event"),
        (b"<e\xc3\x28vent/>", "event"),
    ],
)
def test_malformed_documents(data: bytes, field: str) -> None:
    with pytest.raises(CotError) as caught:
        parse_event(data)
    assert caught.value.field == field
    assert caught.value.__cause__ is None


def test_bad_track_is_named() -> None:
    data = xml_event().replace(b"<detail/>", b'<detail><track course="1" speed="fast"/></detail>')
    with pytest.raises(CotError) as caught:
        parse_event(data)
    assert caught.value.field == "detail.track.speed"


def test_constructing_an_unrenderable_event_fails_by_field() -> None:
    with pytest.raises(CotError) as caught:
        Detail(callsign="bell\x07")
    assert caught.value.field == "detail.contact.callsign"
    with pytest.raises(CotError) as caught:
        make_event(time=datetime(2026, 3, 1))  # naive
    assert caught.value.field == "time"


def test_every_truncation_is_a_cot_error() -> None:
    data = render_event(full_event())
    for cut in range(len(data)):
        with pytest.raises(CotError):
            parse_event(data[:cut])


# --- hostile input ----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<event version="2.0" uid="&lol9;" type="a-f-G" how="m-g" time="2026-03-01T12:00:00Z"
 start="2026-03-01T12:00:00Z" stale="2026-03-01T12:05:00Z"><point lat="1" lon="1"/>
<detail><remarks>&lol9;</remarks></detail></event>"""


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


class Listener:
    """A local TCP listener that records whether anybody connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _hostile_documents(secret: Path, port: int) -> list[bytes]:
    event = (
        b'<event version="2.0" uid="x" type="a-f-G" how="m-g" time="2026-03-01T12:00:00Z" '
        b'start="2026-03-01T12:00:00Z" stale="2026-03-01T12:05:00Z"><point lat="1" lon="1"/>'
        b"<detail><remarks>&xxe;</remarks></detail></event>"
    )
    file_url = secret.as_uri().encode()
    net_url = f"http://127.0.0.1:{port}/evil".encode()
    return [
        BILLION_LAUGHS,
        b'<!DOCTYPE event [<!ENTITY xxe SYSTEM "' + file_url + b'">]>' + event,
        b'<!DOCTYPE event [<!ENTITY xxe SYSTEM "' + net_url + b'">]>' + event,
        b'<!DOCTYPE event SYSTEM "' + net_url + b'">' + event.replace(b"&xxe;", b""),
        b'<!DOCTYPE event [<!ENTITY % p SYSTEM "' + net_url + b'"> %p;]>' + event,
        b'<?xml version="1.0"?>\n<!DOCTYPE event>' + event.replace(b"&xxe;", b""),
        b'<!doctype event [<!entity xxe "x">]>' + event,
        (
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE event [<!ENTITY xxe SYSTEM "'
            + secret.as_uri()
            + '">]>'
        ).encode("utf-16")
        + event.decode().encode("utf-16")[2:],
        b'<event xmlns:xi="http://www.w3.org/2001/XInclude" version="2.0" uid="x" type="a-f-G" '
        b'how="m-g" time="2026-03-01T12:00:00Z" start="2026-03-01T12:00:00Z" '
        b'stale="2026-03-01T12:05:00Z"><point lat="1" lon="1"/><detail>'
        b'<xi:include href="' + file_url + b'" parse="text"/></detail></event>',
    ]


def test_hostile_documents_are_rejected_without_file_or_network_access(
    secret_file: Path, listener: Listener
) -> None:
    for document in _hostile_documents(secret_file, listener.port):
        try:
            event = parse_event(document)
        except CotError as exc:
            assert "TOP-SECRET" not in str(exc)
        else:  # only the XInclude one parses: as inert, unexpanded detail
            assert "TOP-SECRET" not in repr(event)
            assert "xi:include" in event.detail.extra_xml or "include" in event.detail.extra_xml
    assert listener.connections == 0


def test_the_parser_itself_never_resolves_entities(secret_file: Path, listener: Listener) -> None:
    """Defence in depth: even past the DOCTYPE check, lxml is configured not to fetch."""
    documents = [
        b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "' + secret_file.as_uri().encode() + b'">]><r>&xxe;</r>',
        b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:'
        + str(listener.port).encode()
        + b'/x">]><r>&xxe;</r>',
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:' + str(listener.port).encode() + b'/x.dtd"><r/>',
        BILLION_LAUGHS.replace(b'uid="&lol9;"', b'uid="x"'),
    ]
    for document in documents:
        try:
            root = cotxml._tree(document)
        except CotError:
            continue
        text = etree.tostring(root)
        assert b"TOP-SECRET" not in text
        assert len(text) < 10_000  # no expansion
    assert listener.connections == 0


def test_billion_laughs_is_rejected_quickly() -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(CotError):
        parse_event(BILLION_LAUGHS)
    assert time.perf_counter() - started < 0.5


def test_oversized_event_is_rejected_before_parsing() -> None:
    padding = b" " * (MAX_EVENT_BYTES)
    data = xml_event().replace(b"<detail/>", b"<detail>" + padding + b"</detail>")
    with pytest.raises(CotTooLarge) as caught:
        parse_event(data)
    assert caught.value.field == "event"
    fits = xml_event()
    fits = fits.replace(
        b"<detail/>", b"<detail>" + b" " * (MAX_EVENT_BYTES - len(fits) - 10) + b"</detail>"
    )
    assert len(fits) <= MAX_EVENT_BYTES
    assert parse_event(fits).uid == "u-1"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    nested = b"<a>" * 5000 + b"</a>" * 5000
    data = xml_event().replace(b"<detail/>", b"<detail>" + nested + b"</detail>")
    with pytest.raises(CotError):
        parse_event(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_only_ever_raise_cot_error(data: bytes) -> None:
    with contextlib.suppress(CotError):
        parse_event(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_events_only_ever_raise_cot_error(data: st.DataObject) -> None:
    original = bytearray(render_event(full_event()))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(original) - 1))
        original[at] = data.draw(st.integers(0, 255))
    try:
        event = parse_event(bytes(original))
    except CotError:
        return
    try:
        rendered = render_event(event)
    except HostileTypeError:  # a mutation made the type hostile: the guard refuses it
        return
    assert parse_event(rendered) == event


@settings(max_examples=150, deadline=None)
@given(
    callsign=st.text(max_size=40),
    remarks=st.text(max_size=200),
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    ce=st.floats(0, 1e8),
)
def test_any_text_and_position_round_trip(
    callsign: str, remarks: str, lat: float, lon: float, ce: float
) -> None:
    from deconfliction.cot.event import xml_safe

    event = make_event(
        point=Point(lat, lon, 0.0, ce, 0.0),
        detail=Detail(callsign=xml_safe(callsign), remarks=Remarks(xml_safe(remarks))),
    )
    back = parse_event(render_event(event))
    assert back == event
