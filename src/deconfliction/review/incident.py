"""The incident a review is about: a point, a radius and a time window, within the review's bounds.

:class:`Incident` validates what may be reviewed (``docs/design/security.md``, "Files and the
review, bounded") and answers the questions of place and time every list of the review
asks: how far something is from the point, and whether a span of time meets the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deconfliction.domain import geo
from deconfliction.store.times import format_time

#: The window reaches this far before the incident unless told otherwise (the check's
#: staleness horizon: older reports could not have made a HOLD there).
DEFAULT_BEFORE = timedelta(hours=6)
DEFAULT_AFTER = timedelta(hours=1)
#: The review's bounds (``docs/design/security.md``, "Files and the review, bounded"): an
#: after-action review is about one incident, a place a unit could see and the days
#: leading to it; wider asks read (and would answer) a theatre's whole record.
MAX_RADIUS_M = 50_000.0
#: ``before + after`` (each alone too) at most this long.
MAX_SPAN = timedelta(days=7)


class ReviewInputError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Incident:
    at: datetime
    lat: float
    lon: float
    radius_m: float
    before: timedelta = DEFAULT_BEFORE
    after: timedelta = DEFAULT_AFTER

    @property
    def start(self) -> str:
        return format_time(self.at - self.before)

    @property
    def end(self) -> str:
        return format_time(self.at + self.after)

    def validate(self) -> None:
        """``ValueError`` naming the field of an incident that cannot be reviewed."""
        geo.check_lat_lon(self.lat, self.lon, "lat/lon")
        if not (0 < self.radius_m <= MAX_RADIUS_M) or math.isnan(self.radius_m):
            raise ReviewInputError(
                "radius_m",
                f"must be within (0, {MAX_RADIUS_M:g}] m (the review's radius is at most "
                f"{MAX_RADIUS_M / 1000:g} km), got {self.radius_m:g}",
            )
        if self.at.tzinfo is None:
            raise ReviewInputError("at", "needs a time zone")
        days = MAX_SPAN.days
        for name, span in (("before", self.before), ("after", self.after)):
            if not timedelta(0) <= span <= MAX_SPAN:
                raise ReviewInputError(
                    name, f"must be between 0 and {days} days (the review's span), got {span}"
                )
        if self.before + self.after > MAX_SPAN:
            raise ReviewInputError(
                "before+after",
                f"the window before and after the incident must be at most {days} days in "
                f"all (the review's span), got {self.before + self.after}",
            )

    # -- place and time --------------------------------------------------------------------
    def distance_m(self, lat: float, lon: float) -> float:
        """From the incident's point to ``lat``, ``lon``."""
        return geo.haversine_scalar_m(self.lat, self.lon, lat, lon)

    def km(self, row: dict[str, Any]) -> str:
        """How far a report row (``lat``, ``lon``) is from the point, as the timeline says it."""
        return f"{self.distance_m(row['lat'], row['lon']) / 1000:.1f} km"

    def geometry_distance_m(self, geom: Any) -> float:
        """From the incident's point to the nearest point of a shape (0 inside it)."""
        lats, lons = geo.chords(geom)
        return geo.distance_to_geometry_m(self.lat, self.lon, geom, lats, lons)

    def overlaps(self, start: str | None, end: str | None) -> bool:
        """Whether a span of stored times (open at either end) meets the window."""
        return (start is None or start <= self.end) and (end is None or end >= self.start)
