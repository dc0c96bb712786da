"""Party C's tokens, through every read path of the real server, never receive party B's
non-releasable asset, movement, area or site — not its id, callsign, coordinates (to 3
decimals) or type name (outside the shared catalogue) — in any body or header; while C's
checks near each of them still answer HOLD with ``details_withheld`` (party and contact only).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.leak_world import SECRET_TYPE, SECRETS, World, build_world
from tests.support.live import Server
from tests.support.world import now_iso

pytestmark = pytest.mark.integration

CATALOGUE_PATHS = ("/v1/equipment-types",)


@dataclass
class Seen:
    """Every response party C received, for the search."""

    responses: list[tuple[str, httpx.Response]] = field(default_factory=list)
    streamed: list[tuple[str, str]] = field(default_factory=list)

    def add(self, what: str, response: httpx.Response) -> httpx.Response:
        self.responses.append((what, response))
        return response

    def leaks(self) -> list[str]:
        found = []
        texts = [(w, r.text + repr(dict(r.headers))) for w, r in self.responses]
        texts += self.streamed
        for what, text in texts:
            for secret in SECRETS:
                if secret in text:
                    found.append(f"{what}: {secret}")
            catalogue = any(p in what for p in CATALOGUE_PATHS)
            if not catalogue and SECRET_TYPE["name"] in text:
                found.append(f"{what}: the type name")
        return found


@pytest.fixture
def world(server: Server, data_dir: Path) -> Iterator[World]:
    yield build_world(server, data_dir)


def _check(unit_id: str, lat: float, lon: float, cep_m: float = 300) -> dict[str, Any]:
    return {
        "unit_id": unit_id,
        "position": {"lat": lat, "lon": lon},
        "cep_m": cep_m,
        "observed": {"mobility": "tracked", "features": ["launcher"], "certainty": "certain"},
    }


#: A point near each secret thing (within its reach, on no secret 3-decimal coordinate).
NEAR = {
    "asset": (48.4600, 36.7800),
    "movement": (48.4802, 36.6120),
    "area": (48.3000, 36.1800),
    "site": (48.5420, 36.6520),
}


def _assert_withheld(answer: dict[str, Any]) -> None:
    assert answer["verdict"] == "HOLD", answer
    bravo = [m for m in answer["matches"] if m["party_id"] == "bravo"]
    assert len(bravo) == 1, answer  # collapsed per party: not even a count
    m = bravo[0]
    assert m["details_withheld"] is True
    assert m["id"] is None and m["kind"] is None
    assert m["feature_conflicts"] == [] and m["stale"] is False
    assert m["reason_codes"] == ["DETAILS_WITHHELD"]
    assert m["contact"] == "Bravo hotline 555-0100"
    assert set(m) == {
        "kind",
        "id",
        "party_id",
        "reasons",
        "reason_codes",
        "feature_conflicts",
        "stale",
        "details_withheld",
        "contact",
        "owner_response",
    }


def _read_stream(server: Server, token: str, unit_id: str) -> tuple[int, str]:
    """What a stream sends in its first moments (its backlog), then hang up."""
    text = ""
    with (
        httpx.Client(base_url=server.url, timeout=httpx.Timeout(5.0, read=2.0)) as http,
        http.stream(
            "GET",
            f"/v1/units/{unit_id}/notifications/stream",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        status = response.status_code
        text += repr(dict(response.headers))
        try:
            for chunk in response.iter_text():
                text += chunk
        except httpx.ReadTimeout:
            pass  # the backlog is sent; the stream now waits for news
    return status, text


def test_party_c_never_receives_party_b_secrets_but_its_checks_hold(world: World) -> None:
    seen = Seen()
    server = world.server
    c_tokens = {"coordinator": world.coord_c, "operator": world.op_c}
    check_ids: list[str] = []

    # C's checks near each of B's things: HOLD, withheld (party and contact only).
    with server.client(world.op_c) as c:
        for what, (lat, lon) in NEAR.items():
            r = seen.add(
                f"check near {what}", c.post("/v1/checks", json=_check("c-drones", lat, lon))
            )
            assert r.status_code == 201, r.text
            _assert_withheld(r.json())
            check_ids.append(r.json()["id"])
    # B's own check, and B's notifications (a HOLD on its asset by C): ids C must not reach.
    with server.client(world.coord_b) as b:
        b_check = b.post("/v1/checks", json=_check("b-team", *NEAR["asset"])).json()["id"]
        inbox = b.get("/v1/units/b-team/notifications", params={"state": "all"}).json()
        b_notifications = [n["id"] for n in inbox["items"]]

    for role, token in c_tokens.items():
        with server.client(token) as c:

            def get(path: str, **params: Any) -> httpx.Response:
                return seen.add(f"{role} GET {path}", c.get(path, params=params or None))  # noqa: B023

            # Lists and the map: B's things are not there.
            for kind in (
                "parties",
                "equipment-types",
                "units",
                "assets",
                "movements",
                "areas",
                "sites",
            ):
                r = get(f"/v1/{kind}", limit=1000)
                assert r.status_code == 200, r.text
            assert get("/v1/map").status_code == 200
            for path in (
                "/v1/vocabulary",
                "/v1/map/tile-origins",
                "/v1/me",
                "/v1/health",
                "/v1/version",
                "/v1/ready",
                "/openapi.json",
                "/docs",
            ):
                assert get(path).status_code == 200, path
            # Gets by id: exactly what an id that does not exist gets (the id echoed back).
            for kind, obj_id in (
                ("assets", "b-secret-7"),
                ("movements", "b-mv-secret"),
                ("areas", "b-area-secret"),
                ("sites", "b-site-secret"),
                ("units", "b-team"),
            ):
                secret = c.get(f"/v1/{kind}/{obj_id}")
                absent = c.get(f"/v1/{kind}/zz-{obj_id}")
                assert secret.status_code == absent.status_code == 404
                assert secret.text == absent.text.replace(f"zz-{obj_id}", obj_id)
                for method in ("PUT", "DELETE"):
                    s = c.request(method, f"/v1/{kind}/{obj_id}", json={})
                    a = c.request(method, f"/v1/{kind}/zz-{obj_id}", json={})
                    assert s.status_code == a.status_code, (method, kind, s.text, a.text)
                    assert s.text == a.text.replace(f"zz-{obj_id}", obj_id), (method, kind)
            # Notifications, the dashboard, other units' checks: not found.
            for path in (
                "/v1/units/b-team/notifications",
                *(f"/v1/notifications/{n}" for n in b_notifications),
                f"/v1/checks/{b_check}",
            ):
                assert get(path).status_code == 404, path
            # B's unit's webhooks: not there for C, whatever the role (the policy's 403
            # for an operator names no object).
            hooks = seen.add(f"{role} GET webhooks", c.get("/v1/units/b-team/webhooks"))
            assert hooks.status_code in (403, 404), hooks.text
            made = seen.add(
                f"{role} POST webhooks",
                c.post("/v1/units/b-team/webhooks", json={"url": "http://127.0.0.1:9/x"}),
            )
            assert made.status_code in (403, 404), made.text
            # The after-action review around B's secret asset, as C: nothing of B's.
            review = get(
                "/v1/review",
                at=now_iso().replace("+00:00", "Z"),
                lat=NEAR["asset"][0],
                lon=NEAR["asset"][1],
                radius_m=5000,
            )
            assert review.status_code in (200, 403), review.text
            for key, obj_id in (("asset", "b-secret-7"), ("area", "b-area-secret")):
                s = c.get("/v1/dashboard/awareness", params={key: obj_id})
                a = c.get("/v1/dashboard/awareness", params={key: f"zz-{obj_id}"})
                assert s.status_code == a.status_code and s.status_code in (403, 404)
                assert s.text == a.text.replace(f"zz-{obj_id}", obj_id)
            # Their own inbox and checks read fine, and say no more.
            mine = "c-cell" if role == "coordinator" else "c-drones"
            assert get(f"/v1/units/{mine}/notifications", state="all").status_code == 200
            for check_id in check_ids:
                r = get(f"/v1/checks/{check_id}")
                if r.status_code == 200:
                    _assert_withheld(r.json())
            # A reference to B's asset is refused exactly as an unknown one is.
            if role == "coordinator":
                body = {
                    "id": "c-mv",
                    "asset_id": "b-secret-7",
                    "route": {"type": "LineString", "coordinates": [[30.1, 40.1], [30.2, 40.2]]},
                    "corridor_m": 100,
                    "start": now_iso(),
                    "end": now_iso(600),
                }
                s = c.post("/v1/movements", json=body)
                a = c.post("/v1/movements", json={**body, "asset_id": "zz-b-secret-7"})
                assert s.status_code == a.status_code == 422
                assert s.text == a.text.replace("zz-b-secret-7", "b-secret-7")
        # The live stream: C's own (backlog read, then hang up); B's is not found.
        status, text = _read_stream(
            server, token, "c-cell" if role == "coordinator" else "c-drones"
        )
        assert status == 200
        seen.streamed.append((f"{role} stream", text))
        status, text = _read_stream(server, token, "b-team")
        assert status == 404
        seen.streamed.append((f"{role} B stream", text))

    leaks = seen.leaks()
    assert not leaks, leaks
    # The search is not vacuous: B's own token does see its asset there.
    with server.client(world.coord_b) as b:
        text = b.get("/v1/map").text
        assert "b-secret-7" in text and "Nightjar-7" in text and "48.456" in text
