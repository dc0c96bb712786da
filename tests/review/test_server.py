"""The review and retention against the real server (``serve --demo``), on the test backend:
``GET /v1/review`` per party and format, bad input, the CLI on the same store, and a
retention purge that removes a check from the API while ``audit verify`` stays green."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconfliction.scenarios.demo import (
    CONVOY_ASSET,
    DRONE_TEAM,
    NDF_CELL,
    OHR_CELL,
    VARIANT_ASSET,
    VARIANT_ROUTE,
    WMA_CELL,
    build_demo,
)
from tests.support.live import Server, issue, run_cli

pytestmark = pytest.mark.integration


def _check(srv: Server) -> tuple[dict[str, object], dict[str, object]]:
    match = re.search(r"DEMO_TOKEN=(\S+)", srv.log())
    assert match, srv.log()
    body = build_demo(datetime.now(UTC)).incident_check.model_dump(mode="json")
    body["time"] = datetime.now(UTC).isoformat()
    with srv.client(match.group(1)) as team:
        r = team.post("/v1/checks", json=body)
    assert r.status_code == 201, r.text
    return body, r.json()


def test_review_over_http_per_party_and_format(data_dir: Path, tmp_path: Path) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        observation, answer = _check(srv)
        assert answer["verdict"] == "HOLD"
        position = observation["position"]
        assert isinstance(position, dict)
        params = {
            "at": datetime.now(UTC).isoformat(),
            "lat": position["lat"],
            "lon": position["lon"],
            "radius_m": 3000,
        }
        ndf = issue(data_dir, "coordinator", NDF_CELL)
        ohr = issue(data_dir, "coordinator", OHR_CELL)
        operator = issue(data_dir, "operator", DRONE_TEAM)

        with srv.client(ndf) as client:
            r = client.get("/v1/review", params=params)
            assert r.status_code == 200, r.text
            review = r.json()
            assert review["record"]["intact"] is True
            assert [c["id"] for c in review["checks"]] == [answer["id"]]
            assert review["checks"][0]["verdict"] == "HOLD"
            [finding] = review["findings"]
            assert finding["asset_id"] == VARIANT_ASSET
            assert "HOLD naming Bastion-2" in " ".join(finding["with_service"])
            md = client.get("/v1/review", params={**params, "format": "markdown"})
            assert md.headers["content-type"].startswith("text/markdown")
            assert "Why it happened without the service" in md.text
            html = client.get("/v1/review", params={**params, "format": "html"})
            assert html.headers["content-type"].startswith("text/html")
            assert "data:image/png;base64," in html.text
            png = client.get("/v1/review", params={**params, "format": "png"})
            assert png.content.startswith(b"\x89PNG")

        with srv.client(ohr) as client:
            r = client.get("/v1/review", params=params)
            assert r.status_code == 200, r.text
            text = r.text + client.get("/v1/review", params={**params, "format": "html"}).text
            for word in (VARIANT_ASSET, "Bastion-2", answer["id"], DRONE_TEAM):
                assert str(word) not in text
            own = {f"{position['lat']:.3f}", f"{position['lon']:.3f}"}  # the asked point
            for lon, lat in VARIANT_ROUTE:
                for coordinate in {f"{lat:.3f}", f"{lon:.3f}"} - own:
                    assert coordinate not in text

        with srv.client(operator) as client:
            assert client.get("/v1/review", params=params).status_code == 403
        with srv.client(ndf) as client:
            for bad, field in (
                ({"radius_m": -1}, "radius_m"),
                ({"lat": 95}, "lat"),
                ({"at": "yesterday"}, "at"),
                ({"before": "soon"}, "before"),
                ({"format": "pdf"}, "format"),
            ):
                r = client.get("/v1/review", params={**params, **bad})
                assert r.status_code == 422, (bad, r.text)
                assert field in r.json()["error"]["field"], r.text
            assert client.get("/v1/review", params={"lat": 1}).status_code == 422
            assert client.get("/v1/health").status_code == 200  # still serving

        # The CLI on the same store, as Northland: the same check, in files.
        out = tmp_path / "review"
        near = f"{position['lat']},{position['lon']}"
        ran = run_cli(
            "review", "--at", str(params["at"]), "--near", near, "--radius", "3000",
            "--as-party", "ndf", "--out", str(out), "--data-dir", str(data_dir),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr + ran.stdout
        written = json.loads((out / "review.json").read_text())
        assert [c["id"] for c in written["checks"]] == [answer["id"]]
        assert (out / "review-map.png").read_bytes().startswith(b"\x89PNG")
        assert "Bastion-2" in (out / "review.md").read_text()
        refused = run_cli(
            "review", "--at", "noon", "--near", near, "--out", str(out),
            "--data-dir", str(data_dir),
        )  # fmt: skip
        assert refused.returncode == 1 and "--at" in refused.stderr
    finally:
        srv.stop()


def test_retention_purges_a_check_from_the_api_and_verify_stays_green(
    data_dir: Path, tmp_path: Path
) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        _, answer = _check(srv)
        ndf = issue(data_dir, "coordinator", NDF_CELL)
        with srv.client(ndf) as client:
            assert client.get(f"/v1/checks/{answer['id']}").status_code == 200
        policy = tmp_path / "policy.json"
        policy.write_text(json.dumps({"parties": {"*": {"checks_days": 1, "reports_days": 1}}}))
        later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        ran = run_cli(
            "retention", "run", "--policy", str(policy), "--at", later, "--json",
            "--data-dir", str(data_dir),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr + ran.stdout
        purged = json.loads(ran.stdout)["purged"]
        assert purged["checks"] == 1 and purged["check_payloads"] == 1
        with srv.client(ndf) as client:
            assert client.get(f"/v1/checks/{answer['id']}").status_code == 404
        verified = run_cli("audit", "verify", "--json", "--data-dir", str(data_dir))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert json.loads(verified.stdout)["purged_payloads"] >= 1
    finally:
        srv.stop()


def test_serve_applies_a_retention_policy_and_refuses_a_bad_one(
    data_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"parties": {"*": {"checks_days": "forever"}}}')
    refused = run_cli("serve", "--retention-policy", str(bad), "--data-dir", str(data_dir))
    assert refused.returncode == 1
    assert "parties.*.checks_days" in refused.stderr
    good = tmp_path / "policy.json"
    good.write_text('{"interval_s": 3600, "parties": {"*": {"checks_days": 730}}}')
    srv = Server(data_dir, "--retention-policy", str(good)).start()
    try:
        assert "Retention policy" in srv.log()
        with srv.client() as client:
            assert client.get("/v1/health").status_code == 200
    finally:
        srv.stop()


# -- bounds and pages (issue 15, finding 7) ------------------------------------------------


def _incident_point() -> tuple[float, float]:
    position = build_demo(datetime.now(UTC)).incident_check.position
    return position.lat, position.lon


def test_each_bound_past_its_limit_is_a_422_naming_it(data_dir: Path) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        lat, lon = _incident_point()
        params = {"at": datetime.now(UTC).isoformat(), "lat": lat, "lon": lon}
        ndf = issue(data_dir, "coordinator", NDF_CELL)
        with srv.client(ndf) as client:
            at_the_bounds = {"radius_m": 50_000, "before": "6d", "after": "1d", "limit": 1000}
            r = client.get("/v1/review", params={**params, **at_the_bounds})
            assert r.status_code == 200, r.text
            for past, field, limit in (
                ({"radius_m": 50_001}, "radius_m", "50000"),
                ({"radius_m": 200_000}, "radius_m", "50 km"),
                ({"radius_m": 3000, "before": "8d"}, "before", "7 days"),
                ({"radius_m": 3000, "after": "169h"}, "after", "7 days"),
                ({"radius_m": 3000, "before": "4d", "after": "4d"}, "before+after", "7 days"),
                ({"radius_m": 3000, "limit": 1001}, "limit", "1000"),
                ({"radius_m": 3000, "limit": 0}, "limit", "1000"),
                ({"radius_m": 3000, "cursor": "not-a-cursor"}, "cursor", "page.next"),
            ):
                r = client.get("/v1/review", params={**params, **past})
                assert r.status_code == 422, (past, r.status_code, r.text[:300])
                error = r.json()["error"]
                assert error["field"] == field, (past, error)
                assert limit in error["message"], (past, error)
            # a cursor is this incident's: another radius refuses it, naming it
            first = client.get("/v1/review", params={**params, "radius_m": 3000, "limit": 1})
            cursor = first.json()["page"]["next"]
            assert cursor
            r = client.get("/v1/review", params={**params, "radius_m": 4000, "cursor": cursor})
            assert r.status_code == 422 and r.json()["error"]["field"] == "cursor", r.text
            assert client.get("/v1/health").status_code == 200  # still serving
    finally:
        srv.stop()


def _post_track(client: httpx.Client, asset: str, lat0: float, lon: float, n: int) -> list[str]:
    """``n`` reports of ``asset`` two minutes apart, ending now, at distinct coordinates
    (seven decimals, so that each can be searched for); their coordinates as text."""
    now = datetime.now(UTC).replace(microsecond=0)
    reports = [
        {
            "asset_id": asset,
            "time": (now - timedelta(minutes=2 * (n - i))).isoformat(),
            "position": {"lat": round(lat0 + i * 0.00003 + 0.0000071, 7), "lon": lon},
            "cep_m": 20,
        }
        for i in range(n)
    ]
    for start in range(0, n, 500):
        r = client.post("/v1/reports", json=reports[start : start + 500])
        assert r.status_code in (200, 201, 202), r.text
    return [str(r["position"]["lat"]) for r in reports]  # type: ignore[index]


def _all_pages(
    client: httpx.Client, params: dict[str, object]
) -> tuple[list[dict[str, Any]], list[int]]:
    """Every page of a review, following ``page.next``; and each body's size."""
    pages: list[dict[str, Any]] = []
    sizes: list[int] = []
    cursor = None
    while True:
        r = client.get("/v1/review", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text[:500]
        sizes.append(len(r.content))
        page = r.json()
        pages.append(page)
        cursor = page["page"]["next"]
        if cursor is None:
            return pages, sizes
        assert len(pages) < 100, "paging does not end"


_SECTIONS = ("findings", "timeline", "checks", "notifications", "assets", "movements",
             "areas", "sites", "units")  # fmt: skip


def _merged(pages: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {s: [] for s in _SECTIONS}
    tracks: dict[str, list[Any]] = {}
    for page in pages:
        for s in _SECTIONS:
            merged[s] += page[s]
        for asset, points in page["map"]["tracks"].items():
            tracks.setdefault(asset, []).extend(points)
    merged["tracks"] = tracks
    return merged


def _ids(items: list[dict[str, Any]]) -> list[object]:
    """Each item's identity: its id, or (a finding) its check and asset, or (a timeline
    entry) its time, kind and words."""
    keys = ("check_id", "asset_id", "at", "what", "text")
    return [i.get("id") or tuple(i.get(k) for k in keys) for i in items]


def test_a_wide_review_comes_back_paged_and_each_item_once(data_dir: Path, tmp_path: Path) -> None:
    srv = Server(data_dir, "--demo").start()
    try:
        lat, lon = _incident_point()
        wma = issue(data_dir, "coordinator", WMA_CELL)
        ohr = issue(data_dir, "coordinator", OHR_CELL)
        ndf = issue(data_dir, "coordinator", NDF_CELL)
        with srv.client(wma) as client:  # Bastion-2: released to Northland only
            withheld = _post_track(client, VARIANT_ASSET, lat - 0.1, lon + 0.05, 1200)
        with srv.client(ohr) as client:  # Hope-3: releasable to all
            _post_track(client, CONVOY_ASSET, lat + 0.05, lon - 0.05, 300)
        # The window ends before anything the server may still record (escalations).
        at = datetime.now(UTC).isoformat()
        params = {"at": at, "lat": lat, "lon": lon, "radius_m": 50_000, "before": "3d",
                  "after": "0s"}  # fmt: skip

        with srv.client(ndf) as client:
            first = client.get("/v1/review", params=params)
            assert first.status_code == 200, first.text[:500]
            assert len(first.content) < 3_000_000  # never tens of MB
            page = first.json()["page"]
            assert page["items"] == 1000 and page["next"] and page["total"] > 1500
            pages, sizes = _all_pages(client, {**params, "limit": 250})
        assert max(sizes) < 3_000_000
        assert len(pages) == -(-page["total"] // 250)
        assert sum(p["page"]["items"] for p in pages) == page["total"]
        merged = _merged(pages)
        lats = [str(p["lat"]) for p in merged["tracks"][VARIANT_ASSET]]
        assert len(lats) == len(set(lats)) and set(withheld) <= set(lats)  # each report once
        convoy = [(p["time"], p["lat"]) for p in merged["tracks"][CONVOY_ASSET]]
        assert len(convoy) == len(set(convoy)) >= 300

        # The same review whole, from the CLI on the same store: the pages are it, in order.
        out = tmp_path / "whole"
        ran = run_cli(
            "review", "--at", at, "--near", f"{lat},{lon}", "--radius", "50000",
            "--window", "3d", "--after", "0s", "--as-party", "ndf", "--out", str(out),
            "--data-dir", str(data_dir),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr + ran.stdout
        whole = json.loads((out / "review.json").read_text())
        assert whole["page"]["next"] is None and whole["page"]["total"] == page["total"]
        for section in _SECTIONS:  # the same items in the same order (a notification's
            # state may move on meanwhile: an escalation is due)
            assert _ids(merged[section]) == _ids(whole[section]), section
        assert merged["tracks"] == whole["map"]["tracks"]

        # Open Hands pages through the same wide review: nothing it may not see.
        with srv.client(ohr) as client:
            ohr_pages, _ = _all_pages(client, {**params, "limit": 100})
        text = json.dumps(ohr_pages)
        for word in (VARIANT_ASSET, "Bastion-2", "WMA-BASTION-2", DRONE_TEAM):
            assert word not in text
        assert [c for c in withheld if c in text] == []
        assert len(_merged(ohr_pages)["tracks"][CONVOY_ASSET]) == len(convoy)
    finally:
        srv.stop()
