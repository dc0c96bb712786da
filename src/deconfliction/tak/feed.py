"""What one TLS client is sent: its queues, its rate limit, its counters.

A :class:`ClientFeed` belongs to one connection. It has two queues, drained by
its own writer task so that a slow client never stalls another:

- **messages** (notification chats, arrival markers, chat replies): in order,
  never coalesced, never rate-limited; an outbox entry counts as delivered (the
  certificate's cursor moves) once its bytes are written and drained. A client
  that lets more than :data:`MAX_MESSAGES` pile up is disconnected: it gets what
  it missed from the outbox when it reconnects, rather than the server holding
  an unbounded queue.
- **picture** updates, keyed by uid: a newer event for a uid replaces the queued
  one (``coalesced``), and they leave through a token bucket
  (:data:`PICTURE_RATE` per second, bursts of :data:`PICTURE_BURST`), so a busy
  picture is paced per client and the latest state always wins.

Events are written in the client's encoding: XML (with a declaration per event,
as TAK clients expect on streams) or TAK Protocol v1 stream framing once the
client spoke or negotiated it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deconfliction.cot.event import CotEvent
from deconfliction.cot.framing import Protocol as Framing
from deconfliction.cot.proto import encode_stream
from deconfliction.cot.xml import render_event

PICTURE_RATE = 200.0
PICTURE_BURST = 2000.0
MAX_MESSAGES = 10_000


#: Recently encoded events: the same marker goes to every client of a party, so it is
#: rendered once per encoding, not once per client. Keyed by identity; the event is kept
#: with its bytes so that its id cannot be reused while cached.
_ENCODED: dict[tuple[int, Framing | None], tuple[CotEvent, bytes]] = {}
MAX_ENCODED = 4096


def encode(event: CotEvent, protocol: Framing | None) -> bytes:
    key = (id(event), protocol)
    cached = _ENCODED.get(key)
    if cached is not None and cached[0] is event:
        return cached[1]
    if protocol is Framing.STREAM:
        data = encode_stream(event)
    else:
        data = render_event(event, xml_declaration=True)
    if len(_ENCODED) >= MAX_ENCODED:
        _ENCODED.clear()
    _ENCODED[key] = (event, data)
    return data


@dataclass
class FeedCounters:
    sent: Counter[str] = field(default_factory=Counter)
    bytes: int = 0

    def summary(self) -> dict[str, Any]:
        return {"bytes_out": self.bytes, **dict(sorted(self.sent.items()))}


class ClientFeed:
    """The outbound side of one TLS connection (used on the gateway's event loop)."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        client: Any,
        *,
        delivered: Callable[[Any, int], None],
        rate: float = PICTURE_RATE,
        burst: float = PICTURE_BURST,
    ) -> None:
        self.writer = writer
        #: The service's view of the client (:class:`~deconfliction.tak.outbound.Client`).
        self.client = client
        self.protocol: Framing | None = None
        #: The outbox position this connection has been given (read ahead of writing).
        self.cursor = 0
        self.counters = FeedCounters()
        self._delivered = delivered
        self._messages: deque[tuple[int | None, str, CotEvent]] = deque()
        self._picture: OrderedDict[str, CotEvent] = OrderedDict()
        self._wake = asyncio.Event()
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._refilled = time.monotonic()
        self.closed = False

    # -- queueing ---------------------------------------------------------------------------
    def push_messages(self, events: Sequence[CotEvent], kind: str, seq: int | None = None) -> None:
        """Queue events in order; ``seq``: the outbox entry they deliver (on the last one)."""
        for index, event in enumerate(events):
            last = index == len(events) - 1
            self._messages.append((seq if last else None, kind, event))
        if len(self._messages) > MAX_MESSAGES:
            self.counters.sent["disconnected_slow"] += 1
            self.close()
            return
        self._wake.set()

    def push_picture(self, events: Sequence[CotEvent]) -> None:
        for event in events:
            if event.uid in self._picture:
                self.counters.sent["coalesced"] += 1
                del self._picture[event.uid]
            self._picture[event.uid] = event
        if events:
            self._wake.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()
            self._wake.set()

    # -- writing ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Write whatever is queued, until the connection ends (or it is cancelled)."""
        try:
            await self._run()
        except (ConnectionError, OSError):
            self.closed = True  # the reader sees the end too and closes the connection

    async def _run(self) -> None:
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            while not self.closed and (self._messages or self._picture):
                if self._messages:
                    await self._write_messages()
                    continue
                wait = await self._write_picture()
                if wait > 0 and not self._messages:
                    try:
                        await asyncio.wait_for(self._wake.wait(), wait)
                        self._wake.clear()
                    except TimeoutError:
                        pass

    async def _write_messages(self) -> None:
        done: list[int] = []
        while self._messages:
            seq, kind, event = self._messages.popleft()
            self._write(event, kind)
            if seq is not None:
                done.append(seq)
        await self.writer.drain()
        for seq in done:
            self._delivered(self.client, seq)

    async def _write_picture(self) -> float:
        """Write what the bucket allows; the seconds until the next token if any remain."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        count = min(int(self._tokens), len(self._picture))
        for _ in range(count):
            _, event = self._picture.popitem(last=False)
            self._write(event, "picture")
        self._tokens -= count
        if count:
            await self.writer.drain()
        if self._picture:
            self.counters.sent["rate_limited"] += 1  # a pause: the rest waits for tokens
            return max(0.0, (1.0 - self._tokens) / self._rate)
        return 0.0

    def _write(self, event: CotEvent, kind: str) -> None:
        data = encode(event, self.protocol)
        self.writer.write(data)
        self.counters.bytes += len(data)
        self.counters.sent[kind] += 1
