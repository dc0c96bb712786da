"""Notifications: causes, the answers each takes, the recognition card (pure, no I/O).

docs/design/notifications.md: a unit is told when something will enter
its area (``announced_arrival``), when a report puts an asset inside it without
an announcement (``unannounced_entry``, urgent), what a type it was never
briefed on looks like (``recognition_briefing``), when another party's check
returned ``HOLD`` on one of its party's assets (``hold_on_your_asset``), and when
a notification went unanswered (``escalation``). An acknowledgement means
"received", never "approved".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from deconfliction.domain.model import EquipmentType

Cause = Literal[
    "announced_arrival",
    "unannounced_entry",
    "recognition_briefing",
    "hold_on_your_asset",
    "escalation",
    "probing_suspected",
]
CAUSES: tuple[str, ...] = get_args(Cause)

Response = Literal["acknowledged", "briefed", "confirmed_ours"]
RESPONSES: tuple[str, ...] = get_args(Response)

State = Literal["pending", "answered", "escalated"]
STATES: tuple[str, ...] = get_args(State)

#: The answers each cause takes (the contract's).
ALLOWED_RESPONSES: dict[str, tuple[str, ...]] = {
    "announced_arrival": ("acknowledged",),
    "unannounced_entry": ("acknowledged",),
    "escalation": ("acknowledged",),
    "recognition_briefing": ("briefed",),
    "hold_on_your_asset": ("confirmed_ours", "acknowledged"),
    "probing_suspected": ("acknowledged",),
}

#: Raised by sweep detection (``service/probing.py``): a unit made many checks spread over
#: an area or on a grid in a short time. It goes to the coordination cells of the asker's
#: party and of the parties whose withheld matches the sweep touched, takes
#: ``acknowledged`` and has no deadline (nothing escalates it); ``payload.alert`` names
#: it too, as in its first version.
PROBING_SUSPECTED = "probing_suspected"

#: Printed on every card and in the API's descriptions.
ACKNOWLEDGEMENT_MEANS = (
    "Acknowledgement means received, never approved: answering says you were told, "
    "not that anything is cleared or permitted."
)

#: The default announcement lead: the deadline is this long before the earliest entry.
DEFAULT_LEAD = timedelta(minutes=30)


class ResponseRefused(ValueError):
    """An answer the notification does not take; ``field`` is always ``response``."""

    field = "response"


def check_response(cause: str, response: object) -> str:
    """``response`` if the cause takes it, else :class:`ResponseRefused` naming the allowed."""
    allowed = ALLOWED_RESPONSES.get(cause)
    if allowed is None:
        raise ValueError(f"unknown cause {cause!r}")
    if not isinstance(response, str) or response not in allowed:
        words = " or ".join(repr(a) for a in allowed)
        raise ResponseRefused(f"a {cause} notification takes {words}, got {response!r}")
    return response


#: The default least time to answer an announcement.
DEFAULT_MIN_ANSWER = timedelta(minutes=5)


def deadline_for(
    entry: datetime,
    now: datetime,
    lead: timedelta = DEFAULT_LEAD,
    min_answer: timedelta = DEFAULT_MIN_ANSWER,
) -> datetime:
    """docs/design/notifications.md: ``deadline = max(now + min_answer, entry - lead)``:
    never sooner than a person could read it and answer (an asset already inside, or
    one whose lead time has passed, is due ``min_answer`` after it is told)."""
    return max(now + min_answer, entry - lead)


def recognition_card(kind: EquipmentType, catalogue: Mapping[str, EquipmentType]) -> dict[str, Any]:
    """What a type looks like and what it may be taken for, with the cue that tells them apart.

    Other sides' types appear only here, as the "looks like" half of a friendly
    type's card.
    """
    base = catalogue.get(kind.variant_of) if kind.variant_of else None
    looks_like = []
    for item in kind.confusable_with:
        other = catalogue.get(item.type_id)
        looks_like.append(
            {
                "type_id": item.type_id,
                "name": other.name if other is not None else item.type_id,
                "cue": item.cue,
            }
        )
    profile = kind.profile
    return {
        "type_id": kind.id,
        "name": kind.name,
        "variant_of": (
            {"type_id": kind.variant_of, "name": base.name if base else kind.variant_of}
            if kind.variant_of
            else None
        ),
        "profile": {
            "mobility": profile.mobility,
            "axles": profile.axles,
            "features": list(profile.features),
            "size_class": profile.size_class,
        },
        "max_speed_kmh": kind.max_speed_kmh,
        "sidc": kind.sidc,
        "picture_url": kind.picture_url,
        "looks_like": looks_like,
        "acknowledgement": ACKNOWLEDGEMENT_MEANS,
    }


def card_summary(card: Mapping[str, Any]) -> str:
    """One line for a tired operator: name, mobility, features, what it looks like."""
    profile = card.get("profile") or {}
    parts = [str(card.get("name"))]
    what = str(profile.get("mobility") or "")
    if profile.get("axles"):
        what += f", {profile['axles']} axles"
    features = profile.get("features") or []
    if features:
        what += ", " + ", ".join(str(f) for f in features)
    if what:
        parts.append(f"({what})")
    text = " ".join(parts)
    for other in card.get("looks_like") or []:
        text += f"; looks like {other['name']}: {other['cue']}"
    return text


def unannounced_message(
    callsign: str | None, party_name: str, unit_name: str, seen: str | None = None
) -> str:
    """``unannounced_entry``'s first sentences (``seen``: the report's time, RFC 3339)."""
    who = f"{callsign} ({party_name})" if callsign else f"An asset of {party_name}"
    at = f" at {seen}" if seen else ""
    return (
        f"URGENT: {who} reported inside the area of {unit_name}{at} "
        "without an announcement. Treat it as friendly until deconflicted."
    )
