"""CRUD, pagination, roles and releasability of every registered kind, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_support import Api, running_api
from tests.support.world import BOX_A, asset, check_body, now_iso, report, unit

pytestmark = pytest.mark.unit

LINE = {"type": "LineString", "coordinates": [[35.1, 48.1], [35.3, 48.2]]}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[35.1, 48.1], [35.2, 48.1], [35.2, 48.2], [35.1, 48.2], [35.1, 48.1]]],
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path / "data") as running:
        yield running


def movement(mid: str, aid: str, rel: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": mid,
        "asset_id": aid,
        "route": LINE,
        "corridor_m": 200,
        "start": now_iso(-600),
        "end": now_iso(3600),
    }
    if rel is not None:
        body["releasable_to"] = rel
    return body


def area(aid: str, rel: list[str] | None = None, kind: str = "protected") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": aid,
        "party_id": "alpha",
        "kind": kind,
        "geometry": SQUARE,
        "start": now_iso(-600),
        "end": now_iso(3600),
    }
    if rel is not None:
        body["releasable_to"] = rel
    return body


def site(sid: str, rel: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sid,
        "party_id": "alpha",
        "kind": "hospital",
        "position": {"lat": 48.7, "lon": 35.7},
        "radius_m": 200,
    }
    if rel is not None:
        body["releasable_to"] = rel
    return body


def test_crud_round_trip_for_every_kind(api: Api) -> None:
    c, t = api.client, api.tokens
    coord = api.as_(t.coord_a)
    assert c.post("/v1/assets", json=asset("a1", "alpha"), headers=coord).status_code == 201
    bodies = {
        "assets": asset("a2", "alpha"),
        "movements": movement("m1", "a1"),
        "areas": area("ar1"),
        "sites": site("s1"),
        "units": unit("a-extra", "alpha", BOX_A),
    }
    for path, body in bodies.items():
        r = c.post(f"/v1/{path}", json=body, headers=coord)
        assert r.status_code == 201, (path, r.text)
        got = c.get(f"/v1/{path}/{body['id']}", headers=coord)
        assert got.status_code == 200
        assert got.json() == r.json()
        changed = dict(body)
        if path == "assets":
            changed["callsign"] = "Renamed"
        elif path == "units":
            changed["name"] = "Renamed"
        elif path == "sites":
            changed["radius_m"] = 999
        else:
            changed["releasable_to"] = ["*"]
        r = c.put(f"/v1/{path}/{body['id']}", json=changed, headers=coord)
        assert r.status_code == 200, (path, r.text)
        assert c.get(f"/v1/{path}/{body['id']}", headers=coord).json() == r.json()
    # Deleting what is still named elsewhere is refused, then allowed.
    assert c.delete("/v1/assets/a1", headers=coord).json()["error"]["code"] == "in_use"
    assert c.delete("/v1/movements/m1", headers=coord).status_code == 204
    assert c.delete("/v1/assets/a1", headers=coord).status_code == 204
    assert c.get("/v1/assets/a1", headers=coord).status_code == 404
    # The catalogue and parties: admins write, everyone reads.
    admin = api.as_(t.admin)
    r = c.put(
        "/v1/equipment-types/sam-w",
        json={"name": "Skyshield-W2", "profile": {"mobility": "wheeled"}, "max_speed_kmh": 70},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert (
        c.get("/v1/equipment-types/sam-w", headers=api.as_(t.op_b)).json()["name"] == "Skyshield-W2"
    )
    assert {p["id"] for p in c.get("/v1/parties", headers=api.as_(t.op_b)).json()["items"]} == {
        "alpha",
        "bravo",
    }


def test_a_coordinator_cannot_move_an_object_to_another_party(api: Api) -> None:
    c, t = api.client, api.tokens
    assert (
        c.post("/v1/assets", json=asset("a1", "alpha"), headers=api.as_(t.coord_a)).status_code
        == 201
    )
    r = c.put("/v1/assets/a1", json=asset("a1", "bravo"), headers=api.as_(t.coord_a))
    assert r.status_code == 403
    assert c.get("/v1/assets/a1", headers=api.as_(t.coord_a)).json()["party_id"] == "alpha"


def test_keyset_pagination(api: Api) -> None:
    c, coord = api.client, api.as_(api.tokens.coord_a)
    ids = [f"p-{i:02d}" for i in range(25)]
    for aid in reversed(ids):
        assert c.post("/v1/assets", json=asset(aid, "alpha"), headers=coord).status_code == 201
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 10}
        if after:
            params["after"] = after
        body = c.get("/v1/assets", params=params, headers=coord).json()
        seen += [i["id"] for i in body["items"]]
        after = body["next"]
        pages += 1
        if after is None:
            break
    assert seen == ids
    assert pages == 3


@pytest.mark.parametrize(
    ("path", "make"),
    [("movements", movement), ("areas", area), ("sites", site), ("assets", None)],
)
def test_releasability_filters_every_list_and_get(api: Api, path: str, make: Any) -> None:
    c, t = api.client, api.tokens
    coord = api.as_(t.coord_a)
    for aid, rel in (("own", None), ("to-b", ["bravo"]), ("to-all", ["*"])):
        assert (
            c.post(
                "/v1/assets", json=asset(f"asset-{aid}", "alpha", rel), headers=coord
            ).status_code
            == 201
        )
        if make is movement:
            body = movement(f"x-{aid}", f"asset-{aid}", rel)
        elif make is not None:
            body = make(f"x-{aid}", rel)
        else:
            continue
        assert c.post(f"/v1/{path}", json=body, headers=coord).status_code == 201
    prefix = "asset-" if path == "assets" else "x-"
    for token, expected in (
        (t.op_b, {"to-b", "to-all"}),
        (t.coord_b, {"to-b", "to-all"}),
        (t.op_a, {"own", "to-b", "to-all"}),
        (t.admin, {"own", "to-b", "to-all"}),
    ):
        h = api.as_(token)
        listed = {i["id"] for i in c.get(f"/v1/{path}", headers=h).json()["items"]}
        assert {i.removeprefix(prefix) for i in listed if i.startswith(prefix)} == expected
        for aid in ("own", "to-b", "to-all"):
            status = c.get(f"/v1/{path}/{prefix}{aid}", headers=h).status_code
            assert status == (200 if aid in expected else 404)


def test_units_are_visible_to_their_own_party_only(api: Api) -> None:
    c, t = api.client, api.tokens
    assert {u["id"] for u in c.get("/v1/units", headers=api.as_(t.op_b)).json()["items"]} == {
        "b-team"
    }
    assert c.get("/v1/units/a-drones", headers=api.as_(t.op_b)).status_code == 404
    assert c.get("/v1/units/a-drones", headers=api.as_(t.op_a)).status_code == 200


def test_read_your_writes(api: Api) -> None:
    c, t = api.client, api.tokens
    coord, op = api.as_(t.coord_a), api.as_(t.op_a)
    point = check_body("a-drones", 48.45, 35.45)
    assert c.post("/v1/checks", json=point, headers=op).json()["verdict"] == "NO_KNOWN_MATCH"
    assert c.post("/v1/assets", json=asset("rw", "alpha"), headers=coord).status_code == 201
    assert (
        c.post("/v1/reports", json=[report("rw", 48.45, 35.45)], headers=coord).status_code == 200
    )
    assert c.post("/v1/checks", json=point, headers=op).json()["verdict"] == "HOLD"
    assert c.delete("/v1/assets/rw", headers=coord).status_code == 204
    assert c.post("/v1/checks", json=point, headers=op).json()["verdict"] == "NO_KNOWN_MATCH"
    assert (
        c.post("/v1/areas", json=area("ar-rw", kind="protected"), headers=coord).status_code == 201
    )
    inside = check_body("a-drones", 48.15, 35.15)
    answer = c.post("/v1/checks", json=inside, headers=op).json()
    assert answer["verdict"] == "HOLD"
    assert answer["matches"][0]["kind"] == "area"


def test_a_stored_check_is_readable_by_its_unit_coordinator_and_admin(api: Api) -> None:
    c, t = api.client, api.tokens
    cid = c.post(
        "/v1/checks", json=check_body("a-drones", 48.5, 35.5), headers=api.as_(t.op_a)
    ).json()["id"]
    for token, status in (
        (t.op_a, 200),
        (t.coord_a, 200),
        (t.admin, 200),
        (t.op_b, 404),
        (t.coord_b, 404),
    ):
        assert c.get(f"/v1/checks/{cid}", headers=api.as_(token)).status_code == status
