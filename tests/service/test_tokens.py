"""API tokens: issue, authenticate, expiry, revocation, hashing at rest; on
both store backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from deconfliction.store import DATABASE_FILE, NotFound, Store, open_store
from deconfliction.store.tokens import authenticate, hash_token, issue_token, parse_token
from tests.support.clock import FIXED_NOW
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

HOUR = timedelta(hours=1)


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """A migrated store on each backend (closed by ``store_factory``)."""
    s: Store = store_factory()
    return s


def test_issue_and_authenticate(store: Store) -> None:
    token, record = issue_token(store, "operator", "u1", "blue", HOUR, now=FIXED_NOW)
    assert re.fullmatch(r"dcf_[0-9a-f]{16}_[A-Za-z0-9_\-]{43}", token)
    assert token.split("_", 2)[1] == record.token_id
    assert record.role == "operator" and record.unit_id == "u1" and record.party_id == "blue"
    assert record.expires_at == FIXED_NOW + HOUR
    assert record.revoked_at is None
    assert record.secret_hash == hash_token(token)

    found = authenticate(store, token, FIXED_NOW + timedelta(minutes=59))
    assert found is not None
    assert (found.token_id, found.role, found.unit_id, found.party_id) == (
        record.token_id,
        "operator",
        "u1",
        "blue",
    )
    assert store.find_token(hash_token(token)) == found
    assert store.get_token(record.token_id) == found


def test_two_tokens_differ(store: Store) -> None:
    a, ra = issue_token(store, "admin", None, None, None)
    b, rb = issue_token(store, "admin", None, None, None)
    assert a != b and ra.token_id != rb.token_id and ra.secret_hash != rb.secret_hash
    assert [t.token_id for t in store.list_tokens()] == sorted([ra.token_id, rb.token_id])


def test_an_expired_token_is_refused(store: Store) -> None:
    token, _ = issue_token(store, "coordinator", "cell-1", "blue", HOUR, now=FIXED_NOW)
    assert authenticate(store, token, FIXED_NOW + HOUR - timedelta(microseconds=1)) is not None
    assert authenticate(store, token, FIXED_NOW + HOUR) is None
    assert authenticate(store, token, FIXED_NOW + 10 * HOUR) is None


def test_a_token_without_ttl_lasts_until_revoked(store: Store) -> None:
    token, record = issue_token(store, "admin", None, None, None, now=FIXED_NOW)
    assert record.expires_at is None
    assert authenticate(store, token, FIXED_NOW + timedelta(days=3650)) is not None


def test_a_revoked_token_is_refused(store: Store) -> None:
    token, record = issue_token(store, "operator", "u1", "blue", HOUR, now=FIXED_NOW)
    revoked = store.revoke_token(record.token_id, "admin-1")
    assert revoked.revoked_at is not None
    assert authenticate(store, token, FIXED_NOW) is None
    # Revoking again changes nothing and writes nothing.
    seq = store.last_event_seq()
    assert store.revoke_token(record.token_id, "admin-2").revoked_at == revoked.revoked_at
    assert store.last_event_seq() == seq
    with pytest.raises(NotFound):
        store.revoke_token("0000000000000000", "admin-1")


def test_a_wrong_secret_or_a_malformed_token_is_refused(store: Store) -> None:
    token, _ = issue_token(store, "operator", "u1", "blue", HOUR, now=FIXED_NOW)
    prefix, token_id, secret = token.split("_", 2)
    flipped = ("B" if secret[0] == "A" else "A") + secret[1:]
    assert authenticate(store, f"{prefix}_{token_id}_{flipped}", FIXED_NOW) is None
    assert authenticate(store, f"dcf_{'0' * 16}_{secret}", FIXED_NOW) is None  # unknown id
    for bad in ["", "dcf", token + "x", token[:-1], f"xyz_{token_id}_{secret}", token.upper()]:
        assert authenticate(store, bad, FIXED_NOW) is None, bad
    assert parse_token(token) == (token_id, secret)
    assert parse_token("dcf_" + "a" * 500) is None


def test_roles_and_units_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="needs a unit"):
        issue_token(store, "operator", None, "blue", HOUR)
    with pytest.raises(ValueError, match="needs a unit"):
        issue_token(store, "coordinator", "", "blue", HOUR)
    with pytest.raises(ValueError, match="role must be one of"):
        issue_token(store, "superuser", "u1", "blue", HOUR)
    with pytest.raises(ValueError, match="ttl must be positive"):
        issue_token(store, "admin", None, None, timedelta(0))
    with pytest.raises(ValueError, match="role must be one of"):
        store.add_token("abc", "hash", "root", None, None, None, "a")
    assert store.list_tokens() == []
    _, admin = issue_token(store, "admin", "u1", "blue", HOUR)  # an admin may have a unit
    assert admin.unit_id == "u1"


def test_issue_and_revoke_are_events_without_secrets(store: Store) -> None:
    token, record = issue_token(
        store, "operator", "u1", "blue", HOUR, actor="admin-1", now=FIXED_NOW
    )
    store.revoke_token(record.token_id, "admin-2")
    issue, revoke = store.events()
    assert (issue.kind, issue.action, issue.object_id, issue.actor) == (
        "token",
        "issue",
        record.token_id,
        "admin-1",
    )
    assert issue.payload == {
        "role": "operator",
        "unit_id": "u1",
        "party_id": "blue",
        "expires_at": "2026-03-01T13:00:00.000000Z",
    }
    assert (revoke.action, revoke.actor) == ("revoke", "admin-2")
    text = repr(store.events())
    assert token.split("_", 2)[2] not in text and record.secret_hash not in text


def test_the_secret_is_never_stored_in_postgresql(pg_database_url: str) -> None:
    """Every row of every table, as text: the hash and id are there, the token is not."""
    import psycopg

    store = open_store(None, pg_database_url)
    tokens = [issue_token(store, "operator", f"u{n}", "blue", HOUR) for n in range(20)]
    store.revoke_token(tokens[0][1].token_id, "admin")
    store.close()
    with psycopg.connect(pg_database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        ]
        assert "tokens" in tables and "events" in tables
        contents = "\n".join(
            str(row[0])
            for table in tables
            for row in conn.execute(f"SELECT t::text FROM {table} AS t")
        )
    assert tokens[0][1].secret_hash in contents
    assert tokens[0][1].token_id in contents
    for token, _ in tokens:
        assert token not in contents
        assert token.split("_", 2)[2] not in contents


def test_the_secret_is_never_written_to_disk(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    tokens = [issue_token(store, "operator", f"u{n}", "blue", HOUR) for n in range(20)]
    store.revoke_token(tokens[0][1].token_id, "admin")
    files = sorted(tmp_path.glob(DATABASE_FILE + "*"))  # the database, its WAL and shm
    contents = b"".join(f.read_bytes() for f in files)
    # The search works: what is stored is found, before and after a checkpoint.
    assert tokens[0][1].secret_hash.encode() in contents
    assert tokens[0][1].token_id.encode() in contents
    for token, _ in tokens:
        assert token.encode() not in contents
        assert token.split("_", 2)[2].encode() not in contents
    store.close()  # checkpoints the WAL into the main file
    contents = b"".join(f.read_bytes() for f in sorted(tmp_path.glob(DATABASE_FILE + "*")))
    assert tokens[-1][1].secret_hash.encode() in contents
    for token, _ in tokens:
        assert token.split("_", 2)[2].encode() not in contents


def test_a_token_issued_through_another_connection_is_accepted_at_once(
    store_factory: StoreFactory,
) -> None:
    """``token issue`` writes through its own connection while the server keeps its own."""
    where = (store_factory.data_dir, store_factory.database_url)
    server = open_store(*where)
    try:
        assert server.list_tokens() == []
        cli = open_store(*where)
        token, _ = issue_token(cli, "admin", None, None, HOUR)
        cli.close()
        assert authenticate(server, token) is not None
    finally:
        server.close()
