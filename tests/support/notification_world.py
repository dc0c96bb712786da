"""The notifications tests' world over the real server: Alpha (a-cell, a-drones over BOX_A)
and Bravo (b-cell over BOX_B), two equipment types, a token per role, and the small helpers
those tests share (``tests/support/server_fixtures.py`` builds it as the ``world`` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.live import Server, issue
from tests.support.world import BOX_A, BOX_B, now_iso, party, unit

ACK = {"by": "Sgt. Tester", "response": "acknowledged"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class World:
    """Alpha (a-cell, a-drones over BOX_A) and Bravo (b-cell over BOX_B), a type, tokens."""

    def __init__(self, server: Server, data_dir: Path) -> None:
        self.server = server
        self.admin = issue(data_dir, "admin")
        self.http = server.client(self.admin)
        for path, body in (
            ("/v1/parties", party("alpha", "Alpha")),
            ("/v1/parties", party("bravo", "Bravo")),
            (
                "/v1/equipment-types",
                {
                    "id": "sam-w",
                    "name": "Skyshield-W",
                    "profile": {"mobility": "wheeled", "features": ["radar", "launcher"]},
                    "max_speed_kmh": 60,
                    "confusable_with": [{"type_id": "radar-x", "cue": "rails behind the cab"}],
                },
            ),
            (
                "/v1/equipment-types",
                {
                    "id": "radar-x",
                    "name": "Radar truck X",
                    "profile": {"mobility": "wheeled", "features": ["radar", "dish"]},
                    "max_speed_kmh": 80,
                },
            ),
            ("/v1/units", unit("a-cell", "alpha", BOX_A, cell=True)),
            ("/v1/units", unit("a-drones", "alpha", BOX_A)),
            ("/v1/units", unit("b-cell", "bravo", BOX_B, cell=True)),
        ):
            r = self.http.post(path, json=body)
            assert r.status_code == 201, r.text
        self.op_a = issue(data_dir, "operator", "a-drones")
        self.op_cell_a = issue(data_dir, "operator", "a-cell")
        self.coord_a = issue(data_dir, "coordinator", "a-cell")
        self.coord_b = issue(data_dir, "coordinator", "b-cell")
        self.op_b = issue(data_dir, "operator", "b-cell")

    def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        r = self.http.post(path, json=body, headers=bearer(token) if token else None)
        assert r.status_code in (200, 201), r.text
        return r

    def inbox(self, unit_id: str, token: str | None = None, state: str = "pending") -> list[Any]:
        r = self.http.get(
            f"/v1/units/{unit_id}/notifications",
            params={"state": state},
            headers=bearer(token) if token else None,
        )
        assert r.status_code == 200, r.text
        items: list[Any] = r.json()["items"]
        return items

    def answer(self, nid: str, body: dict[str, str], token: str | None = None) -> httpx.Response:
        return self.http.post(
            f"/v1/notifications/{nid}/responses",
            json=body,
            headers=bearer(token) if token else None,
        )

    def movement(self, mid: str, asset_id: str, coords: list[list[float]], **extra: Any) -> None:
        body = {
            "id": mid,
            "asset_id": asset_id,
            "route": {"type": "LineString", "coordinates": coords},
            "corridor_m": 200,
            "start": now_iso(),
            "end": now_iso(4 * 3600),
            **extra,
        }
        self.post("/v1/movements", body, self.coord_b)

    def advance(self, seconds: float) -> dict[str, Any]:
        r = self.http.post("/v1/test/clock", json={"advance_s": seconds})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


def of(items: list[Any], cause: str) -> list[Any]:
    return [n for n in items if n["cause"] == cause]


# Bravo's route: from Bravo's box west into Alpha's box (BOX_A is lon 35-36, BOX_B 36-37).
INTO_A = [[36.6, 48.5], [35.5, 48.5]]
