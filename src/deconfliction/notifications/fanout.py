"""Fan-out: a movement announced to the units whose AOR it enters, a chunk of units at a
time. The first chunk is planned in the write's own transaction, the rest by the planner's
``drain``, each chunk in its own (a movement across thousands of AORs once held reports,
writes and checks off for minutes). Every movement still to come is planned again when the
engine loads, idempotently, so a fan-out a crash cut short is completed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from deconfliction.domain import planning
from deconfliction.domain.model import Asset, Movement, Unit
from deconfliction.notifications.announce import Announcements
from deconfliction.notifications.aors import AorUnit, aor_candidates
from deconfliction.notifications.context import Pending, PlanContext
from deconfliction.service import stored_form

#: Deferred work is done this many entries or units per transaction (see ``drain``).
CHUNK = 500


@dataclass(eq=False)
class FanOut:
    """A movement's fan-out, done a chunk of units at a time (``Planner.drain``)."""

    movement: Movement
    #: The movement's stored version when planned: another version stops this one.
    version: int
    #: Planning another process's write or re-planning at start-up (see
    #: ``PlanContext.replaying``).
    replay: bool = False
    #: The candidate units still to plan (None: not yet found).
    units: list[Unit | AorUnit] | None = None
    #: The movement's unanswered announcements per unit, read once.
    earlier: dict[str, str] | None = None
    #: Replays: the movement's latest announcement per unit, read once.
    latest: dict[str, dict[str, Any]] | None = None
    #: The route prepared once for every chunk.
    plan: planning.RoutePlan | None = None

    @property
    def finished(self) -> bool:
        """Every candidate unit planned (or none left to plan)."""
        return self.units is not None and not self.units


class FanOuts:
    """The movements' fan-outs still to finish, oldest first (under the planner's lock)."""

    def __init__(self, context: PlanContext, announcements: Announcements) -> None:
        self.context = context
        self.announcements = announcements
        self._jobs: deque[FanOut] = deque()

    def replan(self) -> None:
        """When the engine loads: every movement still to come is planned again
        (idempotently: what was told is not told twice), so that a fan-out a crash cut
        short is completed."""
        self._jobs.clear()
        now = self.context.now()
        for stored in self.context.store.iter_all("movement"):
            movement = stored_form.stored_model(Movement, stored.data)
            if movement.end >= now:
                self._jobs.append(FanOut(movement, stored.version, replay=True))

    def head(self) -> FanOut | None:
        """The oldest fan-out still to finish."""
        return self._jobs[0] if self._jobs else None

    def drop_head(self) -> None:
        """The oldest fan-out is finished, or stopped."""
        self._jobs.popleft()

    def current(self, job: FanOut) -> bool:
        """Whether the movement is still as planned: another version plans itself afresh,
        and a write that never committed plans nothing."""
        stored = self.context.store.get("movement", job.movement.id)
        return stored is not None and stored.version == job.version

    def start(self, pending: Pending, movement: Movement) -> None:
        """Plan a written movement: its first chunk of units in the write's own
        transaction, the rest (a movement across thousands of AORs) by the planner's ``drain``."""
        stored = self.context.store.get("movement", movement.id)
        if stored is None:
            return
        job = FanOut(movement, stored.version, replay=self.context.replaying)
        self.chunk(pending, job, CHUNK)
        if job.units:
            self._jobs.append(job)

    def chunk(self, pending: Pending, job: FanOut, chunk: int) -> int:
        """Plan the next ``chunk`` candidate units of a fan-out; how many were planned."""
        movement = job.movement
        asset: Asset | None = self.context.get("asset", movement.asset_id, Asset)
        if movement.end < self.context.now() or asset is None:
            job.units = []  # a past movement enters nothing any more
            return 0
        if job.units is None:
            candidates = aor_candidates(self.context, movement.route_shape, movement.corridor_m)
            # A party tells its own units (docs/design/notifications.md).
            job.units = [u for u in candidates if u.party_id != asset.party_id]
            job.earlier = self.announcements.of_movement(movement, asset, answered=False)
            if job.replay:
                job.latest = self.announcements.of_movement(movement, asset, answered=None)
        units, job.units = job.units[:chunk], job.units[chunk:]
        if job.plan is None:
            job.plan = planning.RoutePlan.of(movement.route_shape, movement.corridor_m)
        self.announcements.movement(
            pending, movement, asset, units, job.earlier, job.latest, job.plan
        )
        return len(units)
