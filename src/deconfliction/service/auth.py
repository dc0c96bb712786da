"""Bearer tokens: looked up in the store on every request (a revocation or a token
issued by another process on the same store counts at once), with a cache that
never outlives a revocation by more than :data:`CACHE_SECONDS`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from deconfliction.service.access import ROLES, Principal, Role
from deconfliction.service.errors import InvalidInput, Unauthenticated
from deconfliction.store import Store, TokenRecord
from deconfliction.store import tokens as token_store

#: How long a successful lookup is reused (a revocation takes effect within this).
CACHE_SECONDS = 1.0
_CACHE_MAX = 4096


class Authenticator:
    def __init__(self, store: Store, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal, datetime | None]] = {}
        self._lock = threading.Lock()

    def from_header(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated("this request needs an 'Authorization: Bearer <token>' header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        return self.token(token.strip())

    def token(self, token: str) -> Principal:
        now_mono = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now_mono:
            expires = hit[2]
            if expires is None or datetime.now(UTC) < expires:
                return hit[1]
        record = token_store.authenticate(self.store, token, datetime.now(UTC))
        if record is None:
            with self._lock:
                self._cache.pop(token, None)
            raise Unauthenticated("the token is unknown, expired or revoked")
        who = principal_of(record)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[token] = (now_mono + self.cache_seconds, who, record.expires_at)
        return who

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def principal_of(record: TokenRecord) -> Principal:
    role = record.role
    if role not in ROLES:
        raise Unauthenticated("the token has an unknown role")
    typed: Role = role
    return Principal(record.token_id, typed, record.unit_id, record.party_id)


def issue(
    store: Store,
    role: str,
    unit_id: str | None,
    ttl: timedelta | None,
    *,
    actor: str = "cli",
) -> tuple[str, TokenRecord]:
    """A new token; an operator or coordinator token needs an existing unit (its party follows)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, got {role!r}", field="role")
    party_id: str | None = None
    if unit_id:
        unit = store.get("unit", unit_id)
        if unit is None:
            raise InvalidInput(
                f"unknown unit {unit_id!r}", field="unit_id", code="unknown_reference"
            )
        party_id = unit.party_id
    elif role != "admin":
        raise InvalidInput(f"a {role} token needs a unit (--unit)", field="unit_id")
    return token_store.issue_token(store, role, unit_id, party_id, ttl, actor=actor)
