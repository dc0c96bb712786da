"""Recorded checks, in SQL both backends accept.

Every check the service answers is recorded before the answer leaves (its request and its
result, as JSON text), with its event (``check``/``create``, payload the unit, party,
request and result) in the same transaction. A check id is recorded once:
``AlreadyExists`` for a second one, and the transaction, event included, rolls back.
This is the check path's write: event appends and inserts, nothing else.

``add_checks`` records a group of checks in one transaction (the service's group commit,
``docs/design/storage.md``, "How a check is recorded"): each keeps its own event, so its
own seq and chain entry, appended with one statement, and the rows inserted with one
more. The request and the answer arrive as JSON text, serialised once by the caller, and
the event's payload is put together from those texts, not serialised again.

:class:`CheckSQL` runs on any backend that provides the ``BackendSQL`` primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from deconfliction.audit.chain import payload_digest
from deconfliction.store.backend_sql import BackendSQL, EventEntry
from deconfliction.store.base import CheckRecord, require_actor
from deconfliction.store.errors import AlreadyExists
from deconfliction.store.jsontext import dumps, loads

_INSERT = (
    "INSERT INTO checks (id, unit_id, party_id, request, result, created_at, event_seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)


def check_payload(record: CheckRecord) -> str:
    """The event's payload, ``{"unit_id", "party_id", "request", "result"}`` as compact
    JSON text, from the texts already serialised: the bytes ``orjson`` would write for
    that dict (``tests/store/test_checks.py`` holds it to that)."""
    return (
        f'{{"unit_id":{dumps(record.unit_id)},"party_id":{dumps(record.party_id)},'
        f'"request":{record.request},"result":{record.result}}}'
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
        self.add_checks(
            [CheckRecord(check_id, unit_id, party_id, dumps(request), dumps(result), actor)]
        )

    def add_checks(self, records: Sequence[CheckRecord]) -> builtins.list[int]:
        if not records:
            return []
        for record in records:
            require_actor(record.actor)
        ids = [record.id for record in records]
        if len(set(ids)) != len(ids):
            raise AlreadyExists("check", next(i for i in ids if ids.count(i) > 1))
        # The payloads and their digests before the write lock: under it, only what
        # depends on the log's end (seq, chain hash) and the inserts.
        payloads = [check_payload(r) for r in records]
        digests = [payload_digest(p) for p in payloads]
        with self.transaction():
            now = self._now()
            entries: list[EventEntry] = [
                (now, "check", "create", r.id, r.actor, payload)
                for r, payload in zip(records, payloads, strict=True)
            ]
            if len(records) == 1:  # the sequential case: one statement each, no batch
                seqs = [self._append_event(*entries[0], digest=digests[0])]
                r = records[0]
                params = (r.id, r.unit_id, r.party_id, r.request, r.result, now, seqs[0])
                if self._execute(_INSERT, params) != 1:
                    raise AlreadyExists("check", r.id)
                return seqs
            seqs = self._append_events(entries, digests)
            rows = [
                (r.id, r.unit_id, r.party_id, r.request, r.result, now, seq)
                for r, seq in zip(records, seqs, strict=True)
            ]
            if self._execute_many(_INSERT, rows) != len(rows):
                taken = self._fetch(
                    f"SELECT id FROM checks WHERE id IN ({', '.join('?' for _ in ids)}) "
                    "AND event_seq NOT IN (" + ", ".join("?" for _ in seqs) + ")",
                    (*ids, *seqs),
                )
                raise AlreadyExists("check", str(taken[0][0]) if taken else ids[0])
            return seqs

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
