"""The production store: PostgreSQL through psycopg 3 and a connection pool.

Same schema (the shared migrations), same semantics as ``SQLiteStore``; see
``docs/design/storage.md`` for the reasoning.

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
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import IsolationLevel, errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from deconfliction.store.audit import AuditLogSQL, RetentionSQL
from deconfliction.store.backend_sql import EventEntry
from deconfliction.store.base import (
    REPORT_FIELDS,
    TOKEN_ROLES,
    Durability,
    Event,
    StoredObject,
    TokenRecord,
    check_kind,
)
from deconfliction.store.credentials import RETIRED_KINDS, CredentialSQL
from deconfliction.store.errors import AlreadyExists, NotFound, StoreError, VersionConflict
from deconfliction.store.jsontext import dumps, loads
from deconfliction.store.migrations import MIGRATIONS, SCHEMA_MIGRATIONS_DDL
from deconfliction.store.notifications import NotificationSQL
from deconfliction.store.reports import latest_rows, to_rows
from deconfliction.store.times import format_time, parse_time
from deconfliction.store.webhooks import WebhookSQL

_Row = tuple[Any, ...]
_Conn = psycopg.Connection[_Row]

#: The advisory lock every write transaction holds (``"deconfli"`` as a big-endian
#: 64-bit integer). Advisory locks are per database, so stores on different
#: databases of one server do not contend.
WRITE_LOCK_KEY = 0x6465636F6E666C69

_OBJECT_COLUMNS = "kind, id, party_id, version, data, created_at, updated_at"
_TOKEN_COLUMNS = "id, secret_hash, role, unit_id, party_id, created_at, expires_at, revoked_at"
_EVENT_COLUMNS = "seq, at, kind, action, object_id, actor, payload, hash"
_REPORT_COLUMNS = ", ".join(REPORT_FIELDS)

_LOCK = "SELECT pg_advisory_xact_lock(%s)"
_COPY_REPORTS = f"COPY reports (event_seq, {_REPORT_COLUMNS}, received_at) FROM STDIN"
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
    f"INSERT INTO latest_reports ({_REPORT_COLUMNS}, received_at, event_seq) "
    f"SELECT {_REPORT_COLUMNS}, %s, %s FROM unnest("
    "%s::text[], %s::text[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], "
    "%s::float8[], %s::float8[], %s::text[]"
    f") AS batch ({_REPORT_COLUMNS}) "
    "ON CONFLICT (asset_id, source) DO UPDATE SET "
    "time = excluded.time, lat = excluded.lat, lon = excluded.lon, cep_m = excluded.cep_m, "
    "extra_radius_m = excluded.extra_radius_m, speed_kmh = excluded.speed_kmh, "
    "course_deg = excluded.course_deg, received_at = excluded.received_at, "
    "event_seq = excluded.event_seq "
    'WHERE excluded.time COLLATE "C" >= latest_reports.time COLLATE "C"'
)
_FETCH = 1000  # rows per round trip of a server-side cursor


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _require_actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor:
        raise ValueError("actor must be a non-empty string")
    return actor


def _object(row: _Row) -> StoredObject:
    kind, obj_id, party_id, version, data, created_at, updated_at = row
    return StoredObject(
        kind=kind,
        id=obj_id,
        party_id=party_id,
        version=version,
        data=loads(data),
        created_at=parse_time(created_at),
        updated_at=parse_time(updated_at),
    )


def _token(row: _Row) -> TokenRecord:
    token_id, secret_hash, role, unit_id, party_id, created_at, expires_at, revoked_at = row
    return TokenRecord(
        token_id=token_id,
        secret_hash=secret_hash,
        role=role,
        unit_id=unit_id,
        party_id=party_id,
        created_at=parse_time(created_at),
        expires_at=None if expires_at is None else parse_time(expires_at),
        revoked_at=None if revoked_at is None else parse_time(revoked_at),
    )


def _event(row: _Row) -> Event:
    seq, at, kind, action, object_id, actor, payload, hash_ = row
    return Event(
        seq=seq,
        at=parse_time(at),
        kind=kind,
        action=action,
        object_id=object_id,
        actor=actor,
        payload=None if payload is None else loads(payload),
        hash=hash_,
    )


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


class PostgresStore(AuditLogSQL, RetentionSQL, NotificationSQL, WebhookSQL, CredentialSQL):
    """The ``Store`` on a PostgreSQL database; see the module docstring for its guarantees."""

    _snapshot_mark = "%s"  # ``_snapshot`` runs psycopg's own placeholders

    def __init__(
        self,
        url: str,
        *,
        durability: Durability = "normal",
        clock: Callable[[], datetime] = _utc_now,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout_s: float = 10.0,
        pool_timeout_s: float = 30.0,
    ) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
        self.url = libpq_url(url)
        self.durability: Durability = durability
        self._clock = clock
        self._local = _Local()
        # Writers of this process queue here before taking a connection: at most one
        # connection per store waits for (or holds) the write lock, so writers
        # blocked on it can never starve readers, or the writer itself, of the pool.
        self._write_mutex = threading.Lock()
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
    def migrate(self) -> None:
        with self.transaction():  # holds the write lock: concurrent migrations wait
            conn = self._conn()
            conn.execute(SCHEMA_MIGRATIONS_DDL)
            applied: dict[int, str] = dict(
                conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            )
            known = {m.version for m in MIGRATIONS}
            newer = sorted(v for v in applied if v not in known)
            if newer:
                raise StoreError(
                    f"{self._where}: schema version {newer[-1]} is newer than this software "
                    f"(knows up to {len(MIGRATIONS)})"
                )
            for migration in MIGRATIONS:
                checksum = migration.checksum("postgresql")
                if migration.version in applied:
                    if applied[migration.version] != checksum:
                        raise StoreError(
                            f"{self._where}: migration {migration.version} "
                            f"({migration.name}) differs from the one applied"
                        )
                    continue
                for statement in migration.render("postgresql"):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (%s, %s, %s, %s)",
                    (migration.version, migration.name, checksum, self._now()),
                )
            self._seal_unchained()  # events from before the audit chain

    def schema_version(self) -> int:
        """The highest applied migration, 0 for an empty database."""
        with self._read() as conn:
            row = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
            if row is None or row[0] is None:
                return 0
            row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0) if row else 0

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r}, durability={self.durability!r})"

    # -- transactions ------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self._where}: store is closed")

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
        with self._write_mutex, self._pinned() as conn, _translated(), conn.transaction():
            conn.execute(_LOCK, (WRITE_LOCK_KEY,))
            yield

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

    def _now(self) -> str:
        return format_time(self._clock())

    def _append_event(
        self,
        at: str,
        kind: str,
        action: str,
        object_id: str | None,
        actor: str,
        payload: str,
    ) -> int:
        # With its payload digest, chain hash and signature (``store/audit.py``).
        return self._append_chained(at, kind, action, object_id, actor, payload)

    def _append_events(self, entries: Sequence[EventEntry]) -> builtins.list[int]:
        return self._append_chained_many(entries)

    def _snapshot(self, sql: str, params: Sequence[Any] = ()) -> Iterator[_Row]:
        """Rows of one query, streamed by a server-side cursor on a connection of its own."""
        self._check_open()
        with _translated():
            conn = self._pool.getconn()
            try:
                with conn.transaction(), conn.cursor(name="deconfliction_snapshot") as cursor:
                    cursor.execute(sql, params)
                    while rows := cursor.fetchmany(_FETCH):
                        yield from rows
            finally:
                self._pool.putconn(conn)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One qmark statement of ``store/notifications.py`` inside a transaction: the new
        row's ``seq`` for an INSERT, else the rows changed."""
        text = sql.replace("?", "%s")
        insert = text.lstrip().upper().startswith("INSERT")
        if insert:
            text += " RETURNING seq"
        with _translated():
            cursor = self._conn().execute(text, params)
            if insert:
                row = cursor.fetchone()
                assert row is not None
                return int(row[0])
            return int(cursor.rowcount)

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One qmark statement for many rows, inside a transaction (pipelined)."""
        if not rows:
            return
        with _translated(), self._conn().cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[_Row]:
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), params).fetchall()]

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._read() as conn:
            row = conn.execute(sql, params).fetchone()
            assert row is not None
            return int(row[0])

    # -- registered objects ------------------------------------------------
    def create(
        self, kind: str, obj_id: str, party_id: str | None, data: dict[str, Any], actor: str
    ) -> StoredObject:
        check_kind(kind)
        _require_actor(actor)
        body = dumps(data)
        payload = dumps({"party_id": party_id, "version": 1, "data": data})
        with self.transaction():
            now = self._now()
            cursor = self._conn().execute(
                f"INSERT INTO objects ({_OBJECT_COLUMNS}) VALUES (%s, %s, %s, 1, %s, %s, %s) "
                "ON CONFLICT (kind, id) DO NOTHING",
                (kind, obj_id, party_id, body, now, now),
            )
            if cursor.rowcount != 1:
                raise AlreadyExists(kind, obj_id)
            # After the insert: a deletion of this id committing meanwhile has retired it
            # (the insert waited for it), so the check cannot miss it.
            if kind in RETIRED_KINDS and self.is_retired(kind, obj_id):
                raise AlreadyExists(kind, obj_id)
            self._append_event(now, kind, "create", obj_id, actor, payload)
        return _object((kind, obj_id, party_id, 1, body, now, now))

    def _current(self, kind: str, obj_id: str, expected_version: int | None) -> _Row:
        row = (
            self._conn()
            .execute(
                "SELECT version, created_at FROM objects WHERE kind = %s AND id = %s FOR UPDATE",
                (kind, obj_id),
            )
            .fetchone()
        )
        if row is None:
            raise NotFound(kind, obj_id)
        if expected_version is not None and row[0] != expected_version:
            raise VersionConflict(kind, obj_id, expected_version, row[0])
        return tuple(row)

    def update(
        self,
        kind: str,
        obj_id: str,
        party_id: str | None,
        data: dict[str, Any],
        actor: str,
        expected_version: int | None = None,
    ) -> StoredObject:
        check_kind(kind)
        _require_actor(actor)
        body = dumps(data)
        with self.transaction():
            version, created_at = self._current(kind, obj_id, expected_version)
            version += 1
            now = self._now()
            self._conn().execute(
                "UPDATE objects SET party_id = %s, version = %s, data = %s, updated_at = %s "
                "WHERE kind = %s AND id = %s",
                (party_id, version, body, now, kind, obj_id),
            )
            payload = dumps({"party_id": party_id, "version": version, "data": data})
            self._append_event(now, kind, "update", obj_id, actor, payload)
        return _object((kind, obj_id, party_id, version, body, created_at, now))

    def delete(
        self, kind: str, obj_id: str, actor: str, expected_version: int | None = None
    ) -> None:
        check_kind(kind)
        _require_actor(actor)
        with self.transaction():
            version, _ = self._current(kind, obj_id, expected_version)
            party = self._fetch(
                "SELECT party_id FROM objects WHERE kind = ? AND id = ?", (kind, obj_id)
            )
            self._conn().execute("DELETE FROM objects WHERE kind = %s AND id = %s", (kind, obj_id))
            payload = dumps({"version": version})
            now = self._now()
            self._append_event(now, kind, "delete", obj_id, actor, payload)
            if kind == "unit":  # its credentials die with it (store/credentials.py)
                self.retire_unit(obj_id, party[0][0] if party else None, now, actor)

    def get(self, kind: str, obj_id: str) -> StoredObject | None:
        check_kind(kind)
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE kind = %s AND id = %s",
                (kind, obj_id),
            ).fetchone()
        return None if row is None else _object(row)

    def list(
        self,
        kind: str,
        *,
        party_ids: Collection[str] | None = None,
        after_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredObject]:
        check_kind(kind)
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        # ``id`` is COLLATE "C" (see migrations): byte order, as SQLite's, served
        # by the primary key index.
        sql = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE kind = %s"
        params: builtins.list[Any] = [kind]
        if after_id is not None:
            sql += " AND id > %s"
            params.append(after_id)
        if party_ids is not None:
            wanted = sorted(set(party_ids))
            if not wanted:
                return []
            sql += " AND party_id = ANY(%s)"
            params.append(wanted)
        sql += " ORDER BY id LIMIT %s"
        params.append(limit)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_object(row) for row in rows]

    def iter_all(self, kind: str) -> Iterator[StoredObject]:
        check_kind(kind)
        sql = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE kind = %s ORDER BY id"
        for row in self._snapshot(sql, (kind,)):
            yield _object(row)

    def count(self, kind: str) -> int:
        check_kind(kind)
        return self._count("SELECT COUNT(*) FROM objects WHERE kind = %s", (kind,))

    # -- position reports --------------------------------------------------
    def add_reports(self, reports: Sequence[dict[str, Any]], actor: str) -> int:
        _require_actor(actor)
        rows = to_rows(reports)
        if not rows:
            return 0
        latest = latest_rows(rows)
        columns = [list(column) for column in zip(*latest, strict=True)]
        payload = dumps({"fields": REPORT_FIELDS, "rows": rows})
        with self.transaction():
            now = self._now()
            seq = self._append_event(now, "report", "add", None, actor, payload)
            conn = self._conn()
            with conn.cursor() as cursor:
                with cursor.copy(_COPY_REPORTS) as copy:
                    copy.set_types(_REPORT_TYPES)
                    write_row = copy.write_row
                    for row in rows:
                        write_row((seq, *row, now))
                cursor.execute(_UPSERT_LATEST, (now, seq, *columns))
        return len(rows)

    def latest_reports(self) -> Iterator[dict[str, Any]]:
        sql = f"SELECT {_REPORT_COLUMNS}, received_at FROM latest_reports ORDER BY asset_id, source"
        keys = (*REPORT_FIELDS, "received_at")
        for row in self._snapshot(sql):
            yield dict(zip(keys, row, strict=True))

    def count_reports(self) -> int:
        return self._count("SELECT COUNT(*) FROM reports")

    # -- checks ------------------------------------------------------------
    def add_check(
        self,
        check_id: str,
        unit_id: str,
        party_id: str | None,
        request: dict[str, Any],
        result: dict[str, Any],
        actor: str,
    ) -> None:
        _require_actor(actor)
        request_text = dumps(request)
        result_text = dumps(result)
        payload = dumps(
            {"unit_id": unit_id, "party_id": party_id, "request": request, "result": result}
        )
        with self.transaction():
            now = self._now()
            seq = self._append_event(now, "check", "create", check_id, actor, payload)
            cursor = self._conn().execute(
                "INSERT INTO checks (id, unit_id, party_id, request, result, created_at, "
                "event_seq) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (check_id, unit_id, party_id, request_text, result_text, now, seq),
            )
            if cursor.rowcount != 1:
                raise AlreadyExists("check", check_id)

    def get_check(self, check_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT id, unit_id, party_id, request, result, created_at FROM checks "
                "WHERE id = %s",
                (check_id,),
            ).fetchone()
        if row is None:
            return None
        return {
            "id": row[0],
            "unit_id": row[1],
            "party_id": row[2],
            "request": loads(row[3]),
            "result": loads(row[4]),
            "created_at": row[5],
        }

    def count_checks(self) -> int:
        return self._count("SELECT COUNT(*) FROM checks")

    # -- event log ---------------------------------------------------------
    def events(
        self,
        after_seq: int = 0,
        limit: int = 1000,
        *,
        kinds: Collection[str] | None = None,
    ) -> builtins.list[Event]:
        """Events with ``seq > after_seq``, oldest first, at most ``limit``;
        ``kinds`` keeps only events of those kinds (``None``: every event)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > %s"
        params: builtins.list[Any] = [after_seq]
        if kinds is not None:
            sql += " AND kind = ANY(%s)"
            params.append(sorted(set(kinds)))
        sql += " ORDER BY seq LIMIT %s"
        params.append(limit)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_event(row) for row in rows]

    def last_event_seq(self) -> int:
        return self._count("SELECT COALESCE(MAX(seq), 0) FROM events")

    # -- tokens ------------------------------------------------------------
    def add_token(
        self,
        token_id: str,
        secret_hash: str,
        role: str,
        unit_id: str | None,
        party_id: str | None,
        expires_at: datetime | None,
        actor: str,
    ) -> TokenRecord:
        _require_actor(actor)
        if role not in TOKEN_ROLES:
            raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}, got {role!r}")
        if role != "admin" and not unit_id:
            raise ValueError(f"a {role} token needs a unit")
        expires = None if expires_at is None else format_time(expires_at)
        payload = dumps(
            {"role": role, "unit_id": unit_id, "party_id": party_id, "expires_at": expires}
        )
        with self.transaction():
            now = self._now()
            cursor = self._conn().execute(
                f"INSERT INTO tokens ({_TOKEN_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL) ON CONFLICT DO NOTHING",
                (token_id, secret_hash, role, unit_id, party_id, now, expires),
            )
            if cursor.rowcount != 1:
                raise AlreadyExists("token", token_id)
            self._append_event(now, "token", "issue", token_id, actor, payload)
        return _token((token_id, secret_hash, role, unit_id, party_id, now, expires, None))

    def _one_token(self, where: str, value: str) -> TokenRecord | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE {where} = %s",
                (value,),
            ).fetchone()
        return None if row is None else _token(row)

    def get_token(self, token_id: str) -> TokenRecord | None:
        return self._one_token("id", token_id)

    def find_token(self, secret_hash: str) -> TokenRecord | None:
        return self._one_token("secret_hash", secret_hash)

    def revoke_token(self, token_id: str, actor: str) -> TokenRecord:
        _require_actor(actor)
        with self.transaction():
            record = self.get_token(token_id)
            if record is None:
                raise NotFound("token", token_id)
            if record.revoked_at is not None:
                return record
            now = self._now()
            self._conn().execute("UPDATE tokens SET revoked_at = %s WHERE id = %s", (now, token_id))
            self._append_event(now, "token", "revoke", token_id, actor, dumps({"revoked_at": now}))
            self.drop_webhooks_of_token(token_id, now, actor)
        return replace(record, revoked_at=parse_time(now))

    def list_tokens(self) -> builtins.list[TokenRecord]:
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY id").fetchall()
        return [_token(row) for row in rows]
