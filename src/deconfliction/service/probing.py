"""Sweep detection: a unit checking many points spread over an area, or on a grid,
in a short time is mapping what is there. The check answers it anyway (a unit may
check any point), the rate limit slows it, and this flags it: a notification to the
coordination cells of the asker's party and of every party whose withheld matches
the sweep touched, stored with its event in the hash-chained audit log.

The detector is pure and deterministic: it keeps, per unit, the recorded checks of
the last ``window_s`` seconds by the service clock (injectable), and flags a unit at
most once per ``cooldown_s``. Thresholds and the reasoning: docs/design/security.md.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from deconfliction.domain import wording
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS, PROBING_SUSPECTED
from deconfliction.service.ids import new_notification_id
from deconfliction.store import Store
from deconfliction.store.times import format_time


@dataclass(frozen=True, slots=True)
class SweepSettings:
    #: How far back the detector looks.
    window_s: float = 600.0
    #: "Spread over an area": at least this many checks in the window, falling in at
    #: least ``min_cells`` distinct cells of ``cell_deg`` (about 1.1 km at 0.01°).
    min_checks: int = 20
    min_cells: int = 12
    cell_deg: float = 0.01
    #: "A grid pattern": at least ``lattice_rows`` distinct latitudes and as many
    #: distinct longitudes, the points filling at least ``lattice_fill`` of their
    #: rows × columns, spanning at least ``lattice_span_m``.
    lattice_rows: int = 3
    lattice_fill: float = 0.5
    lattice_span_m: float = 500.0
    #: A unit is flagged at most once in this long.
    cooldown_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class CheckSeen:
    at: float
    lat: float
    lon: float
    #: Parties whose matches were withheld from the asker on this check.
    withheld_parties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sweep:
    unit_id: str
    pattern: str  # "spread" | "grid"
    checks: int
    cells: int
    first_at: float
    last_at: float
    south: float
    west: float
    north: float
    east: float
    withheld_parties: tuple[str, ...] = ()


#: Checks kept per unit: enough to see any sweep the thresholds describe, and a bound
#: on memory and on the work per check however fast a unit checks.
MAX_KEPT = 256


@dataclass
class SweepDetector:
    settings: SweepSettings = field(default_factory=SweepSettings)
    _recent: dict[str, deque[CheckSeen]] = field(default_factory=dict)
    _flagged: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, unit_id: str, seen: CheckSeen) -> Sweep | None:
        """Record one check; a :class:`Sweep` when this check completes one."""
        s = self.settings
        with self._lock:
            recent = self._recent.get(unit_id)
            if recent is None:
                recent = self._recent[unit_id] = deque(maxlen=MAX_KEPT)
            recent.append(seen)
            while recent and recent[0].at < seen.at - s.window_s:
                recent.popleft()
            last = self._flagged.get(unit_id)
            if last is not None and seen.at - last < s.cooldown_s:
                return None  # already told; the rate limit still applies
            sweep = _classify(unit_id, list(recent), s)
            if sweep is not None:
                self._flagged[unit_id] = seen.at
            return sweep


def _classify(unit_id: str, checks: list[CheckSeen], s: SweepSettings) -> Sweep | None:
    n = len(checks)
    if n < s.lattice_rows * s.lattice_rows:
        return None
    cells = {(math.floor(c.lat / s.cell_deg), math.floor(c.lon / s.cell_deg)) for c in checks}
    pattern: str | None = None
    if n >= s.min_checks and len(cells) >= s.min_cells:
        pattern = "spread"
    elif _is_lattice(checks, s):
        pattern = "grid"
    if pattern is None:
        return None
    lats = [c.lat for c in checks]
    lons = [c.lon for c in checks]
    parties = sorted({p for c in checks for p in c.withheld_parties})
    return Sweep(
        unit_id=unit_id,
        pattern=pattern,
        checks=n,
        cells=len(cells),
        first_at=checks[0].at,
        last_at=checks[-1].at,
        south=min(lats),
        west=min(lons),
        north=max(lats),
        east=max(lons),
        withheld_parties=tuple(parties),
    )


def _is_lattice(checks: list[CheckSeen], s: SweepSettings) -> bool:
    """Points on a few rows and columns that they mostly fill: a grid, not a track."""
    points = {(round(c.lat, 4), round(c.lon, 4)) for c in checks}
    rows = {p[0] for p in points}
    cols = {p[1] for p in points}
    if len(rows) < s.lattice_rows or len(cols) < s.lattice_rows:
        return False
    if len(points) < s.lattice_fill * len(rows) * len(cols):
        return False
    lat_span_m = (max(rows) - min(rows)) * 111_320.0
    mid = math.radians((max(rows) + min(rows)) / 2)
    lon_span_m = (max(cols) - min(cols)) * 111_320.0 * math.cos(mid)
    return max(lat_span_m, lon_span_m) >= s.lattice_span_m


class ProbingAlerts:
    """Turns a detected sweep into notifications (and so audit events)."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        cells_of: Callable[[str], list[str]],
        settings: SweepSettings | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cells_of = cells_of
        self.detector = SweepDetector(settings or SweepSettings())

    def check_recorded(
        self,
        check_id: str,
        unit_id: str,
        party_id: str | None,
        lat: float,
        lon: float,
        withheld_parties: Iterable[str],
    ) -> Sweep | None:
        now = self.clock()
        seen = CheckSeen(now.timestamp(), lat, lon, tuple(sorted(set(withheld_parties))))
        sweep = self.detector.observe(unit_id, seen)
        if sweep is None:
            return None
        rows = self.rows(sweep, check_id, party_id, now)
        if rows:
            self.store.add_notifications(rows, "service:probing")
        return sweep

    def rows(
        self, sweep: Sweep, check_id: str, party_id: str | None, now: datetime
    ) -> list[dict[str, Any]]:
        """One notification per coordination cell of each party concerned (a party
        without one gets a single row addressed to its out-of-band contact)."""
        parties = sorted({*([party_id] if party_id else []), *sweep.withheld_parties})
        minutes = max(1, math.ceil((sweep.last_at - sweep.first_at) / 60))
        text = (
            f"Possible probing: unit {sweep.unit_id} ({party_id or 'no party'}) made "
            f"{sweep.checks} checks in {minutes} min, the last at "
            f"{wording.rfc3339(sweep.last_at)}, over {sweep.cells} map cells "
            f"({'a grid pattern' if sweep.pattern == 'grid' else 'spread over an area'}). "
            "Someone may be using the check to map registered assets. Verify with the "
            f"unit's party before trusting it further. {ACKNOWLEDGEMENT_MEANS}"
        )
        summary: dict[str, Any] = {
            "unit_id": sweep.unit_id,
            "party_id": party_id,
            "pattern": sweep.pattern,
            "checks": sweep.checks,
            "cells": sweep.cells,
            "from": format_time(datetime.fromtimestamp(sweep.first_at, now.tzinfo)),
            "to": format_time(datetime.fromtimestamp(sweep.last_at, now.tzinfo)),
        }
        rows = []
        for party in parties:
            sweep_for = dict(summary)
            if party == party_id:
                # Where its own unit checked: for the asker's party only. A check's
                # position goes to the owners of what *it* matched, not of the sweep.
                sweep_for["bbox"] = [sweep.west, sweep.south, sweep.east, sweep.north]
                sweep_for["last_check_id"] = check_id
            payload = {
                "alert": PROBING_SUSPECTED,
                "message": text,
                "sweep": sweep_for,
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
            }
            cells: list[str | None] = list(self.cells_of(party)) or [None]
            for cell in cells:
                rows.append(
                    {
                        "id": new_notification_id(),
                        "unit_id": cell,
                        "party_id": party,
                        "cause": PROBING_SUSPECTED,
                        "asset_id": None,
                        "type_id": None,
                        "subject": f"probing:{sweep.unit_id}",
                        "payload": payload,
                        "urgent": True,
                        "deadline": None,
                        "state": "pending",
                        "escalation_level": 0,
                        "parent_id": None,
                        "created_at": format_time(now),
                    }
                )
        return rows
