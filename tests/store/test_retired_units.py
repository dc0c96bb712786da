"""Credentials die with their unit (issue 15, finding 4), at the store, on both backends:
deleting a unit revokes its tokens and drops its webhooks in the same transaction, and its
id is never reissued, to another party or the same one; revoking a token drops the webhooks
it registered. docs/design/security.md, "Credentials die with their unit"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deconfliction.store import AlreadyExists, Store
from deconfliction.store.tokens import authenticate, issue_token
from tests.support.clock import FIXED_NOW_STORED
from tests.support.stores import StoreFactory

pytestmark = pytest.mark.unit

AT = FIXED_NOW_STORED


def _unit(store: Store, unit_id: str, party_id: str) -> None:
    store.create("unit", unit_id, party_id, {"id": unit_id, "party_id": party_id}, "test")


def _webhook(store: Store, webhook_id: str, unit_id: str, party_id: str, actor: str) -> None:
    store.add_webhook(
        {
            "id": webhook_id,
            "unit_id": unit_id,
            "party_id": party_id,
            "url": "http://127.0.0.1:9/hook",
            "secret": "s" * 32,
            "created_at": AT,
        },
        actor,
    )


def test_deleting_a_unit_revokes_its_tokens_drops_its_webhooks_and_retires_its_id(
    store_factory: StoreFactory,
) -> None:
    store: Store = store_factory()
    _unit(store, "w-team", "whiskey")
    _unit(store, "w-other", "whiskey")
    token, record = issue_token(store, "operator", "w-team", "whiskey", None)
    cell, _ = issue_token(store, "coordinator", "w-team", "whiskey", None)
    kept, _ = issue_token(store, "operator", "w-other", "whiskey", None)
    _webhook(store, "whk_1", "w-team", "whiskey", "cli")
    _webhook(store, "whk_2", "w-other", "whiskey", "cli")

    store.delete("unit", "w-team", "test")

    now = datetime.now(UTC)
    assert authenticate(store, token, now) is None
    assert authenticate(store, cell, now) is None
    assert authenticate(store, kept, now) is not None
    assert [w["id"] for w in store.list_webhooks()] == ["whk_2"]
    assert store.is_retired("unit", "w-team")
    assert not store.is_retired("unit", "w-other")
    revoked = [e for e in store.events(limit=10_000) if (e.kind, e.action) == ("token", "revoke")]
    assert record.token_id in {e.object_id for e in revoked}
    dropped = [e for e in store.events(limit=10_000) if (e.kind, e.action) == ("webhook", "delete")]
    assert [e.object_id for e in dropped] == ["whk_1"]

    for party in ("charlie", "whiskey"):  # another party, and the same one
        with pytest.raises(AlreadyExists):
            _unit(store, "w-team", party)
    assert store.get("unit", "w-team") is None
    with pytest.raises(AlreadyExists):  # the id is taken whatever the backend's state
        _unit(store_factory(), "w-team", "charlie")


def test_revoking_a_token_drops_the_webhooks_it_registered(store_factory: StoreFactory) -> None:
    store: Store = store_factory()
    _unit(store, "w-team", "whiskey")
    _, stolen = issue_token(store, "coordinator", "w-team", "whiskey", None)
    _, other = issue_token(store, "coordinator", "w-team", "whiskey", None)
    _webhook(store, "whk_a", "w-team", "whiskey", f"coordinator:w-team:{stolen.token_id}")
    _webhook(store, "whk_b", "w-team", "whiskey", f"coordinator:w-team:{other.token_id}")

    store.revoke_token(stolen.token_id, "cli")

    assert [w["id"] for w in store.list_webhooks()] == ["whk_b"]


def test_the_migration_retires_units_deleted_before_and_revokes_their_old_tokens(
    store_factory: StoreFactory,
) -> None:
    """A store written by an older version: units deleted (one of them created again by
    another party) with their tokens left usable, and no ``retired_ids``."""
    store: Store = store_factory()
    _unit(store, "gone", "whiskey")
    _unit(store, "reused", "whiskey")
    gone, _ = issue_token(store, "operator", "gone", "whiskey", None)
    old, _ = issue_token(store, "operator", "reused", "whiskey", None)
    store.delete("unit", "gone", "test")
    store.delete("unit", "reused", "test")
    store_factory.raw("DELETE FROM schema_migrations WHERE version = 8")
    store_factory.raw("DROP TABLE retired_ids")
    store_factory.raw("UPDATE tokens SET revoked_at = NULL")  # as the older version left them
    store_factory.raw(  # the older version let another party take the id
        "INSERT INTO objects (kind, id, party_id, version, data, created_at, updated_at) "
        "VALUES ('unit', 'reused', 'charlie', 1, ?, ?, ?)",
        ('{"id": "reused", "party_id": "charlie"}', AT, AT),
    )
    new, _ = issue_token(store, "operator", "reused", "charlie", None)
    now = datetime.now(UTC)
    assert authenticate(store, gone, now) is not None  # the finding, as it was
    assert authenticate(store, old, now) is not None

    migrated: Store = store_factory()

    assert authenticate(migrated, gone, now) is None
    assert authenticate(migrated, old, now) is None
    assert authenticate(migrated, new, now) is not None
    assert migrated.is_retired("unit", "gone")
    assert not migrated.is_retired("unit", "reused")  # it exists again: retired when deleted
    with pytest.raises(AlreadyExists):
        _unit(migrated, "gone", "charlie")
