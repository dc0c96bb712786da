"""Follow the store's event log: apply writes other processes made to the engine.

The service's own writes advance ``applied_seq`` inside their transaction, so
under the write lock every followed event after it was written by someone else
(the CLI's ``import`` or ``demo`` on the same store). The movements, areas, units
and report batches among them are queued on ``service.unplanned`` for the write hooks
(:meth:`Service.plan_followed`: notifications). Check and token events
change nothing in the engine and are not even read: ``store.events(kinds=...)``.

This module sits below ``service/core.py``: it knows the service only as
:class:`Following`, the few attributes it reads and writes (``Service`` has them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from deconfliction.domain.model import Model, PositionReport
from deconfliction.service import stored_form
from deconfliction.service.kinds import BY_NAME

if TYPE_CHECKING:
    from deconfliction.check.engine import Engine
    from deconfliction.store import Event, Store

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


class EventSource:
    """Followed events after a sequence number, in order (a page at a time)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def after(self, seq: int, *, notifications: bool = False) -> list[Event]:
        """``notifications``: the notification events too, which nothing applies; seeing one
        tells that another process plans on this store (they are read only until then)."""
        kinds = (*FOLLOWED_KINDS, "notification") if notifications else FOLLOWED_KINDS
        return self.store.events(after_seq=seq, limit=_PAGE, kinds=kinds)

    def close(self) -> None:
        """Nothing of its own to close: it reads through the store."""


class Following(Protocol):
    """What following needs of the service (:class:`~deconfliction.service.core.Service`)."""

    store: Store
    engine: Engine
    events: EventSource
    #: The last event of the store the engine reflects.
    applied_seq: int
    #: Other processes' writes applied to the engine, not yet given to the hooks.
    unplanned: list[Followed]
    other_planners: bool
    asset_party: dict[str, str] | None

    def object_removed(self, kind: str, obj_id: str) -> None:
        """Tell the write hooks a registered object was deleted."""


def catch_up(service: Following) -> int:
    """Apply every followed event after ``service.applied_seq``; call under the write lock."""
    applied = 0
    while True:
        upto = service.store.last_event_seq()  # every followed event up to here is committed
        events = service.events.after(service.applied_seq, notifications=not service.other_planners)
        for event in events:
            if event.kind == "notification":
                # Maybe another server's: from now on the planner also asks the store
                # before opening a briefing. (It may be this process's own, written outside
                # a write block, e.g. a HOLD notice; the cost is one indexed read per
                # briefing about to be opened, which is rare. Missing another server's
                # would open a second briefing of a type for a unit.)
                service.other_planners = True
            elif service.engine.ready:
                written = _apply(service, event.kind, event.action, event.object_id, event.payload)
                if written is not None and event.kind in PLANNED_KINDS:
                    service.unplanned.append(written)
            service.applied_seq = event.seq
            applied += 1
        if len(events) < _PAGE:
            service.applied_seq = max(service.applied_seq, upto)
            return applied


def replay(service: Following, after_seq: int, upto: int) -> int:
    """Queue the plannable writes of events ``after_seq < seq <= upto`` on
    ``service.unplanned`` without applying them (the engine was loaded with them)."""
    queued = 0
    seq = after_seq
    while seq < upto:
        events = service.events.after(seq)
        for event in events:
            if event.seq > upto:
                return queued
            seq = event.seq
            written = _decode(event.kind, event.action, event.object_id, event.payload)
            if written is not None and event.kind in PLANNED_KINDS:
                service.unplanned.append(written)
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
            stored_form.report_from_row(dict(zip(fields, row, strict=True)))
            for row in payload["rows"]
        ]
    kind_of = BY_NAME.get(kind)
    if kind_of is None or obj_id is None or action == "delete":
        return None
    model: Model = stored_form.from_doc(kind_of, payload["data"])
    return model


def _apply(
    service: Following, kind: str, action: str, obj_id: str | None, payload: Any
) -> Followed | None:
    written = _decode(kind, action, obj_id, payload)
    if isinstance(written, list):
        service.engine.put_reports(written)
        return written
    if written is None:
        if action == "delete" and obj_id is not None and kind in BY_NAME:
            service.engine.remove(kind, obj_id)
            service.object_removed(kind, obj_id)
            if kind == "asset" and service.asset_party is not None:
                service.asset_party.pop(obj_id, None)
        return None
    service.engine.put(written)  # type: ignore[arg-type]
    if kind == "asset" and service.asset_party is not None and obj_id and payload.get("party_id"):
        service.asset_party[obj_id] = payload["party_id"]
    return written
