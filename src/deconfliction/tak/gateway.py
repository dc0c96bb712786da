"""The CoT gateway: TLS (mutual), and for trusted networks plain TCP and UDP.

One asyncio loop in a thread of its own, beside the HTTP server. Per connection:

- **TLS** (``--cot-tls-port``, 8089 by default): the handshake is done by the
  connection's own task (so that a refused one is logged and counted), with a
  client certificate of our CA required. The connection belongs to the unit its
  certificate names (:func:`~deconfliction.tak.pki.peer_identity`); a unit that
  is not registered, or not of the party the certificate names, is refused.
- **TCP** and **UDP** (``--cot-tcp-port``, ``--cot-udp-port``, off by default):
  anyone who can reach them; their reports are *plain* and only widen where an
  asset could be. Plain clients receive nothing.

Streams are framed by :class:`~deconfliction.cot.framing.StreamFramer` (XML or
TAK Protocol v1, detected from the first bytes; a TLS client may also negotiate
TAK Protocol with ``t-x-takp-q``). The events of each read go to the sink as one
batch, and the connection reads again only once the batch is stored, so a fast
sender is slowed by TCP flow control rather than losing events: a burst never
disconnects a well-behaved sender. Bad input (garbage, truncated, oversized,
hostile XML, invalid fields) is counted by reason and dropped with a log line
naming the field; it never closes the connection. A connection idle for
``idle_timeout_s`` is closed. Memory per connection stays within about one
event limit plus one read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from deconfliction.cot.errors import CotError, CotTooLarge
from deconfliction.cot.event import UNKNOWN, CotEvent, Detail, Point
from deconfliction.cot.framing import Protocol as Framing
from deconfliction.cot.framing import StreamFramer, decode_datagram, decode_frame
from deconfliction.cot.mapping import CHAT_TYPE, chat_message
from deconfliction.cot.proto import encode_stream
from deconfliction.cot.xml import MAX_EVENT_BYTES, render_event
from deconfliction.tak.feed import ClientFeed
from deconfliction.tak.ingest import Outcome, Sender, Transport
from deconfliction.tak.pki import peer_identity
from deconfliction.tak.publisher import Publisher

if TYPE_CHECKING:
    from deconfliction.tak.outbound import CotOutbound

log = logging.getLogger("deconfliction.tak.gateway")

#: Rejection lines logged per connection before they are only counted.
MAX_LOGGED_PER_CONNECTION = 20
#: UDP events waiting to be stored; more are dropped (``overloaded``) and counted.
MAX_UDP_BACKLOG = 10_000
TAKP_QUERY = "t-x-takp-q"
TAKP_RESPONSE = "t-x-takp-r"
#: Sent to a TLS client on connect, as TAK servers do: "this server speaks TAK Protocol v1".
TAKP_SUPPORT = "t-x-takp-v"
#: A client's ping, and the server's answer.
PING = "t-x-c-t"
PONG = "t-x-c-t-r"


#: How often open TLS connections are checked against the revocation list and their units'
#: existence: a revoked or deleted credential is cut within a second (docs/security.md).
#: One sweep costs a stat of the revocation file and one store read for all open units.
REVOCATION_SWEEP_S = 0.5


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


def _log_failure(task: asyncio.Task[None]) -> None:
    """A client's writer task that failed (a bug, or a hostile type refused): say so."""
    if not task.cancelled() and task.exception() is not None:
        log.error("a TAK client's outbound feed stopped", exc_info=task.exception())


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _reason(exc: CotError) -> str:
    return "too_large" if isinstance(exc, CotTooLarge) else f"invalid:{exc.field}"


def _control(uid: str, cot_type: str, now: datetime, extra_xml: str = "") -> CotEvent:
    """A control event: at 0,0 with an unknown position, so it never becomes a map object."""
    return CotEvent(
        uid=uid,
        type=cot_type,
        how="m-g" if cot_type != PONG else "h-g-i-g-o",
        time=now,
        start=now,
        stale=now + timedelta(minutes=1),
        point=Point(0.0, 0.0, UNKNOWN, UNKNOWN, UNKNOWN),
        detail=Detail(extra_xml=extra_xml),
    )


