"""API token records: issued, looked up, revoked, listed, in SQL both backends accept.

A record keeps the token's id, the SHA-256 of the token (never the token: see
``store/tokens.py``), its role, unit and party, and when it was issued, expires and was
revoked. Issuing and revoking are audited events (``token``/``issue``, ``revoke``); the
hash never enters the event log. Revoking a token also removes the webhooks it
registered (``store/credentials.py``).

:class:`TokenSQL` runs on any backend that provides the ``BackendSQL`` primitives.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from deconfliction.store.base import TOKEN_ROLES, TokenRecord, require_actor
from deconfliction.store.credentials import CredentialSQL
from deconfliction.store.errors import AlreadyExists, NotFound
from deconfliction.store.jsontext import dumps
from deconfliction.store.times import format_time, parse_time

_COLUMNS = "id, secret_hash, role, unit_id, party_id, created_at, expires_at, revoked_at"


def _token(row: Sequence[Any]) -> TokenRecord:
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


class TokenSQL(CredentialSQL):
    """The token methods of the ``Store`` protocol (see the module docstring)."""

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
        require_actor(actor)
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
            inserted = self._execute(
                f"INSERT INTO tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT DO NOTHING",
                (token_id, secret_hash, role, unit_id, party_id, now, expires),
            )
            if inserted != 1:
                raise AlreadyExists("token", token_id)
            self._append_event(now, "token", "issue", token_id, actor, payload)
        return _token((token_id, secret_hash, role, unit_id, party_id, now, expires, None))

    def _one_token(self, where: str, value: str) -> TokenRecord | None:
        rows = self._fetch(f"SELECT {_COLUMNS} FROM tokens WHERE {where} = ?", (value,))
        return _token(rows[0]) if rows else None

    def get_token(self, token_id: str) -> TokenRecord | None:
        return self._one_token("id", token_id)

    def find_token(self, secret_hash: str) -> TokenRecord | None:
        return self._one_token("secret_hash", secret_hash)

    def revoke_token(self, token_id: str, actor: str) -> TokenRecord:
        require_actor(actor)
        with self.transaction():
            record = self.get_token(token_id)
            if record is None:
                raise NotFound("token", token_id)
            if record.revoked_at is not None:
                return record
            now = self._now()
            self._execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
            self._append_event(now, "token", "revoke", token_id, actor, dumps({"revoked_at": now}))
            self.drop_webhooks_of_token(token_id, now, actor)
        return replace(record, revoked_at=parse_time(now))

    def list_tokens(self) -> builtins.list[TokenRecord]:
        return [_token(row) for row in self._fetch(f"SELECT {_COLUMNS} FROM tokens ORDER BY id")]
