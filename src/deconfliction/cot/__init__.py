"""Cursor-on-Target: the codec (XML and TAK Protocol v1), framing, and domain mapping.

The gateway (TLS/TCP/UDP servers) builds on these; nothing here does I/O.
"""

from deconfliction.cot.affiliation import assert_not_hostile, friendly_type_for
from deconfliction.cot.errors import ChatCommandError, CotError, CotTooLarge, HostileTypeError
from deconfliction.cot.event import Chat, CotEvent, Dest, Detail, Link, Point, Remarks
from deconfliction.cot.framing import (
    Protocol,
    StreamFramer,
    decode_datagram,
    decode_frame,
    detect_protocol,
)
from deconfliction.cot.proto import decode_payload, encode_mesh, encode_stream
from deconfliction.cot.xml import MAX_EVENT_BYTES, parse_event, render_event

__all__ = [
    "MAX_EVENT_BYTES",
    "Chat",
    "ChatCommandError",
    "CotError",
    "CotEvent",
    "CotTooLarge",
    "Dest",
    "Detail",
    "HostileTypeError",
    "Link",
    "Point",
    "Protocol",
    "Remarks",
    "StreamFramer",
    "assert_not_hostile",
    "decode_datagram",
    "decode_frame",
    "decode_payload",
    "detect_protocol",
    "encode_mesh",
    "encode_stream",
    "friendly_type_for",
    "parse_event",
    "render_event",
]
