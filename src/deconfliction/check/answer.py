"""The answer in words: each listed match's reasons and codes, the coverage gaps' reasons,
and the :class:`CheckResult` itself.

Only what is listed is worded (matching collects sortable candidates first). A withheld
match names its party and contact and nothing else. The vocabulary (distances,
durations, speeds, clock times) is ``domain/wording.py``.
"""

from __future__ import annotations

from typing import Any

from deconfliction.check.evaluation import Evaluation
from deconfliction.check.index.shapes import Shape
from deconfliction.domain import wording
from deconfliction.domain.features import Comparison
from deconfliction.domain.result import CheckResult, CoverageGap, Match, Verdict


def result(
    ev: Evaluation, verdict: Verdict, listed: list[tuple[int, int, float, str, Any]], total: int
) -> CheckResult:
    """The answer: ``listed`` (ordered candidates, at most ``max_matches``) worded."""
    matches = tuple(_word(ev, entry[4]) for entry in listed)
    return CheckResult(
        verdict=verdict,
        matches=matches,
        match_count=total,
        valid_until=wording.rfc3339(ev.changes_at),
        coverage_gaps=tuple(_dedup_gaps(ev.gaps)[: ev.view.settings.max_gaps]),
        evaluated_at=wording.rfc3339(ev.now),
        matched_asset_ids=_matched_ids(ev),
    )


def _matched_ids(ev: Evaluation) -> tuple[str, ...]:
    """The ids of every asset matched exactly, once each: thousands in a dense place, so
    looked up in one C-level pass (a gathered slot is never a removed one)."""
    ids = ev.view.assets.ids
    found = tuple(map(ids.__getitem__, ev.matched_slots.tolist()))
    if not ev.matched_assets:
        return found  # type: ignore[return-value]
    return tuple(dict.fromkeys((*found, *ev.matched_assets)))  # type: ignore[arg-type]


# coverage gaps -------------------------------------------------------------------------


def presence_gap(ev: Evaluation, party_id: str) -> CoverageGap:
    party = ev.view.parties.get(party_id)
    name = party.name if party else party_id
    return CoverageGap(
        party_id,
        f"{name} operates here but has no position report under "
        f"{wording.duration(ev.fresh)} old within "
        f"{wording.distance(ev.view.settings.gap_radius_m)}.",
    )


def silent_asset_gap(ev: Evaluation, party_id: str, slot: int, age: float) -> CoverageGap:
    reason = (
        f"{ev.view.callsigns[slot]} has not reported for {wording.duration(age)}; it could be here."
    )
    return CoverageGap(party_id, reason)


def silent_withheld_gap(ev: Evaluation, party_id: str) -> CoverageGap:
    reason = (
        "An asset of this party has not reported for over "
        f"{wording.duration(ev.horizon)}; it could be here."
    )
    return CoverageGap(party_id, reason)


def _dedup_gaps(gaps: list[CoverageGap]) -> list[CoverageGap]:
    seen: set[tuple[str, str]] = set()
    out = []
    for gap in gaps:
        key = (gap.party_id, gap.reason)
        if key not in seen:
            seen.add(key)
            out.append(gap)
    return out


# matches -------------------------------------------------------------------------------


def _party_contact(ev: Evaluation, party_id: str) -> str | None:
    party = ev.view.parties.get(party_id)
    return party.contact if party else None


def _word(ev: Evaluation, entry: tuple[Any, ...]) -> Match:
    kind = entry[0]
    if kind == "asset":
        return _word_asset(ev, *entry[1:])
    if kind == "shape":
        return _word_shape(ev, *entry[1:])
    party_id = entry[1]
    party = ev.view.parties.get(party_id)
    name = party.name if party else party_id
    contact = _party_contact(ev, party_id)
    return Match(
        kind=None,
        id=None,
        party_id=party_id,
        reasons=(
            f"Something registered by {name} could be here. Details are withheld: "
            f"contact {contact or 'its coordination cell'} before acting.",
        ),
        reason_codes=("DETAILS_WITHHELD",),
        details_withheld=True,
        contact=contact,
    )


