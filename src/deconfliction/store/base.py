"""The store interface both backends implement: SQLite and PostgreSQL (``sql_store.py``).

A store keeps the current state (registered objects, the latest position
reports, checks, tokens) and an append-only event log that is the source of
truth: every write appends one event in the same transaction as the state
change, so the state can always be rebuilt from the log and the log never
records a write that did not happen.

Conventions shared by all backends:

* Registered objects are JSON documents (``model_dump(mode="json")`` of the
  domain model), kept beside their ``kind``, ``id``, ``party_id`` and a
  ``version`` that starts at 1 and grows by one on each update.
* Times at rest are UTC text of fixed width (see ``store.times``); the API
  takes and returns aware datetimes, except inside report and check dicts,
  which carry the stored text form.
* Every method is thread-safe. ``transaction()`` groups several writes into
  one all-or-nothing unit; writes made outside one are each their own
  transaction. Transactions nest (inner ones are savepoints).
* ``iter_all`` and ``latest_reports`` stream from a consistent snapshot of
  committed data; to follow the store afterwards, note ``last_event_seq()``
  *before* iterating and then apply ``events(after_seq=...)``.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

if TYPE_CHECKING:
    from deconfliction.audit.chain import AuditEntry
    from deconfliction.audit.keys import NodeKey

ObjectKind = Literal["party", "unit", "equipment_type", "asset", "movement", "area", "site"]
#: The kinds of registered objects, in the order they depend on each other.
OBJECT_KINDS: tuple[str, ...] = get_args(ObjectKind)

TokenRole = Literal["operator", "coordinator", "admin"]
TOKEN_ROLES: tuple[str, ...] = get_args(TokenRole)

Durability = Literal["normal", "full"]

#: The keys of a position report dict, as ``add_reports`` takes them and
#: ``latest_reports`` returns them (plus ``received_at`` on the way out).
REPORT_FIELDS: tuple[str, ...] = (
    "asset_id",
    "time",
    "lat",
    "lon",
    "cep_m",
    "extra_radius_m",
    "speed_kmh",
    "course_deg",
    "source",
)


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One check to record (``Store.add_checks``): its request and its answer as JSON
    text, serialised once by the caller (the service already has the answer's bytes)."""

    id: str
    unit_id: str
    party_id: str | None
    #: The request as compact JSON text.
    request: str
    #: The answer as compact JSON text, exactly as it is sent.
    result: str
    actor: str


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A registered object as stored: the JSON document and its bookkeeping."""

    kind: str
    id: str
    party_id: str | None
    version: int
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the append-only event log.

    ``kind`` is an object kind or ``report``, ``check``, ``token``; ``action``
    is ``create``, ``update``, ``delete``, ``add``, ``issue`` or ``revoke``.
    ``hash`` is the audit chain hash. ``payload`` is ``None`` once a retention policy
    purged it (the entry, its digest and its place in the chain stay).
    """

    seq: int
    at: datetime
    kind: str
    action: str
    object_id: str | None
    actor: str
    payload: dict[str, Any] | None
    hash: str | None


@dataclass(frozen=True, slots=True)
class PurgeCutoffs:
    """Retention cutoffs as stored times (``store.times``): what is older is purged.

    ``by_party`` maps a party id to its cutoff (``None``: that party keeps everything);
    ``default`` applies to every other party, and to data of no known party.
    """

    by_party: dict[str, str | None]
    default: str | None = None


