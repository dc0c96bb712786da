"""Announced arrivals: a movement, an operating area, or an asset already inside an AOR is
announced to every unit of another party whose AOR it can enter, with its recognition card,
when and where it can enter, and a deadline before that (the unit's party's lead time); what
the unit may see of it follows the asset's releasability. A changed subject updates its
unanswered announcement in place (delivered again); a replayed write tells nothing twice.
Each announcement comes with a recognition briefing (``briefing.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from deconfliction.domain import planning
from deconfliction.domain.model import Area, Asset, EquipmentType, Movement, Unit, visible_to
from deconfliction.domain.notice_words import arrival_message
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS, deadline_for
from deconfliction.domain.wording import capitalised, with_article
from deconfliction.notifications.aors import AorUnit, units_touching
from deconfliction.notifications.briefing import Briefings
from deconfliction.notifications.context import Pending, PlanContext, fmt


class Announcements:
    """Plans announcements, and remembers which (unit, asset) pairs were announced (rebuilt
    from stored rows when the engine loads; under the planner's lock)."""

    def __init__(self, context: PlanContext, briefings: Briefings) -> None:
        self.context = context
        self.briefings = briefings
        #: (unit, asset) pairs with an announced arrival.
        self.announced: set[tuple[str, str]] = set()

    def of_movement(
        self, movement: Movement, asset: Asset, answered: bool | None
    ) -> dict[str, Any]:
        """The movement's announcements per unit (the latest of each), read at once."""
        rows = self.context.store.find_notifications(
            cause="announced_arrival",
            subject=f"movement:{movement.id}",
            asset_id=asset.id,
            answered=answered,
            limit=10**9,
        )
        if answered is False:
            return {str(r["unit_id"]): str(r["id"]) for r in rows}
        return {str(r["unit_id"]): r for r in rows}

    def movement(
        self,
        pending: Pending,
        movement: Movement,
        asset: Asset,
        units: Sequence[Unit | AorUnit],
        earlier: dict[str, str] | None,
        latest: dict[str, dict[str, Any]] | None,
        plan: planning.RoutePlan | None = None,
    ) -> None:
        """Announce a movement to the units whose AOR its corridor enters."""
        kind: EquipmentType | None = self.context.get(
            "equipment_type", asset.type_id, EquipmentType
        )
        speed = speed_kmh(asset, kind)
        if plan is None:
            plan = planning.RoutePlan.of(movement.route_shape, movement.corridor_m)
        hits = planning.route_entries(plan, [u.aor_shape for u in units])
        for unit, hit in zip(units, hits, strict=True):
            if hit is None:
                continue
            entry = planning.entry_for_window(
                planning.earliest_arrival(movement.start, hit.along_m, speed), unit.aor_start
            )
            if unit.aor_end is not None and unit.aor_end < entry:
                continue
            releasable = visible_to(
                asset.party_id,
                movement.releasable_to
                if movement.releasable_to is not None
                else asset.releasable_to,
                unit.party_id,
            )
            self.announce(
                pending,
                unit,
                asset,
                kind,
                subject=("movement", movement.id),
                window=(movement.start, movement.end),
                entry=entry,
                where={"lat": round(hit.lat, 6), "lon": round(hit.lon, 6)},
                geometry=movement.route if releasable else None,
                releasable=releasable,
                earlier=earlier,
                latest=latest,
            )

    def area(self, pending: Pending, area: Area, only: Unit | None) -> None:
        """Announce an operating area's assets to the units whose AOR it overlaps while both
        are active (``only``: to that unit alone)."""
        now = self.context.now()
        if area.end < now:
            return
        units = [only] if only is not None else units_touching(self.context, area.shape, 0.0)
        assets = [a for a in (self.context.get("asset", i, Asset) for i in area.asset_ids) if a]
        for unit in units:
            if unit.party_id == area.party_id:
                continue
            if not planning.polygons_overlap(area.shape, unit.aor_shape):
                continue
            if not planning.Window(unit.aor_start, unit.aor_end).overlaps(area.start, area.end):
                continue
            entry = planning.entry_for_window(area.start, unit.aor_start)
            releasable_area = visible_to(area.party_id, area.releasable_to, unit.party_id)
            for asset in assets:
                kind = self.context.get("equipment_type", asset.type_id, EquipmentType)
                releasable = releasable_area and visible_to(
                    asset.party_id, asset.releasable_to, unit.party_id
                )
                self.announce(
                    pending,
                    unit,
                    asset,
                    kind,
                    subject=("area", area.id),
                    window=(area.start, area.end),
                    entry=entry,
                    where=None,
                    geometry=area.geometry if releasable else None,
                    releasable=releasable,
                )

    def announce(
        self,
        pending: Pending,
        unit: Unit | AorUnit,
        asset: Asset,
        kind: EquipmentType | None,
        *,
        subject: tuple[str, str],
        window: tuple[datetime, datetime | None],
        entry: datetime,
        where: dict[str, float] | None,
        geometry: dict[str, Any] | None,
        releasable: bool,
        already_inside: bool = False,
        earlier: dict[str, str] | None = None,
        latest: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``earlier`` (``latest``): the subject's unanswered (latest) announcement per
        unit, when the caller read them all at once; else one query here."""
        now = self.context.now()
        lead, min_answer = self._lead(unit.party_id)
        deadline = deadline_for(entry, now, lead, min_answer)
        card = self.context.card(kind)
        who, common = self._common(asset, kind, subject, window, geometry, releasable)
        verb = "is already inside" if already_inside else "can enter"
        entry_text = fmt(entry)
        message = arrival_message(who, verb, unit.name, entry, deadline)
        subject_key = f"{subject[0]}:{subject[1]}"
        # What differs from unit to unit, over what is the same for all (the template's
        # keys come first, so the stored key order is the same either way).
        payload: dict[str, Any] = {
            **common,
            "message": message,
            "entry": {"at": entry_text, "position": where},
            "_escalate_to": sorted({unit.party_id, asset.party_id}),
        }
        if self.context.replaying and self._told(
            unit.id, subject_key, asset.id, payload, already_inside, latest
        ):
            self.announced.add((unit.id, asset.id))
            return  # planned before (a replayed write): nothing new to tell
        # A changed subject updates its unanswered announcement in place (re-delivered).
        if earlier is not None:
            earlier_id = earlier.get(unit.id)
        else:
            found = self.context.store.find_notifications(
                unit_id=unit.id,
                cause="announced_arrival",
                subject=subject_key,
                asset_id=asset.id,
                answered=False,
                limit=1,
            )
            earlier_id = found[0]["id"] if found else None
        arrival_id: str
        if earlier_id is not None:
            arrival_id = earlier_id
            pending.updates[arrival_id] = (unit.id, fmt(deadline), payload)
        else:
            row = self.context.row(
                unit_id=unit.id,
                party_id=unit.party_id,
                cause="announced_arrival",
                payload=payload,
                deadline=deadline,
                asset_id=asset.id,
                type_id=asset.type_id,
                subject=subject_key,
            )
            arrival_id = row["id"]
            pending.rows.append(row)
        self.announced.add((unit.id, asset.id))
        self.briefings.brief(pending, unit, asset, kind, card, deadline, arrival_id)

    def _common(
        self,
        asset: Asset,
        kind: EquipmentType | None,
        subject: tuple[str, str],
        window: tuple[datetime, datetime | None],
        geometry: dict[str, Any] | None,
        releasable: bool,
    ) -> tuple[str, dict[str, Any]]:
        """What an announcement says whoever it goes to: how it names the asset, and its
        payload's common keys (placeholders for the per-unit ones, to keep their order).
        Built once per subject, asset and releasability in a batch: a fan-out to 10,000
        units builds it once or twice. The parts are shared, never changed in place."""
        built: dict[Any, tuple[str, dict[str, Any]]] = self.context.memoised(
            ("announcements", ""), dict
        )
        key = (subject, asset.id, window, releasable)
        if key in built:
            return built[key]
        card = self.context.card(kind)
        party = self.context.party(asset.party_id)
        party_name = party.name if party else asset.party_id
        contact = (asset.contact if releasable else None) or (party.contact if party else None)
        what = with_article(card["name"]) if card else f"an asset of type {asset.type_id}"
        who = f"{asset.callsign} ({what})" if releasable else f"{capitalised(what)} of {party_name}"
        common: dict[str, Any] = {
            "message": None,
            "subject": {"kind": subject[0], "id": subject[1] if releasable else None},
            "asset": {"id": asset.id, "callsign": asset.callsign} if releasable else None,
            "details_withheld": not releasable,
            "owner_party_id": asset.party_id,
            "contact": contact,
            "card": card,
            "window": {
                "start": fmt(window[0]),
                "end": fmt(window[1]) if window[1] is not None else None,
            },
            "entry": None,
            "geometry": geometry,
            "acknowledgement": ACKNOWLEDGEMENT_MEANS,
            "_escalate_to": None,
        }
        built[key] = (who, common)
        return who, common

    def _told(
        self,
        unit_id: str,
        subject_key: str,
        asset_id: str,
        payload: dict[str, Any],
        already_inside: bool,
        latest: dict[str, dict[str, Any]] | None = None,
    ) -> bool:
        """Whether the latest announcement of the subject to the unit (answered or not)
        says the same (its message and deadline aside, which move with ``now``; and for an
        asset already inside, its window and entry, which are ``now``)."""
        if latest is not None:
            rows = [latest[unit_id]] if unit_id in latest else []
        else:
            rows = self.context.store.find_notifications(
                unit_id=unit_id, cause="announced_arrival", subject=subject_key, asset_id=asset_id
            )
        if not rows:
            return False
        skip = {"message", "window", "entry"} if already_inside else {"message"}

        def same(value: dict[str, Any]) -> Any:
            return orjson.loads(orjson.dumps({k: v for k, v in value.items() if k not in skip}))

        return bool(same(rows[-1]["payload"]) == same(payload))

    def _lead(self, party_id: str) -> tuple[timedelta, timedelta]:
        """The notified unit's party's lead time and least time to answer (each per party
        configurable: docs/design/notifications.md); read once per party in a batch."""

        def lead() -> tuple[timedelta, timedelta]:
            settings = self.context.settings
            party = self.context.party(party_id)
            lead_min = party.announcement_lead_min if party is not None else None
            answer_min = party.min_answer_min if party is not None else None
            return (
                timedelta(minutes=lead_min)
                if lead_min is not None
                else timedelta(seconds=settings.announcement_lead_s),
                timedelta(minutes=answer_min)
                if answer_min is not None
                else timedelta(seconds=settings.min_answer_s),
            )

        return self.context.memoised(("lead", party_id), lead)


def speed_kmh(asset: Asset, kind: EquipmentType | None) -> float:
    """How fast the asset can go: its own limit, else its type's."""
    if asset.max_speed_kmh is not None:
        return asset.max_speed_kmh
    return kind.max_speed_kmh if kind is not None else 1000.0  # unknown: fail early
