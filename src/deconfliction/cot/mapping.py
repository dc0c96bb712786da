"""Between CoT events and the domain: position reports, marker types, GeoChat.

- :func:`position_from_event` / :func:`report_from_event`: a CoT event to a
  position report. ``ce`` is 1-sigma, so CEP = 1.1774 × ce; a ``ce`` of 9999999
  (or more) means the position is unknown, and such an event is no report
  (``None``). Track speed (m/s) becomes km/h. An event more than 30 s in the
  future is a :class:`CotError`. Events are keyed by uid: binding a uid to an
  asset is the caller's business.
- :func:`friendly_type_for` and :func:`assert_not_hostile`: only friendly and
  neutral atoms are ever emitted.
- :func:`chat_event`: a GeoChat ``b-t-f`` message whose point is 0,0 with
  unknown errors, so that no answer (a check's above all) becomes a map object.
- :func:`chat_message`: the text and sender of an incoming GeoChat message;
  :func:`parse_chat_command` reads the commands in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from deconfliction.cot.affiliation import assert_not_hostile, friendly_type_for
from deconfliction.cot.commands import (
    AnswerCommand,
    ChatCommand,
    CheckCommand,
    parse_chat_command,
)
from deconfliction.cot.errors import CotError
from deconfliction.cot.event import (
    UNKNOWN,
    Chat,
    CotEvent,
    Dest,
    Detail,
    Link,
    Point,
    Remarks,
    xml_safe,
)
from deconfliction.cot.xml import format_time
from deconfliction.domain import limits
from deconfliction.domain.geo import GeoPoint, cep_from_ce
from deconfliction.domain.model import MAX_REPORT_FUTURE, PositionReport

__all__ = [
    "ALL_CHAT_ROOMS",
    "CHAT_TYPE",
    "AnswerCommand",
    "ChatCommand",
    "ChatMessage",
    "CheckCommand",
    "CotPosition",
    "assert_not_hostile",
    "chat_event",
    "chat_message",
    "friendly_type_for",
    "parse_chat_command",
    "position_from_event",
    "report_from_event",
]

#: Metres per second to kilometres per hour.
KMH_PER_MS = 3.6
MAX_SPEED_KMH = limits.MAX_SPEED_KMH
CHAT_TYPE = "b-t-f"
CHAT_HOW = "h-g-i-g-o"
ALL_CHAT_ROOMS = "All Chat Rooms"
SERVICE_UID = "deconfliction"
SERVICE_CALLSIGN = "DECONFLICTION"
SERVICE_TYPE = "a-f-G-U-C"
CHAT_STALE = timedelta(days=1)
MAX_CHAT_CHARS = 8000
Source = Literal["authenticated", "plain"]


@dataclass(frozen=True, slots=True)
class CotPosition:
    """Where a CoT uid says it is; the caller binds the uid to an asset."""

    uid: str
    time: datetime
    lat: float
    lon: float
    cep_m: float
    speed_kmh: float | None = None
    course_deg: float | None = None
    callsign: str | None = None
    cot_type: str | None = None

    def to_report(
        self, asset_id: str, *, now: datetime, source: Source = "authenticated"
    ) -> PositionReport:
        """The domain's report for the asset bound to this uid."""
        try:
            return PositionReport.model_validate(
                {
                    "asset_id": asset_id,
                    "time": self.time,
                    "position": GeoPoint(self.lat, self.lon),
                    "cep_m": self.cep_m,
                    "speed_kmh": self.speed_kmh,
                    "course_deg": self.course_deg,
                    "source": source,
                },
                context={"now": now},
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "report"
            raise CotError(where, str(first.get("msg", "invalid"))) from None


def position_from_event(event: CotEvent, now: datetime) -> CotPosition | None:
    """The event's position, or ``None`` when its ``ce`` says the position is unknown.

    Out of physical range (``domain/limits.py``) is a :class:`CotError` naming the
    attribute, which the gateway counts as a rejection: a time outside the service's
    window, a ``ce`` whose CEP is over the limit (short of CoT's "unknown")."""
    if not limits.time_in_range(event.time):
        raise CotError(
            "time",
            f"{format_time(event.time)} is not {limits.describe_time_range()}",
            event.time,
        )
    if event.time > now + MAX_REPORT_FUTURE:
        raise CotError(
            "time",
            f"{format_time(event.time)} is more than {MAX_REPORT_FUTURE.seconds} s in the future "
            f"(now {format_time(now)})",
            event.time,
        )
    cep_m = cep_from_ce(event.point.ce)
    if cep_m is None:
        return None
    if cep_m > limits.MAX_CEP_M:
        raise CotError(
            "point.ce",
            f"{event.point.ce:g} m (a CEP of {cep_m:.0f} m) is over the limit of "
            f"{limits.MAX_CEP_M:g} m CEP",
            event.point.ce,
        )
    detail = event.detail
    speed_kmh = None
    if detail.speed is not None and detail.speed >= 0:
        speed_kmh = detail.speed * KMH_PER_MS
        if speed_kmh > MAX_SPEED_KMH:
            speed_kmh = None
    course = None
    if detail.course is not None:
        course = detail.course % 360.0
        if course >= 360.0:  # a tiny negative course rounds up to 360
            course = 0.0
    return CotPosition(
        uid=event.uid,
        time=event.time,
        lat=event.point.lat,
        lon=event.point.lon,
        cep_m=cep_m,
        speed_kmh=speed_kmh,
        course_deg=course,
        callsign=detail.callsign,
        cot_type=event.type,
    )


def report_from_event(
    event: CotEvent, now: datetime, asset_id: str, *, source: Source = "authenticated"
) -> PositionReport | None:
    """The position report for ``asset_id`` (bound to ``event.uid``), or ``None``."""
    position = position_from_event(event, now)
    return None if position is None else position.to_report(asset_id, now=now, source=source)


def chat_event(
    text: str,
    *,
    now: datetime,
    recipient_uid: str | None = None,
    recipient_callsign: str | None = None,
    dests: Sequence[Dest] = (),
    sender_uid: str = SERVICE_UID,
    sender_callsign: str = SERVICE_CALLSIGN,
    sender_type: str = SERVICE_TYPE,
    message_id: str | None = None,
    stale_after: timedelta = CHAT_STALE,
) -> CotEvent:
    """A GeoChat message, direct to one client or to All Chat Rooms.

    Its point is 0,0 with unknown height and errors: ATAK shows it in chat and
    never on the map. Directed with ``marti/dest`` to the recipient (and any
    extra ``dests``).
    """
    assert_not_hostile(sender_type)
    message_id = message_id or str(uuid.uuid4())
    body = xml_safe(text)
    if len(body) > MAX_CHAT_CHARS:
        body = body[: MAX_CHAT_CHARS - 1] + "…"
    if recipient_uid is not None:
        chat_id, chatroom = recipient_uid, recipient_callsign or recipient_uid
        to = Dest(callsign=recipient_callsign) if recipient_callsign else Dest(uid=recipient_uid)
        all_dests = (to, *dests)
    else:
        chat_id = chatroom = ALL_CHAT_ROOMS
        all_dests = tuple(dests)
    return CotEvent(
        uid=f"GeoChat.{sender_uid}.{chat_id}.{message_id}",
        type=CHAT_TYPE,
        how=CHAT_HOW,
        time=now,
        start=now,
        stale=now + stale_after,
        point=Point(0.0, 0.0, UNKNOWN, UNKNOWN, UNKNOWN),
        detail=Detail(
            chat=Chat(
                chatroom=chatroom,
                chat_id=chat_id,
                sender_callsign=sender_callsign,
                message_id=message_id,
                parent="RootContactGroup",
                group_owner=False,
                members=(sender_uid, chat_id),
            ),
            links=(Link(sender_uid, sender_type, "p-p"),),
            remarks=Remarks(
                text=body, source=f"BAO.F.ATAK.{sender_uid}", to=chat_id, time=format_time(now)
            ),
            dests=all_dests,
        ),
    )


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """An incoming GeoChat message: who sent it and what it says."""

    sender_uid: str | None
    sender_callsign: str | None
    text: str
    message_id: str | None
    chat_id: str | None


def chat_message(event: CotEvent) -> ChatMessage | None:
    """The chat in a ``b-t-f`` event; ``None`` for any other event."""
    if event.type != CHAT_TYPE:
        return None
    detail = event.detail
    chat = detail.chat or Chat()
    sender = chat.members[0] if chat.members else None
    if sender is None and detail.links:
        sender = detail.links[0].uid
    return ChatMessage(
        sender_uid=sender,
        sender_callsign=chat.sender_callsign,
        text=detail.remarks.text if detail.remarks else "",
        message_id=chat.message_id,
        chat_id=chat.chat_id,
    )
