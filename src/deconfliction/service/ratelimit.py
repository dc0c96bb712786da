"""Checks per minute per unit (``--check-rate-limit``; 0 = off).

Anti-probing (docs/design/security.md): every check near a withheld asset tells the asker
one bit about it, so the number of checks a unit may make bounds what it can learn.
``serve`` turns the limit on by default (:data:`DEFAULT_PER_MINUTE`); benchmarks and
bulk tests pass ``--check-rate-limit 0``. Over the limit: 429 ``treat_as: HOLD``.
It applies to every check path: the fast path and the FastAPI route both go
through ``Checks.prepare``.
"""

from __future__ import annotations

import math
import threading
import time

#: ``serve``'s default: a drone team checks a few points a minute; a burst of 60 at
#: once and one a second sustained covers real use, while a sweep of 1,000 points
#: takes over 15 minutes (and is flagged long before: ``service/probing.py``).
DEFAULT_PER_MINUTE = 60


class RateLimiter:
    """A token bucket per unit: ``per_minute`` checks, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def acquire(self, key: str, now: float | None = None) -> float:
        """0.0 if allowed (and counted), else the seconds until the next check may go."""
        if not self.enabled:
            return 0.0
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), t))
            tokens = min(float(self.per_minute), tokens + (t - last) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, t)
                return 0.0
            self._buckets[key] = (tokens, t)
            return math.ceil((1.0 - tokens) / self._rate * 1000) / 1000
