"""Webhook subscriptions and their delivery cursors, in SQL both backends accept.

A webhook delivers one unit's notification stream (the ``outbox``) to an HTTP endpoint,
in order, at least once: ``delivered_seq`` is the last stream position the endpoint
acknowledged (2xx). Failures are counted and the next attempt is scheduled
(``next_attempt_at``) so that back-off survives a restart. Registering and removing a
webhook are audited events; the secret never enters the event log.

:class:`WebhookSQL` runs on any backend that provides the ``BackendSQL`` primitives
(qmark SQL both backends accept), like ``NotificationSQL``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.errors import NotFound
from deconfliction.store.jsontext import dumps

#: A webhook as the store returns it (``secret`` included: for the dispatcher only).
WEBHOOK_FIELDS: tuple[str, ...] = (
    "id",
    "unit_id",
    "party_id",
    "url",
    "secret",
    "created_at",
    "created_by",
    "delivered_seq",
    "attempts",
    "next_attempt_at",
    "last_error",
    "last_delivered_at",
)
_SELECT = f"SELECT {', '.join(WEBHOOK_FIELDS)} FROM webhooks"


def _webhook(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(WEBHOOK_FIELDS, row, strict=True))
    out["delivered_seq"] = int(out["delivered_seq"])
    out["attempts"] = int(out["attempts"])
    return out


class WebhookSQL(BackendSQL):
    """The webhook methods of the ``Store`` protocol (see the module docstring)."""

    def add_webhook(self, webhook: dict[str, Any], actor: str) -> dict[str, Any]:
        """Store a webhook (``id``, ``unit_id``, ``party_id``, ``url``, ``secret``,
        ``created_at``, ``delivered_seq``: where its delivery starts)."""
        with self.transaction():
            public = {k: webhook[k] for k in ("id", "unit_id", "party_id", "url")}
            self._append_event(
                webhook["created_at"], "webhook", "create", webhook["id"], actor, dumps(public)
            )
            self._execute(
                "INSERT INTO webhooks (id, unit_id, party_id, url, secret, created_at, "
                "created_by, delivered_seq, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    webhook["id"],
                    webhook["unit_id"],
                    webhook["party_id"],
                    webhook["url"],
                    webhook["secret"],
                    webhook["created_at"],
                    actor,
                    int(webhook.get("delivered_seq") or 0),
                ),
            )
            stored = self.get_webhook(webhook["id"])
        assert stored is not None
        return stored

    def get_webhook(self, webhook_id: str) -> dict[str, Any] | None:
        rows = self._fetch(f"{_SELECT} WHERE id = ?", (webhook_id,))
        return _webhook(rows[0]) if rows else None

    def list_webhooks(self, unit_id: str | None = None) -> builtins.list[dict[str, Any]]:
        if unit_id is None:
            rows = self._fetch(f"{_SELECT} ORDER BY id")
        else:
            rows = self._fetch(f"{_SELECT} WHERE unit_id = ? ORDER BY id", (unit_id,))
        return [_webhook(r) for r in rows]

    def delete_webhook(self, webhook_id: str, at: str, actor: str) -> None:
        with self.transaction():
            if self.get_webhook(webhook_id) is None:
                raise NotFound("webhook", webhook_id)
            self._append_event(at, "webhook", "delete", webhook_id, actor, dumps({}))
            self._execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))

    def webhook_delivered(self, webhook_id: str, position: int, at: str) -> None:
        """The endpoint acknowledged everything up to ``position`` (never moves back)."""
        with self.transaction():
            self._execute(
                "UPDATE webhooks SET delivered_seq = ?, attempts = 0, next_attempt_at = NULL, "
                "last_error = NULL, last_delivered_at = ? WHERE id = ? AND delivered_seq < ?",
                (position, at, webhook_id, position),
            )

    def webhook_failed(
        self, webhook_id: str, attempts: int, next_attempt_at: str, error: str
    ) -> None:
        with self.transaction():
            self._execute(
                "UPDATE webhooks SET attempts = ?, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?",
                (attempts, next_attempt_at, error[:500], webhook_id),
            )