@dataclass(frozen=True, slots=True)
class TakCursor:
    """A TAK certificate's cursor (``store/tak_cursors.py``): its unit, the last outbox
    position written to one of its connections, the device those entries were addressed to."""

    unit_id: str
    seq: int
    device_uid: str | None = None
    callsign: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: never the secret, only its SHA-256 hash."""

    token_id: str
    secret_hash: str
    role: str
    unit_id: str | None
    party_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class Store(Protocol):
    """What the service layer needs from storage; see the module docstring."""

    # -- lifecycle ---------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema up to date; a no-op when it already is."""

    def close(self) -> None:
        """Release the connection; the store is unusable afterwards."""

    def __enter__(self) -> Store: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group the writes made inside the block into one transaction."""
        ...

    # -- registered objects ------------------------------------------------
    def create(
        self, kind: str, obj_id: str, party_id: str | None, data: dict[str, Any], actor: str
    ) -> StoredObject:
        """Store a new object at version 1; ``AlreadyExists`` if the id is taken."""
        ...

    def update(
        self,
        kind: str,
        obj_id: str,
        party_id: str | None,
        data: dict[str, Any],
        actor: str,
        expected_version: int | None = None,
    ) -> StoredObject:
        """Replace an object's document; ``NotFound``, or ``VersionConflict``."""
        ...

    def delete(
        self, kind: str, obj_id: str, actor: str, expected_version: int | None = None
    ) -> None:
        """Remove an object; ``NotFound``, or ``VersionConflict``. Deleting a unit retires
        its id and revokes its tokens and webhooks in the same transaction
        (``store/credentials.py``)."""

    def get(self, kind: str, obj_id: str) -> StoredObject | None: ...

    def get_many(self, kind: str, obj_ids: Collection[str]) -> dict[str, StoredObject]:
        """The objects of ``obj_ids`` that exist, by id: one query per 500 (the HOLD
        notices of a check read every matched asset of another party)."""
        ...

    def list(
        self,
        kind: str,
        *,
        party_ids: Collection[str] | None = None,
        after_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[StoredObject]:
        """One page, ordered by id, of objects after ``after_id`` (keyset pagination).

        ``party_ids`` keeps only objects of those parties (``None``: every object).
        """
        ...

    def iter_all(self, kind: str) -> Iterator[StoredObject]:
        """Every object of a kind, by id, from one snapshot of committed data."""
        ...

    def count(self, kind: str) -> int: ...

    # -- position reports --------------------------------------------------
    def add_reports(self, reports: Sequence[dict[str, Any]], actor: str) -> int:
        """Append a batch of reports, all or nothing, and keep the latest per
        ``(asset_id, source)`` by report time; returns how many were stored."""
        ...

    def latest_reports(self) -> Iterator[dict[str, Any]]:
        """The newest report (by report time) per ``(asset_id, source)``."""
        ...

    def count_reports(self) -> int: ...

    # -- checks ------------------------------------------------------------
    def add_check(
        self,
        check_id: str,
        unit_id: str,
        party_id: str | None,
        request: dict[str, Any],
        result: dict[str, Any],
        actor: str,
    ) -> None:
        """Record a check and its answer; ``AlreadyExists`` if the id is taken."""

    def add_checks(self, records: Sequence[CheckRecord]) -> builtins.list[int]:
        """Record checks in one transaction, each with its own event, in order; their
        event seqs. All or none: ``AlreadyExists`` if an id is taken."""
        ...

    def last_write_lock_s(self) -> float:
        """How long this thread's last write transaction held the database's write lock
        (from taking it to its commit or rollback), in seconds; 0.0 before the first."""
        ...

    def get_check(self, check_id: str) -> dict[str, Any] | None:
        """``{"id", "unit_id", "party_id", "request", "result", "created_at"}``."""
        ...

    def count_checks(self) -> int: ...

    # -- event log ---------------------------------------------------------
    def events(
        self,
        after_seq: int = 0,
        limit: int = 1000,
        *,
        kinds: Collection[str] | None = None,
    ) -> builtins.list[Event]:
        """Events with ``seq > after_seq``, oldest first, at most ``limit``; ``kinds`` keeps
        only events of those kinds (``None``: every event), so that a follower that wants
        a few kinds does not read (and decode) the rest."""
        ...

    def last_event_seq(self) -> int:
        """The highest event seq, 0 when the log is empty."""
        ...

    # -- retention and review (``store/audit.py``, ``docs/design/audit.md``) ---------
    def purge(
        self,
        reports: PurgeCutoffs | None,
        checks: PurgeCutoffs | None,
        actor: str,
        note: dict[str, Any],
    ) -> dict[str, int]:
        """Delete reports and checks older than their party's cutoff (the newest report
        per asset and source stays), set their events' payloads to NULL, and append one
        ``retention``/``purge`` event (``note`` + counts) when anything was purged."""
        ...

    def reports_between(self, start: str, end: str) -> Iterator[dict[str, Any]]:
        """Every stored report with ``start <= time <= end`` (stored times), by time."""
        ...

    def checks_between(self, start: str, end: str) -> Iterator[dict[str, Any]]:
        """Every stored check recorded within ``[start, end]``, by time (as ``get_check``)."""
        ...

    # -- audit chain (``store/audit.py``, ``docs/design/audit.md``) --------------
    def use_audit_key(
        self, key: NodeKey | None, *, every: int = 100, interval_s: float = 1.0
    ) -> None:
        """Sign entries with the node key from now on (at least every ``every`` entries
        or ``interval_s`` seconds); ``None`` stops signing."""
        ...

    def audit_entries(self, after: int = 0) -> Iterator[AuditEntry]:
        """Every event-log entry after seq ``after`` with its chain fields, oldest first
        (one snapshot)."""
        ...

    def audit_signer(self) -> NodeKey | None:
        """The node key this store signs entries with (``None``: it does not sign)."""
        ...

    def audit_newest_signed(self, key_id: str, after: int = 0) -> AuditEntry | None:
        """The newest entry after seq ``after`` signed by ``key_id``."""
        ...

    def audit_window(self, lo: int, hi: int) -> builtins.list[AuditEntry]:
        """The entries with ``lo <= seq <= hi``."""
        ...

    def audit_keys(self) -> dict[str, str]:
        """``key_id`` → base64 Ed25519 public key of every node that signed here."""
        ...

    # -- tokens ------------------------------------------------------------
    def add_token(
        self,
        token_id: str,
        secret_hash: str,
        role: str,
        unit_id: str | None,
        party_id: str | None,
        expires_at: datetime | None,
        actor: str,
    ) -> TokenRecord: ...

    def get_token(self, token_id: str) -> TokenRecord | None: ...

    def find_token(self, secret_hash: str) -> TokenRecord | None: ...

    def revoke_token(self, token_id: str, actor: str) -> TokenRecord:
        """Revoke a token (idempotent: the first revocation time stays); ``NotFound``.
        The webhooks it registered are removed with it (``store/credentials.py``)."""
        ...

    def is_retired(self, kind: str, obj_id: str) -> bool:
        """Was an object of ``kind`` with this id deleted? A deleted unit's id is never
        reissued: ``create`` refuses it with ``AlreadyExists`` (``store/credentials.py``)."""
        ...

    def list_tokens(self) -> builtins.list[TokenRecord]: ...

    # -- notifications and the outbox (store/notifications.py) --------------
    def add_notifications(self, rows: Sequence[dict[str, Any]], actor: str) -> builtins.list[int]:
        """Store notifications, each with its event (kind ``notification``, action
        ``create``) and, when addressed to a unit, an outbox row; all in one transaction.
        Returns each one's stream position (0 for one without a unit)."""
        ...

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
        """Change state, deadline or payload (event ``update``); ``NotFound``."""
        ...

    def update_notifications(
        self,
        updates: Sequence[tuple[str, dict[str, Any]]],
        *,
        at: str,
        actor: str,
        outbox_event: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Many (id, changes) updates in one transaction, with one ``update`` event;
        ``NotFound`` (nothing changed) if any id is unknown. The updated rows, in order."""
        ...

    def answer_notification(
        self,
        notification_id: str,
        response: str,
        by: str,
        responded_as: str,
        at: str,
        actor: str,
    ) -> tuple[dict[str, Any], bool]:
        """Record the first answer (event ``respond``, outbox ``answered``); returns the row
        and whether this call stored the answer; ``NotFound``."""
        ...

    def get_notification(self, notification_id: str) -> dict[str, Any] | None: ...

    def get_notifications(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """The notifications of ``ids`` that exist, by id."""
        ...

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
        """Notifications matching every given filter, ordered by ``seq``."""
        ...

    def iter_notifications(self, causes: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every notification (of ``causes``) by ``seq``."""
        ...

    def due_notifications(self, now: str, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """State ``pending`` with ``deadline <= now``, by deadline."""
        ...

    def next_deadline(self) -> str | None: ...

    def outbox_after(
        self, unit_id: str, after_seq: int = 0, limit: int = 100
    ) -> builtins.list[dict[str, Any]]:
        """A unit's outbox after a stream position, each joined with its notification."""
        ...

    def last_outbox_seq(self) -> int: ...

    # -- webhooks (store/webhooks.py) ------------------------------------------------------
    def add_webhook(self, webhook: dict[str, Any], actor: str) -> dict[str, Any]:
        """Store a webhook subscription (its event carries no secret)."""
        ...

    def get_webhook(self, webhook_id: str) -> dict[str, Any] | None: ...

    def list_webhooks(self, unit_id: str | None = None) -> builtins.list[dict[str, Any]]: ...

    def delete_webhook(self, webhook_id: str, at: str, actor: str) -> None:
        """Remove a webhook (``NotFound``); audited."""
        ...

    def webhook_delivered(self, webhook_id: str, position: int, at: str) -> None:
        """The endpoint acknowledged the stream up to ``position``."""
        ...

    def webhook_failed(
        self, webhook_id: str, attempts: int, next_attempt_at: str, error: str
    ) -> None:
        """A delivery failed: count it and schedule the next attempt."""
        ...

    # -- TAK cursors (store/tak_cursors.py) ---------------------------------------------------
    def tak_cursor(self, cert_id: str) -> TakCursor | None:
        """The last outbox position written to a TAK certificate's connections (and the
        device it was addressed to), if stored."""
        ...

    def save_tak_cursors(self, cursors: Mapping[str, TakCursor], at: str) -> None:
        """Store ``cert_id → cursor`` in one transaction, each only moving forward
        (delivery bookkeeping: no event)."""
        ...

    def drop_tak_cursors(self, cert_ids: Collection[str]) -> int:
        """Forget the cursors of these (revoked) certificates; how many there were."""
        ...

    def purge_tak_cursors(self, before: str) -> int:
        """Forget the cursors that last moved before ``before``; how many."""
        ...


def check_kind(kind: str) -> str:
    """``kind`` if it is an object kind, else ``ValueError`` naming the allowed ones."""
    if kind not in OBJECT_KINDS:
        raise ValueError(f"unknown object kind {kind!r}; expected one of {', '.join(OBJECT_KINDS)}")
    return kind


def require_actor(actor: str) -> str:
    """``actor`` if it names someone, else ``ValueError`` (every write records who made it)."""
    if not isinstance(actor, str) or not actor:
        raise ValueError("actor must be a non-empty string")
    return actor
