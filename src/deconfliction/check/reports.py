"""Position reports into the asset table: which report places an asset, and how far a
plain one may widen where it could be.

Authenticated reports place an asset (the newest wins). A plain-port report only widens
its reach, from the placing report's, within the bound of ``domain/plain_reports.py``: a
forged report must not take a friendly out of a check at its authenticated position. A
report whose numbers are out of physical range places its asset *anywhere*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from deconfliction.check.index.assets import AssetTable
from deconfliction.domain import geo, limits
from deconfliction.domain.model import PositionReport
from deconfliction.domain.plain_reports import PlainEffect, widening_effect


def _report_time(report: PositionReport) -> float:
    """A report's time as a timestamp; NaN when it is not a time at all."""
    try:
        return report.time.timestamp()
    except (AttributeError, OverflowError, ValueError, TypeError):
        return math.nan


def _numbers(report: PositionReport) -> tuple[float, float, float, float] | None:
    """(lat, lon, time, r99) of a report the index may place, or ``None``: its numbers are
    out of physical range, and the asset could be anywhere (domain/limits.py)."""
    try:
        lat = float(report.position.lat)
        lon = float(report.position.lon)
        cep = float(report.effective_cep_m)
    except (AttributeError, TypeError, ValueError):
        return None
    t = _report_time(report)
    if not limits.report_in_range(lat, lon, cep, t):
        return None
    return lat, lon, t, geo.r99(cep)


def _anywhere_time(report: PositionReport) -> float:
    """The time an out-of-range report is taken at: its own when that is in range (a later
    report replaces it), else the window's start (any report in range replaces it)."""
    t = _report_time(report)
    return t if limits.TIME_MIN_TS <= t <= limits.TIME_MAX_TS else limits.TIME_MIN_TS


class ReportIntake:
    """Applies position reports to ``table``; the caller holds the engine's lock."""

    def __init__(self, table: AssetTable) -> None:
        self._table = table
        #: slot → (t0, lat, lon, accuracy, capped) of the report that placed it, as plain
        #: reports last saw it: they widen from that reach, never from one another's
        #: (``effect``); capped unless a plain report placed it.
        self._plain_base: dict[int, tuple[float, float, float, float, bool]] = {}

    def put(self, reports: Sequence[PositionReport]) -> int:
        """Take position reports (the newest per asset wins); unknown assets are skipped.

        Authenticated reports place an asset. A plain-port report (``source`` plain) only
        widens where it could be (``_widen``): applied after the batch's authenticated ones.
        A report whose numbers are out of physical range (``domain/limits.py``: only a stored
        row of an older version or another node can hold one) places its asset *anywhere*
        (``AssetTable.place_anywhere``), whatever its source: never a smaller reach.
        """
        slot_of = self._table.slot_of
        placed = [r for r in reports if r.source == "authenticated" and r.asset_id in slot_of]
        taken = 0
        if len(placed) == 1:
            r = placed[0]
            numbers = _numbers(r)
            if numbers is None:
                taken += self._table.place_anywhere(slot_of[r.asset_id], _anywhere_time(r))
            else:
                lat, lon, t, r99 = numbers
                taken += int(self._table.report(slot_of[r.asset_id], lat, lon, t, r99))
        elif placed:
            # Column by column: no tuple per report, no 2-D array to split again.
            n = len(placed)
            positions = [r.position for r in placed]
            slots = np.fromiter([slot_of[r.asset_id] for r in placed], np.int64, n)
            lats = np.fromiter([p.lat for p in positions], np.float64, n)
            lons = np.fromiter([p.lon for p in positions], np.float64, n)
            t0s = np.fromiter([_report_time(r) for r in placed], np.float64, n)
            ceps = np.fromiter([r.effective_cep_m for r in placed], np.float64, n)
            ok = limits.reports_in_range(lats, lons, ceps, t0s)
            if not ok.all():
                # Anywhere first: a newer report in range in this batch replaces it.
                for i in np.flatnonzero(~ok).tolist():
                    r = placed[i]
                    taken += self._table.place_anywhere(int(slots[i]), _anywhere_time(r))
                slots, lats, lons, t0s, ceps = (
                    slots[ok],
                    lats[ok],
                    lons[ok],
                    t0s[ok],
                    ceps[ok],
                )
            # geo.r99 of each, as one multiplication.
            taken += self._table.report_batch(slots, lats, lons, t0s, geo.R99_PER_CEP * ceps)
        for r in reports:
            if r.source != "authenticated" and r.asset_id in slot_of:
                numbers = _numbers(r)
                if numbers is None:
                    taken += self._table.place_anywhere(slot_of[r.asset_id], _anywhere_time(r))
                else:
                    taken += self._widen(slot_of[r.asset_id], *numbers)
        return taken

    def _widen(self, slot: int, lat: float, lon: float, t: float, r99: float) -> int:
        """A plain report at (lat, lon) at time t: the asset could be there, so the check
        must find it there from then on — but it never moves the asset (a forged report
        must not take a friendly out of a check at its authenticated position). The
        authenticated report's accuracy grows until its reach covers the plain report's at
        every later time: ``a ≥ d + r99 − v·(t − t0)``. Without an authenticated report the
        plain one is all there is, and places the asset. One older than the authenticated
        report says nothing newer and is ignored. A later authenticated report replaces it.
        A widening beyond the bound of ``domain/plain_reports.py`` is refused."""
        effect, need = self.effect(slot, lat, lon, t, r99)
        table = self._table
        if effect is PlainEffect.PLACES:
            placed = table.report(slot, lat, lon, t, r99)
            if placed:  # widened from this placement, uncapped: no authenticated report
                self._plain_base[slot] = (t, lat, lon, r99, False)
            return int(placed)
        if effect is not PlainEffect.WIDENS:
            return 0
        here_lat, here_lon = float(table.lat[slot]), float(table.lon[slot])
        return int(table.report(slot, here_lat, here_lon, float(table.t0[slot]), need))

    def effect(
        self, slot: int, lat: float, lon: float, t: float, r99: float
    ) -> tuple[PlainEffect, float]:
        """What a plain report would do to the slot's reach, and the accuracy it needs."""
        table = self._table
        if not table.has[slot]:
            return PlainEffect.PLACES, r99
        t0 = float(table.t0[slot])
        if t < t0:
            return PlainEffect.NO_CHANGE, 0.0
        here_lat, here_lon = float(table.lat[slot]), float(table.lon[slot])
        a = float(table.a[slot])
        # Widen from the placing report's accuracy, not from earlier widenings: a slot whose
        # placement matches no record was placed by an authenticated report since.
        base = self._plain_base.get(slot)
        if base is None or base[:3] != (t0, here_lat, here_lon):
            base = (t0, here_lat, here_lon, a, True)
            self._plain_base[slot] = base
        d = geo.haversine_scalar_m(here_lat, here_lon, lat, lon)
        need = d + r99 - float(table.v[slot]) * (t - t0)
        return widening_effect(need, a, base[3], base[4]), need
