"""Cursor-on-Target XML: a safe parser and a renderer.

Parsing: lxml with no DTD, no entity resolution, no network, no huge trees,
after a byte-level check that rejects any ``<!DOCTYPE``/``<!ENTITY`` (and any
encoding but UTF-8, so that the check cannot be dodged by UTF-16), within a size
limit per event. Every failure is a :class:`CotError` naming the attribute.

Rendering: CoT 2.0 as ATAK, WinTAK and iTAK take it, times in UTC with
milliseconds, numbers without exponents, text escaped by lxml; the type goes
through :func:`assert_not_hostile` first.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from lxml import etree

from deconfliction.cot.affiliation import assert_not_hostile
from deconfliction.cot.errors import CotError, CotTooLarge
from deconfliction.cot.event import Chat, CotEvent, Dest, Detail, Link, Point, Remarks

#: Largest event accepted, in bytes.
MAX_EVENT_BYTES = 64 * 1024
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
UTF8_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"

_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]*)["']""")
_UTF8_NAMES = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}
_MARKUP_DECL = re.compile(rb"<!(?!--|\[CDATA\[)")
_NUMBER = re.compile(r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?\s*$")
_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$"
)
_CHATGRP_UID = re.compile(r"^uid([0-9]{1,3})$")

_local = threading.local()


def _parser() -> etree.XMLParser:
    """One parser per thread (lxml parsers are not shared across threads)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            recover=False,
        )
        _local.parser = parser
    return parser


# --- parsing ------------------------------------------------------------------------------


def parse_event(data: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> CotEvent:
    """Parse one CoT ``<event>`` (optionally after an XML declaration)."""
    return event_from_element(parse_xml(data, max_bytes=max_bytes))


def parse_xml(data: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> etree._Element:
    """The root element of a small, untrusted XML document, parsed safely."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CotError("event", f"must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise CotTooLarge("event", f"{len(data)} bytes, over the limit of {max_bytes}")
    data = data.lstrip(_WHITESPACE)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :].lstrip(_WHITESPACE)
    if not data:
        raise CotError("event", "empty")
    check_prolog(data)
    root = _tree(data)
    if root.getroottree().docinfo.doctype:
        raise CotError("event", "a DOCTYPE is not accepted")
    return root


def check_prolog(data: bytes) -> None:
    """Reject what the parser must never see: other encodings, DTDs, entity declarations."""
    if b"\x00" in data or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise CotError("event", "only UTF-8 is accepted")
    declaration = _DECLARATION.match(data)
    if declaration:
        encoding = _ENCODING.search(declaration.group())
        if encoding and encoding.group(1).lower() not in _UTF8_NAMES:
            name = encoding.group(1).decode("ascii", "replace")
            raise CotError("event", f"only UTF-8 is accepted, not {name!r}")
    if _MARKUP_DECL.search(data):
        raise CotError("event", "DOCTYPE, ENTITY and other markup declarations are not accepted")


def _tree(data: bytes) -> etree._Element:
    """lxml's parse with the safe parser (no pre-checks: see :func:`parse_xml`)."""
    try:
        return etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg or "syntax error").splitlines()[0][:200]
        raise CotError("event", f"not well-formed XML: {message}") from None
    except (etree.LxmlError, ValueError) as exc:
        raise CotError("event", f"not acceptable XML: {type(exc).__name__}") from None


def event_from_element(root: etree._Element) -> CotEvent:
    """Validate a parsed ``<event>`` element into a :class:`CotEvent`."""
    if root.tag != "event":
        raise CotError("event", f"the root element must be <event>, got <{_tag_name(root)}>")
    attrs = root.attrib
    points = [child for child in root if child.tag == "point"]
    if not points:
        raise CotError("point", "missing")
    if len(points) > 1:
        raise CotError("point", f"exactly one point, got {len(points)}")
    details = [child for child in root if child.tag == "detail"]
    if len(details) > 1:
        raise CotError("detail", f"at most one detail, got {len(details)}")
    return CotEvent(
        version=attrs.get("version", "2.0"),
        uid=_required(attrs.get("uid"), "uid"),
        type=_required(attrs.get("type"), "type"),
        how=_required(attrs.get("how"), "how"),
        time=parse_time(attrs.get("time"), "time"),
        start=parse_time(attrs.get("start"), "start"),
        stale=parse_time(attrs.get("stale"), "stale"),
        access=attrs.get("access"),
        qos=attrs.get("qos"),
        opex=attrs.get("opex"),
        point=_point(points[0]),
        detail=_detail(details[0]) if details else Detail(),
    )


def _tag_name(element: etree._Element) -> str:
    tag = element.tag
    return tag[:64] if isinstance(tag, str) else "?"


def _required(value: str | None, name: str) -> str:
    if value is None or value == "":
        raise CotError(name, "missing")
    return value


