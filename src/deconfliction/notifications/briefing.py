"""Recognition briefings: with every arrival of a type (announced or not), a unit is told
what the type looks like — its recognition card — until someone of the unit answers
``briefed``. At most one unanswered briefing per unit and type: a later arrival is added to it
(its deadline moved earlier, if need be) and it is delivered again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from deconfliction.domain.model import Asset, EquipmentType, Unit
from deconfliction.domain.notice_words import briefing_message
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS, card_summary
from deconfliction.notifications.aors import AorUnit
from deconfliction.notifications.context import Pending, PlanContext, fmt

#: A pending briefing names at most this many of the arrivals it stands for (newest first
#: kept); ``arrival_count`` counts them all.
MAX_BRIEFING_ARRIVALS = 20


class Briefings:
    """Who was briefed on what, and the briefings still unanswered (the planner's memory of
    them, rebuilt from stored rows when the engine loads; under the planner's lock)."""

    def __init__(self, context: PlanContext) -> None:
        self.context = context
        #: (unit, type) pairs a person of the unit answered ``briefed`` for.
        self.briefed: set[tuple[str, str]] = set()
        #: (unit, type) → the unanswered briefing.
        self.unanswered: dict[tuple[str, str], str] = {}

    def clear(self) -> None:
        """Forget everything (before :meth:`stored` is given the stored briefings)."""
        self.briefed.clear()
        self.unanswered.clear()

    def stored(self, row: dict[str, Any]) -> None:
        """A stored briefing, read when the engine loads (oldest first)."""
        key = (row["unit_id"], row["type_id"])
        if row["response"] == "briefed":
            self.briefed.add(key)
            self.unanswered.pop(key, None)
        elif row["response"] is None:
            self.unanswered[key] = row["id"]

    def brief(
        self,
        pending: Pending,
        unit: Unit | AorUnit,
        asset: Asset,
        kind: EquipmentType | None,
        card: dict[str, Any] | None,
        deadline: datetime,
        arrival_id: str,
    ) -> None:
        """With every arrival of a type until someone of the unit answers ``briefed``;
        at most one pending per unit and type (a repeat updates and re-delivers it)."""
        if kind is None or card is None:
            return
        key = (unit.id, kind.id)
        if key in self.briefed:
            return
        pending_id = self._open_briefing(key)
        if key in self.briefed:
            return  # answered on another node
        if pending_id is not None:
            due = fmt(deadline)
            row = pending.briefings.get(pending_id)
            if row is not None:  # created in this very batch: still a row in memory
                add_arrival(row["payload"], arrival_id)
                if due < row["deadline"]:
                    row["deadline"] = due
                    row["payload"]["message"] = briefing_message(
                        self.context.card_summary(kind.id, card), due
                    )
                return
            arrivals, earliest = pending.repeats.get(pending_id, ([], due))
            arrivals.append(arrival_id)
            pending.repeats[pending_id] = (arrivals, min(earliest, due))
            return
        summary = self.context.card_summary(kind.id, card)
        message = briefing_message(summary, deadline)
        row = self.context.row(
            unit_id=unit.id,
            party_id=unit.party_id,
            cause="recognition_briefing",
            payload={
                "message": message,
                "card": card,
                "arrivals": [arrival_id],
                "arrival_count": 1,
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
                "_escalate_to": sorted({unit.party_id, asset.party_id}),
            },
            deadline=deadline,
            asset_id=None,
            type_id=kind.id,
            subject=f"type:{kind.id}",
        )
        pending.rows.append(row)
        pending.briefings[row["id"]] = row
        self.unanswered[key] = row["id"]

    def _open_briefing(self, key: tuple[str, str]) -> str | None:
        """The id of the unanswered briefing of (unit, type), or ``None``.

        This process's own, else one another node on the same database opened, or a
        ``briefed`` another node stored (remembered in :attr:`briefed`): the planner's memory
        holds only what this process wrote and loaded. Read inside the write transaction,
        under the database's write lock, so two nodes never both open one. One indexed read
        per briefing about to be opened, which is rare (once per unit and type). A stored
        briefing answered since is found answered when the batch is written (:meth:`repeat`)."""
        pending_id = self.unanswered.get(key)
        if pending_id is not None or not self.context.service.other_planners:
            return pending_id  # alone on this store, what it wrote and loaded is all there is
        rows = self.context.store.find_notifications(
            unit_id=key[0], cause="recognition_briefing", type_id=key[1]
        )
        if any(r["response"] == "briefed" for r in rows):
            self.briefed.add(key)
            return None
        unanswered = [r for r in rows if r["response"] is None]
        if not unanswered:
            return None
        self.unanswered[key] = unanswered[-1]["id"]
        return str(unanswered[-1]["id"])

    def answered(self, row: dict[str, Any]) -> None:
        """A stored ``briefed`` answer: it ends the type's briefings for the unit."""
        key = (row["unit_id"], row["type_id"])
        self.briefed.add(key)
        if self.unanswered.get(key) == row["id"]:
            del self.unanswered[key]

    def repeat(
        self, repeats: dict[str, tuple[list[str], str]], at: str, actor: str
    ) -> set[str | None]:
        """Write a batch's repeated briefings (``Pending.repeats``), each once, with one store
        call: the units told. A briefing answered meanwhile (on another node) is left."""
        told: set[str | None] = set()
        current = self.context.store.get_notifications(list(repeats)) if repeats else {}
        repeated = []
        for briefing_id, (arrivals, due) in repeats.items():
            row = current.get(briefing_id)
            if row is None or row["response"] is not None:
                continue  # answered meanwhile (on another node): nothing to repeat
            told.add(row["unit_id"])
            payload = dict(row["payload"])
            for arrival_id in arrivals:
                add_arrival(payload, arrival_id)
            old = row["deadline"]
            deadline = min(old, due) if old else due
            if deadline != old and payload.get("card"):
                # The message says the deadline: moved earlier, it says the new one.
                payload["message"] = briefing_message(card_summary(payload["card"]), deadline)
            repeated.append((briefing_id, {"deadline": deadline, "payload": payload}))
        self.context.store.update_notifications(
            repeated, at=at, actor=actor, outbox_event="repeated"
        )
        return told


def add_arrival(payload: dict[str, Any], arrival_id: str) -> None:
    """Name one more arrival in a briefing's payload. Only the newest are kept (and the
    count of all): a briefing is rewritten, and logged, with every arrival, so an unbounded
    list would grow the store quadratically while a unit stays unbriefed."""
    arrivals = list(payload.get("arrivals") or [])
    count = int(payload.get("arrival_count") or len(arrivals))
    if arrival_id not in arrivals:
        arrivals.append(arrival_id)
        count += 1
    payload["arrivals"] = arrivals[-MAX_BRIEFING_ARRIVALS:]
    payload["arrival_count"] = count
