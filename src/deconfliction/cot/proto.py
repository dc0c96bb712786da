"""TAK Protocol version 1 payloads: ``TakMessage`` protobufs, via ``takproto``.

``takproto`` supplies the message schema and the stream/mesh headers when
encoding. Decoding does not use ``takproto``'s XML helpers (they parse with the
standard library's XML parser, on data a client sent): the protobuf is read
with the schema, turned into an ``<event>`` element, and validated by exactly
the same code as XML events, so both encodings pass the same rules and name the
same fields in their errors. ``xmlDetail`` goes through the safe XML parser.

Typed protobuf detail fields are used for ``contact`` (with a callsign),
``__group`` (name and role) and ``track`` (speed and course), as the protocol
prescribes; every other ``detail`` child travels in ``xmlDetail``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import DecodeError
from lxml import etree
from takproto.constants import TAKProtoVer  # type: ignore[import-untyped]
from takproto.functions import msg2proto  # type: ignore[import-untyped]
from takproto.proto import TakMessage  # type: ignore[import-untyped]

from deconfliction.cot.errors import CotError, CotTooLarge
from deconfliction.cot.event import CotEvent, check_text
from deconfliction.cot.xml import (
    MAX_EVENT_BYTES,
    detail_element,
    event_element,
    event_from_element,
    extra_elements,
    format_number,
    format_time,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Milliseconds since the epoch of 9999-12-31T23:59:59.999Z.
_MAX_MS = 253_402_300_799_999


# --- decoding -----------------------------------------------------------------------------


def decode_payload(payload: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> CotEvent:
    """A TAK Protocol v1 payload (one serialised ``TakMessage``, no header) to an event."""
    if len(payload) > max_bytes:
        raise CotTooLarge("protobuf", f"{len(payload)} bytes, over the limit of {max_bytes}")
    message = TakMessage()
    try:
        message.ParseFromString(bytes(payload))
    except (DecodeError, RuntimeError, ValueError, TypeError) as exc:
        raise CotError("protobuf", f"not a TAK Protocol v1 message: {type(exc).__name__}") from None
    return event_from_message(message)


def event_from_message(message: Any) -> CotEvent:
    """A parsed ``TakMessage`` to an event, validated like an XML event."""
    if not message.HasField("cotEvent"):
        raise CotError("cotEvent", "missing: a control message carries no event")
    cot = message.cotEvent
    root = etree.Element("event")
    root.set("version", "2.0")
    for name in ("uid", "type", "how", "access", "qos", "opex"):
        _put(root, name, getattr(cot, name), name)
    for name, field in (("time", "sendTime"), ("start", "startTime"), ("stale", "staleTime")):
        millis = getattr(cot, field)
        if millis:
            root.set(name, _time_text(millis, name))
    point = etree.SubElement(root, "point")
    for name in ("lat", "lon", "hae", "ce", "le"):
        point.set(name, _number_text(getattr(cot, name), f"point.{name}"))
    if cot.HasField("detail"):
        root.append(_detail_from_message(cot.detail))
    return event_from_element(root)


def _time_text(millis: int, name: str) -> str:
    if millis > _MAX_MS:
        raise CotError(name, f"not a valid time: {millis} ms since the epoch", millis)
    return format_time(_EPOCH + timedelta(milliseconds=millis))


def _number_text(value: float, name: str) -> str:
    try:
        return format_number(value)
    except CotError:
        raise CotError(name, f"must be finite, got {value!r}", value) from None


def _detail_from_message(detail: Any) -> etree._Element:
    element = etree.Element("detail")
    if detail.HasField("contact"):
        _set(
            etree.SubElement(element, "contact"), detail.contact, "contact", "callsign", "endpoint"
        )
    if detail.HasField("group"):
        _set(etree.SubElement(element, "__group"), detail.group, "__group", "name", "role")
    if detail.HasField("track"):
        track = etree.SubElement(element, "track")
        track.set("course", _number_text(detail.track.course, "detail.track.course"))
        track.set("speed", _number_text(detail.track.speed, "detail.track.speed"))
    if detail.HasField("precisionLocation"):
        _set(
            etree.SubElement(element, "precisionlocation"),
            detail.precisionLocation,
            "precisionlocation",
            "geopointsrc",
            "altsrc",
        )
    if detail.HasField("status"):
        etree.SubElement(element, "status").set("battery", str(detail.status.battery))
    if detail.HasField("takv"):
        _set(
            etree.SubElement(element, "takv"),
            detail.takv,
            "takv",
            "device",
            "platform",
            "os",
            "version",
        )
    for child in extra_elements(detail.xmlDetail):
        element.append(child)
    return element


def _set(element: etree._Element, message: Any, tag: str, *names: str) -> None:
    for name in names:
        _put(element, name, getattr(message, name), f"detail.{tag}.{name}")


def _put(element: etree._Element, name: str, value: str, field: str) -> None:
    """Set a non-empty attribute from a protobuf string (which may hold what XML cannot)."""
    if value:
        check_text(value, field, MAX_EVENT_BYTES)
        element.set(name, value)


# --- encoding -----------------------------------------------------------------------------


def message_from_event(event: CotEvent) -> Any:
    """The ``TakMessage`` for ``event`` (after the never-hostile guard)."""
    event_element(event)  # the guard, and proof that the XML form renders
    message = TakMessage()
    cot = message.cotEvent
    cot.type = event.type
    cot.uid = event.uid
    cot.how = event.how
    for name in ("access", "qos", "opex"):
        value = getattr(event, name)
        if value:
            setattr(cot, name, value)
    cot.sendTime = _millis(event.time)
    cot.startTime = _millis(event.start)
    cot.staleTime = _millis(event.stale)
    point = event.point
    cot.lat, cot.lon, cot.hae, cot.ce, cot.le = point.lat, point.lon, point.hae, point.ce, point.le
    detail = event.detail
    typed: set[str] = set()
    if detail.callsign:
        cot.detail.contact.callsign = detail.callsign
        if detail.endpoint:
            cot.detail.contact.endpoint = detail.endpoint
        typed.add("contact")
    if detail.group_name and detail.group_role:
        cot.detail.group.name = detail.group_name
        cot.detail.group.role = detail.group_role
        typed.add("__group")
    if detail.speed is not None and detail.course is not None:
        cot.detail.track.speed = detail.speed
        cot.detail.track.course = detail.course
        typed.add("track")
    rest = detail_element(detail, skip=frozenset(typed))
    xml_detail = "".join(etree.tostring(child, encoding="unicode") for child in rest)
    if xml_detail:
        cot.detail.xmlDetail = xml_detail
    elif not typed:
        cot.detail.SetInParent()
    return message


def _millis(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)


def encode_stream(event: CotEvent) -> bytes:
    """One TAK Protocol v1 streaming message: ``0xbf``, varint length, payload."""
    return bytes(msg2proto(message_from_event(event), TAKProtoVer.STREAM))


def encode_mesh(event: CotEvent) -> bytes:
    """One TAK Protocol v1 mesh datagram: ``0xbf 0x01 0xbf``, payload."""
    return bytes(msg2proto(message_from_event(event), TAKProtoVer.MESH))
