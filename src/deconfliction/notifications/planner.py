"""Nobody left uninformed: planning, storing and escalating notifications.

The :class:`Planner` is a write hook of the service (``Service.hooks``): it is
called inside the transaction of every registry write and report batch, so each
notification is stored in the same transaction as the write that caused it
(outbox). It keeps a little state in memory — which (unit, asset) pairs were
announced, which asset is inside which AOR (entry episodes), which (unit, type)
pairs were briefed or have a briefing pending — rebuilt from stored rows when the
engine loads. The :class:`Escalator` is a thread that reads passed deadlines from
the store, so its timers survive restarts. Decisions: docs/design/notifications.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, TypeVar

import numpy as np
import orjson
import shapely
from shapely.geometry.base import BaseGeometry

from deconfliction.check.index.containment import Containment
from deconfliction.check.index.shapes import AorRef, Shape, distances_m
from deconfliction.domain import geo, planning
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Model,
    Movement,
    Party,
    PositionReport,
    Unit,
    visible_to,
)
from deconfliction.domain.notifications import (
    ACKNOWLEDGEMENT_MEANS,
    card_summary,
    deadline_for,
    recognition_card,
    unannounced_message,
)
from deconfliction.domain.result import CheckResult
from deconfliction.notifications.hold_notices import HoldNoticeWindow
from deconfliction.service import stored_form
from deconfliction.service.core import Service
from deconfliction.service.ids import new_notification_id
from deconfliction.store.times import format_time, parse_time

log = logging.getLogger("deconfliction.notify")
_T = TypeVar("_T")

#: A pending briefing names at most this many of the arrivals it stands for (newest first
#: kept); ``arrival_count`` counts them all.
MAX_BRIEFING_ARRIVALS = 20

_UNIT_PAGE = 500
#: Deferred work is done this many entries or units per transaction (see ``drain``).
CHUNK = 500
#: An asset leaves an AOR (ends its entry episode) only once it reports this much
#: beyond the boundary, plus its 99 % radius: a report hugging the border does not
#: start a new episode each time.
EXIT_MARGIN_M = 100.0
#: The report path keeps at most this many assets read from the store (see ``_asset``).
ASSET_CACHE_MAX = 100_000


@dataclass(frozen=True, slots=True)
class _AssetRef:
    """What a HOLD notice needs of an asset."""

    id: str
    party_id: str
    callsign: str
    type_id: str


@dataclass(frozen=True, slots=True)
class _AorUnit:
    """A unit as its AOR's shape in the index knows it: what planning a fan-out needs,
    without reading and validating each unit from the store."""

    id: str
    party_id: str
    name: str
    aor_shape: BaseGeometry
    aor_start: datetime | None
    aor_end: datetime | None

    @classmethod
    def of(cls, shape: Shape) -> _AorUnit:
        ref: AorRef = shape.payload
        return cls(
            ref.unit_id,
            ref.party_id,
            ref.name,
            shape.geom,
            None if math.isinf(shape.start) else datetime.fromtimestamp(shape.start, UTC),
            None if math.isinf(shape.end) else datetime.fromtimestamp(shape.end, UTC),
        )


@dataclass(eq=False)
class _FanOut:
    """A movement's fan-out, done a chunk of units at a time (``Planner.drain``)."""

    movement: Movement
    #: The movement's stored version when planned: another version stops this one.
    version: int
    #: Planning another process's write or re-planning at start-up (see ``_told``).
    replay: bool = False
    #: The candidate units still to plan (None: not yet found).
    units: list[Unit | _AorUnit] | None = None
    #: The movement's unanswered announcements per unit, read once.
    earlier: dict[str, str] | None = None
    #: Replays: the movement's latest announcement per unit, read once.
    latest: dict[str, dict[str, Any]] | None = None
    #: The route prepared once for every chunk.
    plan: planning.RoutePlan | None = None


