"""Recorded checks, in SQL both backends accept.

Every check the service answers is recorded before the answer leaves (its request and its
result, as JSON text), with its event (``check``/``create``, payload the unit, party,
request and result) in the same transaction. A check id is recorded once:
``AlreadyExists`` for a second one, and the transaction, event included, rolls back.
This is the check path's write: one event append and one insert, nothing else.

:class:`CheckSQL` runs on any backend that provides the ``BackendSQL`` primitives.
"""

from __future__ import annotations

from typing import Any

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.base import require_actor
from deconfliction.store.errors import AlreadyExists
from deconfliction.store.jsontext import dumps, loads

_INSERT = (
    "INSERT INTO checks (id, unit_id, party_id, request, result, created_at, event_seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)


class CheckSQL(BackendSQL):
    """The check methods of the ``Store`` protocol (see the module docstring)."""

    def add_check(
        self,
        check_id: str,
        unit_id: str,
        party_id: str | None,
        request: dict[str, Any],
        result: dict[str, Any],
        actor: str,
    ) -> None:
        require_actor(actor)
        request_text = dumps(request)
        result_text = dumps(result)
        payload = dumps(
            {"unit_id": unit_id, "party_id": party_id, "request": request, "result": result}
        )
        with self.transaction():
            now = self._now()
            seq = self._append_event(now, "check", "create", check_id, actor, payload)
            params = (check_id, unit_id, party_id, request_text, result_text, now, seq)
            if self._execute(_INSERT, params) != 1:
                raise AlreadyExists("check", check_id)

    def get_check(self, check_id: str) -> dict[str, Any] | None:
        rows = self._fetch(
            "SELECT id, unit_id, party_id, request, result, created_at FROM checks WHERE id = ?",
            (check_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return {
            "id": row[0],
            "unit_id": row[1],
            "party_id": row[2],
            "request": loads(row[3]),
            "result": loads(row[4]),
            "created_at": row[5],
        }

    def count_checks(self) -> int:
        return self._scalar("SELECT COUNT(*) FROM checks")
