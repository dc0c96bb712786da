"""What the SQL shared by both backends needs from a backend: one base for the mixins.

``AuditLogSQL``, ``RetentionSQL``, ``NotificationSQL`` and ``WebhookSQL`` hold SQL both
SQLite and PostgreSQL accept (qmark ``?`` parameters). Each backend implements these
methods; the mixins only call them. Declared once here, so that a mixin's type checks
and the backends' contract are the same list.
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
        raise NotImplementedError

    def _now(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:  # pragma: no cover
        """One statement in a transaction: an INSERT's new row id (``seq``), else the rows
        changed."""
        raise NotImplementedError

    def _execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:  # pragma: no cover
        """One statement for many rows, in a transaction."""
        raise NotImplementedError

    def _fetch(
        self, sql: str, params: Sequence[Any] = ()
    ) -> builtins.list[tuple[Any, ...]]:  # pragma: no cover
        """Rows of one query (inside a transaction, on its connection)."""
        raise NotImplementedError

    def _snapshot(
        self, sql: str, params: Sequence[Any] = ()
    ) -> Iterator[tuple[Any, ...]]:  # pragma: no cover
        """Rows of one query, streamed from a consistent snapshot."""
        raise NotImplementedError

    def _append_event(
        self, at: str, kind: str, action: str, object_id: str | None, actor: str, payload: str
    ) -> int:  # pragma: no cover
        """Append one event (chained, see ``store/audit.py``); its seq."""
        raise NotImplementedError

    def _append_events(self, entries: Sequence[EventEntry]) -> builtins.list[int]:
        """Append events in order as one statement; their seqs."""
        raise NotImplementedError  # pragma: no cover
