"""Acknowledged writes survive the process being killed (SIGKILL) at any instant.

A child process writes in a tight loop through the real store and prints a
line after each call returns (the acknowledgement). The test kills it with
SIGKILL mid-stream, reopens the store and finds every acknowledged write, each
batch whole, the state and the event log in agreement, and (SQLite) the file
intact. It runs on both backends: a SQLite file, and a PostgreSQL database the
killed client was writing to.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from deconfliction.store import DATABASE_FILE, open_store
from deconfliction.store.tokens import authenticate
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

BATCH = 50

CHILD = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path
    from deconfliction.store import open_store
    from deconfliction.store.tokens import issue_token

    store = open_store(Path(sys.argv[1]), sys.argv[2] or None, durability=sys.argv[3])
    print("ready", flush=True)
    n = 0
    while True:
        store.create("party", f"p{{n}}", None, {{"n": n}}, "child")
        print(f"party p{{n}}", flush=True)
        batch = [
            {{"asset_id": f"a{{n}}", "time": f"2025-03-01T12:00:{{i:02d}}Z",
              "lat": 48.0, "lon": 35.0, "cep_m": 10.0}}
            for i in range({BATCH})
        ]
        store.add_reports(batch, "child")
        print(f"reports a{{n}}", flush=True)
        store.add_check(f"k{{n}}", "u1", "blue", {{"n": n}}, {{"verdict": "HOLD"}}, "child")
        print(f"check k{{n}}", flush=True)
        token, _ = issue_token(store, "operator", "u1", "blue", None)
        print(f"token {{token}}", flush=True)
        n += 1
    """
)


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_acknowledged_writes_survive_sigkill(store_factory: StoreFactory, durability: str) -> None:
    data_dir, url = store_factory.data_dir, store_factory.database_url
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), url or "", durability],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    acked: list[str] = []
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        while len(acked) < 1_000:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the writer died early: {proc.stderr.read()}")
            acked.append(line)
        os.kill(proc.pid, signal.SIGKILL)
        acked.extend(proc.stdout.read().splitlines(keepends=True))  # acked before the kill
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    complete = [line.split() for line in acked if line.endswith("\n")]

    if url is None:
        with sqlite3.connect(data_dir / DATABASE_FILE) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    with open_store(data_dir, url) as store:
        parties = {o.id for o in store.iter_all("party")}
        latest = {r["asset_id"] for r in store.latest_reports()}
        for what, name in complete:
            if what == "party":
                assert name in parties
            elif what == "reports":
                assert name in latest
            elif what == "check":
                assert store.get_check(name) is not None
            else:
                assert authenticate(store, name) is not None
        # Nothing half done: every batch whole, and one event per write, no more, no less.
        assert store.count_reports() == BATCH * len(latest)
        tokens = store.list_tokens()
        writes = len(parties) + len(latest) + store.count_checks() + len(tokens)
        assert store.last_event_seq() == writes
        assert len(store.events(limit=100_000)) == writes
        assert writes >= len(complete)
