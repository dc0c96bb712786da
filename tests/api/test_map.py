"""``GET /v1/map`` and ``GET /v1/vocabulary`` in-process, and the web UI's page at ``/``:
the map shows exactly what the token may see (the lists' releasability rule), never a check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deconfliction.api import web
from tests.support.api_support import Api, running_api
from tests.support.world import BOX_A, asset, check_body, now_iso, report

pytestmark = pytest.mark.unit


def _world(api: Api) -> None:
    """alpha: a1 (owner-only); bravo: b1 (releasable to alpha), b2 (owner-only), with a
    movement of b2 that alpha may see, an area and a site per visibility, and reports."""
    c, t = api.client, api.tokens
    a, b = api.as_(t.coord_a), api.as_(t.coord_b)
    for body, h in (
        (asset("a1", "alpha"), a),
        (asset("b1", "bravo", ["alpha"]), b),
        (asset("b2", "bravo"), b),
    ):
        assert c.post("/v1/assets", json=body, headers=h).status_code == 201
    r = c.post(
        "/v1/reports", json=[report("a1", 48.5, 35.5), report("a1", 48.6, 35.6, -600)], headers=a
    )
    assert r.status_code == 200, r.text
    r = c.post("/v1/reports", json=[report("b1", 48.5, 36.5), report("b2", 48.6, 36.6)], headers=b)
    assert r.status_code == 200, r.text
    line = {"type": "LineString", "coordinates": [[36.1, 48.1], [36.9, 48.9]]}
    movement = {
        "id": "b2-march",
        "asset_id": "b2",
        "route": line,
        "corridor_m": 200,
        "start": now_iso(-60),
        "end": now_iso(3600),
        "releasable_to": ["alpha"],
    }
    assert c.post("/v1/movements", json=movement, headers=b).status_code == 201
    box = {"type": "Polygon", "coordinates": [BOX_A]}
    for area_id, start, end, rel in (
        ("b-open", -60, 3600, ["*"]),
        ("b-ended", -7200, -3600, ["*"]),
        ("b-secret", -60, 3600, None),
    ):
        area: dict[str, Any] = {
            "id": area_id,
            "party_id": "bravo",
            "kind": "protected",
            "geometry": box,
            "start": now_iso(start),
            "end": now_iso(end),
        }
        if rel:
            area["releasable_to"] = rel
        assert c.post("/v1/areas", json=area, headers=b).status_code == 201
    site = {
        "id": "b-hospital",
        "party_id": "bravo",
        "kind": "hospital",
        "name": "Field hospital",
        "position": {"lat": 48.2, "lon": 36.2},
        "radius_m": 250,
        "releasable_to": ["*"],
    }
    assert c.post("/v1/sites", json=site, headers=b).status_code == 201


def _by_id(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in collection["features"]}


def test_the_map_shows_exactly_what_the_token_may_see(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        _world(api)
        # A check near everything: its position must never appear on anyone's map.
        assert (
            api.client.post(
                "/v1/checks",
                json=check_body("a-drones", 48.6, 36.6),
                headers=api.as_(api.tokens.op_a),
            ).status_code
            == 201
        )
        r = api.client.get("/v1/map", headers=api.as_(api.tokens.op_a))
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        alpha = r.json()
        bravo = api.client.get("/v1/map", headers=api.as_(api.tokens.op_b)).json()
        admin = api.client.get("/v1/map", headers=api.as_(api.tokens.admin)).json()

    assert alpha["type"] == "FeatureCollection"
    assert alpha["fresh_s"] == 900 and alpha["horizon_s"] == 6 * 3600
    seen = _by_id(alpha)
    assert set(seen) == {
        "aor:a-drones",
        "asset:a1",
        "asset:b1",
        "movement:b2-march",
        "area:b-open",
        "site:b-hospital",
    }
    # Nothing of b2 but the movement alpha may see: no callsign, no asset id, no position.
    march = seen["movement:b2-march"]["properties"]
    assert march["callsign"] is None and march["asset_id"] is None and march["active"]
    assert "b2" not in str([f for f in alpha["features"] if f["id"] != "movement:b2-march"])
    # An asset sits at its newest report, with its type's symbol code and the report's age.
    a1 = seen["asset:a1"]
    assert a1["geometry"] == {"type": "Point", "coordinates": [35.5, 48.5]}
    assert a1["properties"]["callsign"] == "a1" and a1["properties"]["type_id"] == "sam-w"
    assert a1["properties"]["stale"] is False and 0 <= a1["properties"]["age_s"] < 60
    assert seen["site:b-hospital"]["properties"]["radius_m"] == 250
    assert seen["aor:a-drones"]["geometry"]["type"] == "Polygon"
    # No check of any kind is on a map.
    for collection in (alpha, bravo, admin):
        assert not [f for f in collection["features"] if f["properties"]["layer"] == "check"]
        assert [48.6, 36.6] not in [
            f["geometry"]["coordinates"][::-1]
            for f in collection["features"]
            if f["properties"]["layer"] != "asset" and f["geometry"]["type"] == "Point"
        ]

    assert set(_by_id(bravo)) == {
        "aor:b-team",
        "asset:b1",
        "asset:b2",
        "movement:b2-march",
        "area:b-open",
        "area:b-secret",
        "site:b-hospital",
    }
    march_b = _by_id(bravo)["movement:b2-march"]["properties"]
    assert march_b["callsign"] == "b2" and march_b["asset_id"] == "b2"
    # An admin has no unit (no AOR) and sees every object; ended windows are left out.
    assert set(_by_id(admin)) == {
        "asset:a1",
        "asset:b1",
        "asset:b2",
        "movement:b2-march",
        "area:b-open",
        "area:b-secret",
        "site:b-hospital",
    }


def test_map_and_vocabulary_need_a_token(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        c = api.client
        assert c.get("/v1/map").status_code == 401
        assert c.get("/v1/vocabulary").status_code == 401
        words = c.get("/v1/vocabulary", headers=api.as_(api.tokens.op_b)).json()
        doc = c.get("/openapi.json").json()
    assert words["mobility"][:2] == ["wheeled", "tracked"]
    assert "protective_emblem" in words["features"] and words["certainties"] == [
        "probable",
        "certain",
    ]
    assert doc["paths"]["/v1/map"]["get"]["security"] == [{"bearer": []}]
    assert "/" not in doc["paths"] and not any(p.startswith("/web") for p in doc["paths"])


def test_the_page_and_its_files(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        c = api.client
        page = c.get("/")
        script = c.get("/web/js/main.js")
        missing = c.get("/web/js/nothing.js")
        unknown_api = c.post("/v1/nothing", json={})
    if web.missing_vendor():  # not vendored here: the page says how, the API still works
        assert page.status_code == 503 and "vendor-web.sh" in page.text
    else:
        assert page.status_code == 200 and '<div id="map"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert missing.status_code == 404
    assert unknown_api.status_code == 404 and unknown_api.json()["error"]["code"] == "not_found"


def test_missing_vendor_names_what_is_missing(tmp_path: Path) -> None:
    assert web.missing_vendor(tmp_path) == list(web.VENDORED)
    for name in web.VENDORED:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert web.missing_vendor(tmp_path) == []


def _ids(api: Api, token: str, query: str = "") -> set[str]:
    r = api.client.get(f"/v1/map{query}", headers=api.as_(token))
    assert r.status_code == 200, r.text
    return set(_by_id(r.json()))


def test_a_bounding_box_keeps_what_reaches_into_it(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        _world(api)
        admin = api.tokens.admin
        everything = _ids(api, admin)
        # Around a1 (48.5, 35.5) only: the route (36.1-36.9 E) and the hospital are east.
        west = _ids(api, admin, "?bbox=35.4,48.4,35.6,48.55")
        assert west == {"asset:a1", "area:b-open", "area:b-secret"}
        # The whole world, as a map view past ±180° gives it, is everything.
        assert _ids(api, admin, "?bbox=-200,-90,200,90") == everything
        # Bravo's team always sees its AOR, even when the box misses it.
        far = _ids(api, api.tokens.op_b, "?bbox=-10,-10,-9,-9")
        assert far == {"aor:b-team"}
        # The hospital's 250 m radius reaches a box that ends 150 m east of its centre.
        near = _ids(api, admin, "?bbox=36.202,48.19,36.3,48.21")
        assert "site:b-hospital" in near
        # A box across ±180° (west > east) holds nothing here; it is not an error.
        assert _ids(api, admin, "?bbox=170,48,-170,49") == set()
        r = api.client.get("/v1/map?bbox=35.4,48.4,35.6,48.55", headers=api.as_(admin))
        assert r.json()["bbox"] == [35.4, 48.4, 35.6, 48.55]


def test_a_bounding_box_follows_new_reports_and_assets(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        _world(api)
        admin, coord_a = api.tokens.admin, api.as_(api.tokens.coord_a)
        box = "?bbox=35.4,48.4,35.6,48.55"
        assert "asset:a1" in _ids(api, admin, box)
        # a1 moves out of the box: the next map has it where it is now (read-your-writes).
        r = api.client.post("/v1/reports", json=[report("a1", 48.9, 35.9, -1)], headers=coord_a)
        assert r.status_code == 200, r.text
        assert "asset:a1" not in _ids(api, admin, box)
        # A new asset, reported inside the box, appears at once.
        assert (
            api.client.post("/v1/assets", json=asset("a3", "alpha"), headers=coord_a).status_code
            == 201
        )
        r = api.client.post("/v1/reports", json=[report("a3", 48.45, 35.45)], headers=coord_a)
        assert r.status_code == 200, r.text
        assert "asset:a3" in _ids(api, admin, box)
        # ... and only for those who may see it.
        assert "asset:a3" not in _ids(api, api.tokens.op_b, box)


def test_a_bad_bounding_box_is_named(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        for bad in ("1,2,3", "a,b,c,d", "0,10,1,5", "0,-95,1,5", "600,0,700,1", "10,0,5,1x"):
            r = api.client.get(f"/v1/map?bbox={bad}", headers=api.as_(api.tokens.op_a))
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["error"]["field"] == "bbox", bad
        # ... and the map keeps serving.
        assert api.client.get("/v1/map", headers=api.as_(api.tokens.op_a)).status_code == 200


def test_the_compact_form_carries_the_same_assets(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        _world(api)
        headers = api.as_(api.tokens.op_a)
        full = api.client.get("/v1/map", headers=headers).json()
        r = api.client.get("/v1/map?compact=true", headers=headers)
        assert r.status_code == 200, r.text
        compact = r.json()
        bad = api.client.get("/v1/map?compact=maybe", headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "compact"
    assets = [f for f in full["features"] if f["properties"]["layer"] == "asset"]
    assert not [f for f in compact["features"] if f["properties"]["layer"] == "asset"]
    rows = [
        dict(zip(compact["assets"]["fields"], row, strict=True))
        for row in compact["assets"]["rows"]
    ]
    assert [r["id"] for r in rows] == [f["properties"]["id"] for f in assets] == ["a1", "b1"]
    for row, feature in zip(rows, assets, strict=True):
        p = feature["properties"]
        assert [row["lon"], row["lat"]] == feature["geometry"]["coordinates"]
        for key in ("time", "cep_m", "party_id", "type_id", "callsign", "contact", "source"):
            assert row[key] == p[key], key
        kind = compact["types"][row["type_id"]]
        assert kind["sidc"] == p["sidc"] and kind["name"] == p["type_name"]
        assert (row["max_speed_kmh"] or kind["max_speed_kmh"]) == p["max_speed_kmh"]
    # The rest of the map is the same.
    others = [f for f in full["features"] if f["properties"]["layer"] != "asset"]
    assert compact["features"] == others


#: The page's Content-Security-Policy, directive by directive (docs/design/security.md, "The web UI
#: renders data as text"): nothing inline, images only from the server and data: URLs.
PAGE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    # Stricter than 'self': the sign-in form is submitted by script; a native submission
    # (before the modules run) would put the token in a URL, and this refuses it.
    "form-action": ["'none'"],
}


def _directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = values
    return directives


def test_the_page_csp_is_exactly_the_documented_one(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        c = api.client
        answers = [c.get(path) for path in ("/", "/web/index.html", "/web/js/map.js")]
        origins = c.get("/v1/map/tile-origins", headers=api.as_(api.tokens.op_a))
    header = answers[0].headers["content-security-policy"]
    assert _directives(header) == PAGE_CSP
    assert header == web.content_security_policy()
    assert "unsafe-" not in header and "*" not in header
    for answer in answers:  # the same page under /web is no way around the policy
        assert answer.headers["content-security-policy"] == header
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    assert origins.status_code == 200 and origins.json() == {"tile_origins": []}


def test_the_operators_tile_origins_go_into_img_src_only(tmp_path: Path) -> None:
    """``serve --tile-origin``: each allowed origin is added to ``img-src`` and to no other
    directive (a tile server may give the page pictures, never script, style or a place to
    send data), on the page and every file under /web, and the page is told them."""
    tiles = ("http://10.0.0.5:8080", "https://tiles.cell.lan")
    with running_api(tmp_path / "d", tile_origins=tiles) as api:
        c = api.client
        answers = [c.get(path) for path in ("/", "/web/index.html", "/web/js/map.js")]
        told = c.get("/v1/map/tile-origins", headers=api.as_(api.tokens.op_b))
        anonymous = c.get("/v1/map/tile-origins")
    header = answers[0].headers["content-security-policy"]
    expected = {**PAGE_CSP, "img-src": ["'self'", "data:", *tiles]}
    assert _directives(header) == expected
    assert header == web.content_security_policy(tiles)
    for name, values in _directives(header).items():
        if name != "img-src":
            assert not set(values) & set(tiles), name
    for answer in answers:
        assert answer.headers["content-security-policy"] == header
    assert told.status_code == 200 and told.json() == {"tile_origins": list(tiles)}
    assert told.headers["cache-control"] == "no-store"
    assert anonymous.status_code == 401


def test_each_app_builds_its_own_policy(tmp_path: Path) -> None:
    """The policy is built per app from its Settings, not shared through module state: an
    app with tile origins and one without, side by side, each send their own."""
    with (
        running_api(tmp_path / "with", tile_origins=("http://10.0.0.5:8080",)) as with_tiles,
        running_api(tmp_path / "without") as without,
    ):
        allowed = with_tiles.client.get("/").headers["content-security-policy"]
        plain = without.client.get("/").headers["content-security-policy"]
    assert _directives(allowed)["img-src"] == ["'self'", "data:", "http://10.0.0.5:8080"]
    assert _directives(plain) == PAGE_CSP
