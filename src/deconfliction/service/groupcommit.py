"""Group commit: records that arrive together share one transaction, leader and followers.

A caller that finds no group being written writes one itself, on its own thread (no hand-off
in the sequential case): its own records and whatever else is queued, up to
:data:`MAX_GROUP`. Callers that arrive meanwhile queue and wait on the condition; when the
group ends, one of them leads the next with everything queued by then. So the cost of a
commit (the write lock, the WAL flush) is shared by every record that waited for it, and
nothing waits for a timer: a record is written as soon as the transaction before it ends.

Each record gets its own outcome. When the group's transaction fails, its records are
written again one by one, so that one bad record (a duplicate id, a failing callback) costs
only its own answer. ``write`` must be all-or-nothing for the records it is given.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: The most records one transaction takes (a PostgreSQL ``IN`` list, a bounded wait).
MAX_GROUP = 64

log = logging.getLogger("deconfliction.groupcommit")


@dataclass(slots=True)
class _Slot(Generic[T]):
    item: T
    done: bool = False
    error: Exception | None = None


@dataclass(slots=True)
class GroupStats:
    """What the groups so far were: counted by the leader, read by anyone (a moment's view)."""

    #: Records written (each once, whether in a group or alone after a failed group).
    records: int = 0
    #: Transactions that committed.
    groups: int = 0
    #: The largest group that committed.
    largest: int = 0
    #: Seconds the committed transactions held the database's write lock, in all.
    lock_held_s: float = 0.0
    #: Groups whose transaction failed (their records were then written one by one).
    failed_groups: int = 0
    #: Records that could not be written.
    failed_records: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "records": self.records,
            "groups": self.groups,
            "largest": self.largest,
            "lock_held_s": round(self.lock_held_s, 6),
            "failed_groups": self.failed_groups,
            "failed_records": self.failed_records,
        }


class GroupCommit(Generic[T]):
    """Writes records in groups through ``write`` (one transaction for the records given;
    returns how long it held the write lock, in seconds)."""

    def __init__(self, write: Callable[[Sequence[T]], float], max_group: int = MAX_GROUP) -> None:
        self._write = write
        self.max_group = max_group
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Slot[T]] = []
        self._leading = False
        self.stats = GroupStats()

    def submit(self, items: Sequence[T]) -> list[Exception | None]:
        """Write ``items`` (each in some group); blocks until each is written or failed.
        Each item's error, ``None`` for a written one, in order."""
        slots = [_Slot(item) for item in items]
        with self._cond:
            self._queue.extend(slots)
        while True:
            with self._cond:
                while self._leading and not all(s.done for s in slots):
                    self._cond.wait()
                if all(s.done for s in slots):
                    return [s.error for s in slots]
                # Nobody writes a group and some of ours wait: they are in the queue.
                self._leading = True
                group = self._queue[: self.max_group]
                del self._queue[: self.max_group]
            try:
                self._lead(group)
            finally:
                with self._cond:
                    for slot in group:
                        if not slot.done:  # interrupted (a BaseException): never "written"
                            slot.error = RuntimeError("the group was interrupted")
                            slot.done = True
                    self._leading = False
                    self._cond.notify_all()

    def _lead(self, group: list[_Slot[T]]) -> None:
        try:
            self._committed(group, self._write([s.item for s in group]))
            return
        except Exception as exc:
            if len(group) == 1:
                self._failed(group[0], exc)
                return
            self.stats.failed_groups += 1
            log.warning(
                "a group of %d records failed (%s: %s); writing them one by one",
                len(group),
                type(exc).__name__,
                exc,
            )
        for slot in group:
            try:
                self._committed([slot], self._write([slot.item]))
            except Exception as exc:
                self._failed(slot, exc)

    def _committed(self, slots: list[_Slot[T]], lock_held_s: float) -> None:
        for slot in slots:
            slot.done = True
        stats = self.stats
        stats.records += len(slots)
        stats.groups += 1
        stats.largest = max(stats.largest, len(slots))
        stats.lock_held_s += lock_held_s

    def _failed(self, slot: _Slot[T], exc: Exception) -> None:
        slot.error = exc
        slot.done = True
        self.stats.failed_records += 1
