"""OpenAPI, tokens over the API, the rate limit, following other processes' writes,
and import/export."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from deconfliction.service import transfer
from deconfliction.store import open_store
from tests.support import backends
from tests.support.api_support import running_api
from tests.support.world import asset, check_body, report

pytestmark = pytest.mark.unit


def test_openapi_documents_the_semantics(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        doc = api.client.get("/openapi.json").json()
    text = json.dumps(doc)
    assert "received" in doc["info"]["description"]
    assert 'never "approved"' in doc["info"]["description"]
    assert "NO_KNOWN_MATCH" in text and "never a clearance" in text.lower()
    assert "/v1/checks" in doc["paths"] and "/v1/health" in doc["paths"]
    schemas = doc["components"]["schemas"]
    for name in ("Observation", "Asset", "PositionReport", "CheckAnswer", "ErrorBody"):
        assert name in schemas
    refs = {r.split("/")[-1] for r in _refs(doc)}
    assert refs <= set(schemas), refs - set(schemas)
    assert doc["paths"]["/v1/checks"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/v1/health"]["get"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            out += _refs(value)
        return out
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_tokens_over_the_api_and_me(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        c, t = api.client, api.tokens
        me = c.get("/v1/me", headers=api.as_(t.op_a)).json()
        assert (
            me["role"] == "operator" and me["unit_id"] == "a-drones" and me["party_id"] == "alpha"
        )
        assert (
            c.post("/v1/tokens", json={"role": "admin"}, headers=api.as_(t.coord_a)).status_code
            == 403
        )
        r = c.post(
            "/v1/tokens",
            json={"role": "operator", "unit_id": "b-team", "ttl_days": 1},
            headers=api.as_(t.admin),
        )
        assert r.status_code == 201, r.text
        issued = r.json()
        assert issued["party_id"] == "bravo"
        h = api.as_(issued["token"])
        assert c.get("/v1/me", headers=h).status_code == 200
        assert (
            c.delete(f"/v1/tokens/{issued['token_id']}", headers=api.as_(t.admin)).status_code
            == 204
        )
        assert c.get("/v1/me", headers=h).status_code == 401
        r = c.post("/v1/tokens", json={"role": "operator"}, headers=api.as_(t.admin))
        assert r.status_code == 422 and r.json()["error"]["field"] == "unit_id"


def test_rate_limit_answers_429_treat_as_hold(tmp_path: Path) -> None:
    with running_api(tmp_path / "d", check_rate_limit=3) as api:
        h = api.as_(api.tokens.op_a)
        codes = [
            api.client.post("/v1/checks", json=check_body("a-drones", 48.5, 35.5), headers=h)
            for _ in range(4)
        ]
    assert [r.status_code for r in codes] == [201, 201, 201, 429]
    error = codes[-1].json()["error"]
    assert error["treat_as"] == "HOLD" and error["code"] == "rate_limited"
    assert int(codes[-1].headers["retry-after"]) >= 1


def test_writes_by_another_process_reach_the_index(tmp_path: Path) -> None:
    """``deconfliction import`` / ``demo`` write the store directly; the server follows."""
    with running_api(tmp_path / "d") as api:
        h = api.as_(api.tokens.op_a)
        point = check_body("a-drones", 48.61, 35.61)
        assert (
            api.client.post("/v1/checks", json=point, headers=h).json()["verdict"]
            == "NO_KNOWN_MATCH"
        )
        other = open_store(
            tmp_path / "d", backends.database_url(tmp_path / "d")
        )  # a second connection, as another process has
        try:
            items = transfer._geojson_items(
                json.dumps(
                    {
                        "type": "FeatureCollection",
                        "features": [
                            {
                                "type": "Feature",
                                "geometry": {"type": "Point", "coordinates": [35.61, 48.61]},
                                "properties": {
                                    "object": "site",
                                    "id": "s-ext",
                                    "party_id": "bravo",
                                    "kind": "hospital",
                                    "radius_m": 100,
                                },
                            }
                        ],
                    }
                ).encode(),
                None,
            )
            transfer.import_items(other, items, "test")
        finally:
            other.close()
        deadline = time.monotonic() + 5
        verdict = "NO_KNOWN_MATCH"
        while verdict != "HOLD" and time.monotonic() < deadline:
            time.sleep(0.05)
            verdict = api.client.post("/v1/checks", json=point, headers=h).json()["verdict"]
        assert verdict == "HOLD"
        # ... and an API write right after still sees its own write.
        coord = api.as_(api.tokens.coord_a)
        assert (
            api.client.post("/v1/assets", json=asset("after", "alpha"), headers=coord).status_code
            == 201
        )
        assert (
            api.client.post(
                "/v1/reports", json=[report("after", 48.9, 35.9)], headers=coord
            ).status_code
            == 200
        )
        assert (
            api.client.post(
                "/v1/checks", json=check_body("a-drones", 48.9, 35.9), headers=h
            ).json()["verdict"]
            == "HOLD"
        )


CSV_ASSETS = (
    "id,party_id,type_id,callsign,releasable_to,max_speed_kmh\n"
    "c1,alpha,sam-w,C-1,bravo;*,40\n"
    "c2,alpha,sam-w,C-2,,\n"
)


def test_import_export_round_trip(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        store = api.uc.service.store
        csv_file = tmp_path / "assets.csv"
        csv_file.write_text(CSV_ASSETS)
        result = transfer.import_items(store, transfer.read_items(csv_file), "test")
        assert (result.created, result.replaced) == (2, 0)
        sites = tmp_path / "sites.csv"
        sites.write_text(
            "id,party_id,kind,name,lat,lon,radius_m\ns1,bravo,shelter,Shelter,48.2,36.2,150\n"
        )
        transfer.import_items(store, transfer.read_items(sites), "test")
        again = transfer.import_items(store, transfer.read_items(csv_file), "test")
        assert (again.created, again.replaced) == (0, 2)
        features = [
            transfer.to_feature(k, d)
            for k, d in transfer.export_docs(store, transfer.TRANSFER_KINDS.values())
        ]
        out = tmp_path / "all.geojson"
        with out.open("w") as f:
            transfer.write_geojson(f, features)
        items = transfer.read_items(out)
        assert {(i.kind.name, i.raw["id"]) for i in items} == {
            ("asset", "c1"),
            ("asset", "c2"),
            ("site", "s1"),
        }
        assert next(i for i in items if i.raw["id"] == "c1").raw["releasable_to"] == ["bravo", "*"]
        # Re-importing the export changes nothing but versions.
        assert transfer.import_items(store, items, "test").replaced == 3


def test_a_bad_row_imports_nothing_and_names_the_row(tmp_path: Path) -> None:
    with running_api(tmp_path / "d") as api:
        store = api.uc.service.store
        bad = tmp_path / "bad.csv"
        bad.write_text(CSV_ASSETS + "c3,alpha,no-such-type,C-3,,\nc4,alpha,sam-w,C-4,,fast\n")
        before = store.last_event_seq()
        with pytest.raises(transfer.TransferError) as err:
            transfer.import_items(store, transfer.read_items(bad), "test")
        assert "row 4" in err.value.message and "no-such-type" in err.value.message
        assert "row 5" in err.value.message and "max_speed_kmh" in err.value.message
        assert store.last_event_seq() == before
        assert store.count("asset") == 0
        broken = tmp_path / "broken.geojson"
        broken.write_text(
            '{"type": "FeatureCollection", "features": '
            '[{"type": "Feature", "geometry": null, "properties": {"object": "asset"}}]}'
        )
        with pytest.raises(transfer.TransferError) as err:
            transfer.import_items(store, transfer.read_items(broken), "test")
        assert "feature 1" in err.value.message
