"""Registered objects written straight into a store (the bulk path, not HTTP), for the
benchmarks' worlds: one document shape each, whatever the bench."""

from __future__ import annotations

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
