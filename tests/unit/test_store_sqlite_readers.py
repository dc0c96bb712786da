"""SQLite queries outside the calling thread's transaction read the last commit on a
connection of their own: they neither wait for another thread's open transaction nor see
its writes, and a thread inside its own transaction sees its own writes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from deconfliction.store.sqlite import SQLiteStore
from tests.unit.test_store_notifications import row


def test_a_read_does_not_wait_for_another_threads_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.migrate()
    try:
        store.add_notifications([row("n1")], "test")
        inside = threading.Event()
        release = threading.Event()
        seen_inside: list[Any] = []

        def writer() -> None:
            with store.transaction():
                store.add_notifications([row("n2")], "test")
                seen_inside.append([n["id"] for n in store.find_notifications(unit_id="u1")])
                inside.set()
                release.wait(30)

        thread = threading.Thread(target=writer)
        thread.start()
        assert inside.wait(30)
        # The writer's transaction is open: this read neither waits nor sees n2.
        assert [n["id"] for n in store.find_notifications(unit_id="u1")] == ["n1"]
        assert thread.is_alive()
        release.set()
        thread.join(30)
        assert seen_inside == [["n1", "n2"]]  # the writer saw its own write
        assert [n["id"] for n in store.find_notifications(unit_id="u1")] == ["n1", "n2"]
    finally:
        store.close()
