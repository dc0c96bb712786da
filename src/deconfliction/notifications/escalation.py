"""Escalation on silence: a notification unanswered at its deadline goes to the coordination
cells of both parties; an escalation unanswered for ``escalation_interval_s`` goes to the
parties' out-of-band contacts; then silence. A thread that reads passed deadlines from the
store, so its timers survive restarts.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from deconfliction.domain.notice_words import escalation_message, out_of_band_message
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS
from deconfliction.notifications.bell import Bell
from deconfliction.notifications.cells import CoordinationCells
from deconfliction.notifications.context import PlanContext
from deconfliction.service.core import Service
from deconfliction.store.times import format_time

log = logging.getLogger("deconfliction.notify")


class Escalator:
    """Unanswered at its deadline → the coordination cells of both parties; an escalation
    unanswered for ``escalation_interval_s`` → the parties' out-of-band contacts; then
    silence. Reads deadlines from the store, so timers survive restarts."""

    def __init__(
        self, service: Service, context: PlanContext, cells: CoordinationCells, bell: Bell
    ) -> None:
        """``context`` reads the parties and makes the rows, ``cells`` says whom to tell,
        ``bell`` wakes the streams (the planner's, all three)."""
        self.service = service
        self.store = service.store
        self.context = context
        self.cells = cells
        self.bell = bell
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        def run() -> None:
            while not self._stop.wait(self.service.settings.escalation_tick_s):
                if not self.service.ready:
                    continue
                try:
                    self.tick()
                except Exception:
                    log.exception("escalation failed; retrying")

        thread = threading.Thread(target=run, name="deconfliction-escalator", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> int:
        """Escalate every notification whose deadline has passed; how many were escalated."""
        now = self.service.clock.now()
        done = 0
        while True:
            # 200 per transaction, the write lock released between them: a burst of
            # deadlines (thousands of entries told at start-up) never holds writes off.
            with self.service.lock:
                due = self.store.due_notifications(format_time(now), limit=200)
                if not due:
                    break
                with self.service.writing():
                    for row in due:
                        self._escalate(row, now)
                        done += 1
            self.service.lock.hand_off()  # let a waiting writer in (see Planner.drain)
        if done:
            self.bell.ring()
        return done

    def _escalate(self, row: dict[str, Any], now: datetime) -> None:
        at = format_time(now)
        actor = "service:escalation"
        level = int(row["escalation_level"])
        parties: list[str] = list(row["payload"].get("_escalate_to") or [row["party_id"]])
        if row["cause"] != "escalation":
            self._level(row, parties, 1, now)
            self.store.update_notification(
                row["id"], at=at, actor=actor, state="escalated", outbox_event="escalated"
            )
            return
        parent = self.store.get_notification(row["parent_id"]) if row["parent_id"] else None
        siblings = self.store.find_notifications(parent_id=row["parent_id"], cause="escalation")
        resolved = (
            parent is None
            or parent["response"] is not None
            or any(s["response"] is not None for s in siblings if s["escalation_level"] == level)
        )
        already = any(s["escalation_level"] > level for s in siblings)
        if not resolved and not already and level < 2 and parent is not None:
            self._level(parent, parties, level + 1, now)
        self.store.update_notification(row["id"], at=at, actor=actor, state="escalated")

    def _level(
        self,
        original: dict[str, Any],
        parties: list[str],
        level: int,
        now: datetime,
    ) -> None:
        interval = timedelta(seconds=self.service.settings.escalation_interval_s)
        rows = []
        summary = {
            "id": original["id"],
            "cause": original["cause"],
            "unit_id": original["unit_id"],
            "party_id": original["party_id"],
            "created_at": original["created_at"],
            "deadline": original["deadline"],
            "message": original["payload"].get("message"),
        }
        for party_id in parties:
            party = self.context.party(party_id)
            contact = party.contact if party else None
            cells = self.cells.of(party_id) if level == 1 else []
            base = {
                "level": level,
                "original": summary,
                "contact": contact,
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
                "_escalate_to": parties,
            }
            if cells:
                for cell in cells:
                    payload = dict(base)
                    payload["message"] = escalation_message(
                        str(original["unit_id"]), str(original["cause"]), original["deadline"]
                    )
                    rows.append(
                        self.context.row(
                            unit_id=cell,
                            party_id=party_id,
                            cause="escalation",
                            payload=payload,
                            deadline=now + interval,
                            asset_id=original["asset_id"],
                            type_id=original["type_id"],
                            subject=original["subject"],
                            urgent=True,
                            escalation_level=level,
                            parent_id=original["id"],
                        )
                    )
            else:  # the last level (or a party without a cell): its out-of-band contact
                payload = dict(base)
                payload["message"] = out_of_band_message(
                    contact or party_id,
                    str(original["unit_id"]),
                    str(original["cause"]),
                    original["deadline"],
                )
                rows.append(
                    self.context.row(
                        unit_id=None,
                        party_id=party_id,
                        cause="escalation",
                        payload=payload,
                        deadline=None,
                        asset_id=original["asset_id"],
                        type_id=original["type_id"],
                        subject=original["subject"],
                        urgent=True,
                        escalation_level=max(level, 2),
                        parent_id=original["id"],
                    )
                )
        self.store.add_notifications(rows, "service:escalation")
