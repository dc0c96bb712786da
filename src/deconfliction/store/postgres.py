"""The production store: PostgreSQL through psycopg 3 and a connection pool.

Same schema (the shared migrations), same SQL (``store/sql_store.py``: qmark ``?``
statements, rewritten here to psycopg's ``%s``), same semantics as ``SQLiteStore``; see
``docs/design/storage.md`` for the reasoning. This module holds what is PostgreSQL's own:
the pool and transactions, the write lock, server-side cursors, and the report batch by
binary ``COPY``.

Connections and transactions
----------------------------
A ``psycopg_pool.ConnectionPool`` (1..8 connections by default), autocommit
off, ``READ COMMITTED``. Every store call is one transaction on a connection
taken from the pool for the duration of the call. ``transaction()`` pins one
connection to the calling thread for the whole block: store calls made inside
it on that thread use that connection, and nested blocks (and nested store
writes) are savepoints, as in SQLite. Other threads use other connections and
see the block's writes only once it commits.

Writers and the event log
-------------------------
Every write transaction takes one transaction-level advisory lock first
(``pg_advisory_xact_lock``), and holds it until it commits or rolls back: the
equivalent of SQLite's ``BEGIN IMMEDIATE``. Within one process, writers first
queue on a mutex, so only one pool connection per store is ever tied up in
the lock. Event ``seq`` is then assigned as
``MAX(seq) + 1`` under that lock, so the log is gap-free (a rolled-back
append leaves no hole, unlike a sequence) and in commit order: a reader
tailing ``events(after_seq)`` can never see ``seq`` n+1 before n. Because the
lock is taken before the transaction reads anything, a writer also sees every
write committed before it (the service's "catch up, then write").

Durability
----------
A call returns after ``COMMIT``. With the server's default
``synchronous_commit = on`` the commit is flushed to the server's WAL on disk
first, so an acknowledged write survives the client or the server being
killed, an operating-system crash and a power loss. ``durability="full"``
forces ``synchronous_commit = on`` for the store's sessions whatever the
server's default; ``"normal"`` keeps the server's setting (the DBA's call).

Reads
-----
``iter_all`` and ``latest_reports`` stream through a server-side cursor on a
connection of their own, held until the iterator is exhausted or closed: one
consistent snapshot of committed data, blocking nobody. Like SQLite's, they do
not see the uncommitted writes of an enclosing ``transaction()``.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import IsolationLevel, errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from deconfliction.store.base import Durability
from deconfliction.store.errors import StoreError
from deconfliction.store.reports import (
    ON_CONFLICT_LATEST,
    REPORT_COLUMNS,
    ReportRow,
    ReportWriter,
)
from deconfliction.store.sql_store import SQLStore, check_durability, utc_now

_Row = tuple[Any, ...]
_Conn = psycopg.Connection[_Row]

#: The advisory lock every write transaction holds (``"deconfli"`` as a big-endian
#: 64-bit integer). Advisory locks are per database, so stores on different
#: databases of one server do not contend.
WRITE_LOCK_KEY = 0x6465636F6E666C69

_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_COPY_REPORTS = f"COPY reports (event_seq, {REPORT_COLUMNS}, received_at) FROM STDIN"
_REPORT_TYPES = [
    "int8",
    "text",
    "text",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "text",
    "text",
]
# One statement for the whole batch: its latest row per key (``latest_rows``
# keeps one per key, as ON CONFLICT DO UPDATE requires), as parallel arrays.
_UPSERT_LATEST = (
    f"INSERT INTO latest_reports ({REPORT_COLUMNS}, received_at, event_seq) "
    f"SELECT {REPORT_COLUMNS}, %s, %s FROM unnest("
    "%s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], "
    "%s::float8[], %s::float8[], %s::text[]"
    f") AS batch ({REPORT_COLUMNS}) {ON_CONFLICT_LATEST}"
    'WHERE excluded.time COLLATE "C" >= latest_reports.time COLLATE "C"'
)
_FETCH = 1000  # rows per round trip of a server-side cursor


def _psycopg_sql(sql: str) -> str:
    """Shared qmark SQL with psycopg's ``%s`` placeholders (shared SQL holds no ``%``)."""
    return sql.replace("?", "%s")


def _message(exc: psycopg.Error) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, errors.CheckViolation):
        # The same words as SQLite's, so callers and tests match one phrase.
        return f"CHECK constraint failed: {exc.diag.constraint_name}: {text}"
    return text


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors leave the store as ``StoreError``."""
    try:
        yield
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL: {_message(exc)}") from exc


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and ``repr``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def libpq_url(url: str) -> str:
    """A URL libpq accepts: ``postgres://`` and ``postgresql+driver://`` become ``postgresql://``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "postgres" or scheme.startswith("postgresql+"):
        return urlunsplit(parts._replace(scheme="postgresql"))
    return url


class _Local(threading.local):
    """The calling thread's pinned connection, while it is inside a transaction."""

    conn: _Conn | None = None


