"""The service's clock: real UTC time, plus an offset that only a test hook may move.

Deadlines and escalation timers read this clock. With ``DECONFLICTION_TEST_CLOCK=1``
in the environment the server accepts ``POST /v1/test/clock`` (admins) to move it
forward, so tests drive deadlines without sleeping. Never set it in production.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

#: Test hook: enables ``POST /v1/test/clock``.
TEST_CLOCK_ENV = "DECONFLICTION_TEST_CLOCK"


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward (never back: timers already stored stay in order)."""
        if by < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += by
        return self.now()
