"""What the notification rules share within one hook call: the service's reads, memoised
for the call; its clock, one instant per call; a new notification row; and the batch of
rows (:class:`Pending`) the rules plan into, which the planner writes at the end of the call.

A hook call is one transaction: what it reads or derives stays the same within it, so it is
read and made once (validating a unit's AOR again for every report was most of a report
batch's cost; a fan-out to 10,000 units reads the asset's type, catalogue and party once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from deconfliction.domain.model import EquipmentType, Party
from deconfliction.domain.notifications import card_summary, recognition_card
from deconfliction.service import stored_form
from deconfliction.service.core import Service
from deconfliction.service.ids import new_notification_id
from deconfliction.store.times import format_time

_T = TypeVar("_T")

#: A fan-out formats the same few instants (its window, its deadline floor) thousands of
#: times: the stored text form, remembered.
fmt = lru_cache(maxsize=4096)(format_time)


@dataclass
class Pending:
    """Notifications planned inside a transaction, written at the end of the hook call."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Briefings created in this batch, by id (a repeat updates the row before it is stored).
    briefings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Stored unanswered briefings repeated in this batch: id → (arrival ids, earliest
    #: deadline), applied once per briefing when the batch is written.
    repeats: dict[str, tuple[list[str], str]] = field(default_factory=dict)
    #: Stored unanswered announcements whose subject changed: id → (unit, new deadline,
    #: new payload), updated in place and delivered again when the batch is written.
    updates: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)


class PlanContext:
    """The reads, clock and rows of the rules (one per planner)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store
        self.settings = service.settings
        #: Planning another process's write, or re-planning at start-up: the rules then
        #: tell nothing already told (see ``Announcements`` and ``Entries``).
        self.replaying = False
        #: Documents read and values derived during one hook call; None between calls.
        self._memo: dict[tuple[str, str], Any] | None = None

    @contextmanager
    def batch(self, *, join: bool = False) -> Iterator[None]:
        """One hook call's memo, closed at its end; ``join``: share the one already open (a
        registry write's fan-out inside a batch that is planning)."""
        outer = self._memo
        self._memo = outer if join and outer is not None else {}
        try:
            yield
        finally:
            self._memo = outer if join else None

    @contextmanager
    def replay(self, replaying: bool) -> Iterator[None]:
        """Plan as :attr:`replaying` says within the block."""
        outer, self.replaying = self.replaying, replaying
        try:
            yield
        finally:
            self.replaying = outer

    def memoised(self, key: tuple[str, str], compute: Callable[[], _T]) -> _T:
        """``compute()``, once per hook call (one transaction) while a memo is open: what
        a batch reads or derives stays the same within it, and is made once."""
        memo = self._memo
        if memo is None:
            return compute()
        if key in memo:
            value: _T = memo[key]
            return value
        value = memo[key] = compute()
        return value

    def now(self) -> datetime:
        """The service clock; within one hook call (one transaction) one instant, so that
        everything it writes carries the same time (and a fan-out formats it once)."""
        return self.memoised(("now", ""), self.service.clock.now)

    def now_text(self) -> str:
        """:meth:`now` in the stored text form."""
        return self.memoised(("now", "text"), lambda: format_time(self.now()))

    def get(self, kind: str, obj_id: str | None, model: type[Any]) -> Any:
        """The stored object as ``model``, or None; once per hook call (an asset is read
        each time: the memo does not keep it)."""
        if obj_id is None:
            return None
        memo = self._memo
        if memo is not None and (kind, obj_id) in memo:
            return memo[(kind, obj_id)]
        stored = self.store.get(kind, obj_id)
        value = None if stored is None else stored_form.stored_model(model, stored.data)
        if memo is not None and kind != "asset":
            memo[(kind, obj_id)] = value
        return value

    def _catalogue(self, kind: EquipmentType | None) -> dict[str, EquipmentType]:
        """The types a recognition card of ``kind`` names (its base type, its look-alikes)."""
        out: dict[str, EquipmentType] = {}
        if kind is None:
            return out
        wanted = {kind.variant_of} if kind.variant_of else set()
        wanted |= {c.type_id for c in kind.confusable_with}
        for type_id in wanted:
            if type_id is None:
                continue
            other = self.get("equipment_type", type_id, EquipmentType)
            if other is not None:
                out[type_id] = other
        return out

    def card(self, kind: EquipmentType | None) -> dict[str, Any] | None:
        """The type's recognition card, made once per type in a batch."""
        if kind is None:
            return None
        return self.memoised(
            ("card", kind.id), lambda: recognition_card(kind, self._catalogue(kind))
        )

    def card_summary(self, type_id: str, card: dict[str, Any]) -> str:
        """The card's one-line summary, written once per type in a batch."""
        return self.memoised(("card_summary", type_id), lambda: card_summary(card))

    def party(self, party_id: str) -> Party | None:
        party: Party | None = self.get("party", party_id, Party)
        return party

    def row(
        self,
        *,
        unit_id: str | None,
        party_id: str,
        cause: str,
        payload: dict[str, Any],
        deadline: datetime | None,
        asset_id: str | None = None,
        type_id: str | None = None,
        subject: str | None = None,
        urgent: bool = False,
        escalation_level: int = 0,
        parent_id: str | None = None,
        created_at: str | None = None,
    ) -> dict[str, Any]:
        """A new notification row as the store takes it, created :meth:`now` (or at
        ``created_at``, the stored text form)."""
        return {
            "id": new_notification_id(),
            "unit_id": unit_id,
            "party_id": party_id,
            "cause": cause,
            "asset_id": asset_id,
            "type_id": type_id,
            "subject": subject,
            "payload": payload,
            "urgent": urgent,
            "deadline": fmt(deadline) if deadline is not None else None,
            "state": "pending",
            "escalation_level": escalation_level,
            "parent_id": parent_id,
            "created_at": self.now_text() if created_at is None else created_at,
        }
