"""The leak tests' world over the real server: party bravo's non-releasable asset
(reported), movement, area and site, and party charlie's tokens, with every string of bravo's
that must never reach charlie (``test_leaks`` and ``test_schemathesis`` search for them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tests.support.live import Server, issue
from tests.support.world import charlie, now_iso, seed

SECRET_TYPE = {
    "id": "b-stype",
    "name": "Quillmark-Z",
    "profile": {"mobility": "tracked", "features": ["launcher", "crane"]},
    "max_speed_kmh": 40,
}
ASSET = {"lat": 48.4567, "lon": 36.7891}
ROUTE = [[36.3141, 48.3141], [36.9265, 48.6535]]
AREA_RING = [
    [36.1234, 48.2345],
    [36.2468, 48.2345],
    [36.2468, 48.3579],
    [36.1234, 48.3579],
    [36.1234, 48.2345],
]
SITE = {"lat": 48.5432, "lon": 36.6543}


def _secret_strings() -> list[str]:
    """What must never reach party C (the type name is searched outside the catalogue)."""
    words = ["b-secret-7", "Nightjar-7", "b-mv-secret", "b-area-secret", "b-site-secret"]
    points = [(ASSET["lat"], ASSET["lon"]), (SITE["lat"], SITE["lon"])]
    points += [(lat, lon) for lon, lat in ROUTE + AREA_RING]
    for lat, lon in points:
        for value in (lat, lon):
            # Rounded and truncated to 3 decimals: "48.4567" is found as "48.456" and "48.457".
            words += [f"{value:.3f}", f"{math.trunc(value * 1000) / 1000:.3f}"]
    return sorted(set(words))


SECRETS = _secret_strings()


@dataclass
class World:
    server: Server
    admin: str
    coord_b: str
    coord_c: str
    op_c: str


def build_world(server: Server, data_dir: Path) -> World:
    """Parties alpha, bravo and charlie; bravo's non-releasable asset (reported), movement,
    area and site; a coordinator and an operator token for charlie."""
    admin = issue(data_dir, "admin")
    h = {"Authorization": f"Bearer {admin}"}
    with server.client() as http:
        seed(http, admin)
        for path, body in (
            *charlie(),
            ("/v1/equipment-types", SECRET_TYPE),
        ):
            assert http.post(path, json=body, headers=h).status_code == 201
    coord_b = issue(data_dir, "coordinator", "b-team")
    b = {"Authorization": f"Bearer {coord_b}"}
    with server.client() as http:
        for path, body in (
            (
                "/v1/assets",
                {
                    "id": "b-secret-7",
                    "party_id": "bravo",
                    "type_id": "b-stype",
                    "callsign": "Nightjar-7",
                },
            ),
            (
                "/v1/movements",
                {
                    "id": "b-mv-secret",
                    "asset_id": "b-secret-7",
                    "route": {"type": "LineString", "coordinates": ROUTE},
                    "corridor_m": 200,
                    "start": now_iso(-3600),
                    "end": now_iso(3600),
                },
            ),
            (
                "/v1/areas",
                {
                    "id": "b-area-secret",
                    "party_id": "bravo",
                    "kind": "operating",
                    "geometry": {"type": "Polygon", "coordinates": [AREA_RING]},
                    "start": now_iso(-3600),
                    "end": now_iso(3600),
                    "asset_ids": ["b-secret-7"],
                },
            ),
            (
                "/v1/sites",
                {
                    "id": "b-site-secret",
                    "party_id": "bravo",
                    "kind": "hospital",
                    "position": SITE,
                    "radius_m": 150,
                },
            ),
        ):
            r = http.post(path, json=body, headers=b)
            assert r.status_code == 201, r.text
        r = http.post(
            "/v1/reports",
            json=[
                {
                    "asset_id": "b-secret-7",
                    "time": now_iso(-5),
                    "position": ASSET,
                    "cep_m": 10,
                    "speed_kmh": 20,
                    "course_deg": 45,
                }
            ],
            headers=b,
        )
        assert r.status_code in (200, 201), r.text
    return World(
        server,
        admin,
        coord_b,
        issue(data_dir, "coordinator", "c-cell"),
        issue(data_dir, "operator", "c-drones"),
    )
