"""What ``GET /v1/tak/status`` answers: the gateway's connections, counters and unbound uids.

Releasability holds here too. An admin sees every connection (TLS and plain), the totals
of closed connections (refusals at the handshake among them) and every unbound uid. A
coordinator sees only the TLS connections of its own party's units and the unbound uids
those units' clients sent (the ones it should bind with an asset's ``cot_uid``): nothing
about other parties' clients, nor plain ports, whose senders have no party. Operators are
refused: this is for running the gateway, not for the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from deconfliction.service.access import Principal
from deconfliction.service.errors import Forbidden, Unavailable

#: Where a request's scope carries the TAK runtime (set by ``tak/server.py``'s
#: ``StopBeforeShutdown``; read by ``api/routes_tak.py``).
SCOPE_KEY = "deconfliction.tak"


# What the status reads of the runtime (``tak/server.py``'s ``TakRuntime``), named here so
# that this module stays below the server: it is the server that depends on it.
class GatewayView(Protocol):
    @property
    def ports(self) -> Mapping[str, int]: ...

    def snapshot(self) -> tuple[list[dict[str, Any]], dict[str, Any]]: ...


class IngestView(Protocol):
    def unbound_listing(self, party_id: str | None = None) -> list[dict[str, Any]]: ...


class RuntimeView(Protocol):
    @property
    def gateway(self) -> GatewayView | None: ...

    @property
    def ingest(self) -> IngestView: ...


def tak_status(who: Principal, runtime: RuntimeView | None) -> dict[str, Any]:
    if who.role not in ("admin", "coordinator"):
        raise Forbidden(f"an {who.role} token may not read the TAK gateway's status")
    party = None if who.is_admin else who.party_id
    gateway = runtime.gateway if runtime is not None else None
    body: dict[str, Any] = {"enabled": gateway is not None}
    if runtime is None or gateway is None:
        body.update(listeners={}, connections=[], unbound=[])
        if who.is_admin:
            body["closed_totals"] = None
        return body
    try:
        connections, totals = gateway.snapshot()
    except TimeoutError:  # its loop is stuck: say so rather than answer from a moving state
        raise Unavailable("the TAK gateway did not answer within 5 s; try again") from None
    if not who.is_admin:
        connections = [c for c in connections if c["party"] is not None and c["party"] == party]
    connections.sort(key=lambda c: (c["transport"], c["unit"] or "", c["peer"]))
    body["listeners"] = dict(gateway.ports)
    body["connections"] = connections
    body["unbound"] = runtime.ingest.unbound_listing(party)
    if who.is_admin:
        body["closed_totals"] = totals
    return body
