"""The control events the gateway answers a TLS client with: TAK Protocol negotiation and ping.

A TAK server offers TAK Protocol v1 first (``t-x-takp-v``), answers a client's
``t-x-takp-q`` with ``t-x-takp-r`` (after which the stream is TAK Protocol), and answers
a ping (``t-x-c-t``) with a pong (``t-x-c-t-r``). Each is an event at 0,0 with an unknown
position, so that a client never shows it as a map object. Plain clients are sent none
(``tak/streams.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from deconfliction.cot.event import UNKNOWN, CotEvent, Detail, Point
from deconfliction.cot.framing import Protocol as Framing
from deconfliction.cot.proto import encode_stream
from deconfliction.cot.xml import render_event

TAKP_QUERY = "t-x-takp-q"
TAKP_RESPONSE = "t-x-takp-r"
#: Sent to a TLS client on connect, as TAK servers do: "this server speaks TAK Protocol v1".
TAKP_SUPPORT = "t-x-takp-v"
#: A client's ping, and the server's answer.
PING = "t-x-c-t"
PONG = "t-x-c-t-r"


def _control(uid: str, cot_type: str, now: datetime, extra_xml: str = "") -> CotEvent:
    """A control event: at 0,0 with an unknown position, so it never becomes a map object."""
    return CotEvent(
        uid=uid,
        type=cot_type,
        how="m-g" if cot_type != PONG else "h-g-i-g-o",
        time=now,
        start=now,
        stale=now + timedelta(minutes=1),
        point=Point(0.0, 0.0, UNKNOWN, UNKNOWN, UNKNOWN),
        detail=Detail(extra_xml=extra_xml),
    )


def takp_response(now: datetime) -> bytes:
    """``t-x-takp-r``: yes, switch this stream to TAK Protocol v1."""
    extra = '<TakControl><TakResponse status="true"/></TakControl>'
    return render_event(_control("deconfliction-takp", TAKP_RESPONSE, now, extra))


def takp_support(now: datetime) -> bytes:
    """``t-x-takp-v``: what a TAK server sends first, offering TAK Protocol v1."""
    extra = '<TakControl><TakProtocolSupport version="1"/></TakControl>'
    return render_event(_control("deconfliction-takp", TAKP_SUPPORT, now, extra))


def pong(now: datetime, protocol: Framing) -> bytes:
    """``t-x-c-t-r``, the answer to a client's ping, in the stream's current encoding."""
    event = _control("takPong", PONG, now)
    return encode_stream(event) if protocol is Framing.STREAM else render_event(event)
