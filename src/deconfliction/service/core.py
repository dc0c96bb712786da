"""The service: one store, one in-memory engine, one write lock that keeps them in step.

Every write validates its input (domain model), stores it in one transaction (the
store appends the event in the same transaction), updates the engine, and only
then answers, all under the process-wide write lock: a check that follows a
``201`` sees the write. At start-up the engine is loaded from the store in a
background thread; until it is ready, checks answer ``503`` with
``treat_as: HOLD`` (:class:`~deconfliction.service.errors.Unavailable`).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from deconfliction.check.engine import Engine
from deconfliction.domain.model import (
    Area,
    Asset,
    EquipmentType,
    Model,
    Movement,
    Party,
    PositionReport,
    Site,
    Unit,
)
from deconfliction.service import follow, stored_form
from deconfliction.service.audit_watch import AuditWatch
from deconfliction.service.clock import Clock
from deconfliction.service.config import Settings
from deconfliction.service.ratelimit import RateLimiter
from deconfliction.service.writelock import WriteLock
from deconfliction.store import Store, open_store, store_location

log = logging.getLogger("deconfliction.service")

M = TypeVar("M", bound=Model)

#: How often the service looks for writes made by other processes.
FOLLOW_INTERVAL_S = 0.25


class WriteHook(Protocol):
    """Called by the service around its writes (the notification planner is one)."""

    def loaded(self) -> None:
        """The engine was just loaded (under the write lock)."""

    def object_written(self, kind: str, model: Model, owner: str | None) -> None:
        """A registered object was created or replaced: inside its write transaction."""

    def reports_written(self, reports: Sequence[PositionReport]) -> None:
        """Position reports were stored: inside their write transaction."""

    def object_removed(self, kind: str, obj_id: str) -> None:
        """A registered object was deleted (by this process or, followed, another)."""

    def drain(self) -> int:
        """Work deferred by a load or a write, done in chunks that each take the write
        lock (call without holding it): so that nothing holds checks and writes off
        for long."""

    def followed(self, written: Sequence[follow.Followed]) -> None:
        """Objects and report batches another process wrote (applied to the engine by the
        follower, or loaded with it): inside a transaction of their own, after theirs
        committed. At least once (a replay may repeat them): must be idempotent."""


class Service:
    def __init__(self, store: Store, engine: Engine, settings: Settings) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        #: Held by every write (store + engine) and by the loader.
        self.lock = WriteLock()
        self.rate_limiter = RateLimiter(settings.check_rate_limit)
        #: asset id → owner party, for the report path; ``None`` until loaded.
        self.asset_party: dict[str, str] | None = None
        #: The last event of the store the engine reflects (own writes and followed ones).
        self.applied_seq = 0
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._loader: threading.Thread | None = None
        self._stop = threading.Event()
        self.events = follow.EventSource(store)
        #: Deadlines and timers read this clock (a test hook may move it forward).
        self.clock = Clock()
        #: Told about every write, inside its transaction (notifications).
        self.hooks: list[WriteHook] = []
        #: This thread's open :meth:`writing` block: its after-commit callbacks.
        self._writing = threading.local()
        #: Other processes' writes applied to the engine, not yet given to the hooks.
        self.unplanned: list[follow.Followed] = []
        #: Another process plans notifications on this store (another server on the same
        #: PostgreSQL database): seen when one of its notification events is followed. The
        #: planner then looks in the store for what it could have written meanwhile.
        self.other_planners = False
        #: With ``Settings.demo``, the store's last event at open: the writes of the events
        #: after it (``serve --demo`` loads the demo before the engine) go to the hooks too.
        self._replay_after_seq: int | None = store.last_event_seq() if settings.demo else None
        #: The audit log's start-up check and end anchor (``service/audit_watch.py``).
        self.audit = AuditWatch(
            store, settings.data_dir, store_location(settings.data_dir, settings.database_url)
        )

    def object_written(self, kind: str, model: Model, owner: str | None) -> None:
        """Tell the hooks about a stored object; call inside :meth:`writing`."""
        for hook in self.hooks:
            hook.object_written(kind, model, owner)

    def reports_written(self, reports: Sequence[PositionReport]) -> None:
        """Tell the hooks about stored reports; call inside :meth:`writing`."""
        for hook in self.hooks:
            hook.reports_written(reports)

    def object_removed(self, kind: str, obj_id: str) -> None:
        """Tell the hooks a registered object was deleted."""
        for hook in self.hooks:
            hook.object_removed(kind, obj_id)

    def plan_followed(self) -> None:
        """Give the queued writes of other processes to the hooks, each batch in a
        transaction of its own; call under :attr:`lock` once the engine is loaded."""
        while self.unplanned:
            written = list(self.unplanned)
            if self.hooks:
                with self.writing():  # its catch-up may queue more: the loop takes them
                    for hook in self.hooks:
                        hook.followed(written)
            del self.unplanned[: len(written)]  # only once planned: a failure is retried

    @classmethod
    def open(cls, settings: Settings) -> Service:
        """Open (and migrate) the store; the engine starts empty and not ready."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(
            settings.data_dir, settings.database_url, sign=True, long_running=settings.long_running
        )  # migrates
        engine = Engine(horizon=timedelta(hours=settings.horizon_hours))
        return cls(store, engine, settings)

    # -- start-up ----------------------------------------------------------
    @property
    def ready(self) -> bool:
        return bool(self.engine.ready)

    def start_loading(self) -> threading.Thread:
        """Load the engine from the store in a background thread."""
        thread = threading.Thread(target=self._load, name="deconfliction-loader", daemon=True)
        self._loader = thread
        thread.start()
        return thread

    def load_now(self) -> None:
        """Load the engine in this thread (the CLI and tests)."""
        self._load()

    def wait_ready(self, timeout: float | None = None) -> bool:
        if self._loader is not None:
            self._loader.join(timeout)
        return self.ready

    def _load(self) -> None:
        delay = self.settings.load_delay_s
        if delay > 0:
            log.warning("test hook: delaying the index load by %.1f s", delay)
            time.sleep(delay)
        started = time.perf_counter()
        try:
            with self.lock:
                seq0 = self.store.last_event_seq()
                asset_party: dict[str, str] = {}
                for stored in self.store.iter_all("asset"):
                    if stored.party_id is not None:
                        asset_party[stored.id] = stored.party_id
                self.engine.load(
                    parties=self._all(Party, "party"),
                    units=self._all(Unit, "unit"),
                    equipment_types=self._all(EquipmentType, "equipment_type"),
                    assets=self._all(Asset, "asset"),
                    reports=[
                        stored_form.report_from_row(row) for row in self.store.latest_reports()
                    ],
                    movements=self._all(Movement, "movement"),
                    areas=self._all(Area, "area"),
                    sites=self._all(Site, "site"),
                )
                self.asset_party = asset_party
                self.applied_seq = seq0
                if self._replay_after_seq is not None:
                    follow.replay(self, self._replay_after_seq, seq0)
                follow.catch_up(self)  # whatever other processes wrote while we read
                for hook in self.hooks:
                    hook.loaded()
        except Exception as exc:  # the service stays up and answers 503 treat_as HOLD
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("the index failed to load; checks will answer 503 (treat as HOLD)")
            return
        try:
            with self.lock:
                self.plan_followed()
        except Exception:  # the follower retries; checks need not wait for it
            log.exception("planning other processes' writes failed; retrying")
        self.load_seconds = time.perf_counter() - started
        log.info("index loaded in %.2f s", self.load_seconds)
        if self.settings.long_running:
            # The loaded index (100,000 AORs are millions of objects) lives as long as the
            # process: out of the collector's sight, its full passes stop walking all of it
            # (a pause in whatever request is running), and its younger passes get cheaper.
            # Only in a process with one service for its life: frozen cyclic garbage is
            # never freed (tests load many services in one process).
            gc.collect()
            gc.freeze()
        self.drain()

    def drain(self) -> None:
        """Let the hooks do their deferred work (see ``WriteHook.drain``); call without
        holding the write lock. A failure is logged: the next load does it again."""
        for hook in self.hooks:
            try:
                hook.drain()
            except Exception:
                log.exception("deferred work failed; the next start does it again")

    # -- writes ---------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction, in step with the engine: catch up with other
        processes' writes first, and count this write's events as applied.

        Use under :attr:`lock`; update the engine after the block (after the commit).
        What :meth:`after_commit` was given inside the block runs once it has committed.
        """
        local = self._writing
        if getattr(local, "callbacks", None) is not None:  # nested: the outer block commits
            with self.store.transaction():
                yield
            return
        local.callbacks = []
        try:
            with self.store.transaction():
                follow.catch_up(self)
                yield
                last = self.store.last_event_seq()
            self.applied_seq = last
            callbacks: list[Callable[[], None]] = local.callbacks
        finally:
            local.callbacks = None
        for callback in callbacks:
            callback()

    @contextmanager
    def committing(self) -> Iterator[None]:
        """One store transaction whose :meth:`after_commit` callbacks run once it has
        committed (and never if it did not); without :meth:`writing`'s catch-up (a check's
        record changes nothing the engine follows). Nested in another, it is a savepoint
        and the outer one decides."""
        local = self._writing
        if getattr(local, "callbacks", None) is not None:
            with self.store.transaction():
                yield
            return
        local.callbacks = []
        try:
            with self.store.transaction():
                yield
            callbacks: list[Callable[[], None]] = local.callbacks
        finally:
            local.callbacks = None
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this thread's :meth:`writing` (or :meth:`committing`)
        block has committed (at once outside one). Readers on other connections
        (PostgreSQL's pool, SQLite's readers) see a write only then: a stream woken inside
        the transaction read too early and found the write a poll later."""
        callbacks = getattr(self._writing, "callbacks", None)
        if callbacks is None:
            callback()
        else:
            callbacks.append(callback)

    def start_following(self, interval_s: float = FOLLOW_INTERVAL_S) -> threading.Thread:
        """Apply writes made by other processes on the same store (``deconfliction import``,
        ``demo``) within ``interval_s``."""

        def run() -> None:
            while not self._stop.wait(interval_s):
                if not self.ready:
                    continue
                try:
                    with self.lock:
                        follow.catch_up(self)
                        self.plan_followed()
                    self.drain()
                except Exception:
                    log.exception("following the event log failed; retrying")

        thread = threading.Thread(target=run, name="deconfliction-follower", daemon=True)
        thread.start()
        return thread

    def _all(self, model: type[M], kind: str) -> list[M]:
        # As stored: older versions' values are read as the widest they could mean.
        return [
            stored_form.stored_model(model, stored.data) for stored in self.store.iter_all(kind)
        ]

    def close(self) -> None:
        self._stop.set()
        self.audit.stop()  # anchors what this process signed since its last pass
        with self.lock:
            self.events.close()
            self.store.close()

    def status(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "load_error": self.load_error,
            "load_seconds": self.load_seconds,
            **self.audit.state(),
        }
