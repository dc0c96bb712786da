"""Framing: complete events out of a byte stream, and protocol detection.

XML streams are cut after ``</event>`` (or a self-closing ``<event .../>``),
across reads; whitespace, XML declarations and comments between events are
skipped. Anything else between events is skipped up to the next ``<event``
and reported once as a :class:`CotError`; an event still open after
``max_bytes`` raises :class:`CotTooLarge`, is dropped, and the framer picks up
again at the next ``<event``. A start tag appearing before the current event
has ended means the current one was cut off: it is reported and the framer
restarts at the newer start, so a truncated event never swallows the good one
after it. Nothing here ever asks for a connection to be closed.

TAK Protocol v1 streams are ``0xbf``, a varint length, and a protobuf payload;
an oversized frame is skipped by its declared length, so a sender stays in
step. Mesh datagrams are ``0xbf 0x01 0xbf`` and a payload.

Pull frames with :meth:`StreamFramer.next_frame` (it raises, after skipping the
bad part, and the next call goes on), or push a chunk with
:meth:`StreamFramer.feed` (it returns the frames and keeps the errors in
:attr:`StreamFramer.rejected`). A connection that negotiates TAK Protocol
switches with :meth:`StreamFramer.switch` between frames, so it must pull.
"""

from __future__ import annotations

import enum
import re

from deconfliction.cot.errors import CotError, CotTooLarge
from deconfliction.cot.event import CotEvent
from deconfliction.cot.proto import decode_payload
from deconfliction.cot.xml import MAX_EVENT_BYTES, UTF8_BOM, parse_event

MAGIC = 0xBF
MESH_HEADER = bytes((MAGIC, 1, MAGIC))
_WHITESPACE = b" \t\r\n"
_START = re.compile(rb"<event[\s>/]")
_END = re.compile(rb"</event[ \t\r\n]{0,8}>")
_START_LEN = len(b"<event")
_PREFIXES = (b"<event", b"<?", b"<!--")
_MAX_VARINT_BYTES = 10


class Protocol(enum.Enum):
    XML = "xml"
    #: TAK Protocol v1, streaming framing (``0xbf``, varint length).
    STREAM = "tak-stream"
    #: TAK Protocol v1, mesh framing (``0xbf 0x01 0xbf``).
    MESH = "tak-mesh"


def detect_protocol(first_bytes: bytes) -> Protocol | None:
    """What the first bytes of a stream or datagram are; ``None`` until it can tell.

    Raises :class:`CotError` for bytes that are neither CoT XML nor TAK Protocol.
    """
    data = bytes(first_bytes).lstrip(_WHITESPACE)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :].lstrip(_WHITESPACE)
    if not data:
        return None
    if data[0] == ord("<"):
        return Protocol.XML
    if data[0] != MAGIC:
        raise CotError("stream", f"neither CoT XML nor TAK Protocol: first byte 0x{data[0]:02x}")
    if len(data) < 3:
        return None if len(data) == 1 or data[1] == 1 else Protocol.STREAM
    # A TakMessage never begins with 0xbf (wire type 7 does not exist), so
    # "0xbf 0x01 0xbf" cannot be a one-byte stream frame.
    return Protocol.MESH if data[1] < 0x80 and data[2] == MAGIC else Protocol.STREAM


