"""The CoT gateway's life cycle: its listeners bound, served on an event loop of their own,
and stopped.

One asyncio loop in a thread of its own, beside the HTTP server. :class:`Gateway` binds
the configured listeners (``tak/config.py``), each served by a module of its own:

- **TLS** (``--cot-tls-port``, 8089 by default) and **TCP** (``--cot-tcp-port``, off by
  default): streams (``tak/streams.py``); a TLS connection belongs to the unit its
  client certificate names, a TCP one is *plain* and is sent nothing.
- **UDP** (``--cot-udp-port``, off by default): datagrams (``tak/datagrams.py``), plain.

With TLS on, it also runs the outbound publisher (notifications and the picture to TLS
clients: ``tak/publisher.py``) and the revocation sweep (``tak/sweeps.py``). The open
connections and the totals are kept by ``tak/connections.py``; :meth:`Gateway.snapshot`
reads them for other threads (``GET /v1/tak/status``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import ssl
import threading
from typing import TYPE_CHECKING, Any

from deconfliction.tak.config import GatewayConfig, RevocationCheck, Sink
from deconfliction.tak.connections import Connections
from deconfliction.tak.datagrams import DatagramListener
from deconfliction.tak.publisher import Publisher
from deconfliction.tak.streams import StreamServer
from deconfliction.tak.sweeps import RevocationSweep

if TYPE_CHECKING:
    from deconfliction.tak.outbound import CotOutbound

log = logging.getLogger("deconfliction.tak.gateway")


class Gateway:
    """The listeners; :meth:`start` binds them (raising ``OSError`` if it cannot)."""

    def __init__(
        self,
        sink: Sink,
        config: GatewayConfig,
        tls_context: ssl.SSLContext | None = None,
        outbound: CotOutbound | None = None,
        revocations: RevocationCheck | None = None,
    ) -> None:
        if config.tls_port and tls_context is None:
            raise ValueError("a TLS port needs a TLS context")
        self.sink = sink
        self.config = config
        self.tls_context = tls_context
        self.connections = Connections(config.max_connections)
        self.stats = self.connections.stats
        #: transport → the port it listens on.
        self.ports: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="deconfliction-cot"
        )
        self._stopped = False
        #: Notifications and the picture to TLS clients (issue 6); none without a service.
        self.outbound = outbound
        self.publisher: Publisher | None
        self.publisher = (
            Publisher(outbound, self._executor)
            if outbound is not None and config.tls_port
            else None
        )
        self._publisher_task: asyncio.Task[None] | None = None
        self.revocations = revocations
        self._sweep_task: asyncio.Task[None] | None = None
        self.streams = StreamServer(
            sink,
            config,
            self.connections,
            self._executor,
            tls_context=tls_context,
            outbound=outbound,
            publisher=self.publisher,
            revocations=revocations,
        )

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Bind every configured port and start serving in a background thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        bound: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:
                bound.set_exception(exc)
                loop.run_until_complete(self._close())
                loop.close()
                return
            bound.set_result(None)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._close())
                loop.close()

        self._thread = threading.Thread(target=run, name="deconfliction-cot-gateway", daemon=True)
        self._thread.start()
        bound.result()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listeners and every connection; wait for batches being stored."""
        if self._stopped or self._loop is None or self._thread is None:
            return
        self._stopped = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._executor.shutdown(wait=True)
        log.info("CoT gateway stopped: %s", json.dumps(self.stats.snapshot(), sort_keys=True))

    async def _bind(self) -> None:
        cfg = self.config
        if cfg.tls_port:
            server = await asyncio.start_server(
                self.streams.accept_tls, cfg.host, cfg.tls_port, limit=cfg.read_size
            )
            self._servers.append(server)
            self.ports["tls"] = server.sockets[0].getsockname()[1]
            if self.publisher is not None:  # not a connection: not among the connections' tasks
                self._publisher_task = asyncio.get_running_loop().create_task(self._publish())
            if self.revocations is not None:
                sweep = RevocationSweep(
                    self.connections, self.revocations, self.sink, self._executor
                )
                self._sweep_task = asyncio.get_running_loop().create_task(sweep.run())
        if cfg.tcp_port:
            server = await asyncio.start_server(
                self.streams.accept_tcp, cfg.host, cfg.tcp_port, limit=cfg.read_size
            )
            self._servers.append(server)
            self.ports["tcp"] = server.sockets[0].getsockname()[1]
        if cfg.udp_port:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: DatagramListener(
                    self.sink, self.stats, self._executor, cfg.max_event_bytes
                ),
                local_addr=(cfg.host, cfg.udp_port),
            )
            self._udp = transport
            self.ports["udp"] = transport.get_extra_info("sockname")[1]

    async def _close(self) -> None:
        for background in (self._publisher_task, self._sweep_task):
            if background is not None:
                background.cancel()
                await asyncio.gather(background, return_exceptions=True)
        for server in self._servers:
            server.close()
        if self._udp is not None:
            self._udp.close()
        await self.connections.cancel_all()
        if self.outbound is not None:  # what each client was sent, kept for its reconnect
            try:
                self.outbound.cursors.save()
            except Exception:
                log.exception("cannot store the TAK cursors while stopping")
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def _publish(self) -> None:
        assert self.publisher is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self.publisher.run()

    # -- what it reports ------------------------------------------------------------------
    def clients(self) -> list[dict[str, Any]]:
        """Counters of every open connection (TLS ones with what they were sent)."""
        return self.connections.clients()

    def snapshot(self, timeout: float = 5.0) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """:meth:`clients` and the totals of closed connections, taken on the gateway's own
        loop so that no counter changes while it is read; for other threads (the API)."""
        loop = self._loop
        if loop is None or self._stopped or not loop.is_running():
            return [], self.stats.snapshot()
        taken: concurrent.futures.Future[tuple[list[dict[str, Any]], dict[str, Any]]]
        taken = concurrent.futures.Future()

        def take() -> None:
            try:
                taken.set_result((self.clients(), self.stats.snapshot()))
            except BaseException as exc:  # handed to the caller, not lost in the loop
                taken.set_exception(exc)

        loop.call_soon_threadsafe(take)
        return taken.result(timeout)
