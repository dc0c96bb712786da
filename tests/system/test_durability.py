"""Restarts and SIGKILL: nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.live import Server, issue, store_at
from tests.support.world import Tokens, asset, check_body, report

pytestmark = pytest.mark.integration


def test_restart_finds_every_asset_report_and_check(
    server: Server, tokens: Tokens, data_dir: Path
) -> None:
    ids = [f"a-{i:03d}" for i in range(30)]
    check_ids: list[str] = []
    with server.client(tokens.coord_a) as c:
        for aid in ids:
            assert c.post("/v1/assets", json=asset(aid, "alpha")).status_code == 201
        batch = [report(aid, 48.1 + i * 0.01, 35.1, -30) for i, aid in enumerate(ids)]
        assert c.post("/v1/reports", json=batch).json() == {"accepted": 30}
    with server.client(tokens.op_a) as c:
        for i in range(5):
            r = c.post("/v1/checks", json=check_body("a-drones", 48.1 + i * 0.01, 35.1))
            assert r.status_code == 201
            assert r.json()["verdict"] == "HOLD"
            check_ids.append(r.json()["id"])

    server.stop()
    restarted = Server(data_dir)
    restarted.port = server.port
    restarted.start()
    try:
        with restarted.client(tokens.coord_a) as c:
            listed: list[str] = []
            after = None
            while True:
                page = c.get(
                    "/v1/assets", params={"limit": 7, **({"after": after} if after else {})}
                )
                assert page.status_code == 200
                listed += [item["id"] for item in page.json()["items"]]
                after = page.json()["next"]
                if after is None:
                    break
            assert listed == ids
        with restarted.client(tokens.op_a) as c:
            for cid in check_ids:
                assert c.get(f"/v1/checks/{cid}").status_code == 200
            # The reports were reloaded into the index: every position still answers HOLD.
            for i, aid in enumerate(ids):
                r = c.post("/v1/checks", json=check_body("a-drones", 48.1 + i * 0.01, 35.1))
                assert r.json()["verdict"] == "HOLD", r.text
                assert aid in {m["id"] for m in r.json()["matches"]}
    finally:
        restarted.stop()
    with store_at(data_dir) as store:
        assert store.count_reports() == 30


def test_sigkill_during_acknowledged_writes_loses_none(data_dir: Path) -> None:
    srv = Server(data_dir).start()
    admin = issue(data_dir, "admin")
    with srv.client(admin) as c:
        assert (
            c.post(
                "/v1/parties", json={"id": "alpha", "name": "A", "kind": "military", "contact": "x"}
            ).status_code
            == 201
        )
        assert (
            c.post(
                "/v1/equipment-types",
                json={
                    "id": "t",
                    "name": "T",
                    "profile": {"mobility": "wheeled"},
                    "max_speed_kmh": 50,
                },
            ).status_code
            == 201
        )

    acknowledged: list[str] = []
    reports_acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(
            base_url=srv.url, headers={"Authorization": f"Bearer {admin}"}, timeout=5
        ) as c:
            i = 0
            while not stop.is_set():
                aid = f"k-{i:05d}"
                try:
                    r = c.post(
                        "/v1/assets",
                        json={"id": aid, "party_id": "alpha", "type_id": "t", "callsign": aid},
                    )
                    if r.status_code == 201:
                        acknowledged.append(aid)
                    r = c.post("/v1/reports", json=[report(aid, 10.0, 10.0 + i * 1e-4)])
                    if r.status_code == 200:
                        reports_acked.append(aid)
                except httpx.HTTPError:
                    return
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1.5)
    srv.kill()  # SIGKILL mid-stream
    stop.set()
    thread.join(10)
    assert len(acknowledged) > 20

    restarted = Server(data_dir).start()
    try:
        with restarted.client(admin) as c:
            for aid in acknowledged:
                assert c.get(f"/v1/assets/{aid}").status_code == 200, aid
    finally:
        restarted.stop()
    with store_at(data_dir) as store:
        assert store.count_reports() >= len(reports_acked)
        latest = {row["asset_id"] for row in store.latest_reports()}
        assert set(reports_acked) <= latest


def test_a_group_committed_check_lost_to_sigkill_was_never_answered(
    server: Server, tokens: Tokens, data_dir: Path
) -> None:
    """Concurrent checks share transactions (group commit); SIGKILL the server while they
    run. Every check answered 201 is in the store: a check lost with the server was never
    answered (its client saw no answer)."""
    with server.client(tokens.coord_a) as c:
        for i in range(4):
            assert c.post("/v1/assets", json=asset(f"g-{i}", "alpha")).status_code == 201
        batch = [report(f"g-{i}", 48.2 + i * 0.2, 35.5) for i in range(4)]
        assert c.post("/v1/reports", json=batch).status_code == 200
    answered: list[tuple[str, str]] = []  # (check id, verdict)
    stop = threading.Event()

    def client(k: int) -> None:
        # Half are bravo's checks at alpha's assets: HOLD, with the owners' notices in the
        # group's transaction; half alpha's own.
        token, unit = (tokens.op_b, "b-team") if k % 2 else (tokens.op_a, "a-drones")
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as c:
            i = 0
            while not stop.is_set():
                body = check_body(unit, 48.2 + (i % 4) * 0.2, 35.5 + k * 1e-4, cep_m=50)
                try:
                    r = c.post("/v1/checks", json=body)
                except httpx.HTTPError:
                    return
                if r.status_code == 201:
                    answered.append((r.json()["id"], r.json()["verdict"]))
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for thread in threads:
        thread.start()
    # Until the server has recorded checks in groups (a state, not a time): then kill it.
    with server.client(tokens.admin) as admin:
        for _ in range(600):
            status = admin.get("/v1/status/checks").json()
            if status["largest"] >= 2 and len(answered) >= 100:
                break
            time.sleep(0.1)
    server.kill()  # SIGKILL with checks in flight
    stop.set()
    for thread in threads:
        thread.join(30)
    assert status["largest"] >= 2, f"no group formed: {status}"
    assert any(verdict == "HOLD" for _, verdict in answered)

    with store_at(data_dir) as store:
        missing = [cid for cid, _ in answered if store.get_check(cid) is None]
        assert missing == [], f"{len(missing)} of {len(answered)} answered checks lost"
        assert len(store.events(kinds=["check"], limit=100_000)) == store.count_checks()
