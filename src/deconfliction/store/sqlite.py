"""The embedded store: one SQLite file, nothing to install.

The database is a single file (``deconfliction.sqlite3`` in the data
directory, created readable by its owner only) in WAL mode with foreign keys
on and a busy timeout, so that other processes on the same file (``token
issue``, ``audit verify``) wait for each other instead of failing.

Durability — what an acknowledged write survives
------------------------------------------------
A method returns only after its transaction has committed. What a commit
survives depends on ``durability``:

``"normal"`` (default; ``PRAGMA synchronous=NORMAL`` with WAL)
    A committed transaction is in the write-ahead log in the operating
    system's page cache when the call returns. It survives the process
    crashing or being killed (SIGKILL, OOM killer) at any instant. It may be
    lost — never half-applied: the database stays consistent and simply ends
    at an earlier commit — if the operating system crashes or the machine
    loses power before the log is written back (the log is fsynced at each
    checkpoint: every ~1000 pages, or with ``background_checkpoints``, as a
    server opens it, every 0.5 s from a thread of its own; ``store/checkpoint.py``).
``"full"`` (``PRAGMA synchronous=FULL``)
    The log is fsynced before each commit returns, so a committed transaction
    also survives an operating-system crash or a power loss, given storage
    that honours fsync. Each commit costs one fsync (typically 0.1-10 ms).

Concurrency
-----------
One connection, used from any thread, guarded by a re-entrant lock: every
call (reads included) holds the lock, and ``transaction()`` holds it for the
whole block, so another thread never sees a transaction half done. SQLite
serialises writers anyway. ``iter_all`` and ``latest_reports`` read from a
separate short-lived read-only connection, so a long iteration sees one
consistent snapshot of committed data and blocks nobody; they do not see the
uncommitted writes of an enclosing ``transaction()``. (Each thread reading on
a read-only connection of its own was tried and measured slower: a
10,000-unit fan-out with 1,000 streams connected answered its 201 after
2.5 s rather than 1.9 s, the streams' reads, no longer waiting for the
writer, taking the interpreter from it; docs/design/notifications.md.)
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from deconfliction.store.base import Durability
from deconfliction.store.checkpoint import Checkpointer
from deconfliction.store.errors import StoreError
from deconfliction.store.reports import (
    ON_CONFLICT_LATEST,
    REPORT_COLUMNS,
    ReportRow,
    ReportWriter,
)
from deconfliction.store.sql_store import SQLStore, check_durability, utc_now

#: The file name of the database inside a data directory.
DATABASE_FILE = "deconfliction.sqlite3"

_INSERT_REPORT = (
    f"INSERT INTO reports (event_seq, {REPORT_COLUMNS}, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_LATEST = (
    f"INSERT INTO latest_reports ({REPORT_COLUMNS}, received_at, event_seq) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {ON_CONFLICT_LATEST}"
    "WHERE excluded.time >= latest_reports.time"
)

_Row = tuple[Any, ...]


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors leave the store as ``StoreError``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite: {exc}") from exc


class SQLiteStore(SQLStore):
    """The ``Store`` on one SQLite file; see the module docstring for its guarantees."""

    _dialect = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability = "normal",
        busy_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
        background_checkpoints: bool = False,
    ) -> None:
        """``background_checkpoints``: checkpoint the log from a thread of the store's own
        rather than inside the commits of writes (a long-running server; see
        ``store/checkpoint.py``)."""
        self.durability: Durability = check_durability(durability)
        self.path = Path(path)
        self._where = str(self.path)
        self._busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._lock = threading.RLock()
        self._lock_hold = threading.local()
        self._depth = 0
        self._closed = False
        self._create_private_file()
        with _translated():
            self._conn = self._connect()
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                self._conn.close()
                raise StoreError(f"{self.path}: cannot use WAL mode (got {mode!r})")
            synchronous = "FULL" if durability == "full" else "NORMAL"
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._checkpointer: Checkpointer | None = None
            if background_checkpoints:
                self._conn.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = Checkpointer(self.path, busy_timeout_s)

    # -- lifecycle ---------------------------------------------------------
    def _create_private_file(self) -> None:
        """Create the directory (0700) and an empty database file (0600) if missing."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        os.close(fd)

    def _connect(self, *, read_only: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
            cached_statements=128,
        )
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
        conn.execute("PRAGMA foreign_keys=ON")
        if read_only:
            conn.execute("PRAGMA query_only=ON")
        return conn

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._checkpointer is not None:
                self._checkpointer.stop()
            # Refresh planner statistics if useful; if another process holds the write
            # lock, closing matters more.
            with suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            with _translated():
                self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, durability={self.durability!r})"

    # -- transactions ------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes in the block commit together or not at all.

        Holds the store's lock for the whole block. Nested blocks are
        savepoints: an exception leaving an inner block undoes only that
        block, and the outer one decides whether the rest commits.
        """
        with self._lock:
            self._check_open()
            conn = self._conn
            if self._depth == 0:
                with _translated():
                    conn.execute("BEGIN IMMEDIATE")
                locked = time.perf_counter()  # the file's write lock is ours from here
                self._depth = 1
                try:
                    try:
                        yield
                    except BaseException as exc:
                        self._depth = 0
                        with _translated():
                            if conn.in_transaction:
                                conn.execute("ROLLBACK")
                        if isinstance(exc, sqlite3.Error):
                            raise StoreError(f"SQLite: {exc}") from exc
                        raise
                    self._depth = 0
                    try:
                        conn.execute("COMMIT")
                    except sqlite3.Error as exc:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise StoreError(f"SQLite: commit failed: {exc}") from exc
                finally:
                    self._lock_hold.s = time.perf_counter() - locked
            else:
                savepoint = f"sp{self._depth}"
                with _translated():
                    conn.execute(f"SAVEPOINT {savepoint}")
                self._depth += 1
                try:
                    yield
                except BaseException as exc:
                    self._depth -= 1
                    with _translated():
                        conn.execute(f"ROLLBACK TO {savepoint}")
                        conn.execute(f"RELEASE {savepoint}")
                    if isinstance(exc, sqlite3.Error):
                        raise StoreError(f"SQLite: {exc}") from exc
                    raise
                self._depth -= 1
                with _translated():
                    conn.execute(f"RELEASE {savepoint}")

    @contextmanager
    def _read(self) -> Iterator[None]:
        with self._lock, _translated():
            self._check_open()
            yield

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement inside a transaction: the rows it changed."""
        with self._lock, _translated():
            return self._conn.execute(sql, params).rowcount

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement for many rows, inside a transaction; the rows it changed."""
        with self._lock, _translated():
            return self._conn.executemany(sql, rows).rowcount

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[_Row]:
        with self._read():
            return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def _snapshot(self, sql: str, params: Sequence[Any] = ()) -> Iterator[_Row]:
        """Rows of one query, streamed from a private read-only connection."""
        with self._lock:
            self._check_open()
        with _translated():
            conn = self._connect(read_only=True)
            try:
                cursor = conn.execute(sql, params)
                while rows := cursor.fetchmany(512):
                    yield from rows
            finally:
                conn.close()

    # -- dialect -----------------------------------------------------------
    def _run(self, statement: str) -> None:
        with self._lock, _translated():
            self._conn.execute(statement)

    def _has_table(self, name: str) -> bool:
        return bool(
            self._fetch("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        )

    def _locked(self, select: str) -> str:
        # No row locks in SQLite (no ``FOR UPDATE``): the transaction's ``BEGIN
        # IMMEDIATE`` already holds the database's write lock.
        return select

    def _report_writer(
        self, rows: Sequence[ReportRow], latest: Sequence[ReportRow]
    ) -> ReportWriter:
        def write(seq: int, now: str) -> None:
            # Generators, not lists: each parameter tuple dies as soon as it is bound, so
            # 10,000 of them are never alive at once for the collector to walk.
            self._conn.executemany(_INSERT_REPORT, ((seq, *row, now) for row in rows))
            self._conn.executemany(_UPSERT_LATEST, ((*row, now, seq) for row in latest))

        return write