#: A stream's wake-up: its event loop and the event it waits on.
Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class Bell:
    """Wakes the server-sent-event streams (on their event loops), and any other reader of
    the outbox that asked (``on_ring``: the webhook dispatcher), when the outbox grows.

    A unit's stream waits for its unit only: a fan-out to 10,000 units rings once per
    chunk of 500, and waking all of 1,000 connected streams at each ring made each read
    the store for nothing, 20,000 reads competing with the fan-out for the store. A
    waiter for no unit (the CoT publisher, which serves every client) hears every ring,
    and a ring naming no units wakes everyone."""

    def __init__(self) -> None:
        self._waiters: dict[str | None, set[Waiter]] = {}
        self._unit_of: dict[Waiter, str | None] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_ring(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (quick, thread-safe, never raising) on every ring."""
        with self._lock:
            self._callbacks.append(callback)

    def waiter(self, unit_id: str | None = None) -> Waiter:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(unit_id, set()).add(entry)
            self._unit_of[entry] = unit_id
        return entry

    def discard(self, entry: Waiter) -> None:
        with self._lock:
            if entry not in self._unit_of:
                return
            unit_id = self._unit_of.pop(entry)
            waiters = self._waiters.get(unit_id)
            if waiters is not None:
                waiters.discard(entry)
                if not waiters:
                    del self._waiters[unit_id]

    def ring(self, units: Iterable[str | None] | None = None) -> None:
        """The outbox grew, for ``units`` (``None``: for anyone)."""
        with self._lock:
            if units is None:
                waiters = list(self._unit_of)
            else:
                waiters = list(self._waiters.get(None, ()))
                for unit_id in set(units):
                    if unit_id is not None:
                        waiters.extend(self._waiters.get(unit_id, ()))
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()
        for entry in waiters:
            loop, event = entry
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop is closed
                self.discard(entry)


@dataclass
class _Pending:
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


#: The store kind of each object the planner plans.
_PLANNED_KIND: dict[type[Model], str] = {Movement: "movement", Area: "area", Unit: "unit"}


class Planner:
    """The notification planner (a :class:`~deconfliction.service.core.WriteHook`)."""

    def __init__(self, service: Service) -> None:
        self.svc = service
        self.store = service.store
        self.settings = service.settings
        self.bell = Bell()
        self._lock = threading.RLock()
        #: HOLD notices told per (asset, asking party) within the window (de-duplicated).
        self.hold_window = HoldNoticeWindow(self.settings.hold_notice_window_s)
        #: (unit, asset) pairs with an announced arrival.
        self.announced: set[tuple[str, str]] = set()
        #: asset → units whose AOR its latest report is inside (the open entry episodes).
        self.inside: dict[str, set[str]] = {}
        #: asset → time of the latest report seen (older reports change no episode).
        self.last_seen: dict[str, float] = {}
        #: (unit, type) pairs a person of the unit answered ``briefed`` for.
        self.briefed: set[tuple[str, str]] = set()
        #: (unit, type) → the unanswered briefing.
        self.pending_briefing: dict[tuple[str, str], str] = {}
        self.ready = False
        #: Planning another process's write (:meth:`followed`): idempotent, see _told.
        self._replaying = False
        #: Point-in-AOR for report batches (built over the engine's AOR shapes).
        self._containment: Containment | None = None
        #: Movement fan-outs still to finish (see ``drain``), oldest first.
        self._fanouts: deque[_FanOut] = deque()
        #: Entries found by :meth:`loaded`, still to tell: (asset, unit, lat, lon, time).
        self._backlog: list[tuple[str, str, float, float, float]] = []
        #: party → its coordination cells (cleared whenever a unit is written or removed).
        self._cells: dict[str, list[str]] = {}
        self._cells_generation = 0
        #: Documents read during one report batch (see ``reports_written``); None otherwise.
        self._memo: dict[tuple[str, str], Any] | None = None
        #: Assets the entry detection read from the store, across report batches, and the
        #: engine's asset registry (and its version) they are good for (see ``_asset``).
        self._assets: dict[str, Asset | None] = {}
        self._assets_of: tuple[object, int] | None = None

    # -- state from stored rows ------------------------------------------------------------
    def loaded(self) -> None:
        """Rebuild the in-memory state from the store (under the write lock)."""
        with self._lock:
            self.announced.clear()
            self.briefed.clear()
            self.pending_briefing.clear()
            entered: set[tuple[str, str]] = set()
            for row in self.store.iter_notifications(
                ("announced_arrival", "recognition_briefing", "unannounced_entry")
            ):
                unit, cause = row["unit_id"], row["cause"]
                if unit is None:
                    continue
                if cause == "announced_arrival" and row["asset_id"]:
                    self.announced.add((unit, row["asset_id"]))
                elif cause == "unannounced_entry" and row["asset_id"]:
                    entered.add((unit, row["asset_id"]))
                elif cause == "recognition_briefing" and row["type_id"]:
                    key = (unit, row["type_id"])
                    if row["response"] == "briefed":
                        self.briefed.add(key)
                        self.pending_briefing.pop(key, None)
                    elif row["response"] is None:
                        self.pending_briefing[key] = row["id"]
            # Open episodes: assets whose latest report is inside an AOR. One that is
            # inside with neither an announcement nor an entry notification (its report
            # arrived while the index was loading) is told by :meth:`drain`, in
            # chunks; its episode is open from now, so a report meanwhile tells nothing twice.
            self.inside.clear()
            self.last_seen.clear()
            self._backlog.clear()
            table = self.svc.engine.assets
            slots = [
                slot
                for slot, asset_id in enumerate(table.ids)
                if asset_id is not None and table.has[slot]
            ]
            inside_of = self._containing(
                table.lat[slots].tolist(), table.lon[slots].tolist(), table.t0[slots].tolist()
            )
            for slot, units in zip(slots, inside_of, strict=True):
                asset_id = table.ids[slot]
                assert asset_id is not None
                self.last_seen[asset_id] = float(table.t0[slot])
                for unit_id in units:
                    self.inside.setdefault(asset_id, set()).add(unit_id)
                    if (unit_id, asset_id) not in self.announced and (
                        unit_id,
                        asset_id,
                    ) not in entered:
                        self._backlog.append(
                            (
                                asset_id,
                                unit_id,
                                float(table.lat[slot]),
                                float(table.lon[slot]),
                                float(table.t0[slot]),
                            )
                        )
            # Every movement still to come is planned again (idempotently: what was told
            # is not told twice), so that a fan-out a crash cut short is completed.
            self._fanouts.clear()
            now = self.now()
            for stored in self.store.iter_all("movement"):
                movement = stored_form.stored_model(Movement, stored.data)
                if movement.end >= now:
                    self._fanouts.append(_FanOut(movement, stored.version, replay=True))
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
            with self.svc.lock, self._lock:
                if self._backlog:
                    done += self._tell_backlog(chunk)
                elif self._fanouts:
                    done += self._continue_fanout(self._fanouts[0], chunk)
                else:
                    return done
            # The lock is not fair: without a pause this thread takes it straight back,
            # and a report batch waiting for it would wait for the whole fan-out.
            self.svc.lock.hand_off()

    def _tell_backlog(self, chunk: int) -> int:
        batch = self._backlog[:chunk]
        with self.svc.writing():
            pending = _Pending()
            self._memo = {}
            try:
                for asset_id, unit_id, lat, lon, t in batch:
                    if (unit_id, asset_id) not in self.announced:
                        self._unannounced(pending, unit_id, asset_id, lat, lon, t)
                self._flush(pending)
            finally:
                self._memo = None
        del self._backlog[: len(batch)]  # only once committed
        return len(batch)

    def _continue_fanout(self, job: _FanOut, chunk: int) -> int:
        """One chunk of a movement's fan-out, unless the movement changed since (its
        newer write plans it afresh) or its write never committed."""
        stored = self.store.get("movement", job.movement.id)
        if stored is None or stored.version != job.version:
            self._fanouts.popleft()
            return 0
        with self.svc.writing():
            pending = _Pending()
            self._memo = {}
            replaying, self._replaying = self._replaying, job.replay
            try:
                done = self._fanout_chunk(pending, job, chunk)
                self._flush(pending)
            finally:
                self._memo = None
                self._replaying = replaying
        if job.units is not None and not job.units:
            self._fanouts.popleft()
        return done

    # -- the write hooks --------------------------------------------------------------------
    def followed(self, written: Sequence[Model | list[PositionReport]]) -> None:
        """Another process's writes (``deconfliction import``, ``demo``, ``serve --demo``),
        planned after they committed, in a transaction of their own. At least once: a
        subject already announced to a unit with the same content is not told again."""
        with self._lock:
            self._replaying = True
            try:
                for item in written:
                    if isinstance(item, list):
                        self.reports_written(item)  # idempotent: older reports change nothing
                    elif self._current(item):
                        self.object_written("", item, None)
            finally:
                self._replaying = False

    def _current(self, model: Model) -> bool:
        """Whether a followed object is still as stored. A version replaced since (say, on
        another node, which planned the replacement itself) is not planned again: its
        announcements would briefly go back to the old route."""
        kind = _PLANNED_KIND.get(type(model))
        if kind is None:
            return True
        return bool(self._get(kind, getattr(model, "id", None), type(model)) == model)

    def object_written(self, kind: str, model: Model, owner: str | None) -> None:
        pending = _Pending()
        with self._lock:
            if isinstance(model, Unit):
                self._forget_cells()
            # One write's fan-out reads the asset's type, catalogue and party once.
            outer, self._memo = self._memo, self._memo if self._memo is not None else {}
            try:
                if isinstance(model, Movement):
                    self._start_fanout(pending, model)
                elif isinstance(model, Area) and model.kind == "operating":
                    self._plan_area(pending, model, None)
                elif isinstance(model, Unit):
                    self._plan_unit(pending, model)
                self._flush(pending)
            finally:
                self._memo = outer

    def reports_written(self, reports: Sequence[PositionReport]) -> None:
        if not self.svc.engine.ready:
            return  # the loader, still to run, rebuilds the episodes from the stored reports
        pending = _Pending()
        with self._lock:
            # Within one batch (one transaction) a unit, type or party read once stays
            # the same: validating a unit's AOR again for every report was most of the cost.
            self._memo = {}
            try:
                # A plain-port report only widens where an asset could be: not an entry.
                batch = sorted(
                    (r for r in reports if r.source == "authenticated"), key=attrgetter("time")
                )
                asset_ids = [r.asset_id for r in batch]
                positions = [r.position for r in batch]
                lats = [p.lat for p in positions]
                lons = [p.lon for p in positions]
                times = [r.time.timestamp() for r in batch]
                inside = self._containing(lats, lons, times)
                exits = self._exit_distances(asset_ids, lats, lons, inside)
                last_seen, inside_of = self.last_seen, self.inside
                for i, units in enumerate(inside):
                    asset_id, t = asset_ids[i], times[i]
                    if t < last_seen.get(asset_id, -1e18):
                        continue  # an older report changes no episode
                    last_seen[asset_id] = t
                    before = inside_of.get(asset_id)
                    # Most reports leave every episode as it was (outside every AOR, as
                    # before, or inside the very AORs it was in): nothing more to do.
                    if before:
                        if len(units) == len(before) and before.issuperset(units):
                            continue
                    elif not units:
                        inside_of.pop(asset_id, None)
                        continue
                    self._report(
                        pending,
                        batch[i],
                        units,
                        before or set(),
                        (lats[i], lons[i], t),
                        exits.get(i),
                    )
                self._flush(pending)
            finally:
                self._memo = None

    def _flush(self, pending: _Pending) -> None:
        """Write the batch: changed announcements and new notifications first, then each
        repeated briefing once (so the stream carries an arrival before the briefing that
        names it). Each of the three is one store call, however many units it concerns."""
        if not pending.rows and not pending.repeats and not pending.updates:
            return
        actor = "service:notifications"
        at = format_time(self.now())
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
        current = self.store.get_notifications(list(pending.repeats)) if pending.repeats else {}
        repeated = []
        for briefing_id, (arrivals, due) in pending.repeats.items():
            row = current.get(briefing_id)
            if row is None or row["response"] is not None:
                continue  # answered meanwhile (on another node): nothing to repeat
            told.add(row["unit_id"])
            payload = dict(row["payload"])
            for arrival_id in arrivals:
                _add_arrival(payload, arrival_id)
            old = row["deadline"]
            deadline = min(old, due) if old else due
            repeated.append((briefing_id, {"deadline": deadline, "payload": payload}))
        self.store.update_notifications(repeated, at=at, actor=actor, outbox_event="repeated")
        pending.rows = []
        pending.briefings = {}
        pending.repeats = {}
        pending.updates = {}
        # Once committed: a stream that reads on another connection sees it only then.
        self.svc.after_commit(lambda: self.bell.ring(told))

    # -- helpers ------------------------------------------------------------------------------
    def _memoised(self, key: tuple[str, str], compute: Callable[[], _T]) -> _T:
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
        return self._memoised(("now", ""), self.svc.clock.now)

    def _now_text(self) -> str:
        return self._memoised(("now", "text"), lambda: format_time(self.now()))

    def _get(self, kind: str, obj_id: str | None, model: type[Any]) -> Any:
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
        out: dict[str, EquipmentType] = {}
        if kind is None:
            return out
        wanted = {kind.variant_of} if kind.variant_of else set()
        wanted |= {c.type_id for c in kind.confusable_with}
        for type_id in wanted:
            if type_id is None:
                continue
            other = self._get("equipment_type", type_id, EquipmentType)
            if other is not None:
                out[type_id] = other
        return out

    def _card(self, kind: EquipmentType | None) -> dict[str, Any] | None:
        if kind is None:
            return None
        return self._memoised(
            ("card", kind.id), lambda: recognition_card(kind, self._catalogue(kind))
        )

    def _card_summary(self, type_id: str, card: dict[str, Any]) -> str:
        """The card's one-line summary, written once per type in a batch."""
        return self._memoised(("card_summary", type_id), lambda: card_summary(card))

    def _speed_kmh(self, asset: Asset, kind: EquipmentType | None) -> float:
        if asset.max_speed_kmh is not None:
            return asset.max_speed_kmh
        return kind.max_speed_kmh if kind is not None else 1000.0  # unknown: fail early

    def _lead(self, party_id: str) -> timedelta:
        """The notified unit's party's lead time (per party configurable:
        docs/design/notifications.md);
        read once per party in a batch."""

        def lead() -> timedelta:
            party = self._party(party_id)
            if party is not None and party.announcement_lead_min is not None:
                return timedelta(minutes=party.announcement_lead_min)
            return timedelta(seconds=self.settings.announcement_lead_s)

        return self._memoised(("lead", party_id), lead)

    def _party(self, party_id: str) -> Party | None:
        party: Party | None = self._get("party", party_id, Party)
        return party

    def _units_touching(self, geom: BaseGeometry, margin_m: float) -> list[Unit]:
        """Units whose AOR a line (within ``margin_m``) or polygon touches, by the index."""
        engine = self.svc.engine
        ids: Iterable[str]
        if engine.ready:
            ids = [s.payload.unit_id for s in engine.shapes.touching(geom, margin_m, "aor")]
        else:  # the index is loading: every unit (rare, and correct)
            ids = [s.id for s in self.store.iter_all("unit")]
        out = []
        for unit_id in ids:
            unit = self._get("unit", unit_id, Unit)
            if unit is not None and planning.geometries_within(geom, unit.aor_shape, margin_m):
                out.append(unit)
        return out

    def _aor_candidates(self, geom: BaseGeometry, margin_m: float) -> list[Unit | _AorUnit]:
        """Units whose AOR may come within ``margin_m`` of a line: a superset, from the
        index's cells, for a caller whose own test is exact (the route entry)."""
        engine = self.svc.engine
        if engine.ready:
            shapes = engine.shapes.touching(geom, margin_m, "aor", exact=False)
            return [_AorUnit.of(shape) for shape in shapes]
        units = (self._get("unit", s.id, Unit) for s in self.store.iter_all("unit"))
        return [u for u in units if u is not None]

    def _containing(
        self, lats: Sequence[float], lons: Sequence[float], times: Sequence[float]
    ) -> list[tuple[str, ...]]:
        """For each point, the units whose AOR contains it at its time (one R-tree query
        for the whole batch; see ``check/index/containment.py``)."""
        shapes = self.svc.engine.shapes
        if self._containment is None or self._containment.index is not shapes:
            self._containment = Containment(shapes, "aor", key=_unit_of)
        return self._containment.containing_keys(
            np.asarray(lats, dtype=float),
            np.asarray(lons, dtype=float),
            np.asarray(times, dtype=float),
        )

    def _exit_distances(
        self,
        asset_ids: Sequence[str],
        lats: Sequence[float],
        lons: Sequence[float],
        inside: Sequence[tuple[str, ...]],
    ) -> dict[int, dict[str, float]]:
        """Per report (by index), its distance to each AOR its asset was inside before the
        batch and which does not contain it: what the hysteresis measures, measured for
        the batch in one vectorised call (one call per report was a quarter of the
        detection's time). Only for each asset's first report of the batch: a later one's
        AORs depend on the reports before it, and measuring every AOR an asset might be in
        by then, for every report, grew with the square of an asset's reports in the batch
        (a batch of 33 reports an asset, each in a few large AORs, took 40 s). ``_report``
        measures what is not here itself. No object is made for a report that needs
        nothing (most): objects alive by the thousand make the collector run."""
        before = self.inside
        seen: set[str] = set()
        wanted: dict[int, dict[str, float]] = {}
        for i, asset_id in enumerate(asset_ids):
            if asset_id in seen:
                continue
            seen.add(asset_id)
            was = before.get(asset_id)
            if not was:
                continue
            units = inside[i]
            left = {unit_id: math.nan for unit_id in was if unit_id not in units}
            if left:
                wanted[i] = left  # measured below
        if not wanted:
            return wanted
        get = self.svc.engine.shapes.get
        pairs: list[tuple[int, str]] = []
        shapes: list[Shape] = []
        for i, units_of in wanted.items():
            for unit_id in list(units_of):
                shape = get("aor", unit_id)
                if shape is None:
                    del units_of[unit_id]  # no AOR any more: not inside it (as ``_report``)
                else:
                    pairs.append((i, unit_id))
                    shapes.append(shape)
        distances = distances_m(shapes, [lats[i] for i, _ in pairs], [lons[i] for i, _ in pairs])
        for (i, unit_id), distance in zip(pairs, distances.tolist(), strict=True):
            wanted[i][unit_id] = distance
        return wanted

    def _row(
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
    ) -> dict[str, Any]:
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
            "deadline": _fmt(deadline) if deadline is not None else None,
            "state": "pending",
            "escalation_level": escalation_level,
            "parent_id": parent_id,
            "created_at": self._now_text(),
        }

    # -- announced arrivals -------------------------------------------------------------------
    def _start_fanout(self, pending: _Pending, movement: Movement) -> None:
        """Plan a written movement: its first chunk of units in the write's own
        transaction, the rest (a movement across thousands of AORs) by :meth:`drain`."""
        stored = self.store.get("movement", movement.id)
        if stored is None:
            return
        job = _FanOut(movement, stored.version, replay=self._replaying)
        self._fanout_chunk(pending, job, CHUNK)
        if job.units:
            self._fanouts.append(job)

    def _fanout_chunk(self, pending: _Pending, job: _FanOut, chunk: int) -> int:
        """Plan the next ``chunk`` candidate units of a fan-out; how many were planned."""
        movement = job.movement
        asset: Asset | None = self._get("asset", movement.asset_id, Asset)
        if movement.end < self.now() or asset is None:
            job.units = []  # a past movement enters nothing any more
            return 0
        if job.units is None:
            candidates = self._aor_candidates(movement.route_shape, movement.corridor_m)
            # A party tells its own units (docs/design/notifications.md).
            job.units = [u for u in candidates if u.party_id != asset.party_id]
            job.earlier = self._announcements(movement, asset, answered=False)
            if job.replay:
                job.latest = self._announcements(movement, asset, answered=None)
        units, job.units = job.units[:chunk], job.units[chunk:]
        if job.plan is None:
            job.plan = planning.RoutePlan.of(movement.route_shape, movement.corridor_m)
        self._plan_movement(pending, movement, asset, units, job.earlier, job.latest, job.plan)
        return len(units)

    def _announcements(
        self, movement: Movement, asset: Asset, answered: bool | None
    ) -> dict[str, Any]:
        """The movement's announcements per unit (the latest of each), read at once."""
        rows = self.store.find_notifications(
            cause="announced_arrival",
            subject=f"movement:{movement.id}",
            asset_id=asset.id,
            answered=answered,
            limit=10**9,
        )
        if answered is False:
            return {str(r["unit_id"]): str(r["id"]) for r in rows}
        return {str(r["unit_id"]): r for r in rows}

    def _plan_movement(
        self,
        pending: _Pending,
        movement: Movement,
        asset: Asset,
        units: Sequence[Unit | _AorUnit],
        earlier: dict[str, str] | None,
        latest: dict[str, dict[str, Any]] | None,
        plan: planning.RoutePlan | None = None,
    ) -> None:
        """Announce a movement to the units whose AOR its corridor enters."""
        kind: EquipmentType | None = self._get("equipment_type", asset.type_id, EquipmentType)
        speed = self._speed_kmh(asset, kind)
        if plan is None:
            plan = planning.RoutePlan.of(movement.route_shape, movement.corridor_m)
        hits = planning.route_entries(plan, [u.aor_shape for u in units])
        for unit, hit in zip(units, hits, strict=True):
            if hit is None:
                continue
            entry = planning.entry_for_window(
                planning.earliest_arrival(movement.start, hit.along_m, speed), unit.aor_start
            )
            if unit.aor_end is not None and unit.aor_end < entry:
                continue
            releasable = visible_to(
                asset.party_id,
                movement.releasable_to
                if movement.releasable_to is not None
                else asset.releasable_to,
                unit.party_id,
            )
            self._announce(
                pending,
                unit,
                asset,
                kind,
                subject=("movement", movement.id),
                window=(movement.start, movement.end),
                entry=entry,
                where={"lat": round(hit.lat, 6), "lon": round(hit.lon, 6)},
                geometry=movement.route if releasable else None,
                releasable=releasable,
                earlier=earlier,
                latest=latest,
            )

    def _plan_area(self, pending: _Pending, area: Area, only: Unit | None) -> None:
        now = self.now()
        if area.end < now:
            return
        units = [only] if only is not None else self._units_touching(area.shape, 0.0)
        assets = [a for a in (self._get("asset", i, Asset) for i in area.asset_ids) if a]
        for unit in units:
            if unit.party_id == area.party_id:
                continue
            if not planning.polygons_overlap(area.shape, unit.aor_shape):
                continue
            if not planning.Window(unit.aor_start, unit.aor_end).overlaps(area.start, area.end):
                continue
            entry = planning.entry_for_window(area.start, unit.aor_start)
            releasable_area = visible_to(area.party_id, area.releasable_to, unit.party_id)
            for asset in assets:
                kind = self._get("equipment_type", asset.type_id, EquipmentType)
                releasable = releasable_area and visible_to(
                    asset.party_id, asset.releasable_to, unit.party_id
                )
                self._announce(
                    pending,
                    unit,
                    asset,
                    kind,
                    subject=("area", area.id),
                    window=(area.start, area.end),
                    entry=entry,
                    where=None,
                    geometry=area.geometry if releasable else None,
                    releasable=releasable,
                )

    def _plan_unit(self, pending: _Pending, unit: Unit) -> None:
        """A new or changed AOR is planned against everything already registered in it."""
        engine = self.svc.engine
        aor = unit.aor_shape
        if engine.ready:
            movements = [s.id for s in engine.shapes.touching(aor, 0.0, "movement")]
            areas = [s.id for s in engine.shapes.touching(aor, 0.0, "area")]
        else:
            movements = [s.id for s in self.store.iter_all("movement")]
            areas = [s.id for s in self.store.iter_all("area")]
        now = self.now()
        for movement_id in movements:
            movement = self._get("movement", movement_id, Movement)
            if movement is None or movement.end < now:
                continue  # a past movement enters nothing any more
            asset: Asset | None = self._get("asset", movement.asset_id, Asset)
            if asset is not None and asset.party_id != unit.party_id:
                self._plan_movement(pending, movement, asset, [unit], None, None)
        for area_id in areas:
            area = self._get("area", area_id, Area)
            if area is not None and area.kind == "operating":
                self._plan_area(pending, area, unit)
        if not engine.ready:
            return
        # Assets whose latest report is already inside: they have arrived.
        table = engine.assets
        n = len(table.ids)
        if n == 0:
            return
        west, south, east, north = aor.bounds
        lat, lon = table.lat[:n], table.lon[:n]
        box = table.has[:n] & (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)
        slots = np.flatnonzero(box)
        if len(slots):
            inside = shapely.contains_xy(aor, lon[slots], lat[slots])
            slots = slots[inside]
        now = self.now()
        for slot in slots.tolist():
            asset_id = table.ids[slot]
            asset = self._get("asset", asset_id, Asset)
            if asset is None or asset.party_id == unit.party_id:
                continue
            if not unit.active_at(now):
                continue
            kind = self._get("equipment_type", asset.type_id, EquipmentType)
            releasable = visible_to(asset.party_id, asset.releasable_to, unit.party_id)
            self.inside.setdefault(asset.id, set()).add(unit.id)
            self._announce(
                pending,
                unit,
                asset,
                kind,
                subject=("asset", asset.id),
                window=(now, None),
                entry=now,
                where=None,
                geometry=None,
                releasable=releasable,
                already_inside=True,
            )

    def _announce(
        self,
        pending: _Pending,
        unit: Unit | _AorUnit,
        asset: Asset,
        kind: EquipmentType | None,
        *,
        subject: tuple[str, str],
        window: tuple[datetime, datetime | None],
        entry: datetime,
        where: dict[str, float] | None,
        geometry: dict[str, Any] | None,
        releasable: bool,
        already_inside: bool = False,
        earlier: dict[str, str] | None = None,
        latest: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``earlier`` (``latest``): the subject's unanswered (latest) announcement per
        unit, when the caller read them all at once; else one query here."""
        now = self.now()
        deadline = deadline_for(entry, now, self._lead(unit.party_id))
        card = self._card(kind)
        who, common = self._announcement_common(asset, kind, subject, window, geometry, releasable)
        verb = "is already inside" if already_inside else "can enter"
        entry_text = _fmt(entry)
        message = (
            f"{who} {verb} the area of {unit.name} from {entry_text}; "
            f"answer by {_fmt(deadline)}. {ACKNOWLEDGEMENT_MEANS}"
        )
        subject_key = f"{subject[0]}:{subject[1]}"
        # What differs from unit to unit, over what is the same for all (the template's
        # keys come first, so the stored key order is the same either way).
        payload: dict[str, Any] = {
            **common,
            "message": message,
            "entry": {"at": entry_text, "position": where},
            "_escalate_to": sorted({unit.party_id, asset.party_id}),
        }
        if self._replaying and self._told(
            unit.id, subject_key, asset.id, payload, already_inside, latest
        ):
            self.announced.add((unit.id, asset.id))
            return  # planned before (a replayed write): nothing new to tell
        # A changed subject updates its unanswered announcement in place (re-delivered).
        if earlier is not None:
            earlier_id = earlier.get(unit.id)
        else:
            found = self.store.find_notifications(
                unit_id=unit.id,
                cause="announced_arrival",
                subject=subject_key,
                asset_id=asset.id,
                answered=False,
                limit=1,
            )
            earlier_id = found[0]["id"] if found else None
        arrival_id: str
        if earlier_id is not None:
            arrival_id = earlier_id
            pending.updates[arrival_id] = (unit.id, _fmt(deadline), payload)
        else:
            row = self._row(
                unit_id=unit.id,
                party_id=unit.party_id,
                cause="announced_arrival",
                payload=payload,
                deadline=deadline,
                asset_id=asset.id,
                type_id=asset.type_id,
                subject=subject_key,
            )
            arrival_id = row["id"]
            pending.rows.append(row)
        self.announced.add((unit.id, asset.id))
        self._brief(pending, unit, asset, kind, card, deadline, arrival_id)

    def _announcement_common(
        self,
        asset: Asset,
        kind: EquipmentType | None,
        subject: tuple[str, str],
        window: tuple[datetime, datetime | None],
        geometry: dict[str, Any] | None,
        releasable: bool,
    ) -> tuple[str, dict[str, Any]]:
        """What an announcement says whoever it goes to: how it names the asset, and its
        payload's common keys (placeholders for the per-unit ones, to keep their order).
        Built once per subject, asset and releasability in a batch: a fan-out to 10,000
        units builds it once or twice. The parts are shared, never changed in place."""
        built: dict[Any, tuple[str, dict[str, Any]]] = self._memoised(("announcements", ""), dict)
        key = (subject, asset.id, window, releasable)
        if key in built:
            return built[key]
        card = self._card(kind)
        party = self._party(asset.party_id)
        party_name = party.name if party else asset.party_id
        contact = (asset.contact if releasable else None) or (party.contact if party else None)
        what = card["name"] if card else f"an asset of type {asset.type_id}"
        who = f"{asset.callsign} ({what})" if releasable else f"A {what} of {party_name}"
        common: dict[str, Any] = {
            "message": None,
            "subject": {"kind": subject[0], "id": subject[1] if releasable else None},
            "asset": {"id": asset.id, "callsign": asset.callsign} if releasable else None,
            "details_withheld": not releasable,
            "owner_party_id": asset.party_id,
            "contact": contact,
            "card": card,
            "window": {
                "start": _fmt(window[0]),
                "end": _fmt(window[1]) if window[1] is not None else None,
            },
            "entry": None,
            "geometry": geometry,
            "acknowledgement": ACKNOWLEDGEMENT_MEANS,
            "_escalate_to": None,
        }
        built[key] = (who, common)
        return who, common

    def _told(
        self,
        unit_id: str,
        subject_key: str,
        asset_id: str,
        payload: dict[str, Any],
        already_inside: bool,
        latest: dict[str, dict[str, Any]] | None = None,
    ) -> bool:
        """Whether the latest announcement of the subject to the unit (answered or not)
        says the same (its message and deadline aside, which move with ``now``; and for an
        asset already inside, its window and entry, which are ``now``)."""
        if latest is not None:
            rows = [latest[unit_id]] if unit_id in latest else []
        else:
            rows = self.store.find_notifications(
                unit_id=unit_id, cause="announced_arrival", subject=subject_key, asset_id=asset_id
            )
        if not rows:
            return False
        skip = {"message", "window", "entry"} if already_inside else {"message"}

        def same(value: dict[str, Any]) -> Any:
            return orjson.loads(orjson.dumps({k: v for k, v in value.items() if k not in skip}))

        return bool(same(rows[-1]["payload"]) == same(payload))

    # -- recognition briefings ------------------------------------------------------------
    def _brief(
        self,
        pending: _Pending,
        unit: Unit | _AorUnit,
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
            due = _fmt(deadline)
            row = pending.briefings.get(pending_id)
            if row is not None:  # created in this very batch: still a row in memory
                _add_arrival(row["payload"], arrival_id)
                row["deadline"] = min(row["deadline"], due)
                return
            arrivals, earliest = pending.repeats.get(pending_id, ([], due))
            arrivals.append(arrival_id)
            pending.repeats[pending_id] = (arrivals, min(earliest, due))
            return
        summary = self._card_summary(kind.id, card)
        message = (
            f"Recognition briefing: {summary}. Answer 'briefed' once your team "
            f"knows what it looks like, by {_fmt(deadline)}. {ACKNOWLEDGEMENT_MEANS}"
        )
        row = self._row(
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
        self.pending_briefing[key] = row["id"]

    def _open_briefing(self, key: tuple[str, str]) -> str | None:
        """The id of the unanswered briefing of (unit, type), or ``None``.

        This process's own, else one another node on the same database opened, or a
        ``briefed`` another node stored (remembered in :attr:`briefed`): the planner's memory
        holds only what this process wrote and loaded. Read inside the write transaction,
        under the database's write lock, so two nodes never both open one. One indexed read
        per briefing about to be opened, which is rare (once per unit and type). A stored
        briefing answered since is found answered when the batch is written (``_flush``)."""
        pending_id = self.pending_briefing.get(key)
        if pending_id is not None or not self.svc.other_planners:
            return pending_id  # alone on this store, what it wrote and loaded is all there is
        rows = self.store.find_notifications(
            unit_id=key[0], cause="recognition_briefing", type_id=key[1]
        )
        if any(r["response"] == "briefed" for r in rows):
            self.briefed.add(key)
            return None
        unanswered = [r for r in rows if r["response"] is None]
        if not unanswered:
            return None
        self.pending_briefing[key] = unanswered[-1]["id"]
        return str(unanswered[-1]["id"])

    def answered(self, row: dict[str, Any]) -> None:
        """A stored answer: a ``briefed`` ends the type's briefings for the unit."""
        if row["cause"] == "recognition_briefing" and row["response"] == "briefed":
            key = (row["unit_id"], row["type_id"])
            with self._lock:
                self.briefed.add(key)
                if self.pending_briefing.get(key) == row["id"]:
                    del self.pending_briefing[key]

    # -- unannounced entries ----------------------------------------------------------------
    def _report(
        self,
        pending: _Pending,
        report: PositionReport,
        units: tuple[str, ...],
        before: set[str],
        at: tuple[float, float, float],
        exits: dict[str, float] | None,
    ) -> None:
        """A report that may change its asset's episodes (``reports_written`` took the
        others): ``units``, the AORs containing it; ``before``, those its asset was inside;
        ``at``, its latitude, longitude and time; ``exits``, its distance to AORs it may
        have left, measured ahead (see ``_exit_distances``)."""
        asset_id = report.asset_id
        lat, lon, t = at
        now_inside = set(units)
        # Hysteresis: still inside an AOR it was in until clearly out.
        limit: float | None = None
        for unit_id in before - now_inside:
            distance = exits.get(unit_id) if exits is not None else None
            if distance is None:
                shape = self.svc.engine.shapes.get("aor", unit_id)
                if shape is None:
                    continue
                distance = shape.distance_m(lat, lon)
            if limit is None:
                limit = geo.widen(geo.r99(report.effective_cep_m) + EXIT_MARGIN_M)
            if distance <= limit:
                now_inside.add(unit_id)
        for unit_id in sorted(now_inside - before):
            if (unit_id, asset_id) in self.announced:
                continue
            self._unannounced(pending, unit_id, asset_id, lat, lon, t)
        if now_inside:
            self.inside[asset_id] = now_inside
        else:
            self.inside.pop(asset_id, None)

    def _unannounced(
        self, pending: _Pending, unit_id: str, asset_id: str, lat: float, lon: float, t: float
    ) -> None:
        asset = self._asset(asset_id)
        # The unit as its AOR's shape knows it (no store read and no AOR re-parsed).
        shape = self.svc.engine.shapes.get("aor", unit_id)
        unit: Unit | _AorUnit | None = (
            _AorUnit.of(shape) if shape is not None else self._get("unit", unit_id, Unit)
        )
        if asset is None or unit is None or asset.party_id == unit.party_id:
            return
        kind: EquipmentType | None = self._get("equipment_type", asset.type_id, EquipmentType)
        card = self._card(kind)
        party = self._party(asset.party_id)
        party_name = party.name if party else asset.party_id
        releasable = visible_to(asset.party_id, asset.releasable_to, unit.party_id)
        now = self.now()
        deadline = now + timedelta(seconds=self.settings.urgent_deadline_s)
        seen = datetime.fromtimestamp(t, now.tzinfo)
        if self._replaying and self._entry_told(unit.id, asset.id, asset.type_id, seen):
            return  # the node that took the report told it (this one only followed it)
        row = self._row(
            unit_id=unit.id,
            party_id=unit.party_id,
            cause="unannounced_entry",
            urgent=True,
            payload={
                "message": unannounced_message(
                    asset.callsign if releasable else None, party_name, unit.name
                )
                + f" {ACKNOWLEDGEMENT_MEANS}",
                "asset": {"id": asset.id, "callsign": asset.callsign} if releasable else None,
                "details_withheld": not releasable,
                "owner_party_id": asset.party_id,
                "contact": (asset.contact if releasable else None)
                or (party.contact if party else None),
                "card": card,
                "entry": {
                    "at": format_time(seen),
                    "position": {"lat": round(lat, 6), "lon": round(lon, 6)},
                },
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
                "_escalate_to": sorted({unit.party_id, asset.party_id}),
            },
            deadline=deadline,
            asset_id=asset.id,
            type_id=asset.type_id,
            subject=f"asset:{asset.id}",
        )
        pending.rows.append(row)
        self._brief(pending, unit, asset, kind, card, deadline, row["id"])

    def _asset(self, asset_id: str) -> Asset | None:
        """The asset as stored, read once for many report batches: the detection read
        and validated it for every entry (6 % of a batch's time). Good while the
        engine's asset registry is unchanged: every asset write and delete, this
        process's or another's it follows (``follow.catch_up``, which every write
        transaction runs first), reaches the engine under the write lock before the
        next batch, and bumps ``AssetTable.registry_version``."""
        table = self.svc.engine.assets
        held = self._assets_of
        if held is None or held[0] is not table or held[1] != table.registry_version:
            self._assets.clear()
            self._assets_of = (table, table.registry_version)
        if asset_id in self._assets:
            return self._assets[asset_id]
        asset: Asset | None = self._get("asset", asset_id, Asset)
        if len(self._assets) >= ASSET_CACHE_MAX:
            self._assets.clear()
        self._assets[asset_id] = asset
        return asset

    def _entry_told(self, unit_id: str, asset_id: str, type_id: str, seen: datetime) -> bool:
        """Whether an entry of the asset into the unit's AOR at ``seen`` or later is stored.

        Episodes live in each process's memory: a report batch another node took (and
        planned, in its transaction) looks new to this node's follower. Only read while
        replaying, so the single-node report path pays nothing for it."""
        rows = self.store.find_notifications(
            unit_id=unit_id, cause="unannounced_entry", type_id=type_id, asset_id=asset_id
        )
        return any(parse_time(r["payload"]["entry"]["at"]) >= seen for r in rows)

    # -- HOLD on another party's asset ------------------------------------------------------
    def hold_targets(self, result: CheckResult, asker_party: str | None) -> list[str]:
        """Assets of other parties the check matched (cheap: no I/O)."""
        if result.verdict != "HOLD" or not result.matched_asset_ids:
            return []
        owners = self.svc.asset_party or {}
        return [
            a
            for a in result.matched_asset_ids
            if (owner := owners.get(a)) is not None and owner != asker_party
        ]

    def check_recorded(
        self,
        check_id: str,
        unit_id: str,
        asker_party: str | None,
        request: dict[str, Any],
        result: CheckResult,
        asset_ids: list[str],
    ) -> None:
        """Tell each owner party's coordination cells who looked, where and when: one
        notice per cell for all of its party's assets the check matched; call inside the
        transaction that records the check. An asset whose owner was told of a HOLD by
        the same asking party within the window is left out (``notifications/hold_notices.py``):
        the check still answers HOLD, only the notice is not repeated."""
        now = self.now()
        asset_ids = self.hold_window.due(asset_ids, asker_party, now.timestamp())
        if not asset_ids:
            return
        told = list(asset_ids)
        self.svc.after_commit(lambda: self.hold_window.told(told, asker_party, now.timestamp()))
        deadline = now + timedelta(seconds=self.settings.urgent_deadline_s)
        movements_of: dict[str, list[str]] = {}
        for match in result.matches:
            if match.kind == "movement" and match.id:
                shape = self.svc.engine.shapes.get("movement", match.id)
                if shape is not None:
                    movements_of.setdefault(shape.payload.asset_id, []).append(match.id)
        # On the check's hot path: the stored documents are already validated, so
        # read the few fields needed rather than re-validate (and re-parse an AOR).
        asker = self.store.get("unit", unit_id)
        asker_name = str(asker.data.get("name") or unit_id) if asker else unit_id
        by_party: dict[str, list[_AssetRef]] = {}
        for asset_id in asset_ids:
            stored = self.store.get("asset", asset_id)
            if stored is None:
                continue
            data = stored.data
            ref = _AssetRef(
                str(data["id"]), str(data["party_id"]), str(data["callsign"]), str(data["type_id"])
            )
            by_party.setdefault(ref.party_id, []).append(ref)
        check = {
            "id": check_id,
            "unit_id": unit_id,
            "party_id": asker_party,
            "time": request.get("time") or result.evaluated_at,
            "evaluated_at": result.evaluated_at,
            "position": request.get("position"),
            "cep_m": request.get("cep_m"),
            "observed": request.get("observed"),
            "note": request.get("note"),
        }
        rows = []
        for party_id, assets in by_party.items():
            callsigns = ", ".join(a.callsign for a in assets)
            noun = "asset" if len(assets) == 1 else "assets"
            payload = {
                "message": (
                    f"{asker_name} ({asker_party}) checked a point where your {noun} "
                    f"{callsigns} could be, and got HOLD. Answer 'confirmed_ours' if it is "
                    f"yours, else 'acknowledged'. {ACKNOWLEDGEMENT_MEANS}"
                ),
                "check": check,
                "asset": {"id": assets[0].id, "callsign": assets[0].callsign},
                "assets": [{"id": a.id, "callsign": a.callsign} for a in assets],
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
                "_asset_ids": [a.id for a in assets],
                "_movement_ids": [m for a in assets for m in movements_of.get(a.id, [])],
                "_escalate_to": sorted({party_id, *([asker_party] if asker_party else [])}),
            }
            single = assets[0] if len(assets) == 1 else None
            cells = self.coordination_cells(party_id)
            addressees: list[str | None] = list(cells) if cells else [None]
            for cell in addressees:
                rows.append(
                    self._row(
                        unit_id=cell,
                        party_id=party_id,
                        cause="hold_on_your_asset",
                        payload=payload,
                        deadline=deadline if cell is not None else None,
                        asset_id=single.id if single else None,
                        type_id=single.type_id if single else None,
                        subject=f"check:{check_id}",
                        urgent=True,
                    )
                )
        if rows:
            self.store.add_notifications(rows, "service:notifications")

    def coordination_cells(self, party_id: str) -> list[str]:
        """The party's coordination cells (cached until a unit is written or removed)."""
        cached = self._cells.get(party_id)
        if cached is not None:
            return cached
        generation = self._cells_generation
        cells: list[str] = []
        after: str | None = None
        while True:
            page = self.store.list("unit", party_ids=[party_id], after_id=after, limit=_UNIT_PAGE)
            cells.extend(u.id for u in page if u.data.get("coordination_cell"))
            if len(page) < _UNIT_PAGE:
                break
            after = page[-1].id
        if generation == self._cells_generation:  # no unit written while this was read
            self._cells[party_id] = cells
        return cells

    def _forget_cells(self) -> None:
        self._cells_generation += 1
        self._cells.clear()

    def object_removed(self, kind: str, obj_id: str) -> None:
        if kind == "unit":
            self._forget_cells()

    def owner_responses(self, check_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        """The check's answer with each owner's answer (``owner_response``) filled in."""
        rows = self.store.find_notifications(
            subject=f"check:{check_id}", cause="hold_on_your_asset", answered=True
        )
        if not rows:
            return answer
        out = dict(answer)
        matches = [dict(m) for m in answer.get("matches") or []]
        for row in sorted(rows, key=lambda r: r["responded_at"] or ""):
            response = {
                "response": row["response"],
                "by": row["responded_by"],
                "at": row["responded_at"],
            }
            movements = set(row["payload"].get("_movement_ids") or [])
            assets = set(row["payload"].get("_asset_ids") or [row["asset_id"]])
            for match in matches:
                if match.get("owner_response") is not None:
                    continue
                mine = (
                    (match.get("kind") == "asset" and match.get("id") in assets)
                    or (match.get("kind") == "movement" and match.get("id") in movements)
                    or (match.get("details_withheld") and match.get("party_id") == row["party_id"])
                )
                if mine:
                    match["owner_response"] = response
        out["matches"] = matches
        return out


class Escalator:
    """Unanswered at its deadline → the coordination cells of both parties; an escalation
    unanswered for ``escalation_interval_s`` → the parties' out-of-band contacts; then
    silence. Reads deadlines from the store, so timers survive restarts."""

    def __init__(self, service: Service, planner: Planner) -> None:
        self.svc = service
        self.store = service.store
        self.planner = planner
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        def run() -> None:
            while not self._stop.wait(self.svc.settings.escalation_tick_s):
                if not self.svc.ready:
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
        now = self.svc.clock.now()
        done = 0
        while True:
            # 200 per transaction, the write lock released between them: a burst of
            # deadlines (thousands of entries told at start-up) never holds writes off.
            with self.svc.lock:
                due = self.store.due_notifications(format_time(now), limit=200)
                if not due:
                    break
                with self.svc.writing():
                    for row in due:
                        self._escalate(row, now)
                        done += 1
            self.svc.lock.hand_off()  # let a waiting writer in (see Planner.drain)
        if done:
            self.planner.bell.ring()
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
        planner = self.planner
        interval = timedelta(seconds=self.svc.settings.escalation_interval_s)
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
            party = planner._party(party_id)
            contact = party.contact if party else None
            cells = planner.coordination_cells(party_id) if level == 1 else []
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
                    payload["message"] = (
                        f"ESCALATION: unit {original['unit_id']} did not answer a "
                        f"{original['cause'].replace('_', ' ')} by {original['deadline']}. "
                        "Make sure it is told and answers."
                    )
                    rows.append(
                        planner._row(
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
                payload["message"] = (
                    f"OUT-OF-BAND ESCALATION to {contact or party_id}: unit "
                    f"{original['unit_id']} did not answer a "
                    f"{original['cause'].replace('_', ' ')} and nobody answered the escalation."
                )
                rows.append(
                    planner._row(
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


#: A fan-out formats the same few instants (its window, its deadline floor) thousands of
#: times: the stored text form, remembered.
_fmt = lru_cache(maxsize=4096)(format_time)


def _add_arrival(payload: dict[str, Any], arrival_id: str) -> None:
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


def _unit_of(shape: Shape) -> str:
    """The unit of an AOR's shape."""
    ref: AorRef = shape.payload
    return ref.unit_id


def parse_deadline(value: str | None) -> datetime | None:
    return parse_time(value) if value else None
