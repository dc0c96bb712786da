"""A unit's new or changed AOR, planned against everything already registered or reported
in it: the movements that enter it and the operating areas that overlap it are announced to
the unit, and the assets whose latest report is inside it have arrived (announced as already
inside, their entry episode open, so that their next report tells nothing more).
"""

from __future__ import annotations

import numpy as np
import shapely

from deconfliction.domain.model import Area, Asset, EquipmentType, Movement, Unit, visible_to
from deconfliction.notifications.announce import Announcements
from deconfliction.notifications.context import Pending, PlanContext
from deconfliction.notifications.entry import Entries


def plan_unit(
    context: PlanContext,
    announcements: Announcements,
    entries: Entries,
    pending: Pending,
    unit: Unit,
) -> None:
    """A new or changed AOR is planned against everything already registered in it."""
    engine = context.service.engine
    aor = unit.aor_shape
    if engine.ready:
        movements = [s.id for s in engine.shapes.touching(aor, 0.0, "movement")]
        areas = [s.id for s in engine.shapes.touching(aor, 0.0, "area")]
    else:
        movements = [s.id for s in context.store.iter_all("movement")]
        areas = [s.id for s in context.store.iter_all("area")]
    now = context.now()
    for movement_id in movements:
        movement = context.get("movement", movement_id, Movement)
        if movement is None or movement.end < now:
            continue  # a past movement enters nothing any more
        asset: Asset | None = context.get("asset", movement.asset_id, Asset)
        if asset is not None and asset.party_id != unit.party_id:
            announcements.movement(pending, movement, asset, [unit], None, None)
    for area_id in areas:
        area = context.get("area", area_id, Area)
        if area is not None and area.kind == "operating":
            announcements.area(pending, area, unit)
    if not engine.ready:
        return
    # Assets whose latest report is already inside: they have arrived.
    table = engine.assets
    n = len(table.ids)
    if n == 0:
        return
    west, south, east, north = aor.bounds
    lat, lon = table.lat[:n], table.lon[:n]
    box = table.has[:n] & (lat >= south) & (lat <= north) & (lon >= west) & (lon <= east)
    slots = np.flatnonzero(box)
    if len(slots):
        inside = shapely.contains_xy(aor, lon[slots], lat[slots])
        slots = slots[inside]
    now = context.now()
    for slot in slots.tolist():
        asset_id = table.ids[slot]
        asset = context.get("asset", asset_id, Asset)
        if asset is None or asset.party_id == unit.party_id:
            continue
        if not unit.active_at(now):
            continue
        kind = context.get("equipment_type", asset.type_id, EquipmentType)
        releasable = visible_to(asset.party_id, asset.releasable_to, unit.party_id)
        entries.open_episode(asset.id, unit.id)
        announcements.announce(
            pending,
            unit,
            asset,
            kind,
            subject=("asset", asset.id),
            window=(now, None),
            entry=now,
            where=None,
            geometry=None,
            releasable=releasable,
            already_inside=True,
        )
