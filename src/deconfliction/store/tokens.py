"""API tokens: issued once, stored only as a hash, checked in constant time.

A token reads ``dcf_<token_id>_<secret>``: ``token_id`` is 16 hex digits
(it names the token in logs, listings and revocations; it is not secret),
``secret`` is ``secrets.token_urlsafe(32)`` (256 random bits). The store keeps
the SHA-256 of the whole token string, never the token: a copy of the
database does not let anyone authenticate. A plain hash (no salt, no slow
KDF) is right here because the secret is random and long, not a password.

Roles are ``operator``, ``coordinator`` and ``admin``; operator and
coordinator tokens belong to a unit, admin tokens may. The caller derives
``party_id`` from the unit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from deconfliction.store.base import TOKEN_ROLES, Store, TokenRecord

PREFIX = "dcf"
_TOKEN_RE = re.compile(r"^dcf_([0-9a-f]{16})_([A-Za-z0-9_\-]{43})$")
_MAX_LENGTH = 128


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256 of the whole token string."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """``(token_id, secret)`` of a well-formed token, else ``None``."""
    if not isinstance(token, str) or len(token) > _MAX_LENGTH:
        return None
    match = _TOKEN_RE.match(token)
    if match is None:
        return None
    return match.group(1), match.group(2)


def issue_token(
    store: Store,
    role: str,
    unit_id: str | None,
    party_id: str | None,
    ttl: timedelta | None,
    *,
    actor: str = "system",
    now: datetime | None = None,
) -> tuple[str, TokenRecord]:
    """A new token and its stored record. The token string is shown once, never stored.

    ``ttl`` is how long it is valid (``None``: until revoked).
    """
    if role not in TOKEN_ROLES:
        raise ValueError(f"role must be one of {', '.join(TOKEN_ROLES)}, got {role!r}")
    if role != "admin" and not unit_id:
        raise ValueError(f"a {role} token needs a unit")
    if ttl is not None and ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    issued_at = now or datetime.now(UTC)
    expires_at = None if ttl is None else issued_at + ttl
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    record = store.add_token(
        token_id, hash_token(token), role, unit_id, party_id, expires_at, actor
    )
    return token, record


def authenticate(store: Store, token: str, now: datetime | None = None) -> TokenRecord | None:
    """The token's record if it is known, matches, and is neither expired nor revoked."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    presented = hash_token(token)
    record = store.get_token(parsed[0])
    if record is None:
        return None
    if not hmac.compare_digest(record.secret_hash, presented):
        return None
    if not record.usable_at(now or datetime.now(UTC)):
        return None
    return record