def parse_number(text: str | None, name: str, default: float | None = None) -> float:
    """A finite decimal number from an attribute; ``default`` when it is absent."""
    if text is None:
        if default is None:
            raise CotError(name, "missing")
        return default
    if len(text) > 64 or not _NUMBER.match(text):
        raise CotError(name, f"not a finite decimal number: {text[:64]!r}", text[:64])
    value = float(text)
    if not math.isfinite(value):
        raise CotError(name, f"not a finite number: {text[:64]!r}", text[:64])
    return value


def parse_time(text: str | None, name: str) -> datetime:
    """An RFC 3339 time with a zone (fractions past microseconds are truncated)."""
    if text is None or text == "":
        raise CotError(name, "missing")
    match = _TIME.match(text) if len(text) <= 40 else None
    if match is None:
        raise CotError(name, f"not an RFC 3339 time with a zone: {text[:40]!r}", text[:40])
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    micro = int(fraction)
    if second == 60:  # a leap second: the last instant before the next minute
        second, micro = 59, 999_999
    if match.group(8):
        zone = UTC
    else:
        hours, minutes = int(match.group(10)), int(match.group(11))
        if hours > 23 or minutes > 59:
            raise CotError(name, f"bad zone offset in {text!r}", text)
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if match.group(9) == "-" else offset)
    try:
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise CotError(name, f"not a valid time: {text!r}", text) from None


def _point(element: etree._Element) -> Point:
    get = element.attrib.get
    unknown = Point.__dataclass_fields__["ce"].default
    assert isinstance(unknown, float)
    return Point(
        lat=parse_number(get("lat"), "point.lat"),
        lon=parse_number(get("lon"), "point.lon"),
        hae=parse_number(get("hae"), "point.hae", unknown),
        ce=parse_number(get("ce"), "point.ce", unknown),
        le=parse_number(get("le"), "point.le", unknown),
    )


def _optional_number(text: str | None, name: str) -> float | None:
    return None if text is None or text == "" else parse_number(text, name)


def _detail(element: etree._Element) -> Detail:
    """Known children into typed fields (the first of each), the rest kept as XML."""
    contact: etree._Element | None = None
    group: etree._Element | None = None
    track: etree._Element | None = None
    remarks: Remarks | None = None
    chat: Chat | None = None
    marti_seen = False
    dests: list[Dest] = []
    links: list[Link] = []
    extra: list[str] = []
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        attrs = child.attrib
        if tag == "contact" and contact is None:
            contact = child
        elif tag == "__group" and group is None:
            group = child
        elif tag == "track" and track is None:
            track = child
        elif tag == "remarks" and remarks is None:
            remarks = Remarks(
                text="".join(child.itertext()),
                source=attrs.get("source"),
                to=attrs.get("to"),
                time=attrs.get("time"),
            )
        elif tag == "marti" and not marti_seen and _only_dests(child):
            marti_seen = True
            dests.extend(Dest(d.attrib.get("callsign"), d.attrib.get("uid")) for d in child)
        elif tag == "__chat" and chat is None:
            chat = _chat(child)
        elif tag == "link" and attrs.get("uid") and set(attrs) <= {"uid", "type", "relation"}:
            links.append(Link(attrs["uid"], attrs.get("type"), attrs.get("relation")))
        else:
            extra.append(etree.tostring(child, encoding="unicode", with_tail=False))
    return Detail(
        callsign=None if contact is None else contact.attrib.get("callsign"),
        endpoint=None if contact is None else contact.attrib.get("endpoint"),
        group_name=None if group is None else group.attrib.get("name"),
        group_role=None if group is None else group.attrib.get("role"),
        course=None
        if track is None
        else _optional_number(track.get("course"), "detail.track.course"),
        speed=None if track is None else _optional_number(track.get("speed"), "detail.track.speed"),
        remarks=remarks,
        dests=tuple(dests),
        chat=chat,
        links=tuple(links),
        extra_xml="".join(extra),
    )


def _only_dests(marti: etree._Element) -> bool:
    """A ``marti`` with nothing but ``dest`` children (anything else is kept verbatim)."""
    return not marti.attrib and all(
        d.tag == "dest" and set(d.attrib) <= {"callsign", "uid"} for d in marti
    )


def _chat(element: etree._Element) -> Chat:
    get = element.attrib.get
    owner = get("groupOwner")
    members: list[tuple[int, str]] = []
    for group in element:
        if group.tag != "chatgrp":
            continue
        for key, value in group.attrib.items():
            match = _CHATGRP_UID.match(str(key))
            if match:
                members.append((int(match.group(1)), str(value)))
        break
    return Chat(
        chatroom=get("chatroom"),
        chat_id=get("id"),
        sender_callsign=get("senderCallsign"),
        message_id=get("messageId"),
        parent=get("parent"),
        group_owner=None if owner is None else owner.strip().lower() == "true",
        members=tuple(uid for _, uid in sorted(members)),
    )


