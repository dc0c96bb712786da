"""Small worlds written straight into a store, as another process (``import``) would:
no planner runs on these writes. Shared by the planner's tests."""

from __future__ import annotations

from typing import Any

from deconfliction.store import Store

#: The wheeled air-defence type of the tests' worlds.
SAM_W: dict[str, Any] = {
    "id": "sam-w",
    "name": "Skyshield-W",
    "profile": {"mobility": "wheeled"},
    "max_speed_kmh": 60,
}


def write_parties(store: Store, *party_ids: str) -> None:
    for pid in party_ids:
        body = {"id": pid, "name": pid, "kind": "military", "contact": "net"}
        store.create("party", pid, pid, body, "t")


def write_unit(store: Store, unit_id: str, party_id: str, ring: list[list[float]]) -> None:
    unit = {
        "id": unit_id,
        "party_id": party_id,
        "name": unit_id,
        "aor": {"type": "Polygon", "coordinates": [ring]},
    }
    store.create("unit", unit_id, party_id, unit, "t")


def write_asset(store: Store, asset_id: str, party_id: str, **extra: Any) -> None:
    body = {"id": asset_id, "party_id": party_id, "type_id": "sam-w", "callsign": asset_id}
    store.create("asset", asset_id, party_id, {**body, **extra}, "t")
