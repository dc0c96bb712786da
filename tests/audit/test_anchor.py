"""The audit log's end is anchored (issue 15, finding 12; docs/design/security.md).

Over the real server and CLI (subprocesses), on the test backend: entries written through
the server (signed checkpoints among them), then the store altered directly with SQL as
someone with access to the database would: its last entries deleted (signed ones among
them), or one payload changed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live import Server, issue, raw_sql, run_cli
from tests.support.world import check_body, seed

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


def rows(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    with raw_sql(data_dir) as conn:
        return list(conn.execute(sql).fetchall())


def write_events(data_dir: Path, checks: int = 230) -> None:
    """A server that seeds the world and records ``checks`` checks (one entry each;
    entries are signed every 100), then stops (and anchors what it signed)."""
    server = Server(data_dir).start()
    try:
        admin = issue(data_dir, "admin")
        with server.client() as client:
            seed(client, admin)
        op = issue(data_dir, "operator", "a-drones")
        with server.client(op) as client:
            for n in range(checks):
                r = client.post("/v1/checks", json=check_body("a-drones", 35.5, 48.0 + n / 1e4))
                assert r.status_code == 201, r.text
    finally:
        server.stop()


def signed_seqs(data_dir: Path) -> list[int]:
    found = rows(data_dir, "SELECT seq FROM events WHERE signature IS NOT NULL ORDER BY seq")
    return [int(seq) for (seq,) in found]


def audit_verify(data_dir: Path, *extra: str) -> Any:
    return run_cli("audit", "verify", *extra, "--data-dir", str(data_dir))


def ready_audit(server: Server) -> dict[str, Any]:
    """``/v1/ready`` once the start-up check of the audit log is done."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        body = httpx.get(server.url + "/v1/ready", timeout=5.0).json()
        if body.get("audit") != "checking":
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"the audit check did not finish:\n{server.log()}")


def check_answers(server: Server, data_dir: Path) -> int:
    op = issue(data_dir, "operator", "a-drones")
    with server.client(op) as client:
        return client.post("/v1/checks", json=check_body("a-drones", 35.5, 48.5)).status_code


def test_a_cut_end_is_named_by_verify_and_by_a_server_started_on_it(data_dir: Path) -> None:
    write_events(data_dir)
    signed = signed_seqs(data_dir)
    assert len(signed) >= 3, signed
    anchor_files = list(data_dir.glob("audit_anchor-*.json"))
    assert len(anchor_files) == 1
    assert anchor_files[0].stat().st_mode & 0o777 == 0o600

    intact = audit_verify(data_dir, "--json")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    report = json.loads(intact.stdout)
    assert report["ok"] and report["anchors"]["newest_seq"] == signed[-1]

    # Delete the end of the log: every entry after the third-newest signed one, the two
    # newest signed entries among them.
    keep = signed[-3]
    (last,) = rows(data_dir, "SELECT MAX(seq) FROM events")[0]
    with raw_sql(data_dir) as conn:
        conn.execute(f"DELETE FROM events WHERE seq > {keep}")
    assert last - keep >= 2

    cut = audit_verify(data_dir)
    assert cut.returncode == 1, cut.stdout + cut.stderr
    assert f"cut after seq {keep}" in cut.stderr, cut.stderr
    as_json = json.loads(audit_verify(data_dir, "--json").stdout)
    assert as_json["problem"]["code"] == "cut" and as_json["problem"]["seq"] == keep + 1

    server = Server(data_dir).start()
    try:
        body = ready_audit(server)
        assert body["ready"] is True
        assert body["audit"] == f"cut after seq {keep}", body
        assert body["audit_problem"]["code"] == "cut"
        assert check_answers(server, data_dir) == 201
    finally:
        server.stop()
    assert f"ERROR deconfliction.audit: audit log cut after seq {keep}" in server.log()


def test_an_altered_payload_is_reported_by_a_server_started_on_it(data_dir: Path) -> None:
    write_events(data_dir, checks=120)
    (target,) = rows(data_dir, "SELECT MAX(seq) FROM events WHERE kind = 'check'")[0]
    with raw_sql(data_dir) as conn:
        conn.execute(
            "UPDATE events SET payload = REPLACE(payload, '\"a-drones\"', '\"b-drone\"') "
            f"WHERE seq = {target - 50}"
        )
    server = Server(data_dir).start()
    try:
        body = ready_audit(server)
        assert body["ready"] is True
        assert body["audit"] == f"broken at seq {target - 50}", body
        assert body["audit_problem"]["code"] == "payload_digest"
        assert check_answers(server, data_dir) == 201  # never refused for it
    finally:
        server.stop()
    assert f"ERROR deconfliction.audit: audit log broken at seq {target - 50}" in server.log()
    broken = audit_verify(data_dir)
    assert broken.returncode == 1 and f"broken at seq {target - 50}" in broken.stderr


def test_an_intact_store_is_intact_and_a_restart_checks_only_what_is_new(data_dir: Path) -> None:
    write_events(data_dir, checks=120)
    for _ in range(2):
        server = Server(data_dir).start()
        try:
            body = ready_audit(server)
            assert body["audit"] == "intact" and body["audit_problem"] is None, body
        finally:
            server.stop()
    ok = audit_verify(data_dir)
    assert ok.returncode == 0 and "audit log intact" in ok.stdout
    assert "end anchored" in ok.stdout and "end not anchored" not in ok.stdout
    # The first of these starts checked the log from seq 1 and kept the position of the
    # newest signed entry it verified; the second went on from there.
    (line,) = [line for line in server.log().splitlines() if "audit log intact" in line]
    found = re.search(r"intact: (\d+) entries after seq (\d+) ", line)
    assert found is not None and int(found[2]) > 0, line


def test_a_store_without_an_anchor_says_its_end_is_not_anchored(data_dir: Path) -> None:
    write_events(data_dir, checks=20)
    for path in data_dir.glob("audit_anchor-*"):
        path.unlink()
    result = audit_verify(data_dir)
    assert result.returncode == 0, result.stderr
    assert "audit log intact" in result.stdout
    assert "end not anchored" in result.stdout
    strict = audit_verify(data_dir, "--require-anchor")
    assert strict.returncode == 1 and "end not anchored" in strict.stderr
