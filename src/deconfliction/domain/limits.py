"""Physical limits: the one place every edge takes its number and time ranges from.

HTTP (the pydantic models of :mod:`deconfliction.domain.model`), the CLI, import files and
CoT all refuse a value outside these ranges, naming the field (``docs/design/security.md``,
"Physical ranges at every edge"). Inside, :func:`report_in_range` is how the engine tells a
stored report it can place from one it must treat as "could be anywhere": a value past these
ranges (written by an older version, or by another node) never narrows where an asset could
be, and never reaches the index's arithmetic. No I/O.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from deconfliction.domain.geo import EARTH_RADIUS_M, R99_PER_CEP

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Latitude and longitude, WGS 84 degrees.
LAT_MIN, LAT_MAX = -90.0, 90.0
LON_MIN, LON_MAX = -180.0, 180.0
#: Height above the ellipsoid (CoT ``hae``), metres: the deepest trench to low orbit.
HAE_MIN_M, HAE_MAX_M = -12_000.0, 1_000_000.0
#: A position's or an observer's CEP, metres. Beyond 100 km (a 99 % radius of 258 km) a
#: "position" says nothing a party could act on; the GeoChat CHECK command has the same bound.
MAX_CEP_M = 100_000.0
#: A site's protected radius, metres.
MAX_SITE_RADIUS_M = 100_000.0
#: A movement's corridor half-width, metres.
MAX_CORRIDOR_M = 500_000.0
#: Any speed (a type's or an asset's maximum, a report's), km/h: faster than any aircraft
#: a coalition registers.
MAX_SPEED_KMH = 4_000.0
#: A course, degrees from true north, in [0, 360).
COURSE_MAX_DEG = 360.0
#: How long before an entry a unit must answer an announcement, minutes (one week).
MAX_LEAD_MIN = 7 * 24 * 60.0
#: The least time a unit is given to answer an announcement, minutes (one day).
MAX_MIN_ANSWER_MIN = 24 * 60.0
#: A token's lifetime, days (ten years).
MAX_TOKEN_TTL_DAYS = 3_650.0
#: Every time the service takes: reports, checks, windows (UTC, both ends included).
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)
TIME_MIN_TS = TIME_MIN.timestamp()
TIME_MAX_TS = TIME_MAX.timestamp()
#: A stream cursor (``Last-Event-ID``, ``after``): a 64-bit signed integer, not negative.
MAX_CURSOR = 2**63 - 1

#: A report's CEP plus what the widest MGRS square adds (a 100 km square, a reference without
#: digits: its half diagonal over the 99 % factor) still counts as in range.
MAX_EFFECTIVE_CEP_M = MAX_CEP_M + 100_000.0 * math.sqrt(2) / 2 / R99_PER_CEP
#: Half the earth's circumference: no two points on the sphere are further apart.
HALF_CIRCUMFERENCE_M = math.pi * EARTH_RADIUS_M
#: The 99 % radius that stands for "could be anywhere": the whole sphere with room to spare
#: for the metric's widening. Finite, so the index's arithmetic stays finite.
ANYWHERE_REACH_M = 2.0 * HALF_CIRCUMFERENCE_M
#: The speed (m/s) that stands for an out-of-range stored maximum speed: anywhere on earth
#: a millisecond after the report, finite for any age the time window allows (4e21 m at most).
ANYWHERE_SPEED_MPS = ANYWHERE_REACH_M * 1000.0


def time_in_range(value: datetime) -> bool:
    """Whether an aware time lies in [TIME_MIN, TIME_MAX] (no conversion: cannot overflow)."""
    try:
        return TIME_MIN <= value <= TIME_MAX
    except (OverflowError, TypeError):
        return False


def describe_time_range() -> str:
    return f"between {TIME_MIN:%Y-%m-%d} and {TIME_MAX:%Y-%m-%d} UTC"


def check_time(value: datetime) -> datetime:
    """``value`` in UTC, or a ValueError saying the range (never an OverflowError)."""
    if not time_in_range(value):
        raise ValueError(f"must be {describe_time_range()}, got {_show_time(value)}")
    return value.astimezone(UTC)


def _show_time(value: datetime) -> str:
    try:
        return value.isoformat()
    except (OverflowError, ValueError):
        return repr(value)


def report_in_range(lat: float, lon: float, cep_m: float, t: float) -> bool:
    """Whether a report's numbers may be placed as they are (else: could be anywhere).

    ``cep_m`` is the effective CEP (an MGRS square's half diagonal included), ``t`` the
    report time as a POSIX timestamp. NaN fails every comparison, so it fails here.
    """
    return (
        LAT_MIN <= lat <= LAT_MAX
        and LON_MIN <= lon <= LON_MAX
        and 0.0 <= cep_m <= MAX_EFFECTIVE_CEP_M
        and TIME_MIN_TS <= t <= TIME_MAX_TS
    )


def reports_in_range(
    lat: FloatArray, lon: FloatArray, cep_m: FloatArray, t: FloatArray
) -> BoolArray:
    """:func:`report_in_range` over arrays."""
    ok: BoolArray = (
        (lat >= LAT_MIN)
        & (lat <= LAT_MAX)
        & (lon >= LON_MIN)
        & (lon <= LON_MAX)
        & (cep_m >= 0.0)
        & (cep_m <= MAX_EFFECTIVE_CEP_M)
        & (t >= TIME_MIN_TS)
        & (t <= TIME_MAX_TS)
    )
    return ok


def speed_in_range(kmh: float) -> bool:
    return 0.0 <= kmh <= MAX_SPEED_KMH
