"""Notifications and check answers as CoT: GeoChat text and arrival markers (pure).

What a TAK user of a unit reads in ATAK: each notification becomes one GeoChat
message (:func:`notification_chat`) carrying its cause, the asset's callsign and
type (only what the notification's payload shows the unit: it already respects
releasability), the recognition cue, the deadline and how to answer; an
announced arrival with a known entry point also becomes a marker there
(:func:`arrival_marker`), friendly or neutral (humanitarian), stale at the end
of the window. A check's answer is a chat reply only (:func:`check_reply_text`):
its position never becomes a map object.

Notification **codes**: the last :data:`CODE_CHARS` characters of the
notification id, upper-case (``ntf_…3f9a1c`` → ``3F9A1C``; the id's tail is
random). A reply may give the code, a longer tail of the id or the whole id;
:func:`code_matches` compares case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from deconfliction.cot.affiliation import assert_not_hostile, friendly_type_for
from deconfliction.cot.event import UNKNOWN, CotEvent, Detail, Point, Remarks, document_time
from deconfliction.domain.notice_text import humanise, when
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS
from deconfliction.domain.wording import with_article

CODE_CHARS = 6
ARRIVAL_UID_PREFIX = "deconfliction.arrival."
MARKER_HOW = "h-e"  # entered by a human (the registry), not a sensor
#: The verb a TAK user types for each answer a notification takes.
VERBS = {"acknowledged": "ACK", "briefed": "BRIEFED", "confirmed_ours": "OURS"}
CAUSE_TITLES = {
    "announced_arrival": "ANNOUNCED ARRIVAL",
    "recognition_briefing": "RECOGNITION BRIEFING",
    "unannounced_entry": "UNANNOUNCED ENTRY",
    "hold_on_your_asset": "HOLD ON YOUR ASSET",
    "escalation": "ESCALATION",
    "probing_suspected": "POSSIBLE PROBING",
}
EVENT_TITLES = {"repeated": "UPDATED", "escalated": "NOT ANSWERED IN TIME", "answered": "ANSWERED"}


def notification_code(notification_id: str) -> str:
    """The short code a chat shows for a notification (the tail of its id)."""
    return notification_id[-CODE_CHARS:].upper()


def code_matches(notification_id: str, code: str) -> bool:
    """Does a code typed in chat (the code, a longer tail of the id, or the id) name it?"""
    return len(code) >= CODE_CHARS and notification_id.lower().endswith(code.lower())


def answer_verbs(answers: Sequence[str]) -> list[str]:
    return [VERBS[a] for a in answers if a in VERBS]


def _card_lines(card: Mapping[str, Any] | None) -> list[str]:
    if not card:
        return []
    profile = card.get("profile") or {}
    looks = [
        f"looks like {item.get('name')}: {item.get('cue')}" for item in card.get("looks_like") or []
    ]
    bits = [str(profile.get("mobility") or "")]
    if profile.get("axles"):
        bits.append(f"{profile['axles']} axles")
    if profile.get("features"):
        bits.append(", ".join(str(f) for f in profile["features"]))
    if profile.get("size_class"):
        bits.append(str(profile["size_class"]))
    lines = [f"Type: {card.get('name')} ({'; '.join(b for b in bits if b)})"]
    if card.get("variant_of"):
        lines.append(f"Variant of {card['variant_of'].get('name')}")
    lines.extend(looks)
    return lines


def _asset_line(view: Mapping[str, Any]) -> str | None:
    asset = view.get("asset")
    card = view.get("card") or {}
    kind = card.get("name") or view.get("type_id")
    if isinstance(asset, Mapping) and asset.get("callsign"):
        return f"Asset: {asset['callsign']} ({kind})" if kind else f"Asset: {asset['callsign']}"
    if view.get("details_withheld"):
        owner = view.get("owner_party_id")
        return f"Asset: details withheld; {with_article(str(kind))} of {owner}" if kind else None
    return None


def notification_text(
    view: Mapping[str, Any],
    event: str = "created",
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> str:
    """The chat text of a notification (its API view) for an outbox event, as read at
    ``now`` (times ``17:24Z (in 29 min)``, also in ``tz``, the unit's zone, when given).
    Each GeoChat message is read on its own: every one ends with the acknowledgement rule,
    exactly once."""
    now = now or datetime.now(UTC)
    code = notification_code(str(view["id"]))
    title = CAUSE_TITLES.get(str(view.get("cause")), str(view.get("cause")).upper())
    prefix = "URGENT " if view.get("urgent") else ""
    head = f"{prefix}{title} [{code}]"
    if event in EVENT_TITLES:
        head += f" {EVENT_TITLES[event]}"
    lines = [head]
    response = view.get("response")
    if event == "answered" and isinstance(response, Mapping):
        at = when(response.get("at"), now, tz)
        lines.append(
            f"Answered {response.get('response')} by {response.get('by')}"
            + (f", {at}." if at else ".")
        )
        lines.append(ACKNOWLEDGEMENT_MEANS)
        return "\n".join(lines)
    if view.get("message"):
        lines.append(humanise(str(view["message"]), now, tz))
    asset_line = _asset_line(view)
    if asset_line:
        lines.append(asset_line)
    lines.extend(_card_lines(view.get("card")))
    window = view.get("window")
    if isinstance(window, Mapping) and window.get("start"):
        end = when(window.get("end"), now, tz) or "open"
        lines.append(f"Window: {when(window.get('start'), now, tz)} to {end}")
    entry = view.get("entry")
    if isinstance(entry, Mapping) and entry.get("at"):
        where = entry.get("position")
        at = f" at {where['lat']}, {where['lon']}" if isinstance(where, Mapping) else ""
        lines.append(f"Entry from {when(entry['at'], now, tz)}{at}")
    if view.get("contact"):
        lines.append(f"Contact: {view['contact']}")
    verbs = answer_verbs(view.get("answers") or [])
    if view.get("state") in ("pending", "escalated") and verbs:
        deadline = view.get("deadline")
        by = f" by {when(deadline, now, tz)}" if deadline else ""
        how = " or ".join(f"{verb} {code}" for verb in verbs)
        lines.append(f"Answer{by}: reply {how}.")
    lines.append(ACKNOWLEDGEMENT_MEANS)
    return "\n".join(lines)


def arrival_marker(
    view: Mapping[str, Any], party_kind: str | None, now: datetime
) -> CotEvent | None:
    """A friendly (neutral for humanitarian) marker at an arrival's entry point, stale at
    the end of its window; ``None`` when there is no entry point or the window is over."""
    if view.get("cause") != "announced_arrival":
        return None
    entry = view.get("entry")
    if not isinstance(entry, Mapping):
        return None
    where = entry.get("position")
    if not isinstance(where, Mapping):
        return None
    window = view.get("window") or {}
    end = document_time(window.get("end")) if isinstance(window, Mapping) else None
    if end is None or end <= now:
        return None
    card = view.get("card") or {}
    cot_type = assert_not_hostile(friendly_type_for(card.get("sidc") or party_kind, party_kind))
    asset = view.get("asset")
    kind = card.get("name") or view.get("type_id") or "asset"
    if isinstance(asset, Mapping) and asset.get("callsign"):
        callsign = f"{asset['callsign']} entry"
    else:
        callsign = f"{kind} of {view.get('owner_party_id')} entry"
    code = notification_code(str(view["id"]))
    return CotEvent(
        uid=ARRIVAL_UID_PREFIX + str(view["id"]),
        type=cot_type,
        how=MARKER_HOW,
        time=now,
        start=now,
        stale=end,
        point=Point(float(where["lat"]), float(where["lon"]), UNKNOWN, 0.0, UNKNOWN),
        detail=Detail(
            callsign=callsign,
            remarks=Remarks(
                text=f"Expected entry [{code}] from {when(entry.get('at'), now)}: {kind}. "
                "Registered friendly or protected: a warning, never a target."
            ),
        ),
    )


def check_reply_text(answer: Mapping[str, Any]) -> str:
    """A check's answer as chat text: verdict, reasons, coverage gaps, ``valid_until``."""
    verdict = answer.get("verdict")
    lines = [f"CHECK {verdict} (valid until {answer.get('valid_until')}; id {answer.get('id')})"]
    if verdict == "NO_KNOWN_MATCH":
        lines.append("No registered friendly or protected asset could be there: not a clearance.")
    matches = answer.get("matches") or []
    for match in matches:
        reasons = "; ".join(match.get("reasons") or [])
        if match.get("details_withheld"):
            reasons = reasons or f"details withheld, party {match.get('party_id')}"
            contact = match.get("contact")
            reasons += f" (contact {contact})" if contact else ""
        lines.append(f"- {reasons}")
    total = answer.get("match_count")
    if isinstance(total, int) and total > len(matches):
        lines.append(f"… {total - len(matches)} more")
    for gap in answer.get("coverage_gaps") or []:
        lines.append(f"Coverage gap: {gap.get('party_id')}: {gap.get('reason')}")
    return "\n".join(lines)
