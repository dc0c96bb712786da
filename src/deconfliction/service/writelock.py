"""The service's write lock: re-entrant, and it knows whether anyone is waiting for it.

Long background work (a movement's fan-out to thousands of units, a burst of escalations)
runs in chunks and releases the lock between them. Python's locks are not fair: a thread
that releases and re-acquires at once usually gets the lock straight back, so a report
batch waiting for it would wait for the whole job. The job therefore pauses between
chunks — but only when someone is waiting (:attr:`WriteLock.contended`), so an
uncontended fan-out does not pay a pause per chunk.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

#: How long a chunked job pauses when a writer waits: long enough for that writer's
#: thread to be scheduled and take the lock.
HANDOFF_S = 0.001


class WriteLock:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._count = threading.Lock()
        self._waiting = 0
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._lock.acquire(blocking=False):
            if not blocking:
                return False
            with self._count:
                self._waiting += 1
            try:
                if not self._lock.acquire(timeout=timeout):
                    return False
            finally:
                with self._count:
                    self._waiting -= 1
        self._owner = threading.get_ident()
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
        self._lock.release()

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        return self._owner == threading.get_ident()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    @property
    def contended(self) -> bool:
        """Whether another thread is blocked waiting for the lock (a moment's view)."""
        return self._waiting > 0

    def hand_off(self) -> None:
        """Between two chunks of a job (lock not held): let a waiting writer in first."""
        if self.contended:
            time.sleep(HANDOFF_S)
