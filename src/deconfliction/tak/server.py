"""The TAK side of ``deconfliction serve``: the PKI, the CoT gateway, and their life cycle.

:func:`start_gateway` makes sure the CA and the server certificate exist (every
start, so the first one creates them), builds the report sink over the
service's use cases, and binds the configured ports before the HTTP server
starts: a port that cannot be bound stops ``serve`` with a clear error.
:class:`StopBeforeShutdown` wraps the ASGI app so that the gateway stops (and
its last batches are stored) before the app's shutdown closes the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from deconfliction.service.config import Settings
from deconfliction.tak.config import GatewayConfig
from deconfliction.tak.gateway import Gateway
from deconfliction.tak.ingest import CotIngest
from deconfliction.tak.outbound import CotOutbound
from deconfliction.tak.pki import ServerPki, ensure_server_pki, server_tls_context
from deconfliction.tak.revocation import Revocations
from deconfliction.tak.status import SCOPE_KEY, RuntimeView
from deconfliction.usecases import UseCases

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class TakRuntime:
    pki: ServerPki
    ingest: CotIngest
    gateway: Gateway | None

    def describe(self) -> list[str]:
        """Lines for the operator: the PKI and what listens where."""
        lines = []
        made = " (created now)" if self.pki.created else ""
        lines.append(f"TAK CA: {self.pki.ca_cert}{made}")
        ports = self.gateway.ports if self.gateway is not None else {}
        host = self.gateway.config.host if self.gateway is not None else "-"
        if "tls" in ports:
            lines.append(
                f"CoT/TAK gateway: TLS (mutual, client certificates of the TAK CA) on "
                f"{host}:{ports['tls']}; issue one with: deconfliction tak issue-client "
                "--unit <unit> --out <dir>"
            )
        else:
            lines.append("CoT/TAK gateway: TLS off (--cot-tls-port 0)")
        for transport in ("tcp", "udp"):
            if transport in ports:
                lines.append(
                    f"CoT/TAK gateway: plain {transport.upper()} on {host}:{ports[transport]} "
                    "(trusted networks only: its reports only widen where an asset could be)"
                )
        return lines

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()


def start_gateway(
    usecases: UseCases, settings: Settings, *, idle_timeout_s: float = 300.0
) -> TakRuntime:
    """Create the PKI if needed and start listening (``OSError`` if a port is taken)."""
    pki = ensure_server_pki(settings.data_dir, settings.host)
    ingest = CotIngest(usecases.service, usecases.reports)
    gateway: Gateway | None = None
    if settings.cot_tls_port or settings.cot_tcp_port or settings.cot_udp_port:
        gateway = Gateway(
            ingest,
            GatewayConfig(
                host=settings.host,
                tls_port=settings.cot_tls_port,
                tcp_port=settings.cot_tcp_port,
                udp_port=settings.cot_udp_port,
                idle_timeout_s=idle_timeout_s,
            ),
            server_tls_context(pki) if settings.cot_tls_port else None,
            CotOutbound(usecases) if settings.cot_tls_port else None,
            Revocations.of(settings.data_dir) if settings.cot_tls_port else None,
        )
        gateway.start()
    return TakRuntime(pki, ingest, gateway)


class StopBeforeShutdown:
    """An ASGI wrapper: on ``lifespan.shutdown``, stop the gateway before the app shuts down;
    every request carries the runtime in its scope (:data:`SCOPE_KEY`)."""

    def __init__(self, app: ASGIApp, runtime: TakRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            view: RuntimeView = self.runtime  # what GET /v1/tak/status reads (tak/status.py)
            scope[SCOPE_KEY] = view
            await self.app(scope, receive, send)
            return

        async def receive_then_stop() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                await asyncio.to_thread(self.runtime.stop)
            return message

        await self.app(scope, receive_then_stop, send)
