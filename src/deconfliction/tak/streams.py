"""The stream connections: TLS (mutual), and plain TCP for trusted networks.

Each connection is served by its own task. On **TLS** the handshake is done by that task
(so that a refused one is logged and counted), with a client certificate of our CA
required; the connection belongs to the unit its certificate names
(:func:`~deconfliction.tak.pki.peer_identity`), and a unit that is not registered, or
not of the party the certificate names, is refused. A TLS client is offered TAK Protocol
(``tak/control.py``), may negotiate it and ping, and is sent notifications and its
party's picture (:class:`~deconfliction.tak.feed.ClientFeed`); its chat commands are
answered. On **TCP** anyone who can reach the port may connect: its reports are *plain*
and it is sent nothing.

Streams are framed by :class:`~deconfliction.cot.framing.StreamFramer` (XML or TAK
Protocol v1, detected from the first bytes; a TLS client may also negotiate TAK Protocol
with ``t-x-takp-q``). The events of each read go to the sink as one batch, and the
connection reads again only once the batch is stored, so a fast sender is slowed by TCP
flow control rather than losing events: a burst never disconnects a well-behaved sender.
Bad input (garbage, truncated, oversized, hostile XML, invalid fields) is counted by
reason and dropped with a log line naming the field; it never closes the connection. A
connection idle for ``idle_timeout_s`` is closed. Memory per connection stays within
about one event limit plus one read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import ssl
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from deconfliction.cot.errors import CotError
from deconfliction.cot.event import CotEvent
from deconfliction.cot.framing import Protocol as Framing
from deconfliction.cot.framing import StreamFramer, decode_frame
from deconfliction.cot.mapping import CHAT_TYPE, chat_message
from deconfliction.tak.config import GatewayConfig, RevocationCheck, Sink
from deconfliction.tak.connections import (
    Connections,
    ConnectionStats,
    peer_name,
    rejection_reason,
)
from deconfliction.tak.control import PING, TAKP_QUERY, pong, takp_response, takp_support
from deconfliction.tak.feed import ClientFeed
from deconfliction.tak.ingest import Sender, Transport
from deconfliction.tak.pki import peer_identity
from deconfliction.tak.publisher import Publisher

if TYPE_CHECKING:
    from deconfliction.tak.outbound import CotOutbound

# One logger for the whole gateway (``tak/connections.py``).
log = logging.getLogger("deconfliction.tak.gateway")

#: Rejection lines logged per connection before they are only counted.
MAX_LOGGED_PER_CONNECTION = 20


def _log_failure(task: asyncio.Task[None]) -> None:
    """A client's writer task that failed (a bug, or a hostile type refused): say so."""
    if not task.cancelled() and task.exception() is not None:
        log.error("a TAK client's outbound feed stopped", exc_info=task.exception())