def takp_response(now: datetime) -> bytes:
    """``t-x-takp-r``: yes, switch this stream to TAK Protocol v1."""
    extra = '<TakControl><TakResponse status="true"/></TakControl>'
    return render_event(_control("deconfliction-takp", TAKP_RESPONSE, now, extra))


def takp_support(now: datetime) -> bytes:
    """``t-x-takp-v``: what a TAK server sends first, offering TAK Protocol v1."""
    extra = '<TakControl><TakProtocolSupport version="1"/></TakControl>'
    return render_event(_control("deconfliction-takp", TAKP_SUPPORT, now, extra))


def pong(now: datetime, protocol: Framing) -> bytes:
    """``t-x-c-t-r``, the answer to a client's ping, in the stream's current encoding."""
    event = _control("takPong", PONG, now)
    return encode_stream(event) if protocol is Framing.STREAM else render_event(event)


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
        self.stats = GatewayStats()
        #: transport → the port it listens on.
        self.ports: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._udp: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="deconfliction-cot"
        )
        self._stopped = False
        self._udp_queue: list[tuple[Sender, CotEvent]] = []
        self._udp_flushing = False
        #: Notifications and the picture to TLS clients (issue 6); none without a service.
        self.outbound = outbound
        self.publisher: Publisher | None
        self.publisher = (
            Publisher(outbound, self._executor)
            if outbound is not None and config.tls_port
            else None
        )
        self._open: dict[int, ConnectionStats] = {}
        self._publisher_task: asyncio.Task[None] | None = None
        self.revocations = revocations
        self._sweep_task: asyncio.Task[None] | None = None

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
                self._accept_tls, cfg.host, cfg.tls_port, limit=cfg.read_size
            )
            self._servers.append(server)
            self.ports["tls"] = server.sockets[0].getsockname()[1]
            if self.publisher is not None:  # not a connection: kept out of ``_tasks``
                self._publisher_task = asyncio.get_running_loop().create_task(self._publish())
            if self.revocations is not None:
                self._sweep_task = asyncio.get_running_loop().create_task(self._sweep())
        if cfg.tcp_port:
            server = await asyncio.start_server(
                self._accept_tcp, cfg.host, cfg.tcp_port, limit=cfg.read_size
            )
            self._servers.append(server)
            self.ports["tcp"] = server.sockets[0].getsockname()[1]
        if cfg.udp_port:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(cfg.host, cfg.udp_port)
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
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def _sweep(self) -> None:
        """Close the open connections of certificates revoked since they connected (an idle
        receiver sends nothing that would let the read loop notice), and of units deleted
        since: a deleted unit's id is never reissued, so its certificates are dead too
        (docs/security.md, "Credentials die with their unit")."""
        assert self.revocations is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(REVOCATION_SWEEP_S)
            units: list[tuple[ConnectionStats, tuple[str, str]]] = []
            for stats in list(self._open.values()):
                if stats.serial and not stats.revoked and self.revocations.is_revoked(stats.serial):
                    self._cut(stats, f"certificate serial {stats.serial} revoked")
                elif stats.serial and not stats.revoked and stats.unit_id and stats.party_id:
                    units.append((stats, (stats.unit_id, stats.party_id)))
            if not units:
                continue
            keys = sorted({key for _, key in units})
            try:  # every open unit in one read, off the loop
                found = await loop.run_in_executor(self._executor, self.sink.identify_many, keys)
            except Exception:  # the store is away: asked again next sweep
                log.exception("cannot check the open connections' units; asked again")
                continue
            problems = dict(zip(keys, found, strict=True))
            for stats, key in units:
                if problems[key] is not None and not stats.revoked:
                    self._cut(stats, f"{problems[key]} (the unit was deleted)")

    def _cut(self, stats: ConnectionStats, why: str) -> None:
        stats.revoked = True
        self.stats.refused["revoked_while_connected"] += 1
        log.warning("%s (%s): %s; closing", stats.peer, stats.unit_id, why)
        if stats.task is not None:
            stats.task.cancel()

    async def _publish(self) -> None:
        assert self.publisher is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self.publisher.run()

    def clients(self) -> list[dict[str, Any]]:
        """Counters of every open connection (TLS ones with what they were sent)."""
        return [stats.summary() for stats in list(self._open.values())]

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

    # -- streams -------------------------------------------------------------------------

    async def _accept_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._connection(reader, writer, "tls")

    async def _accept_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._connection(reader, writer, "tcp")

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: Transport
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = _peer(writer.get_extra_info("peername"))
        if len(self._tasks) >= self.config.max_connections:
            self.stats.refused["too_many_connections"] += 1
            log.warning("%s %s refused: %d connections open", transport, peer, len(self._tasks))
            writer.close()
            return
        self._tasks.add(task)
        self.stats.connections[transport] += 1
        try:
            sender = await self._sender(writer, transport, peer)
            if sender is not None:
                await self._serve(reader, writer, sender)
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
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
            return None
        identity = peer_identity(writer.get_extra_info("peercert"))
        if identity is None:
            self.stats.refused["no_unit_in_certificate"] += 1
            log.warning("tls %s refused: the certificate names no unit and party", peer)
            return None
        loop = asyncio.get_running_loop()
        problem = await loop.run_in_executor(
            self._executor, self.sink.identify, identity.unit_id, identity.party_id
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
        self._open[id(stats)] = stats
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
                        self._executor, self.sink.ingest, sender, events
                    )
                    self._count(stats, outcome.counts)
        except asyncio.CancelledError:
            end = "certificate revoked" if stats.revoked else "gateway stopping"
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            end = f"connection error: {exc}"
        finally:
            self._open.pop(id(stats), None)
            if stats.feed is not None:
                if self.publisher is not None:
                    self.publisher.detach(stats.feed)
                if feed_task is not None:
                    feed_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await feed_task
                self.stats.sent.update(stats.feed.counters.sent)
                self.stats.commands.update(stats.commands)
            self.stats.events[sender.transport] += stats.events
            self.stats.counts.update(stats.counts)
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
                self._executor, self.outbound.chat, feed.client, event
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
        reason = _reason(exc)
        stats.counts[reason] += 1
        if stats.logged < MAX_LOGGED_PER_CONNECTION:
            stats.logged += 1
            log.info("%s: dropped: %s: %s", sender.actor, exc.field, exc.message)
        elif stats.logged == MAX_LOGGED_PER_CONNECTION:
            stats.logged += 1
            log.info("%s: further rejections on this connection are only counted", sender.actor)

    def _count(self, stats: ConnectionStats, counts: Counter[str]) -> None:
        stats.counts.update(counts)

    # -- datagrams -----------------------------------------------------------------------

    def datagram(self, data: bytes, address: Any) -> None:
        sender = Sender("udp", _peer(address))
        self.stats.events["udp"] += 1
        try:
            event = decode_datagram(data, max_bytes=self.config.max_event_bytes)
        except CotError as exc:
            reason = _reason(exc)
            self.stats.counts[reason] += 1
            log.info("%s: dropped: %s: %s", sender.actor, exc.field, exc.message)
            return
        self._udp_queue.append((sender, event))
        if len(self._udp_queue) > MAX_UDP_BACKLOG:
            self._udp_queue.pop()
            self.stats.counts["overloaded"] += 1
        if not self._udp_flushing:
            self._udp_flushing = True
            asyncio.get_running_loop().create_task(self._flush_udp())

    async def _flush_udp(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._udp_queue:
                batch, self._udp_queue = self._udp_queue, []
                by_sender: dict[Sender, list[CotEvent]] = {}
                for sender, event in batch:
                    by_sender.setdefault(sender, []).append(event)
                for sender, events in by_sender.items():
                    outcome = await loop.run_in_executor(
                        self._executor, self.sink.ingest, sender, events
                    )
                    self.stats.counts.update(outcome.counts)
        finally:
            self._udp_flushing = False


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.gateway.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.warning("udp: %s", exc)
