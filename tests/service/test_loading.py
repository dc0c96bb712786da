"""While the index loads, a check answers 503 with treat_as HOLD (never a guess)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.live import Server, issue
from tests.support.world import check_body

pytestmark = pytest.mark.integration


def test_check_during_load_is_503_treat_as_hold(data_dir: Path) -> None:
    # A store with a unit to check as (first start, then stop).
    srv = Server(data_dir).start()
    admin = issue(data_dir, "admin")
    with srv.client(admin) as c:
        assert (
            c.post(
                "/v1/parties", json={"id": "p", "name": "P", "kind": "civil", "contact": "x"}
            ).status_code
            == 201
        )
    srv.stop()

    # The test hook holds the loader back for a few seconds.
    slow = Server(data_dir, env={"DECONFLICTION_TEST_LOAD_DELAY_S": "4"})
    slow.start(wait_ready=False)
    try:
        with slow.client(admin) as c:
            r = c.post("/v1/checks", json=check_body("any-unit", 48.5, 35.5))
            assert r.status_code == 503, r.text
            error = r.json()["error"]
            assert error["treat_as"] == "HOLD"
            assert error["code"] == "index_loading"
            assert set(error) >= {"code", "message", "treat_as"}
            assert c.get("/v1/ready").status_code == 503
            # Writes wait for nothing and are not lost: the loader reads them from the store.
            r = c.post(
                "/v1/parties", json={"id": "q", "name": "Q", "kind": "civil", "contact": "y"}
            )
            assert r.status_code == 201
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with slow.client(admin) as c:
                if c.get("/v1/ready").status_code == 200:
                    break
            time.sleep(0.1)
        with slow.client(admin) as c:
            assert c.get("/v1/ready").status_code == 200
            assert c.get("/v1/parties/q").status_code == 200
    finally:
        slow.stop()
