"""The review's timeline: its events, their order within one second, and its clock times.

Every list of the review adds the events it explains (a registration, a report, a
notification and its answer, a check); :meth:`Timeline.ordered` sorts them by time and,
within a second, in the order things happen (:data:`EVENT_ORDER`, which the review's
pages order by too).
"""

from __future__ import annotations

from typing import Any

#: Same-second events in the order they happen (a registration causes notifications).
EVENT_ORDER = {
    "registered": 0,
    "movement": 1,
    "report": 2,
    "notified": 3,
    "answered": 4,
    "check": 5,
}


def short(stored: str | None) -> str:
    """``2026-03-14T10:05:00.123456Z`` → ``10:05:00Z`` (the date is in the heading)."""
    return "-" if not stored else stored[11:19] + "Z"


class Timeline:
    """The events of one review, in the order they were added until :meth:`ordered`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, at: str, what: str, text: str, party: str | None, **extra: Any) -> None:
        self.events.append({"at": at, "what": what, "text": text, "party_id": party, **extra})

    def ordered(self) -> list[dict[str, Any]]:
        """The events sorted by time, then :data:`EVENT_ORDER` (stable: ties keep the order
        they were added in)."""
        self.events.sort(key=lambda e: (e["at"], EVENT_ORDER.get(e["what"], 9)))
        return self.events