class StreamServer:
    """Serves the connections of the TLS and TCP listeners (:meth:`accept_tls`,
    :meth:`accept_tcp`), on the gateway's event loop; stores through ``executor``."""

    def __init__(
        self,
        sink: Sink,
        config: GatewayConfig,
        connections: Connections,
        executor: concurrent.futures.Executor,
        *,
        tls_context: ssl.SSLContext | None = None,
        outbound: CotOutbound | None = None,
        publisher: Publisher | None = None,
        revocations: RevocationCheck | None = None,
    ) -> None:
        self.sink = sink
        self.config = config
        self.connections = connections
        self.stats = connections.stats
        self.executor = executor
        self.tls_context = tls_context
        self.outbound = outbound
        self.publisher = publisher
        self.revocations = revocations

    async def accept_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._connection(reader, writer, "tls")

    async def accept_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._connection(reader, writer, "tcp")

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: Transport
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = peer_name(writer.get_extra_info("peername"))
        if not self.connections.admit(task, transport, peer):
            writer.close()
            return
        try:
            sender = await self._sender(writer, transport, peer)
            if sender is not None:
                await self._serve(reader, writer, sender)
        except asyncio.CancelledError:
            pass
        finally:
            self.connections.release(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _sender(
        self, writer: asyncio.StreamWriter, transport: Transport, peer: str
    ) -> Sender | None:
        if transport != "tls":
            return Sender(transport, peer)
        assert self.tls_context is not None
        try:
            await writer.start_tls(
                self.tls_context, ssl_handshake_timeout=self.config.handshake_timeout_s
            )
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
            self.stats.refused["handshake"] += 1
            log.warning("tls %s refused: TLS handshake failed: %s", peer, exc)
            return None
        serial = (writer.get_extra_info("peercert") or {}).get("serialNumber")
        if self.revocations is not None and self.revocations.is_revoked(serial):
            self.stats.refused["revoked"] += 1
            log.warning("tls %s refused: certificate serial %s is revoked", peer, serial)
            if self.outbound is not None and serial:
                self.outbound.cursors.revoked(str(serial))
            return None
        identity = peer_identity(writer.get_extra_info("peercert"))
        if identity is None:
            self.stats.refused["no_unit_in_certificate"] += 1
            log.warning("tls %s refused: the certificate names no unit and party", peer)
            return None
        loop = asyncio.get_running_loop()
        problem = await loop.run_in_executor(
            self.executor, self.sink.identify, identity.unit_id, identity.party_id
        )
        if problem is not None:
            self.stats.refused["unknown_unit"] += 1
            log.warning("tls %s (%s) refused: %s", peer, identity.subject, problem)
            return None
        log.info("tls %s connected as unit %s (%s)", peer, identity.unit_id, identity.party_id)
        return Sender(
            "tls", peer, identity.unit_id, identity.party_id, str(serial or ""), identity.subject
        )

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sender: Sender
    ) -> None:
        cfg = self.config
        stats = ConnectionStats(sender.transport, sender.peer, sender.unit_id, sender.party_id)
        stats.serial = sender.cert_id if sender.authenticated else None
        stats.task = asyncio.current_task()
        framer = StreamFramer(None, max_bytes=cfg.max_event_bytes)
        loop = asyncio.get_running_loop()
        end = "closed by the client"
        feed_task: asyncio.Task[None] | None = None
        self.connections.opened(stats)
        try:
            if sender.authenticated:  # first, before anything else is written
                writer.write(takp_support(datetime.now(UTC)))
            if sender.authenticated and self.publisher is not None:
                stats.feed = self._feed(writer, sender)
                try:
                    await self.publisher.attach(stats.feed)
                except Exception:  # the store is away: the client reconnects and catches up
                    log.exception("%s: cannot read what to send; closing", sender.actor)
                    end = "store unavailable"
                    return
                feed_task = loop.create_task(stats.feed.run())
                feed_task.add_done_callback(_log_failure)
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(cfg.read_size), cfg.idle_timeout_s)
                except TimeoutError:
                    end = f"idle for {cfg.idle_timeout_s:g} s"
                    break
                if not chunk:
                    break
                if stats.serial and self.revocations and self.revocations.is_revoked(stats.serial):
                    stats.revoked = True
                    end = "certificate revoked"
                    break
                stats.bytes += len(chunk)
                framer.push(chunk)
                events, replies = self._frames(framer, stats, sender)
                if framer.protocol is not None:
                    stats.protocol = framer.protocol.value
                if stats.feed is not None:  # before the reply: after it, only TAK Protocol
                    stats.feed.protocol = framer.protocol
                for reply in replies:
                    writer.write(reply)
                if replies:
                    await writer.drain()
                if stats.feed is not None:
                    events = await self._chats(stats, stats.feed, events)
                if events:
                    outcome = await loop.run_in_executor(
                        self.executor, self.sink.ingest, sender, events
                    )
                    stats.counts.update(outcome.counts)
        except asyncio.CancelledError:
            end = "certificate revoked" if stats.revoked else "gateway stopping"
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            end = f"connection error: {exc}"
        finally:
            self.connections.forget(stats)
            if stats.revoked and stats.serial and self.outbound is not None:
                self.outbound.cursors.revoked(stats.serial)
            if stats.feed is not None:
                if self.publisher is not None:
                    self.publisher.detach(stats.feed)
                if feed_task is not None:
                    feed_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await feed_task
            self.stats.add_closed(stats)
            log.info("cot connection ended (%s): %s", end, json.dumps(stats.summary()))

    def _feed(self, writer: asyncio.StreamWriter, sender: Sender) -> ClientFeed:
        assert self.outbound is not None and sender.unit_id and sender.party_id
        client = self.outbound.client(
            sender.unit_id, sender.party_id, sender.cert_id or sender.peer, sender.subject or ""
        )
        return ClientFeed(writer, client, delivered=self.outbound.delivered)

    async def _chats(
        self, stats: ConnectionStats, feed: ClientFeed, events: list[CotEvent]
    ) -> list[CotEvent]:
        """Answer the chat commands among a TLS client's events; the others go on to ingest.

        The client's own uid and callsign (from anything it sends) address its chats.
        """
        assert self.outbound is not None
        rest: list[CotEvent] = []
        loop = asyncio.get_running_loop()
        for event in events:
            if event.type != CHAT_TYPE:
                if feed.client.uid is None and event.detail.callsign:
                    feed.client = dataclasses.replace(
                        feed.client, uid=event.uid, callsign=event.detail.callsign
                    )
                rest.append(event)
                continue
            if feed.client.uid is None:
                sender = chat_message(event)
                if sender is not None and sender.sender_uid:
                    feed.client = dataclasses.replace(
                        feed.client, uid=sender.sender_uid, callsign=sender.sender_callsign
                    )
            replies, kind = await loop.run_in_executor(
                self.executor, self.outbound.chat, feed.client, event
            )
            stats.commands[kind] += 1
            feed.push_messages(replies, "reply")
        return rest

    def _frames(
        self, framer: StreamFramer, stats: ConnectionStats, sender: Sender
    ) -> tuple[list[CotEvent], list[bytes]]:
        """Every complete event in the framer, and what to answer (TAK Protocol negotiation)."""
        events: list[CotEvent] = []
        replies: list[bytes] = []
        while True:
            try:
                frame = framer.next_frame()
            except CotError as exc:
                self._reject(stats, sender, exc)
                continue
            if frame is None:
                return events, replies
            stats.events += 1
            assert framer.protocol is not None
            try:
                event = decode_frame(framer.protocol, frame)
            except CotError as exc:
                self._reject(stats, sender, exc)
                continue
            if event.type == TAKP_QUERY:
                stats.counts["control"] += 1
                if sender.authenticated and framer.protocol is Framing.XML:
                    replies.append(takp_response(datetime.now(UTC)))
                    framer.switch(Framing.STREAM)
                continue
            if event.type == PING:  # answered on TLS; plain clients are sent nothing
                stats.counts["control"] += 1
                if sender.authenticated:
                    replies.append(pong(datetime.now(UTC), framer.protocol))
                continue
            events.append(event)

    def _reject(self, stats: ConnectionStats, sender: Sender, exc: CotError) -> None:
        reason = rejection_reason(exc)
        stats.counts[reason] += 1
        if stats.logged < MAX_LOGGED_PER_CONNECTION:
            stats.logged += 1
            log.info("%s: dropped: %s: %s", sender.actor, exc.field, exc.message)
        elif stats.logged == MAX_LOGGED_PER_CONNECTION:
            stats.logged += 1
            log.info("%s: further rejections on this connection are only counted", sender.actor)
