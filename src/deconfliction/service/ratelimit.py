"""Checks per minute per unit (``--check-rate-limit``; 0 = off)."""

from __future__ import annotations

import math
import threading
import time


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
