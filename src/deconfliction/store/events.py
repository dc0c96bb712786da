"""Reading the event log, in SQL both backends accept.

The log is appended by every write (``store/audit.py`` chains each entry as it goes in);
this is how it is read back: ``events(after_seq)`` pages through it in ``seq`` order, which
is commit order and has no gaps on both backends (``docs/design/storage.md``), so a reader
that tails it never misses an event. ``kinds`` filters in the database (the service's
follower of other processes' writes uses it).

:class:`EventSQL` runs on any backend that provides the ``BackendSQL`` primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from typing import Any

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.base import Event
from deconfliction.store.jsontext import loads
from deconfliction.store.times import parse_time

_COLUMNS = "seq, at, kind, action, object_id, actor, payload, hash"


def _event(row: Sequence[Any]) -> Event:
    seq, at, kind, action, object_id, actor, payload, hash_ = row
    return Event(
        seq=seq,
        at=parse_time(at),
        kind=kind,
        action=action,
        object_id=object_id,
        actor=actor,
        payload=None if payload is None else loads(payload),
        hash=hash_,
    )


class EventSQL(BackendSQL):
    """The event-log reads of the ``Store`` protocol (see the module docstring)."""

    def events(
        self,
        after_seq: int = 0,
        limit: int = 1000,
        *,
        kinds: Collection[str] | None = None,
    ) -> builtins.list[Event]:
        """Events with ``seq > after_seq``, oldest first, at most ``limit``;
        ``kinds`` keeps only events of those kinds (``None``: every event)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ?"
        params: builtins.list[Any] = [after_seq]
        if kinds is not None:
            wanted = sorted(set(kinds))
            if not wanted:  # no kind: no event (``IN ()`` is SQLite's alone)
                return []
            sql += f" AND kind IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return [_event(row) for row in self._fetch(sql, params)]

    def last_event_seq(self) -> int:
        return self._scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
