"""TAK cursors: how far each client certificate was sent its unit's outbox.

A TLS client of the CoT gateway is sent its unit's outbox (``store/notifications.py``);
its certificate's **cursor** is the last outbox position written and drained to one of
its connections, with the device those entries were addressed to (its CoT uid and
callsign, once it has sent anything). Kept here so that a client reconnecting after a
restart gets what it had not been sent, addressed as before, so the events sent again
carry the uids they had.

Delivery bookkeeping, like a webhook's ``delivered_seq``: not an event, not in the audit
chain (what was *told* is already there, with the notification). A cursor only moves
forward, so two gateways on one PostgreSQL database share it per certificate and the
later write never undoes the further one. Rows go with their unit when it is deleted
(``store/credentials.py``), with a revoked certificate when the gateway refuses it, and
after a long silence (:meth:`TakCursorSQL.purge_tak_cursors`). docs/design/cot.md,
"Cursors that survive a restart".

:class:`TakCursorSQL` runs on any backend that provides the ``BackendSQL`` primitives
(qmark SQL both backends accept), like ``WebhookSQL``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.base import TakCursor

# Forward only: a slower writer (another gateway, an older flush) never moves it back; the
# same position with a newly known device updates the device.
_UPSERT = (
    "INSERT INTO tak_cursors (cert_id, unit_id, seq, device_uid, callsign, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (cert_id) DO UPDATE SET seq = excluded.seq, unit_id = excluded.unit_id, "
    "device_uid = excluded.device_uid, callsign = excluded.callsign, "
    "updated_at = excluded.updated_at WHERE tak_cursors.seq <= excluded.seq"
)


class TakCursorSQL(BackendSQL):
    """The TAK cursor methods of the ``Store`` protocol (see the module docstring)."""

    def tak_cursor(self, cert_id: str) -> TakCursor | None:
        """The stored cursor of a certificate, ``None`` if it has none."""
        rows = self._fetch(
            "SELECT unit_id, seq, device_uid, callsign FROM tak_cursors WHERE cert_id = ?",
            (cert_id,),
        )
        if not rows:
            return None
        unit_id, seq, device_uid, callsign = rows[0]
        return TakCursor(str(unit_id), int(seq), device_uid, callsign)

    def save_tak_cursors(self, cursors: Mapping[str, TakCursor], at: str) -> None:
        """Store ``cert_id → cursor`` in one transaction; each only moves forward."""
        if not cursors:
            return
        rows = [
            (cert, c.unit_id, int(c.seq), c.device_uid, c.callsign, at)
            for cert, c in sorted(cursors.items())
        ]
        with self.transaction():
            self._execute_many(_UPSERT, rows)

    def drop_tak_cursors(self, cert_ids: Collection[str]) -> int:
        """Forget the cursors of these certificates (revoked); how many there were."""
        dropped = 0
        with self.transaction():
            for cert_id in sorted(cert_ids):
                dropped += self._execute("DELETE FROM tak_cursors WHERE cert_id = ?", (cert_id,))
        return dropped

    def purge_tak_cursors(self, before: str) -> int:
        """Forget the cursors that last moved before ``before``; how many."""
        with self.transaction():
            return self._execute("DELETE FROM tak_cursors WHERE updated_at < ?", (before,))
