"""Notifications and the delivery outbox, in SQL both backends accept.

A notification row is a dict with :data:`NOTIFICATION_FIELDS` (``payload`` a
JSON-able dict, ``urgent`` a bool, times in the stored text form) plus ``seq``
on the way out. Each write appends its event (kind ``notification``; action
``create`` — one event for a batch, its payload ``{"notifications": [row, ...]}`` —,
``update`` or ``respond``) in the same transaction, and, for a notification addressed
to a unit, an ``outbox`` row: the unit's stream position.

:class:`NotificationSQL` implements the ``Store`` methods on any backend that
provides the ``BackendSQL`` primitives (qmark ``?`` SQL both backends accept).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import orjson

from deconfliction.store.errors import NotFound
from deconfliction.store.jsontext import dumps, loads
from deconfliction.store.notification_parts import PartsSQL, factor

#: The columns of a notification, in order (``seq`` and ``event_seq`` are the store's).
NOTIFICATION_FIELDS: tuple[str, ...] = (
    "id",
    "unit_id",
    "party_id",
    "cause",
    "asset_id",
    "type_id",
    "subject",
    "payload",
    "urgent",
    "deadline",
    "state",
    "response",
    "responded_by",
    "responded_as",
    "responded_at",
    "escalation_level",
    "parent_id",
    "created_at",
)
_COLUMNS = ", ".join(NOTIFICATION_FIELDS)
_SELECT = f"SELECT seq, {_COLUMNS} FROM notifications"
_FILTERS = ("unit_id", "party_id", "cause", "asset_id", "type_id", "subject", "parent_id")
OUTBOX_EVENTS = ("created", "repeated", "answered", "escalated")
#: Ids per ``IN (...)`` of a batch read (well under every backend's parameter limit).
_ID_PAGE = 500


def notification_from_row(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(("seq", *NOTIFICATION_FIELDS), row, strict=True))
    out["payload"] = loads(out["payload"])
    out["urgent"] = bool(out["urgent"])
    return out


def _values(row: dict[str, Any], payload_json: str | None = None) -> tuple[Any, ...]:
    """The row's column values in :data:`NOTIFICATION_FIELDS` order (a fan-out writes
    thousands: one tuple built directly, not a loop over the names)."""
    get = row.get
    return (
        row["id"],
        get("unit_id"),
        row["party_id"],
        row["cause"],
        get("asset_id"),
        get("type_id"),
        get("subject"),
        payload_json if payload_json is not None else dumps(get("payload") or {}),
        1 if get("urgent") else 0,
        get("deadline"),
        get("state") or "pending",
        get("response"),
        get("responded_by"),
        get("responded_as"),
        get("responded_at"),
        int(get("escalation_level") or 0),
        get("parent_id"),
        row["created_at"],
    )


def _batch_event_json(
    rows: Sequence[dict[str, Any]], payloads: Sequence[str], parts: dict[str, str]
) -> str:
    """The event of a batch of new notifications: ``{"notifications": [row, ...], "parts":
    {digest: value}}``, each row as stored (its payload's shared parts as references, see
    ``store/notification_parts.py``); the JSON already made is spliced in, not remade."""
    return dumps(
        {
            "notifications": [
                {**row, "payload": orjson.Fragment(payload)}
                for row, payload in zip(rows, payloads, strict=True)
            ],
            "parts": {digest: orjson.Fragment(body) for digest, body in parts.items()},
        }
    )


class NotificationSQL(PartsSQL):
    """The notification methods of the ``Store`` protocol (see the module docstring)."""

    # -- writes ------------------------------------------------------------
    def add_notifications(self, rows: Sequence[dict[str, Any]], actor: str) -> builtins.list[int]:
        """Store notifications (with one event for the batch and, for each addressed to a
        unit, an outbox row); returns each one's stream position (0 when it has no unit).
        Three statements and one audit entry for the whole batch: a fan-out to thousands of
        units is one transaction, and an entry per notification (its hash and its row) was
        a third of a fan-out's cost. The event names its notification when it has one."""
        if not rows:
            return []
        with self.transaction():
            before = self._fetch("SELECT COALESCE(MAX(seq), 0) FROM outbox")[0][0]
            payloads, parts = factor([row.get("payload") or {} for row in rows])
            self._store_parts(parts)
            (event_seq,) = self._append_events(
                [
                    (
                        rows[0]["created_at"],
                        "notification",
                        "create",
                        rows[0]["id"] if len(rows) == 1 else None,
                        actor,
                        _batch_event_json(rows, payloads, parts),
                    )
                ]
            )
            marks = ", ".join("?" * (len(NOTIFICATION_FIELDS) + 1))
            self._execute_many(
                f"INSERT INTO notifications ({_COLUMNS}, event_seq) VALUES ({marks})",
                [
                    (*_values(row, payload), event_seq)
                    for row, payload in zip(rows, payloads, strict=True)
                ],
            )
            self._execute_many(
                "INSERT INTO outbox (unit_id, notification_id, event, at, event_seq) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (row["unit_id"], row["id"], "created", row["created_at"], event_seq)
                    for row in rows
                    if row.get("unit_id")
                ],
            )
            # Writers are serialised (SQLite's lock, PostgreSQL's advisory lock): every
            # outbox row after ``before`` is one of these.
            position = dict(
                (str(n), int(seq))
                for seq, n in self._fetch(
                    "SELECT seq, notification_id FROM outbox WHERE seq > ? ORDER BY seq",
                    (before,),
                )
            )
        return [position.get(row["id"], 0) if row.get("unit_id") else 0 for row in rows]

    def _outbox(self, unit_id: str, notification_id: str, event: str, at: str, seq: int) -> int:
        return self._execute(
            "INSERT INTO outbox (unit_id, notification_id, event, at, event_seq) "
            "VALUES (?, ?, ?, ?, ?)",
            (unit_id, notification_id, event, at, seq),
        )

    def update_notification(
        self,
        notification_id: str,
        *,
        at: str,
        actor: str,
        state: str | None = None,
        deadline: str | None = None,
        payload: dict[str, Any] | None = None,
        outbox_event: str | None = None,
    ) -> dict[str, Any]:
        """Change a notification's state, deadline or payload (``NotFound``); with
        ``outbox_event`` (``repeated``, ``escalated``) the unit's stream carries it again."""
        changes: dict[str, Any] = {}
        if state is not None:
            changes["state"] = state
        if deadline is not None:
            changes["deadline"] = deadline
        if payload is not None:
            changes["payload"] = payload
        (updated,) = self.update_notifications(
            [(notification_id, changes)], at=at, actor=actor, outbox_event=outbox_event
        )
        return updated

    def update_notifications(
        self,
        updates: Sequence[tuple[str, dict[str, Any]]],
        *,
        at: str,
        actor: str,
        outbox_event: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """:meth:`update_notification` for many (id, changes) at once — ``changes`` of
        ``state``, ``deadline``, ``payload`` — with one event for the batch (``update``,
        ``{"updates": [{"id", <changes>}, ...]}``, naming its notification when it has one)
        and a statement per set of changed columns: a movement changed after its fan-out,
        or a report batch repeating hundreds of briefings, updates that many at once.
        ``NotFound`` (and nothing changed) if any id is unknown. The updated rows, in order."""
        if not updates:
            return []
        ids = [notification_id for notification_id, _ in updates]
        with self.transaction():
            current = self.get_notifications(ids)
            for notification_id in ids:
                if notification_id not in current:
                    raise NotFound("notification", notification_id)
            event = dumps({"updates": [{"id": i, **changes} for i, changes in updates]})
            event_seq = self._append_event(
                at, "notification", "update", ids[0] if len(ids) == 1 else None, actor, event
            )
            changed = [(i, changes) for i, changes in updates if changes]
            stored, parts = factor([c["payload"] for _, c in changed if "payload" in c])
            self._store_parts(parts)
            stored_payloads = iter(stored)
            by_columns: dict[tuple[str, ...], builtins.list[tuple[Any, ...]]] = {}
            for notification_id, changes in changed:
                values = [
                    next(stored_payloads) if k == "payload" else v for k, v in changes.items()
                ]
                by_columns.setdefault(tuple(changes), []).append((*values, notification_id))
            for columns, params in by_columns.items():
                sets = ", ".join(f"{name} = ?" for name in columns)
                self._execute_many(f"UPDATE notifications SET {sets} WHERE id = ?", params)
            if outbox_event is not None:
                self._execute_many(
                    "INSERT INTO outbox (unit_id, notification_id, event, at, event_seq) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [
                        (current[i]["unit_id"], i, outbox_event, at, event_seq)
                        for i in ids
                        if current[i]["unit_id"]
                    ],
                )
            updated = self.get_notifications(ids)
        return [updated[i] for i in ids]

    def answer_notification(
        self,
        notification_id: str,
        response: str,
        by: str,
        responded_as: str,
        at: str,
        actor: str,
    ) -> tuple[dict[str, Any], bool]:
        """Record the first answer (``NotFound``); ``(row, True)`` if this call stored it,
        ``(row, False)`` with the earlier answer if there was one."""
        with self.transaction():
            current = self.get_notification(notification_id)
            if current is None:
                raise NotFound("notification", notification_id)
            if current["response"] is not None:
                return current, False
            event_seq = self._append_event(
                at,
                "notification",
                "respond",
                notification_id,
                actor,
                dumps({"response": response, "by": by, "as": responded_as, "at": at}),
            )
            self._execute(
                "UPDATE notifications SET state = 'answered', response = ?, responded_by = ?, "
                "responded_as = ?, responded_at = ? WHERE id = ? AND response IS NULL",
                (response, by, responded_as, at, notification_id),
            )
            if current["unit_id"]:
                self._outbox(current["unit_id"], notification_id, "answered", at, event_seq)
            updated = self.get_notification(notification_id)
        assert updated is not None
        return updated, True

    # -- reads -------------------------------------------------------------
    def _rows(self, rows: Sequence[Sequence[Any]]) -> builtins.list[dict[str, Any]]:
        """Stored rows as notifications, their payloads' shared parts put back."""
        out = [notification_from_row(r) for r in rows]
        self.expand(n["payload"] for n in out)
        return out

    def get_notification(self, notification_id: str) -> dict[str, Any] | None:
        rows = self._fetch(f"{_SELECT} WHERE id = ?", (notification_id,))
        return self._rows(rows)[0] if rows else None

    def get_notifications(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The notifications of ``ids`` that exist, by id (read _ID_PAGE at a time)."""
        wanted = list(dict.fromkeys(ids))
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), _ID_PAGE):
            page = wanted[start : start + _ID_PAGE]
            marks = ", ".join("?" * len(page))
            for row in self._rows(self._fetch(f"{_SELECT} WHERE id IN ({marks})", page)):
                out[row["id"]] = row
        return out

    def find_notifications(
        self,
        *,
        unit_id: str | None = None,
        party_id: str | None = None,
        cause: str | None = None,
        asset_id: str | None = None,
        type_id: str | None = None,
        subject: str | None = None,
        parent_id: str | None = None,
        causes: Collection[str] | None = None,
        states: Collection[str] | None = None,
        answered: bool | None = None,
        after_seq: int = 0,
        limit: int = 1000,
    ) -> builtins.list[dict[str, Any]]:
        """Notifications matching every given filter, by ``seq``, after ``after_seq``."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        where = ["seq > ?"]
        params: list[Any] = [after_seq]
        given = {
            "unit_id": unit_id,
            "party_id": party_id,
            "cause": cause,
            "asset_id": asset_id,
            "type_id": type_id,
            "subject": subject,
            "parent_id": parent_id,
        }
        for name in _FILTERS:
            value = given[name]
            if value is not None:
                where.append(f"{name} = ?")
                params.append(value)
        for name, values in (("cause", causes), ("state", states)):
            if values is not None:
                wanted = sorted(set(values))
                if not wanted:
                    return []
                where.append(f"{name} IN ({', '.join('?' * len(wanted))})")
                params.extend(wanted)
        if answered is not None:
            where.append("response IS NOT NULL" if answered else "response IS NULL")
        sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        params.append(limit)
        return self._rows(self._fetch(sql, params))

    def iter_notifications(self, causes: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every notification (of ``causes``), by ``seq``, page by page."""
        after = 0
        while True:
            page = self.find_notifications(causes=causes, after_seq=after, limit=1000)
            yield from page
            if len(page) < 1000:
                return
            after = int(page[-1]["seq"])

    def due_notifications(self, now: str, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """Pending (unanswered, not yet escalated) notifications whose deadline has passed."""
        rows = self._fetch(
            f"{_SELECT} WHERE state = 'pending' AND deadline IS NOT NULL AND deadline <= ? "
            "ORDER BY deadline, seq LIMIT ?",
            (now, limit),
        )
        return self._rows(rows)

    def next_deadline(self) -> str | None:
        """The earliest deadline of a pending notification (the scheduler's next wake-up)."""
        rows = self._fetch(
            "SELECT MIN(deadline) FROM notifications WHERE state = 'pending' "
            "AND deadline IS NOT NULL"
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    def outbox_after(
        self, unit_id: str, after_seq: int = 0, limit: int = 100
    ) -> builtins.list[dict[str, Any]]:
        """A unit's stream after a position: ``{"seq", "event", "at", "notification"}``."""
        rows = self._fetch(
            "SELECT o.seq, o.event, o.at, "
            + ", ".join(f"n.{c}" for c in ("seq", *NOTIFICATION_FIELDS))
            + " FROM outbox o JOIN notifications n ON n.id = o.notification_id "
            "WHERE o.unit_id = ? AND o.seq > ? ORDER BY o.seq LIMIT ?",
            (unit_id, after_seq, limit),
        )
        notifications = self._rows([r[3:] for r in rows])
        return [
            {"seq": r[0], "event": r[1], "at": r[2], "notification": n}
            for r, n in zip(rows, notifications, strict=True)
        ]

    def last_outbox_seq(self) -> int:
        rows = self._fetch("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        return int(rows[0][0])
