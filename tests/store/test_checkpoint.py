"""SQLite's log is copied into the database file by the store's own thread, not by the
commits of writes, when the store is opened for a long-running server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deconfliction.store.sqlite import SQLiteStore

pytestmark = pytest.mark.unit


def _write_pages(store: SQLiteStore, n: int) -> None:
    with store.transaction():
        for i in range(n):
            store.create("party", f"p{i}", f"p{i}", {"id": f"p{i}", "pad": "x" * 3000}, "t")


def test_background_checkpoints_copy_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SQLiteStore(path, background_checkpoints=True)
    try:
        store.migrate()
        # Automatic checkpoints are off on the writing connection ...
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        before = path.stat().st_size
        _write_pages(store, 2000)  # ~6,000 pages: far past SQLite's automatic threshold
        # ... and the store's thread copies the log into the file within a few rounds.
        deadline = time.monotonic() + 30
        while path.stat().st_size <= before + 4_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size > before + 4_000_000
        assert store.get("party", "p1999") is not None
    finally:
        store.close()
    reopened = SQLiteStore(path)
    try:
        assert reopened.get("party", "p0") is not None
    finally:
        reopened.close()


def test_without_them_sqlite_checkpoints_as_usual(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    try:
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        store.close()
