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
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

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
from deconfliction.store.checkpoint import Checkpointer
from deconfliction.store.credentials import RETIRED_KINDS, CredentialSQL
from deconfliction.store.errors import AlreadyExists, NotFound, StoreError, VersionConflict
from deconfliction.store.jsontext import dumps, loads
from deconfliction.store.migrations import MIGRATIONS, SCHEMA_MIGRATIONS_DDL
from deconfliction.store.notifications import NotificationSQL
from deconfliction.store.reports import latest_rows, to_rows
from deconfliction.store.times import format_time, parse_time
from deconfliction.store.webhooks import WebhookSQL

#: The file name of the database inside a data directory.
DATABASE_FILE = "deconfliction.sqlite3"

_OBJECT_COLUMNS = "kind, id, party_id, version, data, created_at, updated_at"
_TOKEN_COLUMNS = "id, secret_hash, role, unit_id, party_id, created_at, expires_at, revoked_at"
_REPORT_COLUMNS = ", ".join(REPORT_FIELDS)

_INSERT_REPORT = (
    f"INSERT INTO reports (event_seq, {_REPORT_COLUMNS}, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_LATEST = (
    f"INSERT INTO latest_reports ({_REPORT_COLUMNS}, received_at, event_seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (asset_id, source) DO UPDATE SET "
    "time = excluded.time, lat = excluded.lat, lon = excluded.lon, cep_m = excluded.cep_m, "
    "extra_radius_m = excluded.extra_radius_m, speed_kmh = excluded.speed_kmh, "
    "course_deg = excluded.course_deg, received_at = excluded.received_at, "
    "event_seq = excluded.event_seq "
    "WHERE excluded.time >= latest_reports.time"
)

_Row = tuple[Any, ...]


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


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors leave the store as ``StoreError``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite: {exc}") from exc


