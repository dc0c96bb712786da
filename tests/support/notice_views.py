"""One notification of every cause, as the API shows it, with the messages the service
writes (``domain/notice_words.py``, ``domain/notifications.py``; the HOLD notice's and the
probing alert's sentences as ``notifications/hold.py`` and ``service/probing.py`` write
them): the texts the GeoChat and web tests render (tests/cot, tests/web)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from deconfliction.domain.notice_words import (
    arrival_message,
    briefing_message,
    escalation_message,
    out_of_band_message,
    sentence,
    stamp,
)
from deconfliction.domain.notifications import (
    ACKNOWLEDGEMENT_MEANS,
    CAUSES,
    card_summary,
    unannounced_message,
)
from deconfliction.domain.wording import capitalised, with_article

CARD: dict[str, Any] = {
    "type_id": "ao-t",
    "name": "AO type",  # the "A AO type of PA"
    "profile": {"mobility": "wheeled", "axles": 4, "features": ["radar"]},
    "variant_of": None,
    "looks_like": [{"type_id": "r-9", "name": "Radar R-9", "cue": "rails behind the cab."}],
    "acknowledgement": ACKNOWLEDGEMENT_MEANS,
}


def _base(cause: str, nid: str, now: datetime, deadline: datetime | None) -> dict[str, Any]:
    return {
        "id": f"ntf_0000000000000000000000000{nid}",
        "unit_id": "a-drones",
        "party_id": "alpha",
        "cause": cause,
        "urgent": cause in ("unannounced_entry", "hold_on_your_asset", "escalation"),
        # As the store writes instants: with microseconds.
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "deadline": deadline.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if deadline else None,
        "state": "pending",
        "answers": ["confirmed_ours", "acknowledged"]
        if cause == "hold_on_your_asset"
        else ["briefed"]
        if cause == "recognition_briefing"
        else ["acknowledged"],
        "response": None,
        "acknowledgement": ACKNOWLEDGEMENT_MEANS,
    }


def views(now: datetime) -> dict[str, dict[str, Any]]:
    """Cause → a pending notification of it, told at ``now`` (escalations: both levels)."""
    deadline = now + timedelta(minutes=29, seconds=43.444861)
    entry = now + timedelta(minutes=59)
    who = f"{capitalised(with_article(CARD['name']))} of PA"
    arrival = _base("announced_arrival", "a1a1a1", now, deadline) | {
        "message": arrival_message(who, "can enter", "Kestrel 7", entry, deadline),
        "asset": None,
        "details_withheld": True,
        "owner_party_id": "pa",
        "card": CARD,
        "window": {"start": stamp(now), "end": None},
        "entry": {"at": entry.isoformat(), "position": None},
    }
    briefing = _base("recognition_briefing", "b2b2b2", now, deadline) | {
        "message": briefing_message(card_summary(CARD), deadline),
        "card": CARD,
        "arrival_count": 1,
    }
    urgent = now + timedelta(minutes=10)
    entry_view = _base("unannounced_entry", "c3c3c3", now, urgent) | {
        "message": sentence(
            unannounced_message("Rampart-9", "Westmark", "Kestrel 7", stamp(now)),
            ACKNOWLEDGEMENT_MEANS,
        ),
        "asset": {"id": "w-9", "callsign": "Rampart-9"},
        "owner_party_id": "westmark",
        "card": CARD,
        "entry": {"at": now.isoformat(), "position": {"lat": 48.5, "lon": 36.0}},
    }
    hold = _base("hold_on_your_asset", "d4d4d4", now, urgent) | {
        "message": (
            "Kestrel 7 (alpha) checked a point where your asset Bastion-2 could be, and got "
            f"HOLD. Answer 'confirmed_ours' if it is yours, else 'acknowledged'. "
            f"{ACKNOWLEDGEMENT_MEANS}"
        ),
        "asset": {"id": "b-2", "callsign": "Bastion-2"},
        "check": {"time": now.isoformat()},
    }
    level1 = _base("escalation", "e5e5e5", now, now + timedelta(minutes=30)) | {
        "level": 1,
        "message": escalation_message("a-drones", "announced_arrival", arrival["deadline"]),
        "original": {"id": arrival["id"], "deadline": arrival["deadline"]},
    }
    level2 = _base("escalation", "f6f6f6", now, None) | {
        "level": 2,
        "unit_id": None,
        "message": out_of_band_message(
            "Alpha hotline", "a-drones", "unannounced_entry", entry_view["deadline"]
        ),
        "contact": "Alpha hotline",
    }
    probing = _base("probing_suspected", "a7a7a7", now, None) | {
        "message": (
            "Possible probing: unit x-1 (bravo) made 40 checks in 3 min, the last at "
            f"{stamp(now - timedelta(minutes=2))}, over 30 map cells "
            "(a grid pattern). Someone may be using the check to map registered assets. "
            f"Verify with the unit's party before trusting it further. {ACKNOWLEDGEMENT_MEANS}"
        ),
    }
    out = {
        "announced_arrival": arrival,
        "recognition_briefing": briefing,
        "unannounced_entry": entry_view,
        "hold_on_your_asset": hold,
        "escalation": level1,
        "escalation_level_2": level2,
        "probing_suspected": probing,
    }
    assert {v["cause"] for v in out.values()} == set(CAUSES)
    return out
