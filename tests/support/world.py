"""A small fictional world: two parties, a type, units and a token per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

BOX_A = [[35.0, 48.0], [36.0, 48.0], [36.0, 49.0], [35.0, 49.0], [35.0, 48.0]]
BOX_B = [[36.0, 48.0], [37.0, 48.0], [37.0, 49.0], [36.0, 49.0], [36.0, 48.0]]
#: Charlie's area, far from alpha's and bravo's: a third party, for releasability tests.
BOX_C = [[30.0, 40.0], [31.0, 40.0], [31.0, 41.0], [30.0, 41.0], [30.0, 40.0]]


def now_iso(delta_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).isoformat()


def party(pid: str, name: str) -> dict[str, Any]:
    return {"id": pid, "name": name, "kind": "military", "contact": f"{name} hotline 555-0100"}


def unit(uid: str, pid: str, box: list[list[float]], cell: bool = False) -> dict[str, Any]:
    return {
        "id": uid,
        "party_id": pid,
        "name": uid,
        "roles": ["team"],
        "aor": {"type": "Polygon", "coordinates": [box]},
        "coordination_cell": cell,
    }


SAM_W = {
    "id": "sam-w",
    "name": "Skyshield-W",
    "profile": {"mobility": "wheeled", "features": ["radar", "launcher"]},
    "max_speed_kmh": 60,
}


def asset(aid: str, pid: str, releasable_to: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": aid, "party_id": pid, "type_id": "sam-w", "callsign": aid}
    if releasable_to is not None:
        body["releasable_to"] = releasable_to
    return body


def report(aid: str, lat: float, lon: float, delta_s: float = -5.0) -> dict[str, Any]:
    return {
        "asset_id": aid,
        "time": now_iso(delta_s),
        "position": {"lat": lat, "lon": lon},
        "cep_m": 10,
    }


def check_body(uid: str, lat: float, lon: float, cep_m: float = 10) -> dict[str, Any]:
    return {
        "unit_id": uid,
        "position": {"lat": lat, "lon": lon},
        "cep_m": cep_m,
        "observed": {"mobility": "wheeled", "features": ["radar"], "certainty": "probable"},
    }


@dataclass
class Tokens:
    admin: str
    coord_a: str
    op_a: str
    coord_b: str
    op_b: str


def seed(client: httpx.Client, admin: str) -> None:
    """Parties alpha and bravo, the type, and their units (as an admin)."""
    h = {"Authorization": f"Bearer {admin}"}
    for path, body in (
        ("/v1/parties", party("alpha", "Alpha")),
        ("/v1/parties", party("bravo", "Bravo")),
        ("/v1/equipment-types", SAM_W),
        ("/v1/units", unit("a-cell", "alpha", BOX_A, cell=True)),
        ("/v1/units", unit("a-drones", "alpha", BOX_A)),
        ("/v1/units", unit("b-team", "bravo", BOX_B)),
    ):
        r = client.post(path, json=body, headers=h)
        assert r.status_code == 201, r.text


def charlie() -> list[tuple[str, dict[str, Any]]]:
    """The writes (path, body) that add party charlie: its coordination cell and its
    drone team, both over :data:`BOX_C`."""
    return [
        ("/v1/parties", party("charlie", "Charlie")),
        ("/v1/units", unit("c-cell", "charlie", BOX_C, cell=True)),
        ("/v1/units", unit("c-drones", "charlie", BOX_C)),
    ]