# --- rendering ----------------------------------------------------------------------------


def format_number(value: float) -> str:
    """Shortest round-tripping decimal, without an exponent unless it is tiny or huge."""
    if not math.isfinite(value):
        raise CotError("number", f"must be finite, got {value!r}", value)
    if value == int(value) and abs(value) < 1e15:
        return f"{value:.1f}"
    text = repr(float(value))
    if "e" in text or "E" in text:
        positional = format(Decimal(text), "f")
        if len(positional) <= 40:  # else keep the exponent: still a valid xs:double
            text = positional
    return text


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC: milliseconds, or microseconds when they matter."""
    t = moment.astimezone(UTC)
    fraction = (
        f"{t.microsecond // 1000:03d}" if t.microsecond % 1000 == 0 else f"{t.microsecond:06d}"
    )
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{fraction}Z"
    )


def render_event(event: CotEvent, *, xml_declaration: bool = False) -> bytes:
    """CoT 2.0 XML for one event (refuses any type the service must never emit)."""
    body: bytes = etree.tostring(event_element(event), encoding="utf-8", xml_declaration=False)
    return XML_DECLARATION + body if xml_declaration else body


def event_element(event: CotEvent) -> etree._Element:
    """The ``<event>`` element for ``event``, after the never-hostile guard."""
    assert_not_hostile(event.type)
    for link in event.detail.links:
        if link.type:
            assert_not_hostile(link.type)
    root = etree.Element("event")
    root.set("version", event.version)
    root.set("uid", event.uid)
    root.set("type", event.type)
    root.set("how", event.how)
    root.set("time", format_time(event.time))
    root.set("start", format_time(event.start))
    root.set("stale", format_time(event.stale))
    for name in ("access", "qos", "opex"):
        value = getattr(event, name)
        if value is not None:
            root.set(name, value)
    point = etree.SubElement(root, "point")
    for name in ("lat", "lon", "hae", "ce", "le"):
        point.set(name, format_number(getattr(event.point, name)))
    root.append(detail_element(event.detail))
    return root


def detail_element(detail: Detail, skip: frozenset[str] = frozenset()) -> etree._Element:
    """The ``<detail>`` element; ``skip`` leaves out known children by tag."""
    element = etree.Element("detail")
    if "contact" not in skip and (detail.callsign is not None or detail.endpoint is not None):
        _sub(element, "contact", callsign=detail.callsign, endpoint=detail.endpoint)
    if "__group" not in skip and (detail.group_name is not None or detail.group_role is not None):
        _sub(element, "__group", name=detail.group_name, role=detail.group_role)
    if "track" not in skip and (detail.course is not None or detail.speed is not None):
        _sub(
            element,
            "track",
            course=None if detail.course is None else format_number(detail.course),
            speed=None if detail.speed is None else format_number(detail.speed),
        )
    if detail.remarks is not None:
        remarks = _sub(
            element,
            "remarks",
            source=detail.remarks.source,
            to=detail.remarks.to,
            time=detail.remarks.time,
        )
        remarks.text = detail.remarks.text
    if detail.dests:
        marti = etree.SubElement(element, "marti")
        for dest in detail.dests:
            _sub(marti, "dest", callsign=dest.callsign, uid=dest.uid)
    if detail.chat is not None:
        chat = detail.chat
        owner = None if chat.group_owner is None else str(chat.group_owner).lower()
        chat_element = _sub(
            element,
            "__chat",
            parent=chat.parent,
            groupOwner=owner,
            messageId=chat.message_id,
            chatroom=chat.chatroom,
            id=chat.chat_id,
            senderCallsign=chat.sender_callsign,
        )
        if chat.members:
            members = {f"uid{i}": uid for i, uid in enumerate(chat.members)}
            _sub(chat_element, "chatgrp", **members, id=chat.chat_id)
    for link in detail.links:
        _sub(element, "link", uid=link.uid, type=link.type, relation=link.relation)
    for child in extra_elements(detail.extra_xml):
        element.append(child)
    return element


def extra_elements(extra_xml: str) -> list[etree._Element]:
    """Parse kept ``detail`` children back into elements (safely: it may come from a client)."""
    if not extra_xml:
        return []
    wrapped = b"<detail>" + extra_xml.encode("utf-8") + b"</detail>"
    try:
        return list(parse_xml(wrapped, max_bytes=MAX_EVENT_BYTES + 32))
    except CotError as exc:
        raise CotError("detail", f"extra detail is not acceptable XML: {exc.message}") from None


def _sub(into: etree._Element, tag: str, /, **attributes: str | None) -> etree._Element:
    element = etree.SubElement(into, tag)
    for name, value in attributes.items():
        if value is not None:
            element.set(name, value)
    return element
