"""The typed Cursor-on-Target event: what the codec reads and writes.

A :class:`CotEvent` validates itself on construction, so an invalid event
cannot exist: the parser builds one from the wire, the service builds one to
send, and both pass the same rules. Errors name the CoT attribute
(``point.lat``, ``detail.track.speed``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deconfliction.cot.errors import CotError
from deconfliction.domain import limits
from deconfliction.domain.geo import CE_UNKNOWN

#: The CoT marker for an unknown height, circular or linear error.
UNKNOWN = CE_UNKNOWN
MAX_UID_CHARS = 128
MAX_TYPE_CHARS = 100
MAX_HOW_CHARS = 32
MAX_ATTRIBUTE_CHARS = 1024

#: CoT type grammar: a lower-case letter, then dash-separated atoms.
TYPE_RE = re.compile(r"^[a-z](?:-[A-Za-z0-9_]+)*$")
HOW_RE = TYPE_RE
VERSION_RE = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){0,2}$")
#: Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def check_text(value: str | None, name: str, max_chars: int = MAX_ATTRIBUTE_CHARS) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise CotError(name, f"must be text, got {type(value).__name__}", value)
    if len(value) > max_chars:
        raise CotError(name, f"at most {max_chars} characters, got {len(value)}")
    bad = _NOT_XML.search(value)
    if bad:
        raise CotError(name, f"contains a character XML cannot carry: {bad.group()!r}")


def _check_token(value: str, name: str, pattern: re.Pattern[str], max_chars: int) -> None:
    if not isinstance(value, str) or not value:
        raise CotError(name, "missing", value)
    if len(value) > max_chars:
        raise CotError(name, f"at most {max_chars} characters, got {len(value)}")
    if not pattern.match(value):
        raise CotError(name, f"not a valid CoT {name}: {value[:64]!r}", value)


def _check_float(
    value: float,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CotError(name, f"must be a number, got {value!r}", value)
    if not math.isfinite(value):
        raise CotError(name, f"must be finite, got {value!r}", value)
    if not low <= value <= high:
        raise CotError(name, f"must be within [{low:g}, {high:g}], got {value!r}", value)


def _check_time(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise CotError(name, f"must be a time, got {value!r}", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise CotError(name, "must carry a time zone (RFC 3339)", value)


@dataclass(frozen=True, slots=True)
class Point:
    """WGS 84 position; ``ce``/``le`` are 1-sigma errors in metres, 9999999 = unknown."""

    lat: float
    lon: float
    hae: float = UNKNOWN
    ce: float = UNKNOWN
    le: float = UNKNOWN

    def __post_init__(self) -> None:
        _check_float(self.lat, "point.lat", -90.0, 90.0)
        _check_float(self.lon, "point.lon", -180.0, 180.0)
        # Physical ranges (domain/limits.py); 9999999 is CoT's "unknown" height. An error
        # of 9999999 or more is "unknown" too: the mapping bounds a known ce.
        if self.hae != UNKNOWN:
            _check_float(self.hae, "point.hae", limits.HAE_MIN_M, limits.HAE_MAX_M)
        _check_float(self.ce, "point.ce", 0.0)
        _check_float(self.le, "point.le", 0.0)

    @property
    def position_known(self) -> bool:
        return self.ce < UNKNOWN


@dataclass(frozen=True, slots=True)
class Remarks:
    text: str = ""
    source: str | None = None
    to: str | None = None
    time: str | None = None

    def __post_init__(self) -> None:
        check_text(self.text, "detail.remarks", 65_536)
        check_text(self.source, "detail.remarks.source")
        check_text(self.to, "detail.remarks.to")
        check_text(self.time, "detail.remarks.time")


@dataclass(frozen=True, slots=True)
class Dest:
    """A ``marti/dest``: a recipient by callsign or by uid."""

    callsign: str | None = None
    uid: str | None = None

    def __post_init__(self) -> None:
        check_text(self.callsign, "detail.marti.dest.callsign")
        check_text(self.uid, "detail.marti.dest.uid")


@dataclass(frozen=True, slots=True)
class Link:
    uid: str
    type: str | None = None
    relation: str | None = None

    def __post_init__(self) -> None:
        check_text(self.uid, "detail.link.uid", MAX_UID_CHARS)
        check_text(self.type, "detail.link.type", MAX_TYPE_CHARS)
        check_text(self.relation, "detail.link.relation")


@dataclass(frozen=True, slots=True)
class Chat:
    """GeoChat's ``__chat`` (and its ``chatgrp``), for ``b-t-f`` events.

    ``chat_id`` is the ``id`` attribute: the room's id, or the recipient's uid
    for a direct message; ``members`` are the ``chatgrp`` uids (uid0 = sender).
    """

    chatroom: str | None = None
    chat_id: str | None = None
    sender_callsign: str | None = None
    message_id: str | None = None
    parent: str | None = None
    group_owner: bool | None = None
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_text(self.chatroom, "detail.__chat.chatroom")
        check_text(self.chat_id, "detail.__chat.id")
        check_text(self.sender_callsign, "detail.__chat.senderCallsign")
        check_text(self.message_id, "detail.__chat.messageId")
        check_text(self.parent, "detail.__chat.parent")
        for member in self.members:
            check_text(member, "detail.__chat.chatgrp")


@dataclass(frozen=True, slots=True)
class Detail:
    """The ``detail`` children the service reads; the others ride along in ``extra_xml``.

    ``speed`` is in metres per second and ``course`` in degrees from true north,
    as CoT's ``track`` gives them.
    """

    callsign: str | None = None
    endpoint: str | None = None
    group_name: str | None = None
    group_role: str | None = None
    course: float | None = None
    speed: float | None = None
    remarks: Remarks | None = None
    dests: tuple[Dest, ...] = ()
    chat: Chat | None = None
    links: tuple[Link, ...] = ()
    #: Unknown ``detail`` children, serialised XML, kept for round trips.
    extra_xml: str = ""

    def __post_init__(self) -> None:
        check_text(self.callsign, "detail.contact.callsign")
        check_text(self.endpoint, "detail.contact.endpoint")
        check_text(self.group_name, "detail.__group.name")
        check_text(self.group_role, "detail.__group.role")
        if self.course is not None:
            _check_float(self.course, "detail.track.course")
        if self.speed is not None:
            _check_float(self.speed, "detail.track.speed")
        check_text(self.extra_xml, "detail", 65_536)

    @property
    def dest_callsigns(self) -> tuple[str, ...]:
        return tuple(d.callsign for d in self.dests if d.callsign)

    @property
    def dest_uids(self) -> tuple[str, ...]:
        return tuple(d.uid for d in self.dests if d.uid)

    @property
    def link_uids(self) -> tuple[str, ...]:
        return tuple(link.uid for link in self.links)


@dataclass(frozen=True, slots=True)
class CotEvent:
    """One CoT 2.0 ``event``. Times are timezone-aware; the codec writes them in UTC."""

    uid: str
    type: str
    time: datetime
    start: datetime
    stale: datetime
    how: str
    point: Point
    detail: Detail = field(default_factory=Detail)
    version: str = "2.0"
    access: str | None = None
    qos: str | None = None
    opex: str | None = None

    def __post_init__(self) -> None:
        _check_token(self.version, "version", VERSION_RE, 16)
        if not isinstance(self.uid, str) or not self.uid:
            raise CotError("uid", "missing", self.uid)
        if len(self.uid) > MAX_UID_CHARS:
            raise CotError("uid", f"at most {MAX_UID_CHARS} characters, got {len(self.uid)}")
        if _CONTROL.search(self.uid) or _NOT_XML.search(self.uid):
            raise CotError("uid", "contains control characters", self.uid)
        _check_token(self.type, "type", TYPE_RE, MAX_TYPE_CHARS)
        _check_token(self.how, "how", HOW_RE, MAX_HOW_CHARS)
        _check_time(self.time, "time")
        _check_time(self.start, "start")
        _check_time(self.stale, "stale")
        if self.stale < self.start:
            raise CotError(
                "stale",
                f"{self.stale.isoformat()} is before start {self.start.isoformat()}",
                self.stale,
            )
        check_text(self.access, "access")
        check_text(self.qos, "qos")
        check_text(self.opex, "opex")
        if not isinstance(self.point, Point):
            raise CotError("point", "missing", self.point)
        if not isinstance(self.detail, Detail):
            raise CotError("detail", "must be a Detail", self.detail)


def document_time(value: Any) -> datetime | None:
    """A time from a JSON document the service made (a notification, a map feature), for
    an outgoing event's time or stale: ``None`` for anything that is not one; a time
    without a zone is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
