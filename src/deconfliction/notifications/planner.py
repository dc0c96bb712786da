"""Nobody left uninformed: the notification planner, the service's write hook that plans and
stores notifications by the rules of this folder.

The :class:`Planner` is a write hook of the service (``Service.hooks``): it is called inside
the transaction of every registry write and report batch, so each notification is stored in
the same transaction as the write that caused it (outbox). It hands each write to its rule —
a movement to its fan-out (``fanout.py``), an operating area to the announcements
(``announce.py``), a unit's AOR to ``new_aor.py``, a report batch to the entry detection
(``entry.py``); each announcement or entry brings a recognition briefing (``briefing.py``) —
and writes what they planned in one go at the end of the call. The rules keep a little
state in memory — which (unit, asset) pairs were announced, which asset is inside which AOR
(entry episodes), which (unit, type) pairs were briefed or have a briefing pending, the
fan-outs still to finish — rebuilt from stored rows when the engine loads (:meth:`loaded`).
It also tells the owners of the assets a check answered HOLD on (``hold.py``), as
``service/checks.py``'s ``HoldNotifier``. Escalation on silence: ``escalation.py``.
Decisions: docs/design/notifications.md.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from deconfliction.domain.model import Area, Model, Movement, PositionReport, Unit
from deconfliction.notifications import new_aor
from deconfliction.notifications.announce import Announcements
from deconfliction.notifications.bell import Bell
from deconfliction.notifications.briefing import Briefings
from deconfliction.notifications.cells import CoordinationCells
from deconfliction.notifications.context import Pending, PlanContext
from deconfliction.notifications.entry import Entries
from deconfliction.notifications.fanout import CHUNK, FanOut, FanOuts
from deconfliction.notifications.hold import HoldNotices
from deconfliction.service.core import Service
from deconfliction.store.times import format_time

#: The store kind of each object the planner plans.
_PLANNED_KIND: dict[type[Model], str] = {Movement: "movement", Area: "area", Unit: "unit"}


class Planner:
    """The notification planner (a :class:`~deconfliction.service.core.WriteHook`)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store
        self.bell = Bell()
        #: Guards the rules' memory (hook calls, the drain, answers).
        self._lock = threading.RLock()
        self.context = PlanContext(service)
        self.cells = CoordinationCells(service.store)
        self.briefings = Briefings(self.context)
        self.announcements = Announcements(self.context, self.briefings)
        self.fanouts = FanOuts(self.context, self.announcements)
        self.entries = Entries(self.context, self.announcements, self.briefings)
        #: What the check path asks (``service/checks.py``'s ``HoldNotifier``).
        self.holds = HoldNotices(self.context, self.cells, self.bell)
        self.ready = False

    # -- state from stored rows ------------------------------------------------------------
    def loaded(self) -> None:
        """Rebuild the in-memory state from the store (under the write lock)."""
        with self._lock:
            announced = self.announcements.announced
            announced.clear()
            self.briefings.clear()
            entered: set[tuple[str, str]] = set()
            for row in self.store.iter_notifications(
                ("announced_arrival", "recognition_briefing", "unannounced_entry")
            ):
                unit, cause = row["unit_id"], row["cause"]
                if unit is None:
                    continue
                if cause == "announced_arrival" and row["asset_id"]:
                    announced.add((unit, row["asset_id"]))
                elif cause == "unannounced_entry" and row["asset_id"]:
                    entered.add((unit, row["asset_id"]))
                elif cause == "recognition_briefing" and row["type_id"]:
                    self.briefings.stored(row)
            self.entries.loaded(entered)
            self.fanouts.replan()
            self.ready = True

    def drain(self, chunk: int = CHUNK) -> int:
        """Do the deferred work — entries found while loading, the rest of large fan-outs —
        ``chunk`` at a time, each chunk in its own transaction under the write lock, which
        is released between chunks: reports, writes and checks go on meanwhile (one large
        transaction once held them off for minutes). How many entries and units were done.
        Nothing is lost to a crash midway: the next load finds untold entries again and
        re-plans every movement (idempotently, see ``loaded``)."""
        done = 0
        while True:
            with self.service.lock, self._lock:
                if backlog := self.entries.backlog(chunk):
                    done += self._tell_backlog(backlog)
                elif (job := self.fanouts.head()) is not None:
                    done += self._continue_fanout(job, chunk)
                else:
                    return done
            # The lock is not fair: without a pause this thread takes it straight back,
            # and a report batch waiting for it would wait for the whole fan-out.
            self.service.lock.hand_off()

    def _tell_backlog(self, batch: list[tuple[str, str, float, float, float]]) -> int:
        with self.service.writing(), self.context.batch():
            pending = Pending()
            self.entries.tell(pending, batch)
            self._flush(pending)
        self.entries.told(len(batch))  # only once committed
        return len(batch)

    def _continue_fanout(self, job: FanOut, chunk: int) -> int:
        """One chunk of a movement's fan-out, unless the movement changed since (its
        newer write plans it afresh) or its write never committed."""
        if not self.fanouts.current(job):
            self.fanouts.drop_head()
            return 0
        with self.service.writing(), self.context.batch(), self.context.replay(job.replay):
            pending = Pending()
            done = self.fanouts.chunk(pending, job, chunk)
            self._flush(pending)
        if job.finished:
            self.fanouts.drop_head()
        return done

    # -- the write hooks --------------------------------------------------------------------
    def followed(self, written: Sequence[Model | list[PositionReport]]) -> None:
        """Another process's writes (``deconfliction import``, ``demo``, ``serve --demo``),
        planned after they committed, in a transaction of their own. At least once: a
        subject already announced to a unit with the same content is not told again."""
        with self._lock, self.context.replay(True):
            for item in written:
                if isinstance(item, list):
                    self.reports_written(item)  # idempotent: older reports change nothing
                elif self._current(item):
                    self.object_written("", item, None)

    def _current(self, model: Model) -> bool:
        """Whether a followed object is still as stored. A version replaced since (say, on
        another node, which planned the replacement itself) is not planned again: its
        announcements would briefly go back to the old route."""
        kind = _PLANNED_KIND.get(type(model))
        if kind is None:
            return True
        return bool(self.context.get(kind, getattr(model, "id", None), type(model)) == model)

    def object_written(self, kind: str, model: Model, owner: str | None) -> None:
        pending = Pending()
        with self._lock:
            if isinstance(model, Unit):
                self.cells.forget()
            # One write's fan-out reads the asset's type, catalogue and party once.
            with self.context.batch(join=True):
                if isinstance(model, Movement):
                    self.fanouts.start(pending, model)
                elif isinstance(model, Area) and model.kind == "operating":
                    self.announcements.area(pending, model, None)
                elif isinstance(model, Unit):
                    new_aor.plan_unit(
                        self.context, self.announcements, self.entries, pending, model
                    )
                self._flush(pending)

    def reports_written(self, reports: Sequence[PositionReport]) -> None:
        if not self.service.engine.ready:
            return  # the loader, still to run, rebuilds the episodes from the stored reports
        pending = Pending()
        # Within one batch (one transaction) a unit, type or party read once stays
        # the same: validating a unit's AOR again for every report was most of the cost.
        with self._lock, self.context.batch():
            self.entries.reports(pending, reports)
            self._flush(pending)

    def object_removed(self, kind: str, obj_id: str) -> None:
        if kind == "unit":
            self.cells.forget()

    def answered(self, row: dict[str, Any]) -> None:
        """A stored answer: a ``briefed`` ends the type's briefings for the unit."""
        if row["cause"] == "recognition_briefing" and row["response"] == "briefed":
            with self._lock:
                self.briefings.answered(row)

    @property
    def briefed(self) -> set[tuple[str, str]]:
        """(unit, type) pairs a person of the unit answered ``briefed`` for."""
        return self.briefings.briefed

    def _flush(self, pending: Pending) -> None:
        """Write the batch: changed announcements and new notifications first, then each
        repeated briefing once (so the stream carries an arrival before the briefing that
        names it). Each of the three is one store call, however many units it concerns."""
        if not pending.rows and not pending.repeats and not pending.updates:
            return
        actor = "service:notifications"
        at = format_time(self.context.now())
        told: set[str | None] = {unit_id for unit_id, _, _ in pending.updates.values()}
        self.store.update_notifications(
            [
                (arrival_id, {"deadline": deadline, "payload": payload})
                for arrival_id, (_, deadline, payload) in pending.updates.items()
            ],
            at=at,
            actor=actor,
            outbox_event="repeated",
        )
        told.update(row.get("unit_id") for row in pending.rows)
        if pending.rows:
            self.store.add_notifications(pending.rows, actor)
        told |= self.briefings.repeat(pending.repeats, at, actor)
        pending.rows = []
        pending.briefings = {}
        pending.repeats = {}
        pending.updates = {}
        # Once committed: a stream that reads on another connection sees it only then.
        self.service.after_commit(lambda: self.bell.ring(told))
