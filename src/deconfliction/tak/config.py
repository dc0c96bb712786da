"""What the CoT gateway is given: its listeners' settings, and the interfaces of the services
it calls.

:class:`GatewayConfig` holds the address, the ports (0: off) and the limits of every
connection. :class:`Sink` is where the events go and who may connect
(:class:`~deconfliction.tak.ingest.CotIngest`); :class:`RevocationCheck` says whether a
client certificate is revoked (:class:`~deconfliction.tak.revocation.Revocations`). They
are named here, below the listeners that use them, so that no listener module imports
another or the gateway's life cycle (``tak/gateway.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from deconfliction.cot.event import CotEvent
from deconfliction.cot.xml import MAX_EVENT_BYTES
from deconfliction.tak.ingest import Outcome, Sender


class RevocationCheck(Protocol):
    """Revoked client certificates (:class:`~deconfliction.tak.revocation.Revocations`)."""

    def is_revoked(self, serial: str | None) -> bool: ...


class Sink(Protocol):
    """Where events go (:class:`~deconfliction.tak.ingest.CotIngest`)."""

    def identify(self, unit_id: str, party_id: str) -> str | None: ...

    def identify_many(self, keys: Sequence[tuple[str, str]]) -> list[str | None]: ...

    def ingest(self, sender: Sender, events: Sequence[CotEvent]) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    tls_port: int = 0
    tcp_port: int = 0
    udp_port: int = 0
    idle_timeout_s: float = 300.0
    handshake_timeout_s: float = 10.0
    max_event_bytes: int = MAX_EVENT_BYTES
    read_size: int = 64 * 1024
    max_connections: int = 4096
