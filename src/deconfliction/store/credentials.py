"""Credentials die with their unit, and a deleted unit's id is never reissued.

Deleting a unit, in the same transaction as the deletion (``retire_unit``):

* retires its id (``retired_ids``): creating a unit with that id again, by any party, is
  refused exactly like creating one that exists (``AlreadyExists``);
* revokes every token of the unit (one ``token``/``revoke`` event each);
* removes the unit's webhooks (one ``webhook``/``delete`` event each) and its TAK
  certificates' cursors (``store/tak_cursors.py``; bookkeeping, no event).

Revoking a token also removes the webhooks it registered (``drop_webhooks_of_token``): a
stolen coordinator token must not leave a subscription behind that keeps sending the
unit's notifications to whoever stole it. Certificates need no list: a TAK certificate
names its unit, and a unit id that can never exist again is refused at every connect and
by the gateway's sweep of open connections. docs/design/security.md, "Credentials die with their
unit"; the checks that enforce it at runtime: ``service/credentials.py``.

:class:`CredentialSQL` runs on any backend that provides the ``BackendSQL`` primitives
(qmark SQL both backends accept), like ``WebhookSQL``.
"""

from __future__ import annotations

from deconfliction.store.backend_sql import BackendSQL
from deconfliction.store.jsontext import dumps

#: The kinds whose ids are retired when deleted.
RETIRED_KINDS = frozenset({"unit"})


def token_of_actor(actor: str | None) -> str | None:
    """The token id an actor names (``<role>:<unit or party>:<token id>``, the form
    ``Principal.actor`` writes), else ``None`` (``cli``, ``system``)."""
    if not actor:
        return None
    parts = actor.split(":")
    if len(parts) != 3 or parts[0] not in ("operator", "coordinator", "admin") or not parts[2]:
        return None
    return parts[2]


class CredentialSQL(BackendSQL):
    """Retiring units and what hangs on them (see the module docstring)."""

    def is_retired(self, kind: str, obj_id: str) -> bool:
        """Was an object of ``kind`` with this id deleted (so the id is never reissued)?"""
        rows = self._fetch("SELECT 1 FROM retired_ids WHERE kind = ? AND id = ?", (kind, obj_id))
        return bool(rows)

    def retire_unit(self, unit_id: str, party_id: str | None, at: str, actor: str) -> None:
        """Retire the id, revoke the unit's tokens, drop its webhooks (inside the deletion's
        transaction)."""
        with self.transaction():
            self._execute(
                "INSERT INTO retired_ids (kind, id, party_id, retired_at) VALUES (?, ?, ?, ?)",
                ("unit", unit_id, party_id, at),
            )
            tokens = self._fetch(
                "SELECT id FROM tokens WHERE unit_id = ? AND revoked_at IS NULL ORDER BY id",
                (unit_id,),
            )
            for (token_id,) in tokens:
                self._execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (at, token_id))
                payload = dumps({"revoked_at": at, "reason": f"unit {unit_id} deleted"})
                self._append_event(at, "token", "revoke", token_id, actor, payload)
            webhooks = self._fetch(
                "SELECT id FROM webhooks WHERE unit_id = ? ORDER BY id", (unit_id,)
            )
            for (webhook_id,) in webhooks:
                self._drop_webhook(webhook_id, at, actor, f"unit {unit_id} deleted")
            # Its TAK certificates can never connect again: their cursors are dead rows.
            self._execute("DELETE FROM tak_cursors WHERE unit_id = ?", (unit_id,))

    def drop_webhooks_of_token(self, token_id: str, at: str, actor: str) -> None:
        """Remove the webhooks a (revoked) token registered."""
        with self.transaction():
            rows = self._fetch("SELECT id, created_by FROM webhooks ORDER BY id")
            for webhook_id, created_by in rows:
                if token_of_actor(created_by) == token_id:
                    self._drop_webhook(webhook_id, at, actor, f"token {token_id} revoked")

    def _drop_webhook(self, webhook_id: str, at: str, actor: str, reason: str) -> None:
        self._append_event(at, "webhook", "delete", webhook_id, actor, dumps({"reason": reason}))
        self._execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
