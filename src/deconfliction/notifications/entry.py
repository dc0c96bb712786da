"""Entry detection: an asset whose authenticated report enters the AOR of a unit of another
party, unannounced, is told to the unit at once (``unannounced_entry``, urgent, with a
recognition briefing). An entry episode lasts while the asset is inside: it ends only once
the asset reports clearly out (:data:`EXIT_MARGIN_M` beyond the boundary plus its 99 %
radius), so a report hugging the border tells nothing twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import attrgetter

import numpy as np

from deconfliction.check.index.containment import Containment
from deconfliction.check.index.shapes import Shape, distances_m
from deconfliction.domain import geo
from deconfliction.domain.model import (
    Asset,
    EquipmentType,
    PositionReport,
    Unit,
    visible_to,
)
from deconfliction.domain.notice_words import sentence, stamp
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS, unannounced_message
from deconfliction.notifications.announce import Announcements
from deconfliction.notifications.aors import AorUnit, unit_of
from deconfliction.notifications.briefing import Briefings
from deconfliction.notifications.context import Pending, PlanContext
from deconfliction.store.times import format_time, parse_time

#: An asset leaves an AOR (ends its entry episode) only once it reports this much
#: beyond the boundary, plus its 99 % radius: a report hugging the border does not
#: start a new episode each time.
EXIT_MARGIN_M = 100.0
#: The report path keeps at most this many assets read from the store (see ``_asset``).
ASSET_CACHE_MAX = 100_000


class Entries:
    """Detects entries, and remembers the open episodes (rebuilt from the engine's latest
    reports when it loads; under the planner's lock)."""

    def __init__(
        self, context: PlanContext, announcements: Announcements, briefings: Briefings
    ) -> None:
        self.context = context
        self.announcements = announcements
        self.briefings = briefings
        #: asset → units whose AOR its latest report is inside (the open entry episodes).
        self.inside: dict[str, set[str]] = {}
        #: asset → time of the latest report seen (older reports change no episode).
        self.last_seen: dict[str, float] = {}
        #: Entries found by :meth:`loaded`, still to tell: (asset, unit, lat, lon, time).
        self._backlog: list[tuple[str, str, float, float, float]] = []
        #: Point-in-AOR for report batches (built over the engine's AOR shapes).
        self._containment: Containment | None = None
        #: Assets the entry detection read from the store, across report batches, and the
        #: engine's asset registry (and its version) they are good for (see ``_asset``).
        self._assets: dict[str, Asset | None] = {}
        self._assets_of: tuple[object, int] | None = None

    def loaded(self, entered: set[tuple[str, str]]) -> None:
        """Rebuild the open episodes from the engine's latest reports (when it loads, after
        :attr:`Announcements.announced`); ``entered``: the (unit, asset) pairs with a stored
        entry notification."""
        # Open episodes: assets whose latest report is inside an AOR. One that is
        # inside with neither an announcement nor an entry notification (its report
        # arrived while the index was loading) is told by the planner's ``drain``, in
        # chunks; its episode is open from now, so a report meanwhile tells nothing twice.
        self.inside.clear()
        self.last_seen.clear()
        self._backlog.clear()
        table = self.context.service.engine.assets
        slots = [
            slot
            for slot, asset_id in enumerate(table.ids)
            if asset_id is not None and table.has[slot]
        ]
        inside_of = self._containing(
            table.lat[slots].tolist(), table.lon[slots].tolist(), table.t0[slots].tolist()
        )
        for slot, units in zip(slots, inside_of, strict=True):
            asset_id = table.ids[slot]
            assert asset_id is not None
            self.last_seen[asset_id] = float(table.t0[slot])
            for unit_id in units:
                self.inside.setdefault(asset_id, set()).add(unit_id)
                if (unit_id, asset_id) not in self.announcements.announced and (
                    unit_id,
                    asset_id,
                ) not in entered:
                    self._backlog.append(
                        (
                            asset_id,
                            unit_id,
                            float(table.lat[slot]),
                            float(table.lon[slot]),
                            float(table.t0[slot]),
                        )
                    )

    def backlog(self, chunk: int) -> list[tuple[str, str, float, float, float]]:
        """The next ``chunk`` entries found when the engine loaded, still to tell."""
        return self._backlog[:chunk]

    def tell(self, pending: Pending, batch: list[tuple[str, str, float, float, float]]) -> None:
        """Tell entries of the :meth:`backlog` (those announced meanwhile are not)."""
        announced = self.announcements.announced
        for asset_id, unit_id, lat, lon, t in batch:
            if (unit_id, asset_id) not in announced:
                self._unannounced(pending, unit_id, asset_id, lat, lon, t)

    def told(self, count: int) -> None:
        """The first ``count`` entries of the backlog were told (call once committed)."""
        del self._backlog[:count]

    def open_episode(self, asset_id: str, unit_id: str) -> None:
        """The asset is inside the unit's AOR, told so (a new AOR around it)."""
        self.inside.setdefault(asset_id, set()).add(unit_id)

    def reports(self, pending: Pending, reports: Sequence[PositionReport]) -> None:
        """A batch of stored reports: the entries it makes (the engine loaded)."""
        # A plain-port report only widens where an asset could be: not an entry.
        batch = sorted((r for r in reports if r.source == "authenticated"), key=attrgetter("time"))
        asset_ids = [r.asset_id for r in batch]
        positions = [r.position for r in batch]
        lats = [p.lat for p in positions]
        lons = [p.lon for p in positions]
        times = [r.time.timestamp() for r in batch]
        inside = self._containing(lats, lons, times)
        exits = self._exit_distances(asset_ids, lats, lons, inside)
        last_seen, inside_of = self.last_seen, self.inside
        for i, units in enumerate(inside):
            asset_id, t = asset_ids[i], times[i]
            if t < last_seen.get(asset_id, -1e18):
                continue  # an older report changes no episode
            last_seen[asset_id] = t
            before = inside_of.get(asset_id)
            # Most reports leave every episode as it was (outside every AOR, as
            # before, or inside the very AORs it was in): nothing more to do.
            if before:
                if len(units) == len(before) and before.issuperset(units):
                    continue
            elif not units:
                inside_of.pop(asset_id, None)
                continue
            self._report(
                pending,
                batch[i],
                units,
                before or set(),
                (lats[i], lons[i], t),
                exits.get(i),
            )

    def _containing(
        self, lats: Sequence[float], lons: Sequence[float], times: Sequence[float]
    ) -> list[tuple[str, ...]]:
        """For each point, the units whose AOR contains it at its time (one R-tree query
        for the whole batch; see ``check/index/containment.py``)."""
        shapes = self.context.service.engine.shapes
        if self._containment is None or self._containment.index is not shapes:
            self._containment = Containment(shapes, "aor", key=unit_of)
        return self._containment.containing_keys(
            np.asarray(lats, dtype=float),
            np.asarray(lons, dtype=float),
            np.asarray(times, dtype=float),
        )

    def _exit_distances(
        self,
        asset_ids: Sequence[str],
        lats: Sequence[float],
        lons: Sequence[float],
        inside: Sequence[tuple[str, ...]],
    ) -> dict[int, dict[str, float]]:
        """Per report (by index), its distance to each AOR its asset was inside before the
        batch and which does not contain it: what the hysteresis measures, measured for
        the batch in one vectorised call (one call per report was a quarter of the
        detection's time). Only for each asset's first report of the batch: a later one's
        AORs depend on the reports before it, and measuring every AOR an asset might be in
        by then, for every report, grew with the square of an asset's reports in the batch
        (a batch of 33 reports an asset, each in a few large AORs, took 40 s). ``_report``
        measures what is not here itself. No object is made for a report that needs
        nothing (most): objects alive by the thousand make the collector run."""
        before = self.inside
        seen: set[str] = set()
        wanted: dict[int, dict[str, float]] = {}
        for i, asset_id in enumerate(asset_ids):
            if asset_id in seen:
                continue
            seen.add(asset_id)
            was = before.get(asset_id)
            if not was:
                continue
            units = inside[i]
            left = {unit_id: math.nan for unit_id in was if unit_id not in units}
            if left:
                wanted[i] = left  # measured below
        if not wanted:
            return wanted
        get = self.context.service.engine.shapes.get
        pairs: list[tuple[int, str]] = []
        shapes: list[Shape] = []
        for i, units_of in wanted.items():
            for unit_id in list(units_of):
                shape = get("aor", unit_id)
                if shape is None:
                    del units_of[unit_id]  # no AOR any more: not inside it (as ``_report``)
                else:
                    pairs.append((i, unit_id))
                    shapes.append(shape)
        distances = distances_m(shapes, [lats[i] for i, _ in pairs], [lons[i] for i, _ in pairs])
        for (i, unit_id), distance in zip(pairs, distances.tolist(), strict=True):
            wanted[i][unit_id] = distance
        return wanted

    def _report(
        self,
        pending: Pending,
        report: PositionReport,
        units: tuple[str, ...],
        before: set[str],
        at: tuple[float, float, float],
        exits: dict[str, float] | None,
    ) -> None:
        """A report that may change its asset's episodes (:meth:`reports` took the
        others): ``units``, the AORs containing it; ``before``, those its asset was inside;
        ``at``, its latitude, longitude and time; ``exits``, its distance to AORs it may
        have left, measured ahead (see ``_exit_distances``)."""
        asset_id = report.asset_id
        lat, lon, t = at
        now_inside = set(units)
        # Hysteresis: still inside an AOR it was in until clearly out.
        limit: float | None = None
        for unit_id in before - now_inside:
            distance = exits.get(unit_id) if exits is not None else None
            if distance is None:
                shape = self.context.service.engine.shapes.get("aor", unit_id)
                if shape is None:
                    continue
                distance = shape.distance_m(lat, lon)
            if limit is None:
                limit = geo.widen(geo.r99(report.effective_cep_m) + EXIT_MARGIN_M)
            if distance <= limit:
                now_inside.add(unit_id)
        for unit_id in sorted(now_inside - before):
            if (unit_id, asset_id) in self.announcements.announced:
                continue
            self._unannounced(pending, unit_id, asset_id, lat, lon, t)
        if now_inside:
            self.inside[asset_id] = now_inside
        else:
            self.inside.pop(asset_id, None)

    def _unannounced(
        self, pending: Pending, unit_id: str, asset_id: str, lat: float, lon: float, t: float
    ) -> None:
        """Tell the unit the asset entered its AOR at (``lat``, ``lon``) at time ``t``."""
        asset = self._asset(asset_id)
        # The unit as its AOR's shape knows it (no store read and no AOR re-parsed).
        shape = self.context.service.engine.shapes.get("aor", unit_id)
        unit: Unit | AorUnit | None = (
            AorUnit.of(shape) if shape is not None else self.context.get("unit", unit_id, Unit)
        )
        if asset is None or unit is None or asset.party_id == unit.party_id:
            return
        kind: EquipmentType | None = self.context.get(
            "equipment_type", asset.type_id, EquipmentType
        )
        card = self.context.card(kind)
        party = self.context.party(asset.party_id)
        party_name = party.name if party else asset.party_id
        releasable = visible_to(asset.party_id, asset.releasable_to, unit.party_id)
        now = self.context.now()
        deadline = now + timedelta(seconds=self.context.settings.urgent_deadline_s)
        seen = datetime.fromtimestamp(t, now.tzinfo)
        if self.context.replaying and self._entry_told(unit.id, asset.id, asset.type_id, seen):
            return  # the node that took the report told it (this one only followed it)
        row = self.context.row(
            unit_id=unit.id,
            party_id=unit.party_id,
            cause="unannounced_entry",
            urgent=True,
            payload={
                "message": sentence(
                    unannounced_message(
                        asset.callsign if releasable else None,
                        party_name,
                        unit.name,
                        stamp(seen),
                    ),
                    ACKNOWLEDGEMENT_MEANS,
                ),
                "asset": {"id": asset.id, "callsign": asset.callsign} if releasable else None,
                "details_withheld": not releasable,
                "owner_party_id": asset.party_id,
                "contact": (asset.contact if releasable else None)
                or (party.contact if party else None),
                "card": card,
                "entry": {
                    "at": format_time(seen),
                    "position": {"lat": round(lat, 6), "lon": round(lon, 6)},
                },
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
                "_escalate_to": sorted({unit.party_id, asset.party_id}),
            },
            deadline=deadline,
            asset_id=asset.id,
            type_id=asset.type_id,
            subject=f"asset:{asset.id}",
        )
        pending.rows.append(row)
        self.briefings.brief(pending, unit, asset, kind, card, deadline, row["id"])

    def _asset(self, asset_id: str) -> Asset | None:
        """The asset as stored, read once for many report batches: the detection read
        and validated it for every entry (6 % of a batch's time). Good while the
        engine's asset registry is unchanged: every asset write and delete, this
        process's or another's it follows (``follow.catch_up``, which every write
        transaction runs first), reaches the engine under the write lock before the
        next batch, and bumps ``AssetTable.registry_version``."""
        table = self.context.service.engine.assets
        held = self._assets_of
        if held is None or held[0] is not table or held[1] != table.registry_version:
            self._assets.clear()
            self._assets_of = (table, table.registry_version)
        if asset_id in self._assets:
            return self._assets[asset_id]
        asset: Asset | None = self.context.get("asset", asset_id, Asset)
        if len(self._assets) >= ASSET_CACHE_MAX:
            self._assets.clear()
        self._assets[asset_id] = asset
        return asset

    def _entry_told(self, unit_id: str, asset_id: str, type_id: str, seen: datetime) -> bool:
        """Whether an entry of the asset into the unit's AOR at ``seen`` or later is stored.

        Episodes live in each process's memory: a report batch another node took (and
        planned, in its transaction) looks new to this node's follower. Only read while
        replaying, so the single-node report path pays nothing for it."""
        rows = self.context.store.find_notifications(
            unit_id=unit_id, cause="unannounced_entry", type_id=type_id, asset_id=asset_id
        )
        return any(parse_time(r["payload"]["entry"]["at"]) >= seen for r in rows)
