"""CoT to the domain: reports (CEP, unknown ce, future times), types, GeoChat, chat commands."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.cot import mapping
from deconfliction.cot.commands import AnswerCommand, CheckCommand, parse_chat_command
from deconfliction.cot.errors import ChatCommandError, CotError, HostileTypeError
from deconfliction.cot.event import TYPE_RE, CotEvent, Detail, Link, Point
from deconfliction.cot.mapping import (
    assert_not_hostile,
    chat_event,
    chat_message,
    friendly_type_for,
    position_from_event,
    report_from_event,
)
from deconfliction.cot.proto import encode_mesh, encode_stream, message_from_event
from deconfliction.cot.xml import parse_event, render_event
from deconfliction.domain import vocabulary
from deconfliction.domain.geo import R99_PER_CEP
from deconfliction.domain.limits import MAX_CEP_M
from tests.support.clock import FIXED_NOW

pytestmark = pytest.mark.unit


def make_event(
    ce: float = 10.0,
    time: datetime = FIXED_NOW,
    course: float | None = 90.0,
    speed: float | None = 10.0,
    cot_type: str = "a-f-G-U-C",
) -> CotEvent:
    return CotEvent(
        uid="ANDROID-42",
        type=cot_type,
        how="m-g",
        time=time,
        start=time,
        stale=time + timedelta(minutes=5),
        point=Point(48.8566, 2.3522, 35.0, ce, 5.0),
        detail=Detail(callsign="BLUE-7", course=course, speed=speed),
    )


# --- position reports ----------------------------------------------------------------------


def test_report_converts_ce_to_cep_and_speed_to_kmh() -> None:
    report = report_from_event(make_event(ce=10.0), FIXED_NOW, "blue-7")
    assert report is not None
    assert report.asset_id == "blue-7"
    assert report.cep_m == pytest.approx(11.774)
    assert report.speed_kmh == pytest.approx(36.0)
    assert report.course_deg == 90.0
    assert (report.position.lat, report.position.lon) == (48.8566, 2.3522)
    assert report.time == FIXED_NOW
    assert report.source == "authenticated"


def test_position_is_keyed_by_uid() -> None:
    position = position_from_event(make_event(), FIXED_NOW)
    assert position is not None
    assert position.uid == "ANDROID-42"
    assert position.callsign == "BLUE-7"
    plain = position.to_report("blue-7", now=FIXED_NOW, source="plain")
    assert plain.source == "plain"


@pytest.mark.parametrize("ce", [9_999_999.0, 9_999_999.5, 1e12])
def test_unknown_ce_is_no_position(ce: float) -> None:
    assert position_from_event(make_event(ce=ce), FIXED_NOW) is None
    assert report_from_event(make_event(ce=ce), FIXED_NOW, "blue-7") is None


def test_zero_and_largest_known_ce() -> None:
    exact = report_from_event(make_event(ce=0.0), FIXED_NOW, "a")
    assert exact is not None and exact.cep_m == 0.0
    largest = MAX_CEP_M / 1.1774
    coarse = report_from_event(make_event(ce=largest), FIXED_NOW, "a")
    assert coarse is not None
    assert coarse.cep_m == pytest.approx(MAX_CEP_M)
    # The 99 % radius the check uses is 2.58 CEP = 3.04 sigma.
    assert R99_PER_CEP * exact.cep_m == 0.0


@pytest.mark.parametrize("ce", [MAX_CEP_M / 1.1774 * 1.0001, 1e6, 9_999_998.0])
def test_a_known_ce_past_the_cep_limit_is_a_rejection_naming_it(ce: float) -> None:
    # Before the physical ranges, ce 9999998 was taken: a CEP of 11,774 km.
    with pytest.raises(CotError) as caught:
        report_from_event(make_event(ce=ce), FIXED_NOW, "a")
    assert caught.value.field == "point.ce"


@pytest.mark.parametrize("when", [datetime(1969, 12, 31, 23, 59, tzinfo=UTC)])
def test_a_time_outside_the_window_is_a_rejection_naming_it(when: datetime) -> None:
    with pytest.raises(CotError) as caught:
        report_from_event(make_event(time=when), FIXED_NOW, "a")
    assert caught.value.field == "time"


def test_future_time_is_rejected_past_30_seconds() -> None:
    assert (
        report_from_event(make_event(time=FIXED_NOW + timedelta(seconds=30)), FIXED_NOW, "a")
        is not None
    )
    with pytest.raises(CotError) as caught:
        report_from_event(make_event(time=FIXED_NOW + timedelta(seconds=30.001)), FIXED_NOW, "a")
    assert caught.value.field == "time"
    # Even an unknown position in the future is rejected: the time is wrong either way.
    with pytest.raises(CotError):
        position_from_event(
            make_event(ce=9_999_999.0, time=FIXED_NOW + timedelta(minutes=5)), FIXED_NOW
        )


def test_old_reports_are_accepted() -> None:
    report = report_from_event(make_event(time=FIXED_NOW - timedelta(days=3)), FIXED_NOW, "a")
    assert report is not None


@pytest.mark.parametrize(
    ("course", "speed", "course_deg", "speed_kmh"),
    [
        (None, None, None, None),
        (360.0, 0.0, 0.0, 0.0),
        (-90.0, 1.0, 270.0, 3.6),
        (725.0, 2.5, 5.0, 9.0),
        (-1e-300, 1.0, 0.0, 3.6),
        (10.0, -1.0, 10.0, None),  # negative speed: unknown
        (10.0, 5000.0, 10.0, None),  # 18,000 km/h: not believable, left out
    ],
)
def test_track_normalisation(
    course: float | None, speed: float | None, course_deg: float | None, speed_kmh: float | None
) -> None:
    report = report_from_event(make_event(course=course, speed=speed), FIXED_NOW, "a")
    assert report is not None
    assert report.course_deg == course_deg
    if speed_kmh is None:
        assert report.speed_kmh is None
    else:
        assert report.speed_kmh == pytest.approx(speed_kmh)


def test_bad_asset_id_is_named() -> None:
    with pytest.raises(CotError) as caught:
        report_from_event(make_event(), FIXED_NOW, "not an id!")
    assert caught.value.field == "asset_id"


def test_any_affiliation_becomes_a_report() -> None:
    """Binding is by uid whatever the affiliation: a neutral (or even hostile-typed) event."""
    for cot_type in ("a-n-G", "a-h-G", "a-u-G-U-C"):
        assert report_from_event(make_event(cot_type=cot_type), FIXED_NOW, "a") is not None


@settings(max_examples=200, deadline=None)
@given(ce=st.floats(0, 2e7, allow_nan=False))
def test_cep_is_1_1774_ce_or_nothing(ce: float) -> None:
    if 1.1774 * ce > MAX_CEP_M and ce < 9_999_999.0:
        with pytest.raises(CotError):
            report_from_event(make_event(ce=ce), FIXED_NOW, "a")
        return
    report = report_from_event(make_event(ce=ce), FIXED_NOW, "a")
    if ce >= 9_999_999.0:
        assert report is None
    else:
        assert report is not None
        assert math.isclose(report.cep_m, 1.1774 * ce, rel_tol=1e-12, abs_tol=1e-12)


# --- types and the never-hostile rule --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "party_kind", "expected"),
    [
        ("military", None, "a-f-G"),
        ("civil", None, "a-f-G"),
        ("humanitarian", None, "a-n-G"),
        ("Humanitarian", None, "a-n-G"),
        ("SFGPUCDM--*****", None, "a-f-G-U-C-D-M"),
        ("SHGPUCDM--*****", None, "a-f-G-U-C-D-M"),  # a hostile SIDC still becomes friendly
        ("SJAPMF----*****", None, "a-f-A-M-F"),
        ("SKGPEWRH--", None, "a-f-G-E-W-R-H"),
        ("SNGPUCDM--*****", None, "a-n-G-U-C-D-M"),
        ("SFGPUCDM--*****", "humanitarian", "a-n-G-U-C-D-M"),
        ("sfspxxxx", None, "a-f-S-X-X-X-X"),
        ("SFGP------*****", None, "a-f-G"),
        ("10031500001101000000", None, "a-f-G-E"),
        ("10061000001211000000", None, "a-f-G-U"),  # hostile standard identity, still ours
        ("10040100001101000000", None, "a-n-A"),
        ("10033000001101000000", "humanitarian", "a-n-S"),
        ("", None, "a-f-G"),
        (None, None, "a-f-G"),
        ("garbage", None, "a-f-G"),
        ("a-h-G", None, "a-f-G"),
    ],
)
def test_friendly_type_for(code: str | None, party_kind: str | None, expected: str) -> None:
    assert friendly_type_for(code, party_kind) == expected


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30), st.sampled_from([None, "military", "civil", "humanitarian"]))
def test_friendly_type_for_is_only_ever_friendly_or_neutral(code: str, kind: str | None) -> None:
    cot_type = friendly_type_for(code, kind)
    assert cot_type.startswith(("a-f-", "a-n-"))
    assert TYPE_RE.match(cot_type)


@pytest.mark.parametrize(
    "cot_type",
    ["a-h-G", "a-s-A", "a-j-G-U", "a-k-S", "a-u-G", "a-p-G", "a-.-G", "a", "a-", "A-h-G", "a-H-G"],
)
def test_assert_not_hostile_refuses(cot_type: str) -> None:
    with pytest.raises(HostileTypeError):
        assert_not_hostile(cot_type)


@pytest.mark.parametrize("cot_type", ["a-f-G", "a-n-G-U-C", "a-f", "b-t-f", "t-x-d-d", "u-d-f"])
def test_assert_not_hostile_passes(cot_type: str) -> None:
    assert assert_not_hostile(cot_type) == cot_type


HOSTILE = ["a-h-G", "a-s-G", "a-j-G", "a-k-G", "a-u-G"]
RENDERERS: dict[str, Callable[[CotEvent], object]] = {
    "render_event": render_event,
    "render_event+declaration": lambda e: render_event(e, xml_declaration=True),
    "message_from_event": message_from_event,
    "encode_stream": encode_stream,
    "encode_mesh": encode_mesh,
}


@pytest.mark.parametrize("renderer", RENDERERS.values(), ids=list(RENDERERS))
@pytest.mark.parametrize("cot_type", HOSTILE)
def test_every_renderer_refuses_hostile_types(
    renderer: Callable[[CotEvent], object], cot_type: str
) -> None:
    with pytest.raises(HostileTypeError):
        renderer(make_event(cot_type=cot_type))
    linked = CotEvent(
        uid="x",
        type="b-t-f",
        how="h-g-i-g-o",
        time=FIXED_NOW,
        start=FIXED_NOW,
        stale=FIXED_NOW,
        point=Point(0.0, 0.0),
        detail=Detail(links=(Link("y", cot_type, "p-p"),)),
    )
    with pytest.raises(HostileTypeError):
        renderer(linked)
    renderer(make_event(cot_type="a-f-G"))
    renderer(make_event(cot_type="a-n-G"))


def test_hostile_type_error_is_not_a_cot_error() -> None:
    """A gateway counting and dropping CotErrors must never swallow this bug."""
    assert not issubclass(HostileTypeError, CotError)


def test_chat_event_refuses_a_hostile_sender_type() -> None:
    with pytest.raises(HostileTypeError):
        chat_event("x", now=FIXED_NOW, sender_type="a-h-G")


# --- GeoChat ----------------------------------------------------------------------------------


def test_chat_event_is_never_a_map_object() -> None:
    event = chat_event(
        "HOLD: Blue-7 could be there. Valid until 12:20Z.",
        now=FIXED_NOW,
        recipient_uid="ANDROID-9",
        recipient_callsign="RAVEN",
        message_id="m-1",
    )
    assert event.type == "b-t-f"
    assert (event.point.lat, event.point.lon) == (0.0, 0.0)
    assert event.point.ce == event.point.le == event.point.hae == 9_999_999.0
    assert position_from_event(event, FIXED_NOW) is None
    assert event.uid == "GeoChat.deconfliction.ANDROID-9.m-1"
    chat = event.detail.chat
    assert chat is not None
    assert (chat.chatroom, chat.chat_id, chat.sender_callsign) == (
        "RAVEN",
        "ANDROID-9",
        "DECONFLICTION",
    )
    assert chat.members == ("deconfliction", "ANDROID-9")
    assert event.detail.dest_callsigns == ("RAVEN",)
    assert event.detail.link_uids == ("deconfliction",)
    assert event.detail.remarks is not None
    assert event.detail.remarks.text.startswith("HOLD")
    assert event.stale > event.start


def test_chat_event_round_trips_and_reads_back_as_a_chat_message() -> None:
    event = chat_event("ACK 4F2K <&>", now=FIXED_NOW, recipient_uid="ANDROID-9", message_id="m-2")
    assert parse_event(render_event(event)) == event
    message = chat_message(parse_event(render_event(event)))
    assert message is not None
    assert message.text == "ACK 4F2K <&>"
    assert message.sender_uid == "deconfliction"
    assert message.chat_id == "ANDROID-9"


def test_chat_to_all_rooms_and_sanitised_text() -> None:
    event = chat_event("bell\x07 and " + "x" * 9000, now=FIXED_NOW)
    chat = event.detail.chat
    assert chat is not None and chat.chatroom == "All Chat Rooms"
    assert event.detail.remarks is not None
    assert "\x07" not in event.detail.remarks.text
    assert len(event.detail.remarks.text) <= 8000
    assert event.detail.dests == ()
    render_event(event)


def test_chat_message_of_an_atak_geochat() -> None:
    data = (
        b'<event version="2.0" uid="GeoChat.ANDROID-9.deconfliction.abc" type="b-t-f" '
        b'how="h-g-i-g-o" time="2026-03-01T12:00:00.000Z" start="2026-03-01T12:00:00.000Z" '
        b'stale="2026-03-02T12:00:00.000Z">'
        b'<point lat="48.1" lon="2.1" hae="0" ce="4" le="9999999"/>'
        b'<detail><__chat parent="RootContactGroup" groupOwner="false" messageId="abc" '
        b'chatroom="DECONFLICTION" id="deconfliction" senderCallsign="RAVEN">'
        b'<chatgrp uid0="ANDROID-9" uid1="deconfliction" id="deconfliction"/></__chat>'
        b'<link uid="ANDROID-9" type="a-f-G-U-C" relation="p-p"/>'
        b'<remarks source="BAO.F.ATAK.ANDROID-9" to="deconfliction" '
        b'time="2026-03-01T12:00:00.000Z">'
        b"check 48.85 2.35 wheeled radar</remarks></detail></event>"
    )
    event = parse_event(data)
    message = chat_message(event)
    assert message is not None
    assert (message.sender_uid, message.sender_callsign) == ("ANDROID-9", "RAVEN")
    command = parse_chat_command(message.text)
    assert isinstance(command, CheckCommand)
    assert command.mobility == "wheeled"
    assert command.features == ("radar",)
    assert chat_message(make_event()) is None


# --- chat commands ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verb", "response"),
    [
        ("ACK 4F2K", "ACK", "acknowledged"),
        ("ack 4F2K", "ACK", "acknowledged"),
        ("  Briefed   n-123  ", "BRIEFED", "briefed"),
        ("OURS ntf:9", "OURS", "confirmed_ours"),
    ],
)
def test_answers(text: str, verb: str, response: str) -> None:
    command = parse_chat_command(text)
    assert isinstance(command, AnswerCommand)
    assert command.verb == verb
    assert command.response == response


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("", ""),
        ("   ", ""),
        ("HELLO there", "HELLO"),
        ("ACK", "ACK"),
        ("ACK 4F2K please", "please"),
        ("ACK <b>", "<b>"),
        ("OURS " + "x" * 70, "x" * 70),
    ],
)
def test_bad_answers_name_the_token(text: str, token: str) -> None:
    with pytest.raises(ChatCommandError) as caught:
        parse_chat_command(text)
    assert caught.value.token == token
    assert isinstance(caught.value, CotError)


def test_check_with_lat_lon_mobility_and_features() -> None:
    command = parse_chat_command("CHECK 48.8566 2.3522 wheeled radar launcher")
    assert isinstance(command, CheckCommand)
    assert (command.position.lat, command.position.lon) == (48.8566, 2.3522)
    assert command.mobility == "wheeled"
    assert command.features == ("radar", "launcher")
    assert command.certainty == "probable"
    assert command.cep_m is None


@pytest.mark.parametrize(
    "text",
    [
        "check 48.8566, 2.3522",
        "Check 48.8566,2.3522",
        "CHECK +48.8566 +2.3522",
    ],
)
def test_check_lat_lon_spellings(text: str) -> None:
    command = parse_chat_command(text)
    assert isinstance(command, CheckCommand)
    assert (command.position.lat, command.position.lon) == (48.8566, 2.3522)


def test_check_with_mgrs_compact_and_spaced() -> None:
    compact = parse_chat_command("CHECK 31UDQ5248411718 tracked")
    spaced = parse_chat_command("check 31U DQ 52484 11718 Tracked Antenna-Mast certain 150m")
    assert isinstance(compact, CheckCommand) and isinstance(spaced, CheckCommand)
    assert compact.position == spaced.position
    assert compact.position.lat == pytest.approx(48.8566, abs=1e-3)
    assert compact.position.lon == pytest.approx(2.3522, abs=1e-3)
    assert compact.position.extra_radius_m > 0
    assert spaced.mobility == "tracked"
    assert spaced.features == ("antenna_mast",)
    assert spaced.certainty == "certain"
    assert spaced.cep_m == 150.0


def test_check_becomes_an_observation() -> None:
    command = parse_chat_command("CHECK 48.85 2.35 wheeled radar 80m")
    assert isinstance(command, CheckCommand)
    observation = command.observation("drone-team-1", default_cep_m=50.0, time=FIXED_NOW)
    assert observation.cep_m == 80.0
    assert observation.observed.mobility == "wheeled"
    assert observation.observed.features == ["radar"]
    default = parse_chat_command("CHECK 48.85 2.35")
    assert isinstance(default, CheckCommand)
    assert default.observation("drone-team-1", default_cep_m=50.0).cep_m == 50.0


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("CHECK", "CHECK"),
        ("CHECK 48.85", "48.85"),
        ("CHECK 48.85 east", "east"),
        ("CHECK 95 2.35", "95 2.35"),
        ("CHECK 48.85 200", "48.85 200"),
        ("CHECK nowhere", "nowhere"),
        ("CHECK 48.85 2.35 radr", "radr"),
        ("CHECK 48.85 2.35 wheeled tracked", "tracked"),
        ("CHECK 48.85 2.35 wheeled 17", "17"),
        ("CHECK 31UDQ 52484 1171 wheeled", "52484"),
        ("CHECK 48.85 2.35 200000m", "200000m"),
        ("CHECK 48.85 2.35 10m 20m", "20m"),
    ],
)
def test_bad_checks_name_the_token(text: str, token: str) -> None:
    with pytest.raises(ChatCommandError) as caught:
        parse_chat_command(text)
    assert caught.value.token == token
    assert token in caught.value.message or token in ("CHECK",)


def test_unknown_word_error_lists_the_vocabulary() -> None:
    with pytest.raises(ChatCommandError) as caught:
        parse_chat_command("CHECK 48.85 2.35 hovercraft")
    assert "'hovercraft'" in caught.value.message
    assert "wheeled" in caught.value.message and "radar" in caught.value.message


@pytest.fixture
def extended_vocabulary() -> Iterator[None]:
    saved = vocabulary.current()
    vocabulary.configure(saved.extended(mobility=["hovercraft"], features=["sonar"]))
    yield
    vocabulary.configure(saved)


@pytest.mark.usefixtures("extended_vocabulary")
def test_extended_vocabulary_is_used() -> None:
    command = parse_chat_command("CHECK 48.85 2.35 hovercraft sonar")
    assert isinstance(command, CheckCommand)
    assert (command.mobility, command.features) == ("hovercraft", ("sonar",))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_chat_commands_only_ever_raise_chat_command_errors(text: str) -> None:
    with contextlib.suppress(ChatCommandError):
        parse_chat_command(text)


def test_mapping_re_exports() -> None:
    for name in mapping.__all__:
        assert hasattr(mapping, name)
