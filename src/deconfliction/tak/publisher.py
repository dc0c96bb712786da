"""The outbound loop of the gateway: notifications and the picture to every TLS client.

One task on the gateway's event loop. It wakes when the notification outbox grows
(the planner's bell), when a write changes the picture (the
:class:`~deconfliction.tak.outbound.PictureChanges` hook), and every
second anyway (other processes' writes, missed rings). Each pass:

- **picture**: new authenticated reports become markers, rendered once per party
  and pushed to that party's clients; an object written (or another process's
  write, or every :data:`RESYNC_S`) re-reads the whole picture of each connected
  party and pushes only what changed, with a ``t-x-d-d`` for a uid that left it
  (deleted, window over, or no longer releasable to the party);
- **notifications**: each client's unit's outbox after the client's position,
  read once per (unit, position) and rendered for the client.

Reads run on the gateway's executor (they take the service lock, so they read
after any write in progress committed). A client attaching gets its backlog and
its party's picture under the same lock as a pass, so it misses nothing between.

Each wake also writes the certificates' cursors to the store when due
(:class:`~deconfliction.tak.cursors.Cursors`: about once a second while entries are
delivered, and at once after a client disconnects), off the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from deconfliction.cot.event import CotEvent
from deconfliction.cot.picture import delete_event, signature
from deconfliction.tak.feed import ClientFeed

if TYPE_CHECKING:
    from deconfliction.tak.outbound import CotOutbound

log = logging.getLogger("deconfliction.tak.publisher")

#: The whole picture of each connected party is read again at least this often.
RESYNC_S = 60.0
#: The outbox is looked at this often even without a ring (other processes' writes).
POLL_S = 1.0
PAGE = 100

T = TypeVar("T")


@dataclass
class _Shown:
    signature: tuple[Any, ...]
    event: CotEvent


class Publisher:
    def __init__(
        self,
        outbound: CotOutbound,
        executor: concurrent.futures.Executor,
        *,
        resync_s: float = RESYNC_S,
        poll_s: float = POLL_S,
    ) -> None:
        self.outbound = outbound
        self.executor = executor
        self.resync_s = resync_s
        self.poll_s = poll_s
        self.feeds: set[ClientFeed] = set()
        #: party → uid → what its clients were last sent.
        self._pictures: dict[str, dict[str, _Shown]] = {}
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._next_resync = 0.0
        self.passes = 0

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- clients -------------------------------------------------------------------------
    async def attach(self, feed: ClientFeed) -> None:
        """A TLS client connected: its missed notifications, then its party's picture."""
        async with self._lock:
            delivery = await self._run(self.outbound.backlog, feed.client)
            if delivery.client is not None and feed.client.uid is None:
                feed.client = delivery.client  # addressed as the entries sent before
            feed.cursor = delivery.cursor
            for seq, events in delivery.entries:
                feed.push_messages(events, "notification", seq)
            party = feed.client.party_id
            shown = self._pictures.get(party)
            if shown is None:
                shown = await self._read_picture(party)
                self._pictures[party] = shown
            feed.push_picture([s.event for s in shown.values()])
            self.feeds.add(feed)

    def detach(self, feed: ClientFeed) -> None:
        self.feeds.discard(feed)
        self.outbound.cursors.save_soon()  # what it was sent, stored before it reconnects
        self._changed.set()
        parties = {f.client.party_id for f in self.feeds}
        for party in list(self._pictures):
            if party not in parties:
                del self._pictures[party]  # kept current only while someone listens

    # -- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        changes = self.outbound.changes

        def wake() -> None:
            loop.call_soon_threadsafe(self._changed.set)

        changes.waker = wake
        bell = self.outbound.bell.waiter()
        rang = bell[1]
        try:
            await self._expire_cursors()
            while True:
                await _any((rang, self._changed), self.poll_s)
                rang.clear()
                self._changed.clear()
                await self._save_cursors()
                if not self.feeds:
                    self.outbound.changes.take()  # nobody to tell
                    continue
                try:
                    async with self._lock:
                        await self._picture_pass()
                        await self._notification_pass()
                    self.passes += 1
                except Exception:  # the store may be away for a while: try again next pass
                    log.exception("CoT outbound pass failed; retrying")
                    await asyncio.sleep(self.poll_s)
        finally:
            changes.waker = None
            self.outbound.bell.discard(bell)

    # -- cursors -------------------------------------------------------------------------
    async def _save_cursors(self) -> None:
        cursors = self.outbound.cursors
        if not cursors.due():
            return
        try:
            await self._run(cursors.save)
        except Exception:  # kept in memory and written at the next wake
            log.exception("cannot store the TAK cursors; trying again")

    async def _expire_cursors(self) -> None:
        try:
            expired = await self._run(self.outbound.cursors.expire)
        except Exception:
            log.exception("cannot expire old TAK cursors")
            return
        if expired:
            log.info("forgot %d TAK cursors silent for over a year", expired)

    # -- picture -------------------------------------------------------------------------
    async def _read_picture(self, party: str) -> dict[str, _Shown]:
        events = await self._run(self.outbound.picture, party)
        return {uid: _Shown(signature(e), e) for uid, e in events.items()}

    def _by_party(self) -> dict[str, list[ClientFeed]]:
        out: dict[str, list[ClientFeed]] = {}
        for feed in self.feeds:
            out.setdefault(feed.client.party_id, []).append(feed)
        return out

    async def _picture_pass(self) -> None:
        objects, reports = await self._run(self.outbound.take_changes)
        by_party = self._by_party()
        if objects or time.monotonic() >= self._next_resync:
            self._next_resync = time.monotonic() + self.resync_s
            await self._cut_off_strays()
            by_party = self._by_party()
            for party, feeds in by_party.items():
                await self._resync(party, feeds)
            return
        if not reports:
            return
        markers = await self._run(self.outbound.report_markers, reports, sorted(by_party))
        for party, events in markers.items():
            shown = self._pictures.setdefault(party, {})
            for event in events:
                shown[event.uid] = _Shown(signature(event), event)
            _push(by_party.get(party, ()), events)

    async def _cut_off_strays(self) -> None:
        """Close the connections of certificates whose unit was deleted or moved party."""
        identities = {(f.client.unit_id, f.client.party_id) for f in self.feeds}
        for unit_id, party_id in identities:
            problem = await self._run(self.outbound.identify, unit_id, party_id)
            if problem is None:
                continue
            for feed in list(self.feeds):
                if (feed.client.unit_id, feed.client.party_id) == (unit_id, party_id):
                    log.warning("TAK client of unit %s cut off: %s", unit_id, problem)
                    feed.counters.sent["cut_off"] += 1
                    feed.close()
                    self.detach(feed)

    async def _resync(self, party: str, feeds: list[ClientFeed]) -> None:
        old = self._pictures.get(party, {})
        new = await self._read_picture(party)
        now = datetime.now(UTC)
        changed = {
            uid
            for uid, s in new.items()
            if uid not in old or old[uid].signature != s.signature or _due(old[uid].event, now)
        }
        gone = [delete_event(uid, now) for uid in old if uid not in new]
        self._pictures[party] = {uid: new[uid] if uid in changed else old[uid] for uid in new}
        changed_events = [new[uid].event for uid in sorted(changed)]
        _push(feeds, changed_events + gone)

    # -- notifications -------------------------------------------------------------------
    async def _notification_pass(self) -> None:
        last = await self._run(self.outbound.last_outbox_seq)
        groups: dict[tuple[Any, int], list[ClientFeed]] = {}
        for feed in self.feeds:
            if feed.cursor < last and not feed.closed:
                groups.setdefault((feed.client, feed.cursor), []).append(feed)
        for (client, cursor), feeds in groups.items():
            while True:
                delivery = await self._run(self.outbound.after, client, cursor, PAGE)
                for feed in feeds:
                    for seq, events in delivery.entries:
                        feed.push_messages(events, "notification", seq)
                    feed.cursor = delivery.cursor
                if len(delivery.entries) < PAGE:
                    break
                cursor = delivery.cursor


def _due(sent: CotEvent, now: datetime) -> bool:
    """Resend a marker whose stale time is less than half its life away (sites)."""
    return sent.stale - now < (sent.stale - sent.time) / 2


def _push(feeds: Iterable[ClientFeed], events: list[CotEvent]) -> None:
    if not events:
        return
    for feed in feeds:
        if not feed.closed:
            feed.push_picture(events)


async def _any(events: Iterable[asyncio.Event], timeout: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
