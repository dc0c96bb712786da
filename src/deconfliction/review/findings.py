"""The review's findings: for each HOLD on an asset the viewer may see, what the asking
unit would have had without the service, and what it had with it, from the record alone.

A finding reads the checks and notifications already gathered for the viewer
(``review/build.py``) and, for whether the unit had been briefed before it was told,
the unit's recognition briefings in the store.
"""

from __future__ import annotations

from typing import Any

from deconfliction.review.timeline import short
from deconfliction.review.visibility import Viewer
from deconfliction.service.kinds import ASSET
from deconfliction.store.base import StoredObject

#: Notification causes that tell a unit an asset is coming (or is there).
ARRIVALS = ("announced_arrival", "unannounced_entry")


def findings(
    viewer: Viewer, checks: list[dict[str, Any]], notifications: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """For each HOLD on a visible asset: what the asking unit would have had without
    the service, and what it had with it — from the record alone."""
    store = viewer.store
    out: list[dict[str, Any]] = []
    for check in checks:
        if check["verdict"] != "HOLD":
            continue
        # an asset's own match first: its reasons say what the asset is and where
        for match in sorted(check["matches"], key=lambda m: m["kind"] != "asset"):
            asset_id = match["id"] if match["kind"] == "asset" else None
            if match["kind"] == "movement" and match["id"]:
                stored_m = store.get("movement", match["id"])
                asset_id = stored_m.data.get("asset_id") if stored_m else None
            if asset_id is None:
                continue
            stored = store.get("asset", asset_id)
            if stored is None or not viewer.may_see(ASSET, stored):
                continue
            if any(f["asset_id"] == asset_id and f["unit_id"] == check["unit_id"] for f in out):
                continue
            out.append(_finding(viewer, check, match, stored, notifications))
    return out


def _finding(
    viewer: Viewer,
    check: dict[str, Any],
    match: dict[str, Any],
    asset: StoredObject,
    notifications: list[dict[str, Any]],
) -> dict[str, Any]:
    unit_id = check["unit_id"]
    unit = viewer.unit(unit_id)
    callsign = str(asset.data.get("callsign"))
    type_id = str(asset.data.get("type_id"))
    type_doc = viewer.type_doc(type_id)
    mine = [n for n in notifications if n["unit_id"] == unit_id and n["created_at"] <= check["at"]]
    arrivals = [n for n in mine if n["cause"] in ARRIVALS and n["asset_id"] == asset.id]
    briefings = [
        n for n in mine if n["cause"] == "recognition_briefing" and n["type_id"] == type_id
    ]
    escalations = [n for n in notifications if n["cause"] == "escalation"]
    first_told = min((n["created_at"] for n in arrivals + briefings), default=None)
    briefed_before = False
    if first_told is not None:
        for row in viewer.store.find_notifications(
            unit_id=unit_id, cause="recognition_briefing", type_id=type_id
        ):
            if row["response"] == "briefed" and (row["responded_at"] or "~") < first_told:
                briefed_before = True
    without: list[str] = []
    if arrivals:
        first = arrivals[0]
        without.append(
            f"Nobody else told {unit}: the record's only notice to {unit} of {callsign} is "
            f"the service's {first['cause'].replace('_', ' ')} at {short(first['created_at'])}."
        )
    else:
        without.append(f"{unit} was never told of {callsign} (no announcement on record).")
    cue_lines = []
    for confusable in type_doc.get("confusable_with") or []:
        other = viewer.type_name(confusable.get("type_id"))
        cue = str(confusable.get("cue") or "").rstrip(".")
        cue_lines.append(f"it looks like a {other} ({cue})")
    variant = type_doc.get("variant_of")
    familiarity = (
        f"{unit} had been briefed on the {viewer.type_name(type_id)} before."
        if briefed_before
        else f"{unit} had never been briefed on the {viewer.type_name(type_id)}"
        + (f", a variant of the {viewer.type_name(variant)}" if variant else "")
        + (": " + "; ".join(cue_lines) if cue_lines else "")
        + "."
    )
    without.append(familiarity)
    without.append(
        f"With nobody told and no card, {unit} had nothing to ask before acting on what it saw"
        + (f" ({check['note']!r})" if check.get("note") else "")
        + "."
    )
    with_service: list[str] = []
    for n in arrivals + briefings:
        line = f"{short(n['created_at'])}: {n['cause'].replace('_', ' ')} to {unit}"
        if n["deadline"]:
            line += f", due by {short(n['deadline'])}"
        if n["response"]:
            line += (
                f"; answered {n['response']} by {n['responded_by']} at {short(n['responded_at'])}"
            )
        else:
            ups = [e for e in escalations if e["parent_id"] == n["id"]]
            line += "; unanswered" + (
                "; escalated at " + ", ".join(f"{e['created_at']} to {e['unit_name']}" for e in ups)
                if ups
                else ""
            )
        with_service.append(line + ".")
    reason = match["reasons"][0] if match["reasons"] else callsign
    verdict = check["verdict"]
    with_service.append(
        f"{short(check['at'])}: {unit}'s check answered {verdict} naming {callsign} ({reason})"
    )
    owner = match.get("owner_response")
    if owner:
        owner_party = viewer.party(asset.party_id)
        with_service.append(
            f"{short(owner.get('at'))}: {owner_party} answered {owner.get('response')} "
            f"({owner.get('by')})."
        )
    return {
        "check_id": check["id"],
        "unit_id": unit_id,
        "asset_id": asset.id,
        "callsign": callsign,
        "type_id": type_id,
        "told_before_check": bool(arrivals),
        "briefed_before_told": briefed_before,
        "without_service": without,
        "with_service": with_service,
    }
