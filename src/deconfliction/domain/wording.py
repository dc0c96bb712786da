"""Words a tired operator reads in two seconds: distances, durations, speeds, times."""

from __future__ import annotations

import math
import time


def distance(metres: float) -> str:
    if metres < 1000:
        return f"{max(0, round(metres))} m"
    if metres < 10_000:
        return f"{metres / 1000:.1f} km"
    return f"{round(metres / 1000)} km"


def duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{round(minutes)} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h".replace(".0 h", " h")
    return f"{round(hours / 24)} days"


def speed(mps: float) -> str:
    return f"{round(mps * 3.6)} km/h"


def clock(epoch_s: float) -> str:
    t = time.gmtime(epoch_s)
    return f"{t.tm_hour:02d}:{t.tm_min:02d}Z"


def rfc3339(epoch_s: float) -> str:
    """RFC 3339 in UTC, to the second, rounded down (an earlier valid_until is the safe side)."""
    t = time.gmtime(math.floor(epoch_s))
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    )