def _type_words(ev: Evaluation, type_code: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Per type, once per check: what it is, and the feature reasons and codes."""
    cached = ev.type_words.get(type_code)
    if cached is not None:
        return cached
    view = ev.view
    type_id = view.type_codes.values[type_code]
    kind = view.types.get(type_id)
    if kind is not None:
        what = kind.name + f" ({kind.profile.mobility}"
        if kind.variant_of:
            base = view.types.get(kind.variant_of)
            what += f" variant of {base.name if base else kind.variant_of}"
        what += ")"
    else:
        what = f"type {type_id} (not in the catalogue)"
    codes: list[str] = []
    reasons = _feature_words(ev.comparison(type_code), codes)
    cached = (what, tuple(reasons), tuple(codes))
    ev.type_words[type_code] = cached
    return cached


def _word_asset(
    ev: Evaluation,
    slot: int,
    d: float,
    age: float,
    t0: float,
    type_code: int,
    party_code: int,
    v: float,
) -> Match:
    view = ev.view
    what, feature_reasons, feature_codes = _type_words(ev, type_code)
    party_id = view.party_codes.values[party_code]
    when = "ago" if t0 <= ev.t else "after the observed time"
    reason = (
        f"{view.callsigns[slot]}, {what}, last seen {wording.distance(d)} away "
        f"{wording.duration(age)} {when}, can move {wording.speed(v)}"
    )
    stale = age > ev.fresh
    if view.assets.anywhere[slot]:
        stale = True
        reasons_any: tuple[str, ...] = (
            f"{view.callsigns[slot]}, {what}: its last stored report is out of physical "
            "range, so it could be anywhere.",
            *feature_reasons,
        )
        codes_any: tuple[str, ...] = ("ASSET_WITHIN_REACH", "REPORT_OUT_OF_RANGE")
        return Match(
            "asset",
            view.assets.ids[slot],
            party_id,
            reasons_any,
            (*codes_any, *feature_codes),
            ev.comparison(type_code).conflicts,
            stale,
            False,
            view.contacts[slot] or _party_contact(ev, party_id),
        )
    if stale:
        reasons: tuple[str, ...] = (
            reason,
            f"Its last report is over {wording.duration(ev.fresh)} old.",
            *feature_reasons,
        )
        codes: tuple[str, ...] = ("ASSET_WITHIN_REACH", "REPORT_STALE", *feature_codes)
    else:
        reasons = (reason, *feature_reasons)
        codes = ("ASSET_WITHIN_REACH", *feature_codes)
    return Match(
        "asset",
        view.assets.ids[slot],
        party_id,
        reasons,
        codes,
        ev.comparison(type_code).conflicts,
        stale,
        False,
        view.contacts[slot] or _party_contact(ev, party_id),
    )


def _feature_words(comparison: Comparison, codes: list[str]) -> list[str]:
    out = []
    if comparison.agreements:
        codes.append("FEATURES_AGREE")
        out.append("Agrees with what was seen: " + ", ".join(comparison.agreements) + ".")
    if comparison.conflicts:
        codes.append("FEATURES_CONFLICT")
        out.append(
            "Differs from what was seen: "
            + ", ".join(c.feature for c in comparison.conflicts)
            + " — the verdict stays HOLD."
        )
    return out


def _word_shape(
    ev: Evaluation, shape: Shape, d: float, start: float, end: float, comparison: Comparison
) -> Match:
    view = ev.view
    payload = shape.payload
    codes: list[str] = []
    reasons: list[str] = []
    contact: str | None
    where = "here" if d <= 0 else f"{wording.distance(d)} away"
    if shape.kind == "site":
        party_id = payload.party_id
        label = payload.name or payload.id
        codes.append("PROTECTED_SITE")
        reasons.append(
            f"Protected {payload.kind} {label}: its centre is {wording.distance(d)} away "
            f"(radius {wording.distance(payload.radius_m)})."
        )
        contact = _party_contact(ev, party_id)
    elif shape.kind == "area":
        party_id = payload.party_id
        codes.append("PROTECTED_AREA" if payload.kind == "protected" else "OPERATING_AREA")
        inside = "Inside" if d <= 0 else f"{wording.distance(d)} from"
        reasons.append(
            f"{inside} {payload.kind} area {payload.id}, active until {wording.clock(end)}."
        )
        contact = _party_contact(ev, party_id)
    else:  # movement
        slot = view.assets.slot_of.get(payload.asset_id)
        party_id = view.party_codes.values[shape.party]
        callsign = view.callsigns[slot] if slot is not None else payload.asset_id
        codes.append("MOVEMENT_CORRIDOR")
        reasons.append(
            f"{callsign} planned movement {payload.id}: route {where} "
            f"(corridor {wording.distance(payload.corridor_m)}), window "
            f"{wording.clock(payload.start)}–{wording.clock(payload.end)}."
        )
        reasons.extend(_feature_words(comparison, codes))
        contact = (view.contacts[slot] if slot is not None else None) or _party_contact(
            ev, party_id
        )
    return Match(
        kind=shape.kind,
        id=shape.id,
        party_id=party_id,
        reasons=tuple(reasons),
        reason_codes=tuple(codes),
        feature_conflicts=comparison.conflicts,
        contact=contact,
    )
