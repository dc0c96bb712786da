"""What the SQL shared by both backends needs from a backend: one base for the mixins.

Every entity's SQL is written once, in a mixin over this base (``objects.py``,
``token_records.py``, ``reports.py``, ``checks.py``, ``events.py``, ``audit.py``,
``notifications.py``, ``webhooks.py``, ``credentials.py``; put together in
``sql_store.py``), in SQL both SQLite and PostgreSQL accept, with qmark ``?`` parameters
(PostgreSQL's store rewrites them to ``%s``, so shared SQL holds no ``%``). Each backend
implements these primitives; the mixins only call them. Declared once here, so that a
mixin's type checks and the backends' contract are the same list. The table of what
differs between the backends, and why: ``docs/design/storage.md``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

#: One event to append: (at, kind, action, object_id, actor, payload JSON text).
EventEntry = tuple[str, str, str, str | None, str, str]


class BackendSQL:
    """The backend's primitives (each raises here: a backend overrides them all)."""

    def transaction(self) -> AbstractContextManager[None]:  # pragma: no cover
        """All writes in the block commit together (nested blocks are savepoints)."""
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Any]:  # pragma: no cover
        """The reads in the block see one state: the enclosing transaction's, or a short
        read-only one of their own."""
        raise NotImplementedError

    def _now(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:  # pragma: no cover
        """One statement in a transaction; the rows it changed."""
        raise NotImplementedError

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:  # pragma: no cover
        """One statement for many rows, in a transaction; the rows it changed in all."""
        raise NotImplementedError

    def _fetch(
        self, sql: str, params: Sequence[Any] = ()
    ) -> builtins.list[tuple[Any, ...]]:  # pragma: no cover
        """Rows of one query (inside a transaction, on its connection)."""
        raise NotImplementedError

    def _snapshot(
        self, sql: str, params: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:  # pragma: no cover
        """Rows of one query, streamed from a consistent snapshot of committed data (not
        the uncommitted writes of an enclosing transaction)."""
        raise NotImplementedError

    def _run(self, statement: str) -> None:  # pragma: no cover
        """One statement as it is written (no parameters, no placeholder rewriting), in a
        transaction: a migration's DDL."""
        raise NotImplementedError

    def _has_table(self, name: str) -> bool:  # pragma: no cover
        """Does the database have this table (each dialect's catalogue)?"""
        raise NotImplementedError

    def _locked(self, select: str) -> str:  # pragma: no cover
        """``select`` made to lock the rows it reads until the transaction ends, for a read
        followed by a write of the same row (PostgreSQL's ``FOR UPDATE``)."""
        raise NotImplementedError

    def _append_event(
        self,
        at: str,
        kind: str,
        action: str,
        object_id: str | None,
        actor: str,
        payload: str,
        digest: str | None = None,
    ) -> int:  # pragma: no cover
        """Append one event (chained, see ``store/audit.py``); its seq. ``digest``: the
        payload's, when the caller computed it already (before the write lock)."""
        raise NotImplementedError

    def _append_events(
        self, entries: Sequence[EventEntry], digests: Sequence[str] | None = None
    ) -> builtins.list[int]:
        """Append events in order as one statement; their seqs."""
        raise NotImplementedError  # pragma: no cover

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> int:
        """The integer one query answers (a count, a maximum)."""
        return int(self._fetch(sql, params)[0][0])
