"""Write-ahead-log checkpoints of a SQLite file, off the write path.

By default SQLite checkpoints inside the ``COMMIT`` that takes the log past 1,000 pages:
that commit copies the log into the database file and fsyncs it, and the write that
happened to trigger it (a report batch, a chunk of a fan-out) waits for all of it — it
was about three quarters of the commit time of a 10,000-unit fan-out. A long-running
server instead turns automatic checkpoints off on its connection and runs them from a
thread of its own with its own connection, every :data:`INTERVAL_S`. A ``PASSIVE``
checkpoint waits for nobody and blocks nobody: it copies what no reader still needs.

Durability is unchanged: a committed transaction is in the log either way (see the
``store/sqlite.py`` docstring); only who pays for copying it into the database, and when,
changes. Short-lived processes (the CLI) keep SQLite's automatic checkpoints.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import suppress
from pathlib import Path

#: How often the background checkpoint runs (a checkpoint with nothing to copy is cheap).
INTERVAL_S = 0.5


class Checkpointer:
    """A daemon thread that checkpoints one SQLite file's log until :meth:`stop`."""

    def __init__(self, path: Path, busy_timeout_s: float, interval_s: float = INTERVAL_S):
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(
            self._path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            while not self._stop.wait(self._interval_s):
                # Busy (another process checkpointing) or locked: the next round will do.
                with suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
