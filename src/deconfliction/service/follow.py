"""Follow the store's event log: apply writes other processes made to the engine.

The service's own writes advance ``applied_seq`` inside their transaction, so
under the write lock every followed event after it was written by someone else
(the CLI's ``import`` or ``demo`` on the same store). The movements, areas, units
and report batches among them are queued on ``svc.unplanned`` for the write hooks
(:meth:`Service.plan_followed`: notifications). Check and token events
change nothing in the engine and are not even read when the source can filter:
``store.events(kinds=...)`` when the store offers it, else (SQLite) a read-only
query of the events table, else every event.
"""

from __future__ import annotations

import inspect
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from deconfliction.domain.model import Model, PositionReport
from deconfliction.service import docs
from deconfliction.service.kinds import BY_NAME

if TYPE_CHECKING:
    from pathlib import Path

    from deconfliction.service.core import Service
    from deconfliction.store import Store

_PAGE = 1000
#: What a followed event wrote: an object, or a batch of position reports.
Followed = Model | list[PositionReport]
#: The event kinds that change the engine (checks and tokens do not).
FOLLOWED_KINDS: tuple[str, ...] = (
    "party",
    "unit",
    "equipment_type",
    "asset",
    "movement",
    "area",
    "site",
    "report",
)
#: The followed kinds the write hooks plan (notifications).
PLANNED_KINDS = frozenset({"movement", "area", "unit", "report"})


@dataclass(frozen=True, slots=True)
class _Event:
    seq: int
    kind: str
    action: str
    object_id: str | None
    payload: Any


class EventSource:
    """Followed events after a sequence number, in order."""

    def __init__(self, store: Store, sqlite_path: Path | None) -> None:
        self.store: Any = store
        self.filtered = _supports_kinds(store)
        self._path = sqlite_path if not self.filtered else None
        self._conn: sqlite3.Connection | None = None

    def after(self, seq: int) -> list[_Event]:
        if self.filtered:
            events = self.store.events(after_seq=seq, limit=_PAGE, kinds=FOLLOWED_KINDS)
        elif self._path is not None:
            return self._sqlite_after(seq)
        else:
            events = self.store.events(after_seq=seq, limit=_PAGE)
        return [_Event(e.seq, e.kind, e.action, e.object_id, e.payload) for e in events]

    def _sqlite_after(self, seq: int) -> list[_Event]:
        if self._conn is None:
            uri = f"file:{self._path}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        marks = ",".join("?" * len(FOLLOWED_KINDS))
        rows = self._conn.execute(
            f"SELECT seq, kind, action, object_id, payload FROM events "
            f"WHERE seq > ? AND kind IN ({marks}) ORDER BY seq LIMIT ?",
            (seq, *FOLLOWED_KINDS, _PAGE),
        ).fetchall()
        return [
            _Event(r[0], r[1], r[2], r[3], None if r[4] is None else orjson.loads(r[4]))
            for r in rows
        ]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _supports_kinds(store: Any) -> bool:
    try:
        return "kinds" in inspect.signature(store.events).parameters
    except (TypeError, ValueError):
        return False


def catch_up(svc: Service) -> int:
    """Apply every followed event after ``svc.applied_seq``; call under the write lock."""
    applied = 0
    while True:
        upto = svc.store.last_event_seq()  # every followed event up to here is committed
        events = svc.events.after(svc.applied_seq)
        for event in events:
            if event.kind == "notification":
                svc.other_planners = True  # another server plans on this store too
            if svc.engine.ready:
                written = _apply(svc, event.kind, event.action, event.object_id, event.payload)
                if written is not None and event.kind in PLANNED_KINDS:
                    svc.unplanned.append(written)
            svc.applied_seq = event.seq
            applied += 1
        if len(events) < _PAGE:
            svc.applied_seq = max(svc.applied_seq, upto)
            return applied


def replay(svc: Service, after_seq: int, upto: int) -> int:
    """Queue the plannable writes of events ``after_seq < seq <= upto`` on
    ``svc.unplanned`` without applying them (the engine was loaded with them)."""
    queued = 0
    seq = after_seq
    while seq < upto:
        events = svc.events.after(seq)
        for event in events:
            if event.seq > upto:
                return queued
            seq = event.seq
            written = _decode(event.kind, event.action, event.object_id, event.payload)
            if written is not None and event.kind in PLANNED_KINDS:
                svc.unplanned.append(written)
                queued += 1
        if len(events) < _PAGE:
            return queued
    return queued


def _decode(kind: str, action: str, obj_id: str | None, payload: Any) -> Followed | None:
    """The model (or report batch) an event wrote; ``None`` for a delete, check or token,
    and for an event whose payload a retention policy purged (old reports and checks,
    which the store no longer holds either)."""
    if payload is None:
        return None
    if kind == "report" and action == "add":
        fields = payload["fields"]
        return [
            docs.report_from_row(dict(zip(fields, row, strict=True))) for row in payload["rows"]
        ]
    kind_of = BY_NAME.get(kind)
    if kind_of is None or obj_id is None or action == "delete":
        return None
    model: Model = docs.from_doc(kind_of, payload["data"])
    return model


def _apply(
    svc: Service, kind: str, action: str, obj_id: str | None, payload: Any
) -> Followed | None:
    written = _decode(kind, action, obj_id, payload)
    if isinstance(written, list):
        svc.engine.put_reports(written)
        return written
    if written is None:
        if action == "delete" and obj_id is not None and kind in BY_NAME:
            svc.engine.remove(kind, obj_id)
            svc.object_removed(kind, obj_id)
            if kind == "asset" and svc.asset_party is not None:
                svc.asset_party.pop(obj_id, None)
        return None
    svc.engine.put(written)  # type: ignore[arg-type]
    if kind == "asset" and svc.asset_party is not None and obj_id and payload.get("party_id"):
        svc.asset_party[obj_id] = payload["party_id"]
    return written
