"""The ``Store`` both backends share: every entity's SQL put together, and the schema.

``SQLStore`` is the mixins of the shared SQL (objects, tokens, reports, checks, the event
log, the audit chain and retention, notifications and their outbox, webhooks, TAK cursors) on one
base, plus what is the same around them: bringing the schema up to date with the shared
migrations, the time a write records, a closed store refusing calls. ``SQLiteStore`` and
``PostgresStore`` add only their connections, transactions, locking and the real
dialect differences (the ``BackendSQL`` primitives; ``docs/design/storage.md`` has the
table of what differs and why).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import ClassVar, Self

from deconfliction.store.audit import AuditLogSQL, RetentionSQL
from deconfliction.store.base import Durability
from deconfliction.store.checks import CheckSQL
from deconfliction.store.errors import StoreError
from deconfliction.store.events import EventSQL
from deconfliction.store.migrations import MIGRATIONS, SCHEMA_MIGRATIONS_DDL, Dialect
from deconfliction.store.notifications import NotificationSQL
from deconfliction.store.objects import ObjectSQL
from deconfliction.store.reports import ReportSQL
from deconfliction.store.tak_cursors import TakCursorSQL
from deconfliction.store.times import format_time
from deconfliction.store.token_records import TokenSQL
from deconfliction.store.webhooks import WebhookSQL


def utc_now() -> datetime:
    """The default clock of a store."""
    return datetime.now(UTC)


def check_durability(durability: Durability) -> Durability:
    if durability not in ("normal", "full"):
        raise ValueError(f"durability must be 'normal' or 'full', got {durability!r}")
    return durability


class SQLStore(
    AuditLogSQL,
    RetentionSQL,
    ObjectSQL,
    TokenSQL,
    ReportSQL,
    CheckSQL,
    EventSQL,
    NotificationSQL,
    WebhookSQL,
    TakCursorSQL,
):
    """The shared part of a SQL ``Store``; a backend sets these attributes and implements
    the ``BackendSQL`` primitives and ``close``."""

    #: Which spelling of the shared migrations this backend runs (``Migration.render``).
    _dialect: ClassVar[Dialect]
    #: Where the database is, for messages (never a password).
    _where: str
    _clock: Callable[[], datetime]
    _closed: bool
    #: ``s``: how long this thread's last write transaction held the write lock.
    _lock_hold: threading.local

    # -- schema ------------------------------------------------------------
    def migrate(self) -> None:
        with self.transaction():  # holds the write lock: concurrent migrations wait
            self._run(SCHEMA_MIGRATIONS_DDL)
            applied = dict(self._fetch("SELECT version, checksum FROM schema_migrations"))
            known = {m.version for m in MIGRATIONS}
            newer = sorted(v for v in applied if v not in known)
            if newer:
                raise StoreError(
                    f"{self._where}: schema version {newer[-1]} is newer than this software "
                    f"(knows up to {len(MIGRATIONS)})"
                )
            for migration in MIGRATIONS:
                checksum = migration.checksum(self._dialect)
                if migration.version in applied:
                    if applied[migration.version] != checksum:
                        raise StoreError(
                            f"{self._where}: migration {migration.version} "
                            f"({migration.name}) differs from the one applied"
                        )
                    continue
                for statement in migration.render(self._dialect):
                    self._run(statement)
                self._execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                    "VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, checksum, self._now()),
                )
            self._seal_unchained()  # events from before the audit chain

    def schema_version(self) -> int:
        """The highest applied migration, 0 for an empty database."""
        with self._read():
            if not self._has_table("schema_migrations"):
                return 0
            return self._scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")

    # -- around every call -------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self._where}: store is closed")

    def _now(self) -> str:
        return format_time(self._clock())

    def last_write_lock_s(self) -> float:
        return float(getattr(self._lock_hold, "s", 0.0))

    def close(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
