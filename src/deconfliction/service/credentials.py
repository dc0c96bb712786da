"""Is a credential still alive? Asked again while a stream or a webhook is running.

A request is authenticated once, at its start; a server-sent-event stream or a webhook
runs for hours after that. Revocation (``token revoke``, possibly by another process on the
store, or by another server of the node on PostgreSQL) and a unit's deletion (which revokes
its tokens, ``store/credentials.py``) must cut them within a second, so these checks read
the store itself, never the authenticator's cache. docs/design/security.md, "Credentials die with
their unit".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from deconfliction.service.access import Principal
from deconfliction.service.errors import ServiceError
from deconfliction.store import Store
from deconfliction.store.credentials import token_of_actor


def token_alive(store: Store, token_id: str, now: datetime | None = None) -> bool:
    """The token exists and is neither revoked nor expired."""
    record = store.get_token(token_id)
    return record is not None and record.usable_at(now or datetime.now(UTC))


def may_still_read(store: Store, who: Principal, unit_id: str, rule: Callable[[], None]) -> bool:
    """May ``who``, authenticated earlier, still read ``unit_id``'s stream? Its token is
    alive and ``rule`` (the endpoint's own check, ``Notifications.require_unit``: the unit
    exists and the token may read it) still passes."""
    if not token_alive(store, who.token_id):
        return False
    try:
        rule()
    except ServiceError:
        return False
    return True


def webhook_alive(store: Store, webhook: dict[str, Any]) -> bool:
    """Is the webhook still registered, its unit still there, and the token that registered
    it (if one did) not revoked? A revoked token's webhooks stop: a stolen coordinator token
    must not leave a subscription behind. (Expiry does not stop a webhook; only revocation.)"""
    current = store.get_webhook(webhook["id"])
    if current is None or store.get("unit", current["unit_id"]) is None:
        return False
    token_id = token_of_actor(current.get("created_by"))
    if token_id is None:
        return True
    record = store.get_token(token_id)
    return record is None or record.revoked_at is None
