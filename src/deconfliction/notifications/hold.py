"""HOLD notices: a check answered HOLD on assets of another party tells that party's
coordination cells who looked, where and when (``hold_on_your_asset``), in the transaction
that records the check (with the other checks of its group: one batch of notices); at most
once per asset and asking party within the window (``hold_notices.py``). And the check's
answer, read again, shows each owner's answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS
from deconfliction.domain.result import CheckResult
from deconfliction.notifications.bell import Bell
from deconfliction.notifications.cells import CoordinationCells
from deconfliction.notifications.context import PlanContext
from deconfliction.notifications.hold_notices import HoldNoticeWindow, Told
from deconfliction.service.checks import PendingNotices
from deconfliction.store.times import format_time


@dataclass(frozen=True, slots=True)
class _AssetRef:
    """What a HOLD notice needs of an asset."""

    id: str
    party_id: str
    callsign: str
    type_id: str


@dataclass(frozen=True, slots=True)
class PendingHoldNotices:
    """One check's HOLD notices, made before its transaction (``service/checks.py``'s
    ``PendingNotices``), already noted in the window; :meth:`forget` if never written."""

    window: HoldNoticeWindow
    rows: list[dict[str, Any]]
    #: What the window held before this check's notices were noted.
    before: Told

    def forget(self) -> None:
        self.window.restore(self.before)


class HoldNotices:
    """Tells owners of the assets a check answered HOLD on, and reads their answers."""

    def __init__(self, context: PlanContext, cells: CoordinationCells, bell: Bell) -> None:
        self.context = context
        #: Rung by the check once its transaction has committed.
        self.bell = bell
        self.service = context.service
        self.store = context.store
        self.cells = cells
        #: HOLD notices told per (asset, asking party) within the window (de-duplicated).
        self.window = HoldNoticeWindow(context.settings.hold_notice_window_s)

    def coordination_cells(self, party_id: str) -> list[str]:
        """The party's coordination cells (cached until a unit is written or removed)."""
        return self.cells.of(party_id)

    def hold_targets(self, result: CheckResult, asker_party: str | None) -> list[str]:
        """Assets of other parties the check matched (cheap: no I/O)."""
        if result.verdict != "HOLD" or not result.matched_asset_ids:
            return []
        owners = self.service.asset_party or {}
        return [
            a
            for a in result.matched_asset_ids
            if (owner := owners.get(a)) is not None and owner != asker_party
        ]

    def prepare_notices(
        self,
        check_id: str,
        unit_id: str,
        asker_party: str | None,
        request: dict[str, Any],
        result: CheckResult,
        asset_ids: list[str],
    ) -> PendingHoldNotices | None:
        """The notices for the owners of ``asset_ids`` the window still lets through, made
        before the check's transaction, so that neither their reads nor their making hold
        the write lock; written by :meth:`write_notices` inside it. Noted in the window at
        once, so that the next check (in the same group or not) is de-duplicated against
        them; forgotten again if this check's record fails (``PendingHoldNotices.forget``)."""
        now = self.context.now()
        at = now.timestamp()
        due = self.window.due(asset_ids, asker_party, at)
        if not due:
            return None
        movements_of: dict[str, list[str]] = {}
        for match in result.matches:
            if match.kind == "movement" and match.id:
                shape = self.service.engine.shapes.get("movement", match.id)
                if shape is not None:
                    movements_of.setdefault(shape.payload.asset_id, []).append(match.id)
        # On the check's hot path: the stored documents are already validated, so
        # read the few fields needed rather than re-validate (and re-parse an AOR).
        asker = self.store.get("unit", unit_id)
        asker_name = str(asker.data.get("name") or unit_id) if asker else unit_id
        by_party: dict[str, list[_AssetRef]] = {}
        stored_assets = self.store.get_many("asset", due)  # one query, not one each
        for asset_id in due:
            stored = stored_assets.get(asset_id)
            if stored is None:
                continue
            data = stored.data
            ref = _AssetRef(
                str(data["id"]), str(data["party_id"]), str(data["callsign"]), str(data["type_id"])
            )
            by_party.setdefault(ref.party_id, []).append(ref)
        if not by_party:
            return None
        check = {
            "id": check_id,
            "unit_id": unit_id,
            "party_id": asker_party,
            "time": request.get("time") or result.evaluated_at,
            "evaluated_at": result.evaluated_at,
            "position": request.get("position"),
            "cep_m": request.get("cep_m"),
            "observed": request.get("observed"),
            "note": request.get("note"),
        }
        deadline = now + timedelta(seconds=self.context.settings.urgent_deadline_s)
        created_at = format_time(now)
        rows = []
        for party_id, assets in by_party.items():
            callsigns = ", ".join(a.callsign for a in assets)
            noun = "asset" if len(assets) == 1 else "assets"
            payload = {
                "message": (
                    f"{asker_name} ({asker_party}) checked a point where your {noun} "
                    f"{callsigns} could be, and got HOLD. Answer 'confirmed_ours' if it is "
                    f"yours, else 'acknowledged'. {ACKNOWLEDGEMENT_MEANS}"
                ),
                "check": check,
                "asset": {"id": assets[0].id, "callsign": assets[0].callsign},
                "assets": [{"id": a.id, "callsign": a.callsign} for a in assets],
                "acknowledgement": ACKNOWLEDGEMENT_MEANS,
                "_asset_ids": [a.id for a in assets],
                "_movement_ids": [m for a in assets for m in movements_of.get(a.id, [])],
                "_escalate_to": sorted({party_id, *([asker_party] if asker_party else [])}),
            }
            single = assets[0] if len(assets) == 1 else None
            cells = self.cells.of(party_id)
            addressees: list[str | None] = list(cells) if cells else [None]
            for cell in addressees:
                rows.append(
                    self.context.row(
                        unit_id=cell,
                        party_id=party_id,
                        cause="hold_on_your_asset",
                        payload=payload,
                        deadline=deadline if cell is not None else None,
                        asset_id=single.id if single else None,
                        type_id=single.type_id if single else None,
                        subject=f"check:{check_id}",
                        urgent=True,
                        created_at=created_at,
                    )
                )
        told = [a.id for assets in by_party.values() for a in assets]
        return PendingHoldNotices(self.window, rows, self.window.told(told, asker_party, at))

    def write_notices(self, pending: Sequence[PendingNotices]) -> None:
        """Inside the transaction that records a group of checks: their notices, one batch
        (one event); the streams rung once it has committed."""
        rows = [row for notices in pending for row in notices.rows]
        if not rows:
            return
        self.store.add_notifications(rows, "service:notifications")
        units = {row["unit_id"] for row in rows}
        self.service.after_commit(lambda: self.bell.ring(units))

    def owner_responses(self, check_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        """The check's answer with each owner's answer (``owner_response``) filled in."""
        rows = self.store.find_notifications(
            subject=f"check:{check_id}", cause="hold_on_your_asset", answered=True
        )
        if not rows:
            return answer
        out = dict(answer)
        matches = [dict(m) for m in answer.get("matches") or []]
        for row in sorted(rows, key=lambda r: r["responded_at"] or ""):
            response = {
                "response": row["response"],
                "by": row["responded_by"],
                "at": row["responded_at"],
            }
            movements = set(row["payload"].get("_movement_ids") or [])
            assets = set(row["payload"].get("_asset_ids") or [row["asset_id"]])
            for match in matches:
                if match.get("owner_response") is not None:
                    continue
                mine = (
                    (match.get("kind") == "asset" and match.get("id") in assets)
                    or (match.get("kind") == "movement" and match.get("id") in movements)
                    or (match.get("details_withheld") and match.get("party_id") == row["party_id"])
                )
                if mine:
                    match["owner_response"] = response
        out["matches"] = matches
        return out
