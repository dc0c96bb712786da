"""The gateway's connection bookkeeping: each connection's counters, the totals, and the table
of open connections.

:class:`Connections` admits a connection while fewer than ``max_connections`` are open
(else it is refused and counted), keeps the counters of each open one
(:class:`ConnectionStats`, what ``GET /v1/tak/status`` lists) and folds them into the
totals (:class:`GatewayStats`) when it closes. It also cancels a connection for the
revocation sweep (``tak/sweeps.py``) and every connection when the gateway stops. All of
it runs on the gateway's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deconfliction.cot.errors import CotError, CotTooLarge
from deconfliction.tak.feed import ClientFeed
from deconfliction.tak.ingest import Transport

# One logger for the whole gateway, as before it was split into modules: operators filter
# its lines by this name.
log = logging.getLogger("deconfliction.tak.gateway")


@dataclass
class ConnectionStats:
    transport: Transport
    peer: str
    unit_id: str | None = None
    party_id: str | None = None
    #: ``xml``, ``tak-stream`` once known (from the first bytes, or negotiated).
    protocol: str | None = None
    #: The client certificate's serial (TLS), and whether it was found revoked meanwhile.
    serial: str | None = None
    revoked: bool = False
    task: asyncio.Task[None] | None = None
    opened: float = field(default_factory=time.monotonic)
    bytes: int = 0
    events: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    logged: int = 0
    #: Chat commands received (``answer``, ``check``, ``error``) on a TLS connection.
    commands: Counter[str] = field(default_factory=Counter)
    feed: ClientFeed | None = None

    def summary(self) -> dict[str, Any]:
        taken = self.counts.get("taken", 0)
        outbound: dict[str, Any] = {}
        if self.feed is not None:
            outbound = {"sent": self.feed.counters.summary(), "commands": dict(self.commands)}
        return {
            "transport": self.transport,
            "peer": self.peer,
            "unit": self.unit_id,
            "party": self.party_id,
            "protocol": self.protocol,
            "seconds": round(time.monotonic() - self.opened, 3),
            "bytes": self.bytes,
            "events": self.events,
            "reports": taken,
            "rejected": {k: v for k, v in sorted(self.counts.items()) if k != "taken"},
            **outbound,
        }


@dataclass
class GatewayStats:
    """Totals over every connection (closed and open), by transport."""

    connections: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)
    #: What closed connections were sent, and their chat commands.
    sent: Counter[str] = field(default_factory=Counter)
    commands: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": dict(self.connections),
            "refused": dict(self.refused),
            "events": dict(self.events),
            "counts": dict(self.counts),
            "sent": dict(self.sent),
            "commands": dict(self.commands),
        }

    def add_closed(self, stats: ConnectionStats) -> None:
        """Fold the counters of a connection that ended into the totals."""
        if stats.feed is not None:
            self.sent.update(stats.feed.counters.sent)
            self.commands.update(stats.commands)
        self.events[stats.transport] += stats.events
        self.counts.update(stats.counts)


def peer_name(address: Any) -> str:
    """``host:port`` of a socket address, as the log lines and the status name a peer."""
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def rejection_reason(exc: CotError) -> str:
    """The counter key of an event that could not be read."""
    return "too_large" if isinstance(exc, CotTooLarge) else f"invalid:{exc.field}"


class Connections:
    """The open connections: their tasks (at most ``max_connections``), their counters, and
    the totals (:attr:`stats`)."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.stats = GatewayStats()
        self._tasks: set[asyncio.Task[None]] = set()
        self._open: dict[int, ConnectionStats] = {}

    # -- connections (their tasks) ---------------------------------------------------------
    def admit(self, task: asyncio.Task[None], transport: Transport, peer: str) -> bool:
        """Count a new connection and keep its task; ``False`` (refused) if too many are open."""
        if len(self._tasks) >= self.max_connections:
            self.stats.refused["too_many_connections"] += 1
            log.warning("%s %s refused: %d connections open", transport, peer, len(self._tasks))
            return False
        self._tasks.add(task)
        self.stats.connections[transport] += 1
        return True

    def release(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)

    async def cancel_all(self) -> None:
        """Cancel every connection's task and wait for them (the gateway is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- served connections (their counters) ------------------------------------------------
    def opened(self, stats: ConnectionStats) -> None:
        self._open[id(stats)] = stats

    def forget(self, stats: ConnectionStats) -> None:
        """The connection is ending: no longer listed as open (its totals come after)."""
        self._open.pop(id(stats), None)

    def open_stats(self) -> list[ConnectionStats]:
        return list(self._open.values())

    def clients(self) -> list[dict[str, Any]]:
        """Counters of every open connection (TLS ones with what they were sent)."""
        return [stats.summary() for stats in self.open_stats()]

    def cut(self, stats: ConnectionStats, why: str) -> None:
        """Close an open connection whose credential died (revoked, or its unit deleted)."""
        stats.revoked = True
        self.stats.refused["revoked_while_connected"] += 1
        log.warning("%s (%s): %s; closing", stats.peer, stats.unit_id, why)
        if stats.task is not None:
            stats.task.cancel()
