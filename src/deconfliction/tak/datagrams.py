"""The UDP listener (``--cot-udp-port``, trusted networks only): one event per datagram.

Anyone who can reach the port may send; its reports are *plain* and only widen where an
asset could be (``tak/ingest.py``), and nothing is sent back. A datagram that cannot be
read is counted by reason and logged. Events wait in one queue, stored in batches per
sender off the event loop; beyond :data:`MAX_UDP_BACKLOG` waiting, more are dropped and
counted (``overloaded``), since UDP has no flow control to slow a sender.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

from deconfliction.cot.errors import CotError
from deconfliction.cot.event import CotEvent
from deconfliction.cot.framing import decode_datagram
from deconfliction.tak.config import Sink
from deconfliction.tak.connections import GatewayStats, peer_name, rejection_reason
from deconfliction.tak.ingest import Sender

# One logger for the whole gateway (``tak/connections.py``).
log = logging.getLogger("deconfliction.tak.gateway")

#: UDP events waiting to be stored; more are dropped (``overloaded``) and counted.
MAX_UDP_BACKLOG = 10_000


class DatagramListener(asyncio.DatagramProtocol):
    """The protocol of the UDP endpoint: decode each datagram, queue it, store the queue."""

    def __init__(
        self,
        sink: Sink,
        stats: GatewayStats,
        executor: concurrent.futures.Executor,
        max_event_bytes: int,
    ) -> None:
        self.sink = sink
        self.stats = stats
        self.executor = executor
        self.max_event_bytes = max_event_bytes
        self._queue: list[tuple[Sender, CotEvent]] = []
        self._flushing = False

    def datagram_received(self, data: bytes, addr: Any) -> None:
        sender = Sender("udp", peer_name(addr))
        self.stats.events["udp"] += 1
        try:
            event = decode_datagram(data, max_bytes=self.max_event_bytes)
        except CotError as exc:
            reason = rejection_reason(exc)
            self.stats.counts[reason] += 1
            log.info("%s: dropped: %s: %s", sender.actor, exc.field, exc.message)
            return
        self._queue.append((sender, event))
        if len(self._queue) > MAX_UDP_BACKLOG:
            self._queue.pop()
            self.stats.counts["overloaded"] += 1
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())

    def error_received(self, exc: Exception) -> None:
        log.warning("udp: %s", exc)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                by_sender: dict[Sender, list[CotEvent]] = {}
                for sender, event in batch:
                    by_sender.setdefault(sender, []).append(event)
                for sender, events in by_sender.items():
                    outcome = await loop.run_in_executor(
                        self.executor, self.sink.ingest, sender, events
                    )
                    self.stats.counts.update(outcome.counts)
        finally:
            self._flushing = False
