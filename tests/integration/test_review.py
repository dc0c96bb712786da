"""The review and retention against the real server (``serve --demo``), on the test backend:
``GET /v1/review`` per party and format, bad input, the CLI on the same store, and a
retention purge that removes a check from the API while ``audit verify`` stays green."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deconfliction.scenarios.demo import (
    DRONE_TEAM,
    NDF_CELL,
    OHR_CELL,
    VARIANT_ASSET,
    VARIANT_ROUTE,
    build_demo,
)
from tests.integration.live import Server, issue, run_cli


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
