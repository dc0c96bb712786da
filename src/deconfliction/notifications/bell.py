"""Waking the readers of the outbox when it grows: the units' server-sent-event streams, the
CoT publisher, the webhook dispatcher. Rung once a write that told someone has committed
(``Planner``, the escalator, answers, checks)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable

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