def read_varint(data: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or ``None`` when the varint is not complete yet."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise CotError("stream", "a TAK Protocol length longer than ten bytes")


def decode_datagram(data: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> CotEvent:
    """One UDP datagram: CoT XML, a TAK Protocol v1 mesh message, or one stream frame."""
    if len(data) > max_bytes + len(MESH_HEADER):
        raise CotTooLarge("datagram", f"{len(data)} bytes, over the limit of {max_bytes}")
    protocol = detect_protocol(data)
    if protocol is Protocol.XML:
        return parse_event(data, max_bytes=max_bytes)
    if protocol is Protocol.MESH:
        version = data[1]
        if version != 1:
            raise CotError("datagram", f"TAK Protocol version {version} is not supported")
        return decode_payload(data[len(MESH_HEADER) :], max_bytes=max_bytes)
    if protocol is Protocol.STREAM:
        # pytak sends TAK Protocol to a unicast address with *stream* framing (0xbf, length):
        # taken when the frame is exactly the datagram, so nothing is guessed.
        header = read_varint(data, 1)
        if header is None or header[0] + header[1] != len(data):
            raise CotError("datagram", "a TAK Protocol stream frame that is not the whole datagram")
        return decode_payload(data[header[1] :], max_bytes=max_bytes)
    raise CotError("datagram", "neither CoT XML nor a TAK Protocol mesh message")


def decode_frame(protocol: Protocol, frame: bytes) -> CotEvent:
    """An event from a frame that :class:`StreamFramer` produced under ``protocol``."""
    if protocol is Protocol.XML:
        return parse_event(frame)
    return decode_payload(frame)


class StreamFramer:
    """Cuts a byte stream into frames: XML events or TAK Protocol payloads.

    ``protocol=None`` decides from the first bytes (see :func:`detect_protocol`);
    bytes that are neither count as XML with garbage in front. Memory stays
    within about ``max_bytes`` plus one read.
    """

    def __init__(self, protocol: Protocol | None = None, max_bytes: int = MAX_EVENT_BYTES) -> None:
        if protocol is Protocol.MESH:
            raise ValueError("mesh framing is for datagrams: use decode_datagram")
        self.protocol = protocol
        self.max_bytes = max_bytes
        self.rejected: list[CotError] = []
        self._buf = bytearray()
        self._pos = 0
        self._scanned = 0  # bytes from the current event start already searched for its end
        self._gt = -1  # where that event's start tag ends, relative to its start
        self._in_garbage = False
        self._resync = False  # dropping an oversized XML event until the next <event
        self._skip = 0  # bytes left of an oversized TAK Protocol frame

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def switch(self, protocol: Protocol) -> None:
        """Change framing between frames (TAK Protocol negotiation)."""
        if protocol is Protocol.MESH:
            raise ValueError("mesh framing is for datagrams: use decode_datagram")
        self.protocol = protocol
        self._in_garbage = self._resync = False
        self._reset_scan()

    def push(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def feed(self, data: bytes) -> list[bytes]:
        """Push ``data`` and return every complete frame; errors go to :attr:`rejected`."""
        self.push(data)
        frames: list[bytes] = []
        while True:
            try:
                frame = self.next_frame()
            except CotError as exc:
                self.rejected.append(exc)
                continue
            if frame is None:
                return frames
            frames.append(frame)

    def take_rejected(self) -> list[CotError]:
        rejected, self.rejected = self.rejected, []
        return rejected

    def next_frame(self) -> bytes | None:
        """The next complete frame, or ``None`` until more data arrives.

        Raises :class:`CotError` (or :class:`CotTooLarge`) after skipping what was
        wrong; call again to go on.
        """
        if self.protocol is None:
            self._skip_whitespace()
            try:
                detected = detect_protocol(bytes(self._buf[self._pos : self._pos + 3]))
            except CotError:
                detected = Protocol.XML  # the garbage is reported by the XML path
            if detected is None:
                return None
            self.protocol = Protocol.STREAM if detected is Protocol.MESH else detected
        if self.protocol is Protocol.XML:
            return self._next_xml()
        return self._next_proto()

    # --- XML ---------------------------------------------------------------------------

    def _skip_whitespace(self) -> None:
        buf, pos = self._buf, self._pos
        while pos < len(buf):
            if buf[pos] in _WHITESPACE:
                pos += 1
            elif buf.startswith(UTF8_BOM, pos):
                pos += len(UTF8_BOM)
            else:
                break
        if pos != self._pos:
            self._pos = pos
            self._reset_scan()

    def _next_xml(self) -> bytes | None:
        buf = self._buf
        while True:
            if self._resync or self._in_garbage:
                start = _START.search(buf, self._pos)
                if start is None:
                    self._keep_tail()
                    return None
                self._pos = start.start()
                self._resync = self._in_garbage = False
                self._reset_scan()
            self._skip_whitespace()
            pos = self._pos
            rest = len(buf) - pos
            head = bytes(buf[pos : pos + _START_LEN + 1])
            if not head:
                return None
            if _START.match(head):
                return self._xml_event(pos)
            if any(prefix.startswith(head) for prefix in _PREFIXES):
                return None  # a start tag, declaration or comment still arriving
            if head.startswith((b"<?", b"<!--")):
                closer = b"?>" if head.startswith(b"<?") else b"-->"
                resume = max(pos + 2, pos + self._scanned - _START_LEN - 1)
                end = buf.find(closer, resume)
                start = _START.search(buf, resume)
                if end >= 0 and (start is None or end < start.start()):
                    self._pos = end + len(closer)
                    self._reset_scan()
                    continue
                if start is None and rest <= self.max_bytes:
                    self._scanned = rest
                    return None  # still arriving
            self._garbage()

    def _garbage(self) -> None:
        """Skip to the next ``<event``; report once per run of garbage."""
        start = _START.search(self._buf, self._pos + 1)
        if start is None:
            self._in_garbage = True
            self._keep_tail()
        else:
            self._pos = start.start()
        self._reset_scan()
        raise CotError("stream", "skipped bytes that are not a CoT event")

    def _keep_tail(self) -> None:
        """Drop all but the bytes that could begin a start tag."""
        self._pos = max(self._pos, len(self._buf) - _START_LEN)

    def _reset_scan(self) -> None:
        self._scanned = 0
        self._gt = -1

    def _xml_event(self, pos: int) -> bytes | None:
        """Frame the event starting at ``pos`` (searching only bytes not searched before)."""
        buf = self._buf
        if self._gt < 0:
            gt = buf.find(b">", max(pos + _START_LEN, pos + self._scanned))
            self._gt = -1 if gt < 0 else gt - pos
        end = -1
        if self._gt >= 0:
            gt = pos + self._gt
            if buf[gt - 1] == ord("/"):
                end = gt + 1
            else:
                match = _END.search(buf, max(gt + 1, pos + self._scanned - 16))
                end = -1 if match is None else match.end()
        if end < 0:
            self._scanned = len(buf) - pos
            if len(buf) - pos > self.max_bytes:
                self._pos = pos + 1
                self._resync = True
                self._reset_scan()
                raise CotTooLarge("event", f"an event longer than {self.max_bytes} bytes")
            return None
        self._reset_scan()
        later = None
        for later in _START.finditer(buf, pos + 1, end):  # noqa: B007 - the last one counts
            pass
        if later is not None:
            self._pos = later.start()
            raise CotError("stream", "an event was cut off by the start of the next one")
        self._pos = end
        if end - pos > self.max_bytes:
            raise CotTooLarge("event", f"{end - pos} bytes, over the limit of {self.max_bytes}")
        return bytes(buf[pos:end])

    # --- TAK Protocol ------------------------------------------------------------------

    def _next_proto(self) -> bytes | None:
        buf = self._buf
        if self._skip:
            dropped = min(self._skip, len(buf) - self._pos)
            self._pos += dropped
            self._skip -= dropped
            if self._skip:
                return None
        pos = self._pos
        if pos >= len(buf):
            return None
        if buf[pos] != MAGIC:
            next_magic = buf.find(MAGIC, pos + 1)
            self._pos = len(buf) if next_magic < 0 else next_magic
            if self._in_garbage:
                return None if next_magic < 0 else self._next_proto()
            self._in_garbage = next_magic < 0
            raise CotError("stream", "skipped bytes that are not a TAK Protocol message")
        self._in_garbage = False
        try:
            header = read_varint(buf, pos + 1)
        except CotError:
            self._pos = pos + 1
            raise
        if header is None:
            return None
        length, start = header
        if length > self.max_bytes:
            self._pos = start
            self._skip = length
            raise CotTooLarge("protobuf", f"{length} bytes, over the limit of {self.max_bytes}")
        if len(buf) - start < length:
            return None
        self._pos = start + length
        return bytes(buf[start : start + length])
