"""Tokens and roles against the real server: 401, 403, and releasability (404, never 403)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.live import Server, issue, run_cli
from tests.support.world import Tokens, asset, check_body, now_iso, report

pytestmark = pytest.mark.integration

WELL_FORMED_UNKNOWN = "dcf_0123456789abcdef_" + "A" * 43


def _is_401(r: object) -> None:
    assert r.status_code == 401, r.text  # type: ignore[attr-defined]
    assert r.headers["www-authenticate"].lower().startswith("bearer")  # type: ignore[attr-defined]
    assert r.json()["error"]["code"] == "unauthenticated"  # type: ignore[attr-defined]


def test_no_wrong_expired_or_revoked_token_is_401(
    server: Server, tokens: Tokens, data_dir: Path
) -> None:
    with server.client() as anonymous:
        assert anonymous.get("/v1/health").json() == {"status": "ok"}
        _is_401(anonymous.get("/v1/assets"))
        _is_401(anonymous.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5)))
        _is_401(anonymous.get("/v1/parties", headers={"Authorization": "Basic Zm9vOmJhcg=="}))
    for wrong in ("nonsense", WELL_FORMED_UNKNOWN, tokens.op_a[:-1] + "x"):
        with server.client(wrong) as c:
            _is_401(c.get("/v1/parties"))
            _is_401(c.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5)))

    short = issue(data_dir, "operator", "a-drones", ttl_s=1.0)
    with server.client(short) as c:
        assert c.get("/v1/parties").status_code == 200
        time.sleep(1.3)
        _is_401(c.get("/v1/parties"))
        _is_401(c.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5)))

    victim = issue(data_dir, "operator", "a-drones")
    with server.client(victim) as c:
        assert c.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5)).status_code == 201
        revoked = run_cli("token", "revoke", victim, "--data-dir", str(data_dir))
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(1.2)  # the server's token cache lives at most one second
        _is_401(c.get("/v1/parties"))
        _is_401(c.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5)))


def test_roles_are_enforced(server: Server, tokens: Tokens) -> None:
    with server.client(tokens.op_a) as op:
        r = op.post("/v1/assets", json=asset("op-made", "alpha"))
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
        assert op.post("/v1/checks", json=check_body("b-team", 48.5, 35.5)).status_code == 403
        assert op.post("/v1/checks", json=check_body("a-cell", 48.5, 35.5)).status_code == 403
        assert op.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5)).status_code == 201
        assert op.post("/v1/reports", json=[]).status_code == 403
        assert (
            op.post(
                "/v1/parties", json={"id": "x", "name": "X", "kind": "civil", "contact": "c"}
            ).status_code
            == 403
        )
    with server.client(tokens.coord_b) as coord_b:
        # A coordinator manages its own party's things only.
        assert coord_b.post("/v1/assets", json=asset("b-made", "alpha")).status_code == 403
        assert coord_b.post("/v1/assets", json=asset("b-own", "bravo")).status_code == 201
        assert (
            coord_b.post(
                "/v1/equipment-types",
                json={"id": "z", "name": "Z", "profile": {"mobility": "foot"}, "max_speed_kmh": 5},
            ).status_code
            == 403
        )
        # ... and posts reports for its own party's assets only.
        with server.client(tokens.coord_a) as coord_a:
            assert coord_a.post("/v1/assets", json=asset("a-own", "alpha")).status_code == 201
        r = coord_b.post("/v1/reports", json=[report("a-own", 48.5, 35.5)])
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "reports[0].asset_id"
        assert coord_b.post("/v1/reports", json=[report("b-own", 48.5, 36.5)]).status_code == 200
    with server.client(tokens.admin) as admin:
        # Admins check as any unit.
        assert admin.post("/v1/checks", json=check_body("b-team", 48.5, 35.5)).status_code == 201


def test_party_b_never_sees_party_a_owner_only_objects(server: Server, tokens: Tokens) -> None:
    line = {"type": "LineString", "coordinates": [[35.1, 48.1], [35.3, 48.2]]}
    box = {
        "type": "Polygon",
        "coordinates": [[[35.1, 48.1], [35.2, 48.1], [35.2, 48.2], [35.1, 48.1]]],
    }
    with server.client(tokens.coord_a) as a:
        for aid, rel in (("a-secret", None), ("a-shared", ["bravo"]), ("a-public", ["*"])):
            assert a.post("/v1/assets", json=asset(aid, "alpha", rel)).status_code == 201
        assert a.post("/v1/reports", json=[report("a-secret", 48.3, 35.3)]).status_code == 200
        owner_only = {
            "movements": {
                "id": "m-secret",
                "asset_id": "a-secret",
                "route": line,
                "corridor_m": 100,
                "start": now_iso(-60),
                "end": now_iso(3600),
            },
            "areas": {
                "id": "ar-secret",
                "party_id": "alpha",
                "kind": "operating",
                "geometry": box,
                "start": now_iso(-60),
                "end": now_iso(3600),
            },
            "sites": {
                "id": "s-secret",
                "party_id": "alpha",
                "kind": "depot",
                "position": {"lat": 48.15, "lon": 35.15},
                "radius_m": 100,
            },
        }
        for path, body in owner_only.items():
            assert a.post(f"/v1/{path}", json=body).status_code == 201, path
        r = a.post("/v1/checks", json=check_body("a-drones", 48.3, 35.3) | {"unit_id": "a-cell"})
        a_check = r.json()["id"]

    secret = {
        "assets": "a-secret",
        "movements": "m-secret",
        "areas": "ar-secret",
        "sites": "s-secret",
        "units": "a-drones",
    }
    for token in (tokens.coord_b, tokens.op_b):
        with server.client(token) as b:
            for path, obj_id in secret.items():
                listed = b.get(f"/v1/{path}", params={"limit": 1000}).json()["items"]
                assert obj_id not in {item["id"] for item in listed}, path
                r = b.get(f"/v1/{path}/{obj_id}")
                assert r.status_code == 404, (path, r.text)
                assert r.json()["error"]["code"] == "not_found"
            visible = {item["id"] for item in b.get("/v1/assets").json()["items"]}
            assert {"a-shared", "a-public"} <= visible
            assert b.get(f"/v1/checks/{a_check}").status_code == 404
            # Writing what it cannot see is a 404 too (existence never confirmed); an
            # operator may write nothing at all (403 whatever the id).
            expected = 404 if token == tokens.coord_b else 403
            assert (
                b.put("/v1/assets/a-secret", json=asset("a-secret", "alpha")).status_code
                == expected
            )
            assert b.delete("/v1/assets/a-secret").status_code == expected
            assert b.delete("/v1/assets/no-such-asset").status_code == expected
    with server.client(tokens.op_b) as b:
        # A check near the secret asset says HOLD but withholds every detail.
        answer = b.post("/v1/checks", json=check_body("b-team", 48.3, 35.3)).json()
        assert answer["verdict"] == "HOLD"
        withheld = [m for m in answer["matches"] if m["details_withheld"]]
        assert withheld and all(m["id"] is None for m in withheld)
        assert "a-secret" not in str(answer)