class PostgresStore(SQLStore):
    """The ``Store`` on a PostgreSQL database; see the module docstring for its guarantees."""

    _dialect = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        durability: Durability = "normal",
        clock: Callable[[], datetime] = utc_now,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout_s: float = 10.0,
        pool_timeout_s: float = 30.0,
    ) -> None:
        self.durability: Durability = check_durability(durability)
        self.url = libpq_url(url)
        self._clock = clock
        self._local = _Local()
        # Writers of this process queue here before taking a connection: at most one
        # connection per store waits for (or holds) the write lock, so writers
        # blocked on it can never starve readers, or the writer itself, of the pool.
        self._write_mutex = threading.Lock()
        self._lock_hold = threading.local()
        self._closed = False
        self._where = redact_url(self.url)
        try:
            conninfo_to_dict(self.url)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"bad PostgreSQL URL {self._where!r}: {exc}") from exc
        kwargs: dict[str, Any] = {"autocommit": False, "connect_timeout": int(connect_timeout_s)}
        if "application_name" not in conninfo_to_dict(self.url):
            kwargs["application_name"] = "deconfliction"
        # Connect once outside the pool: a wrong host, user or database fails at
        # once with the server's reason, instead of as a pool timeout.
        try:
            psycopg.connect(self.url, **kwargs).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self._where}: {exc}") from exc
        self._pool: ConnectionPool[_Conn] = ConnectionPool(
            self.url,
            kwargs=kwargs,
            min_size=min_size,
            max_size=max_size,
            timeout=pool_timeout_s,
            configure=self._configure,
            name="deconfliction",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except psycopg.Error as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to PostgreSQL at {self._where}: {exc}") from exc

    def _configure(self, conn: _Conn) -> None:
        # READ COMMITTED is required, not a preference: every statement after the
        # write lock must see what the previous lock holder committed.
        conn.isolation_level = IsolationLevel.READ_COMMITTED
        if self.durability == "full":
            conn.execute("SET synchronous_commit = on")
            conn.commit()

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r}, durability={self.durability!r})"

    # -- transactions ------------------------------------------------------
    def _conn(self) -> _Conn:
        conn = self._local.conn
        assert conn is not None, "only inside a transaction"
        return conn

    @contextmanager
    def _pinned(self) -> Iterator[_Conn]:
        """A pool connection pinned to this thread for the block."""
        self._check_open()
        with _translated():
            conn = self._pool.getconn()
        self._local.conn = conn
        try:
            yield conn
        finally:
            self._local.conn = None
            self._pool.putconn(conn)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes in the block commit together or not at all.

        The outermost block takes the write lock at once (as SQLite's
        ``BEGIN IMMEDIATE``) and holds it until it ends. Nested blocks are
        savepoints: an exception leaving an inner block undoes only that
        block, and the outer one decides whether the rest commits.
        """
        conn = self._local.conn
        if conn is not None:
            self._check_open()
            with _translated(), conn.transaction():
                yield
            return
        with self._write_mutex, self._pinned() as conn:
            locked: float | None = None
            try:
                with _translated(), conn.transaction():
                    conn.execute(_LOCK, (WRITE_LOCK_KEY,))
                    locked = time.perf_counter()  # held until the commit (or rollback) ends
                    yield
            finally:
                if locked is not None:
                    self._lock_hold.s = time.perf_counter() - locked

    @contextmanager
    def _read(self) -> Iterator[_Conn]:
        """The thread's transaction connection, or a short read-only transaction."""
        conn = self._local.conn
        if conn is not None:
            self._check_open()
            with _translated():
                yield conn
            return
        with self._pinned() as conn, _translated(), conn.transaction():
            yield conn

    def _snapshot(self, sql: str, params: Sequence[Any] = ()) -> Iterator[_Row]:
        """Rows of one query, streamed by a server-side cursor on a connection of its own."""
        self._check_open()
        with _translated():
            conn = self._pool.getconn()
            try:
                with conn.transaction(), conn.cursor(name="deconfliction_snapshot") as cursor:
                    cursor.execute(_psycopg_sql(sql), params)
                    while rows := cursor.fetchmany(_FETCH):
                        yield from rows
            finally:
                self._pool.putconn(conn)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement inside a transaction: the rows it changed."""
        with _translated():
            return int(self._conn().execute(_psycopg_sql(sql), params).rowcount)

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement for many rows, inside a transaction (pipelined); the rows it
        changed."""
        if not rows:
            return 0
        with _translated(), self._conn().cursor() as cursor:
            cursor.executemany(_psycopg_sql(sql), rows)
            return int(cursor.rowcount)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[_Row]:
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(_psycopg_sql(sql), params).fetchall()]

    # -- dialect -----------------------------------------------------------
    def _run(self, statement: str) -> None:
        with _translated():
            self._conn().execute(statement)

    def _has_table(self, name: str) -> bool:
        return self._fetch("SELECT to_regclass(?)", (name,))[0][0] is not None

    def _locked(self, select: str) -> str:
        # Every store writer holds the write lock already; the row lock also holds off a
        # session outside the store (a DBA's) between the read and the write.
        return f"{select} FOR UPDATE"

    def _report_writer(
        self, rows: Sequence[ReportRow], latest: Sequence[ReportRow]
    ) -> ReportWriter:
        # The latest rows as nine column arrays for ``unnest``, made before the write lock.
        columns = [list(column) for column in zip(*latest, strict=True)]

        def write(seq: int, now: str) -> None:
            # Binary COPY: faster than text COPY and than INSERT ... unnest
            # (docs/design/storage.md, "Position reports").
            with self._conn().cursor() as cursor:
                with cursor.copy(_COPY_REPORTS) as copy:
                    copy.set_types(_REPORT_TYPES)
                    write_row = copy.write_row
                    for row in rows:
                        write_row((seq, *row, now))
                cursor.execute(_UPSERT_LATEST, (now, seq, *columns))

        return write
