"""Each TAK certificate's cursor in its unit's outbox, kept in memory and written to the
store in batches.

The cursor is the last outbox position written *and drained* to one of the certificate's
connections (``tak/feed.py`` reports it on the gateway's event loop: :meth:`Cursors.moved`,
which only touches memory). The publisher writes what moved to the store
(:meth:`Cursors.save`, on its executor) at most once a :data:`SAVE_EVERY_S`, sooner when
:data:`SAVE_AFTER` entries were delivered since, at once when a client disconnects, and when
the gateway stops. So a busy feed costs one small transaction a second, and a crash costs
at most the unwritten tail: the entries delivered since the last write are sent again on
reconnect, with the same event uids (addressed to the same device), and a TAK client drops
what it already has. docs/design/cot.md, "Cursors that survive a restart".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from deconfliction.store import Store
from deconfliction.store.base import TakCursor
from deconfliction.store.times import format_time

#: Moved cursors are written at least this often (seconds) ...
SAVE_EVERY_S = 1.0
#: ... or once this many outbox entries were delivered since the last write.
SAVE_AFTER = 100
#: A cursor that has not moved for this long is forgotten: longer than a client
#: certificate lives (one year), so only dead certificates' rows go.
EXPIRE_AFTER = timedelta(days=400)


class Cursors:
    """The cursors of every certificate this gateway served (thread-safe: moved on the event
    loop, read and saved on the executor)."""

    def __init__(
        self,
        store: Store,
        *,
        save_every_s: float = SAVE_EVERY_S,
        save_after: int = SAVE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.save_every_s = save_every_s
        self.save_after = save_after
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, TakCursor] = {}
        self._unsaved: set[str] = set()
        self._moves = 0
        self._soon = False
        self._saved_at = clock()
        #: Revoked certificates: never written again; their rows are dropped at the next save.
        self._revoked: set[str] = set()
        self._drop: set[str] = set()

    def get(self, cert_id: str) -> TakCursor | None:
        """The certificate's cursor: this gateway's, or the store's when that is further (a
        restart, or another gateway on the same database served it since)."""
        with self._lock:
            if cert_id in self._revoked:
                return None
            mine = self._known.get(cert_id)
        stored = self.store.tak_cursor(cert_id)
        if stored is None or (mine is not None and mine.seq >= stored.seq):
            return mine
        with self._lock:
            have = self._known.get(cert_id)
            if have is None or have.seq < stored.seq:
                self._known[cert_id] = stored
        return stored

    def moved(
        self, cert_id: str, unit_id: str, seq: int, device_uid: str | None, callsign: str | None
    ) -> None:
        """Entries up to ``seq`` were drained to a connection of the certificate, addressed
        to this device; memory only (called on the event loop)."""
        with self._lock:
            if cert_id in self._revoked:
                return
            have = self._known.get(cert_id)
            if have is not None and (
                seq < have.seq or (seq == have.seq and have.device_uid == device_uid)
            ):
                return
            self._known[cert_id] = TakCursor(unit_id, seq, device_uid, callsign)
            self._unsaved.add(cert_id)
            self._moves += 1

    def revoked(self, cert_id: str) -> None:
        """The certificate was revoked: forget its cursor here and in the store."""
        with self._lock:
            self._revoked.add(cert_id)
            self._known.pop(cert_id, None)
            self._unsaved.discard(cert_id)
            self._drop.add(cert_id)
            self._soon = True

    def save_soon(self) -> None:
        """A client disconnected: write at the next chance, not at the next tick."""
        with self._lock:
            self._soon = True

    def due(self) -> bool:
        with self._lock:
            if not (self._unsaved or self._drop):
                return False
            return (
                self._soon
                or self._moves >= self.save_after
                or self._clock() - self._saved_at >= self.save_every_s
            )

    def save(self) -> int:
        """Write every moved cursor (one transaction) and drop revoked ones; how many were
        written. On failure they stay to be written next time."""
        with self._lock:
            batch = {cert: self._known[cert] for cert in self._unsaved}
            drop = set(self._drop)
            self._unsaved.clear()
            self._drop.clear()
            self._moves = 0
            self._soon = False
            self._saved_at = self._clock()
        try:
            if drop:
                self.store.drop_tak_cursors(drop)
            self.store.save_tak_cursors(batch, format_time(datetime.now(UTC)))
        except Exception:
            with self._lock:
                self._unsaved.update(c for c in batch if c not in self._revoked)
                self._drop.update(drop)
            raise
        return len(batch)

    def expire(self) -> int:
        """Forget stored cursors silent for :data:`EXPIRE_AFTER`; how many."""
        return self.store.purge_tak_cursors(format_time(datetime.now(UTC) - EXPIRE_AFTER))
