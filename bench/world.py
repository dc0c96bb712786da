"""Registered objects written straight into a store (the bulk path, not HTTP), for the
benchmarks' worlds: one document shape each, whatever the bench."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from deconfliction.store import Store

ACTOR = "bench"


def party(store: Store, pid: str, name: str, contact: str) -> None:
    data = {"id": pid, "name": name, "kind": "military", "contact": contact}
    store.create("party", pid, pid, data, ACTOR)


def unit(
    store: Store, uid: str, pid: str, name: str, aor: dict[str, Any], cell: bool = False
) -> None:
    data = {
        "id": uid,
        "party_id": pid,
        "name": name,
        "roles": [],
        "aor": aor,
        "aor_start": None,
        "aor_end": None,
        "tak_uids": [],
        "coordination_cell": cell,
    }
    store.create("unit", uid, pid, data, ACTOR)


def equipment_type(
    store: Store,
    tid: str,
    name: str,
    mobility: str,
    max_speed_kmh: float,
    *,
    axles: int | None = None,
    features: Sequence[str] = ("radar",),
) -> None:
    data = {
        "id": tid,
        "name": name,
        "variant_of": None,
        "profile": {
            "mobility": mobility,
            "axles": axles,
            "features": list(features),
            "size_class": None,
        },
        "max_speed_kmh": max_speed_kmh,
        "sidc": None,
        "picture_url": None,
        "confusable_with": [],
    }
    store.create("equipment_type", tid, None, data, ACTOR)


def asset(
    store: Store,
    aid: str,
    pid: str,
    type_id: str,
    callsign: str,
    *,
    releasable_to: list[str] | None = None,
    max_speed_kmh: float | None = None,
) -> None:
    data = {
        "id": aid,
        "party_id": pid,
        "type_id": type_id,
        "callsign": callsign,
        "releasable_to": releasable_to,
        "cot_uid": None,
        "contact": None,
        "max_speed_kmh": max_speed_kmh,
    }
    store.create("asset", aid, pid, data, ACTOR)


def audit_events(store: Store, rng: random.Random, start: int, count: int) -> None:
    """``count`` events for the audit benches (half party creates, half checks), 1,000 per
    transaction, numbered from ``start``."""
    written = 0
    while written < count:
        with store.transaction():
            for _ in range(min(1000, count - written)):
                i = start + written
                if rng.random() < 0.5:
                    data = {"name": f"Party {i}", "kind": "military", "x": rng.random()}
                    store.create("party", f"p{i}", None, data, ACTOR)
                else:
                    store.add_check(
                        f"c{i}",
                        "u1",
                        "p1",
                        {"position": {"lat": rng.uniform(-80, 80), "lon": rng.random()}},
                        {"verdict": rng.choice(["HOLD", "NO_KNOWN_MATCH"]), "matches": []},
                        ACTOR,
                    )
                written += 1