class SQLiteStore(AuditLogSQL, RetentionSQL, NotificationSQL, WebhookSQL, CredentialSQL):
    """The ``Store`` on one SQLite file; see the module docstring for its guarantees."""

    def __init__(
        self,
        path: Path,
        *,
        durability: Durability = "normal",
        busy_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = _utc_now,
        background_checkpoints: bool = False,
    ) -> None:
        """``background_checkpoints``: checkpoint the log from a thread of the store's own
        rather than inside the commits of writes (a long-running server; see
        ``store/checkpoint.py``)."""
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
        self.path = Path(path)
        self.durability: Durability = durability
        self._busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._lock = threading.RLock()
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

    def migrate(self) -> None:
        with self.transaction():
            conn = self._conn
            conn.execute(SCHEMA_MIGRATIONS_DDL)
            applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations"))
            known = {m.version for m in MIGRATIONS}
            newer = sorted(v for v in applied if v not in known)
            if newer:
                raise StoreError(
                    f"{self.path}: schema version {newer[-1]} is newer than this software "
                    f"(knows up to {len(MIGRATIONS)})"
                )
            for migration in MIGRATIONS:
                checksum = migration.checksum("sqlite")
                if migration.version in applied:
                    if applied[migration.version] != checksum:
                        raise StoreError(
                            f"{self.path}: migration {migration.version} "
                            f"({migration.name}) differs from the one applied"
                        )
                    continue
                for statement in migration.render("sqlite"):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, checksum, self._now()),
                )
            self._seal_unchained()  # events from before the audit chain

    def schema_version(self) -> int:
        """The highest applied migration, 0 for an empty database."""
        with self._read():
            exists = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchone()
            if exists is None:
                return 0
            row = self._conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0)

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

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, durability={self.durability!r})"

    # -- transactions ------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: store is closed")

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
                self._depth = 1
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

    def _now(self) -> str:
        return format_time(self._clock())

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement inside a transaction: the new rowid (INSERT) or the rows changed."""
        with self._lock, _translated():
            cursor = self._conn.execute(sql, params)
            if sql.lstrip().upper().startswith("INSERT"):
                rowid = cursor.lastrowid
                assert rowid is not None
                return rowid
            return cursor.rowcount

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many rows, inside a transaction."""
        with self._lock, _translated():
            self._conn.executemany(sql, rows)

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[_Row]:
        with self._read():
            return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

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
            cursor = self._conn.execute(
                f"INSERT INTO objects ({_OBJECT_COLUMNS}) VALUES (?, ?, ?, 1, ?, ?, ?) "
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
        row = self._conn.execute(
            "SELECT version, created_at FROM objects WHERE kind = ? AND id = ?", (kind, obj_id)
        ).fetchone()
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
            self._conn.execute(
                "UPDATE objects SET party_id = ?, version = ?, data = ?, updated_at = ? "
                "WHERE kind = ? AND id = ?",
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
            self._conn.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, obj_id))
            payload = dumps({"version": version})
            now = self._now()
            self._append_event(now, kind, "delete", obj_id, actor, payload)
            if kind == "unit":  # its credentials die with it (store/credentials.py)
                self.retire_unit(obj_id, party[0][0] if party else None, now, actor)

    def get(self, kind: str, obj_id: str) -> StoredObject | None:
        check_kind(kind)
        with self._read():
            row = self._conn.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE kind = ? AND id = ?",
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
        sql = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE kind = ?"
        params: builtins.list[Any] = [kind]
        if after_id is not None:
            sql += " AND id > ?"
            params.append(after_id)
        if party_ids is not None:
            wanted = sorted(set(party_ids))
            if not wanted:
                return []
            sql += f" AND party_id IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        with self._read():
            rows = self._conn.execute(sql, params).fetchall()
        return [_object(row) for row in rows]

    def iter_all(self, kind: str) -> Iterator[StoredObject]:
        check_kind(kind)
        sql = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE kind = ? ORDER BY id"
        for row in self._snapshot(sql, (kind,)):
            yield _object(row)

    def count(self, kind: str) -> int:
        check_kind(kind)
        return self._count("SELECT COUNT(*) FROM objects WHERE kind = ?", (kind,))

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._read():
            return int(self._conn.execute(sql, params).fetchone()[0])

    # -- position reports --------------------------------------------------
    def add_reports(self, reports: Sequence[dict[str, Any]], actor: str) -> int:
        _require_actor(actor)
        rows = to_rows(reports)
        if not rows:
            return 0
        latest = latest_rows(rows)
        payload = dumps({"fields": REPORT_FIELDS, "rows": rows})
        with self.transaction():
            now = self._now()
            seq = self._append_event(now, "report", "add", None, actor, payload)
            # Generators, not lists: each parameter tuple dies as soon as it is bound, so
            # 10,000 of them are never alive at once for the collector to walk.
            self._conn.executemany(_INSERT_REPORT, ((seq, *row, now) for row in rows))
            self._conn.executemany(_UPSERT_LATEST, ((*row, now, seq) for row in latest))
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
            cursor = self._conn.execute(
                "INSERT INTO checks (id, unit_id, party_id, request, result, created_at, "
                "event_seq) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (check_id, unit_id, party_id, request_text, result_text, now, seq),
            )
            if cursor.rowcount != 1:
                raise AlreadyExists("check", check_id)

    def get_check(self, check_id: str) -> dict[str, Any] | None:
        with self._read():
            row = self._conn.execute(
                "SELECT id, unit_id, party_id, request, result, created_at FROM checks "
                "WHERE id = ?",
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
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        sql = "SELECT seq, at, kind, action, object_id, actor, payload, hash FROM events "
        sql += "WHERE seq > ?"
        params: builtins.list[Any] = [after_seq]
        if kinds is not None:
            wanted = sorted(set(kinds))
            sql += f" AND kind IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._read():
            rows = self._conn.execute(sql, params).fetchall()
        return [
            Event(
                seq=seq,
                at=parse_time(at),
                kind=kind,
                action=action,
                object_id=object_id,
                actor=actor,
                payload=None if payload is None else loads(payload),
                hash=hash_,
            )
            for seq, at, kind, action, object_id, actor, payload, hash_ in rows
        ]

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
            cursor = self._conn.execute(
                f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT DO NOTHING",
                (token_id, secret_hash, role, unit_id, party_id, now, expires),
            )
            if cursor.rowcount != 1:
                raise AlreadyExists("token", token_id)
            self._append_event(now, "token", "issue", token_id, actor, payload)
        return _token((token_id, secret_hash, role, unit_id, party_id, now, expires, None))

    def _one_token(self, where: str, value: str) -> TokenRecord | None:
        with self._read():
            row = self._conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE {where} = ?", (value,)
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
            self._conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
            self._append_event(now, "token", "revoke", token_id, actor, dumps({"revoked_at": now}))
            self.drop_webhooks_of_token(token_id, now, actor)
        return replace(record, revoked_at=parse_time(now))

    def list_tokens(self) -> builtins.list[TokenRecord]:
        with self._read():
            rows = self._conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY id").fetchall()
        return [_token(row) for row in rows]
