"""The revocation sweep: open TLS connections whose credential died are closed within a second.

A revoked certificate is refused at the handshake, and a connection that sends anything
after its certificate was revoked is closed by its read loop (``tak/streams.py``). An idle
receiver sends nothing, so :class:`RevocationSweep` looks at every open TLS connection
every :data:`REVOCATION_SWEEP_S`: one whose certificate was revoked since it connected, or
whose unit was deleted since (a deleted unit's id is never reissued, so its certificates
are dead too: docs/design/security.md, "Credentials die with their unit"), is cut.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

from deconfliction.tak.config import RevocationCheck, Sink
from deconfliction.tak.connections import Connections, ConnectionStats

# One logger for the whole gateway (``tak/connections.py``).
log = logging.getLogger("deconfliction.tak.gateway")

#: How often open TLS connections are checked against the revocation list and their units'
#: existence: a revoked or deleted credential is cut within a second (docs/design/security.md).
#: One sweep costs a stat of the revocation file and one store read for all open units.
REVOCATION_SWEEP_S = 0.5


class RevocationSweep:
    """The sweep's loop (:meth:`run`, a task on the gateway's event loop)."""

    def __init__(
        self,
        connections: Connections,
        revocations: RevocationCheck,
        sink: Sink,
        executor: concurrent.futures.Executor,
    ) -> None:
        self.connections = connections
        self.revocations = revocations
        self.sink = sink
        self.executor = executor

    async def run(self) -> None:
        """Close the open connections of certificates revoked since they connected (an idle
        receiver sends nothing that would let the read loop notice), and of units deleted
        since: a deleted unit's id is never reissued, so its certificates are dead too
        (docs/design/security.md, "Credentials die with their unit")."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(REVOCATION_SWEEP_S)
            units: list[tuple[ConnectionStats, tuple[str, str]]] = []
            for stats in self.connections.open_stats():
                if stats.serial and not stats.revoked and self.revocations.is_revoked(stats.serial):
                    self.connections.cut(stats, f"certificate serial {stats.serial} revoked")
                elif stats.serial and not stats.revoked and stats.unit_id and stats.party_id:
                    units.append((stats, (stats.unit_id, stats.party_id)))
            if not units:
                continue
            keys = sorted({key for _, key in units})
            try:  # every open unit in one read, off the loop
                found = await loop.run_in_executor(self.executor, self.sink.identify_many, keys)
            except Exception:  # the store is away: asked again next sweep
                log.exception("cannot check the open connections' units; asked again")
                continue
            problems = dict(zip(keys, found, strict=True))
            for stats, key in units:
                if problems[key] is not None and not stats.revoked:
                    self.connections.cut(stats, f"{problems[key]} (the unit was deleted)")
