"""CoT events for the codec's tests: one with the usual fields at the fixed time, one with
every detail field at once (the round trip and the fuzz target start from it)."""

from __future__ import annotations

from datetime import timedelta

from deconfliction.cot.event import Chat, CotEvent, Dest, Detail, Link, Point, Remarks
from tests.support.clock import FIXED_NOW


def make_event(**overrides: object) -> CotEvent:
    fields: dict[str, object] = {
        "uid": "ANDROID-0123456789abcdef",
        "type": "a-f-G-U-C",
        "how": "m-g",
        "time": FIXED_NOW,
        "start": FIXED_NOW,
        "stale": FIXED_NOW + timedelta(minutes=5),
        "point": Point(48.8566, 2.3522, 35.0, 10.0, 5.0),
        "detail": Detail(callsign="BLUE-7"),
    }
    fields.update(overrides)
    return CotEvent(**fields)  # type: ignore[arg-type]


def full_event() -> CotEvent:
    return make_event(
        access="Unclassified",
        detail=Detail(
            callsign="BLUE-7",
            endpoint="*:-1:stcp",
            group_name="Cyan",
            group_role="Team Lead",
            course=271.5,
            speed=12.25,
            remarks=Remarks("convoy <A> & \"B\" ]]> 'ok' — ünïcödé", source="s", to="t"),
            dests=(Dest(callsign="RAVEN"), Dest(uid="ANDROID-9")),
            chat=Chat(
                chatroom="RAVEN",
                chat_id="ANDROID-9",
                sender_callsign="BLUE-7",
                message_id="m-1",
                parent="RootContactGroup",
                group_owner=False,
                members=("ANDROID-0123456789abcdef", "ANDROID-9"),
            ),
            links=(Link("ANDROID-0123456789abcdef", "a-f-G-U-C", "p-p"),),
            extra_xml=(
                '<takv device="Pixel" platform="ATAK-CIV" version="5.1"/><status battery="88"/>'
            ),
        ),
    )
