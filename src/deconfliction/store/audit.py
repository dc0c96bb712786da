"""The audit chain in the stores: shared by ``SQLiteStore`` and ``PostgresStore``.

The backend provides ``transaction()``, ``_fetch`` (qmark SQL; inside a
transaction it runs on the transaction's connection), ``_execute``, ``_execute_many``
and ``_snapshot`` (a streamed read); ``AuditLogSQL`` provides every backend's
``_append_event(s)``. Appends are already serialised by each backend (SQLite's write
lock, PostgreSQL's advisory lock), so the previous entry read here is the one the new
entry follows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from deconfliction.audit.chain import GENESIS, AuditEntry, entry_hash, payload_digest
from deconfliction.audit.keys import NodeKey
from deconfliction.store.backend_sql import BackendSQL, EventEntry
from deconfliction.store.base import REPORT_FIELDS, PurgeCutoffs
from deconfliction.store.jsontext import dumps, loads

_INSERT_CHAINED = (
    "INSERT INTO events (seq, at, kind, action, object_id, actor, payload, payload_digest, "
    "hash, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
ENTRY_COLUMNS = (
    "seq, at, kind, action, object_id, actor, payload, payload_digest, hash, key_id, signature"
)
_BATCH = 1000


class AuditLogSQL(BackendSQL):
    """Chains every appended event; reads the chain for ``audit verify`` and export."""

    #: The node key that signs entries (``None``: entries are not signed).
    _audit_key: NodeKey | None = None
    #: Sign an entry when this many entries, or this many seconds, have passed since
    #: this store last signed one (each hash commits to the whole prefix).
    _audit_sign_every: int = 100
    _audit_sign_interval_s: float = 1.0
    _audit_since_signed: int = 0
    _audit_signed_at: float = float("-inf")

    # -- signing -------------------------------------------------------------
    def use_audit_key(
        self, key: NodeKey | None, *, every: int = 100, interval_s: float = 1.0
    ) -> None:
        """Sign entries with ``key`` from now on (registering its public key in the
        database), at least every ``every`` entries or ``interval_s`` seconds."""
        if every < 1:
            raise ValueError("every must be at least 1")
        self._audit_sign_every = every
        self._audit_sign_interval_s = interval_s
        self._audit_since_signed = 0
        self._audit_signed_at = float("-inf")
        if key is not None:
            with self.transaction():
                self._fetch(
                    "INSERT INTO audit_keys (key_id, public_key, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key_id) DO NOTHING RETURNING key_id",
                    (key.key_id, key.public_b64, self._now()),
                )
        self._audit_key = key

    def _audit_signature(self, hash_: str) -> tuple[str | None, str | None]:
        key = self._audit_key
        if key is None:
            return None, None
        self._audit_since_signed += 1
        now = time.monotonic()
        if (
            self._audit_since_signed < self._audit_sign_every
            and now - self._audit_signed_at < self._audit_sign_interval_s
        ):
            return None, None
        self._audit_since_signed = 0
        self._audit_signed_at = now
        return key.key_id, key.sign(hash_)

    # -- appending -----------------------------------------------------------
    def _last_link(self) -> tuple[int, str]:
        rows = self._fetch("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
        if not rows:
            return 0, GENESIS
        seq, hash_ = rows[0]
        if hash_ is None:  # events appended before the chain existed
            self._seal_unchained()
            return self._last_link()
        return int(seq), str(hash_)

    def _append_event(
        self,
        at: str,
        kind: str,
        action: str,
        object_id: str | None,
        actor: str,
        payload: str,
        digest: str | None = None,
    ) -> int:
        """Append one event with its digest (``digest``: computed already, before the write
        lock), chain hash and (maybe) signature; its seq."""
        if digest is None:
            digest = payload_digest(payload)
        prev_seq, prev_hash = self._last_link()
        seq = prev_seq + 1
        hash_ = entry_hash(prev_hash, seq, at, kind, action, object_id, actor, digest)
        key_id, signature = self._audit_signature(hash_)
        self._execute(
            _INSERT_CHAINED,
            (seq, at, kind, action, object_id, actor, payload, digest, hash_, key_id, signature),
        )
        return seq

    def _append_events(
        self, entries: Sequence[EventEntry], digests: Sequence[str] | None = None
    ) -> list[int]:
        """Append events in order, as one statement: the chain link read once, every
        hash computed here (``digests``: the payloads' digests, computed already). Their
        seqs. (A fan-out writes thousands of notifications in one transaction; one round
        trip each was most of its time.)"""
        if not entries:
            return []
        if digests is None:
            digests = [payload_digest(entry[5]) for entry in entries]
        prev_seq, prev_hash = self._last_link()
        rows = []
        seqs = []
        for offset, ((at, kind, action, object_id, actor, payload), digest) in enumerate(
            zip(entries, digests, strict=True), 1
        ):
            seq = prev_seq + offset
            prev_hash = entry_hash(prev_hash, seq, at, kind, action, object_id, actor, digest)
            key_id, signature = self._audit_signature(prev_hash)
            rows.append(
                (
                    seq,
                    at,
                    kind,
                    action,
                    object_id,
                    actor,
                    payload,
                    digest,
                    prev_hash,
                    key_id,
                    signature,
                )
            )
            seqs.append(seq)
        self._execute_many(_INSERT_CHAINED, rows)
        return seqs

    def _seal_unchained(self) -> int:
        """Chain the events written before the chain existed (in a transaction); how many."""
        sealed = 0
        with self.transaction():
            while True:
                rows = self._fetch(
                    "SELECT seq, at, kind, action, object_id, actor, payload FROM events "
                    "WHERE hash IS NULL ORDER BY seq LIMIT ?",
                    (_BATCH,),
                )
                if not rows:
                    return sealed
                first = int(rows[0][0])
                before = self._fetch(
                    "SELECT hash FROM events WHERE seq < ? ORDER BY seq DESC LIMIT 1", (first,)
                )
                prev_hash = str(before[0][0]) if before and before[0][0] else GENESIS
                for seq, at, kind, action, object_id, actor, payload in rows:
                    digest = payload_digest(payload)
                    prev_hash = entry_hash(
                        prev_hash, int(seq), at, kind, action, object_id, actor, digest
                    )
                    self._execute(
                        "UPDATE events SET payload_digest = ?, hash = ? WHERE seq = ?",
                        (digest, prev_hash, seq),
                    )
                    sealed += 1

    # -- reading -------------------------------------------------------------
    def audit_entries(self, after: int = 0) -> Iterator[AuditEntry]:
        """Every entry after seq ``after``, oldest first, from one consistent snapshot."""
        where = f" WHERE seq > {int(after)}" if after else ""  # an int: no placeholder needed
        for row in self._snapshot(f"SELECT {ENTRY_COLUMNS} FROM events{where} ORDER BY seq"):
            yield AuditEntry(*row)

    def audit_signer(self) -> NodeKey | None:
        """The key this store signs entries with (``None``: it does not sign)."""
        return self._audit_key

    def audit_newest_signed(self, key_id: str, after: int = 0) -> AuditEntry | None:
        """The newest entry after seq ``after`` signed by ``key_id`` (a checkpoint to
        anchor); bounded by ``after`` so that the backward scan stops there."""
        rows = self._fetch(
            f"SELECT {ENTRY_COLUMNS} FROM events WHERE seq > ? AND key_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (after, key_id),
        )
        return AuditEntry(*rows[0]) if rows else None

    def audit_window(self, lo: int, hi: int) -> list[AuditEntry]:
        rows = self._fetch(
            f"SELECT {ENTRY_COLUMNS} FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq",
            (lo, hi),
        )
        return [AuditEntry(*row) for row in rows]

    def audit_keys(self) -> dict[str, str]:
        """``key_id`` → base64 public key of every node that has signed here."""
        return {str(k): str(v) for k, v in self._fetch("SELECT key_id, public_key FROM audit_keys")}


class RetentionSQL(BackendSQL):
    """Retention purges (``docs/design/audit.md``, "Retention"): rows of the current state
    are deleted and the payloads of their events set to NULL; the chain, which covers the
    payload digests, still verifies. Shared by both backends like ``AuditLogSQL``."""

    # -- the after-action review's reads ------------------------------------------------
    def reports_between(self, start: str, end: str) -> Iterator[dict[str, Any]]:
        """Every stored report with ``start <= time <= end``, by time."""
        keys = (*REPORT_FIELDS, "received_at")
        sql = (
            f"SELECT {', '.join(keys)} FROM reports WHERE time >= ? AND time <= ? "
            "ORDER BY time, seq"
        )
        for row in self._snapshot(sql, (start, end)):
            yield dict(zip(keys, row, strict=True))

    def checks_between(self, start: str, end: str) -> Iterator[dict[str, Any]]:
        """Every stored check recorded within ``[start, end]``, by time."""
        sql = (
            "SELECT id, unit_id, party_id, request, result, created_at FROM checks "
            "WHERE created_at >= ? AND created_at <= ? ORDER BY created_at, id"
        )
        rows = self._snapshot(sql, (start, end))
        for check_id, unit_id, party_id, request, result, created_at in rows:
            yield {
                "id": check_id,
                "unit_id": unit_id,
                "party_id": party_id,
                "request": loads(request),
                "result": loads(result),
                "created_at": created_at,
            }

    # -- purging ---------------------------------------------------------------------------
    def purge(
        self,
        reports: PurgeCutoffs | None,
        checks: PurgeCutoffs | None,
        actor: str,
        note: dict[str, Any],
    ) -> dict[str, int]:
        """Purge, in one transaction, the position reports (by report time, of the
        asset's party) and the checks (by record time, of the asking party) older than
        their cutoffs, and record what was purged as one ``retention``/``purge`` event
        (``note`` plus the counts) when anything was. The newest report per asset and
        source is kept: it is the current state the check relies on."""
        counts = {"report_rows": 0, "report_payloads": 0, "checks": 0, "check_payloads": 0}
        with self.transaction():
            if reports is not None:
                self._purge_reports(reports, counts)
            if checks is not None:
                self._purge_checks(checks, counts)
            if any(counts.values()):
                payload = dumps({**note, "purged": counts})
                self._append_event(self._now(), "retention", "purge", None, actor, payload)
        return counts

    def _purge_reports(self, cutoffs: PurgeCutoffs, counts: dict[str, int]) -> None:
        case, params = _cutoff_case(
            "(SELECT o.party_id FROM objects o WHERE o.kind = 'asset' AND o.id = r.asset_id)",
            cutoffs,
        )
        rows = self._fetch(
            f"SELECT r.seq, r.event_seq FROM reports r WHERE r.time < {case} AND NOT EXISTS ("
            "SELECT 1 FROM latest_reports l WHERE l.asset_id = r.asset_id AND "
            "l.source = r.source AND l.time = r.time AND l.event_seq = r.event_seq)",
            params,
        )
        events: set[int] = set()
        for chunk in _chunks([int(seq) for seq, _ in rows]):
            marks = ", ".join("?" * len(chunk))
            counts["report_rows"] += self._execute(
                f"DELETE FROM reports WHERE seq IN ({marks})", chunk
            )
        events.update(int(event_seq) for _, event_seq in rows)
        for chunk in _chunks(sorted(events)):
            marks = ", ".join("?" * len(chunk))
            # A batch keeps its payload while any of its rows is kept.
            counts["report_payloads"] += self._execute(
                f"UPDATE events SET payload = NULL WHERE seq IN ({marks}) AND kind = 'report' "
                "AND payload IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM reports r WHERE r.event_seq = events.seq)",
                chunk,
            )

    def _purge_checks(self, cutoffs: PurgeCutoffs, counts: dict[str, int]) -> None:
        case, params = _cutoff_case("c.party_id", cutoffs)
        rows = self._fetch(
            f"SELECT c.id, c.event_seq FROM checks c WHERE c.created_at < {case}", params
        )
        for chunk in _chunks([str(check_id) for check_id, _ in rows]):
            marks = ", ".join("?" * len(chunk))
            counts["checks"] += self._execute(f"DELETE FROM checks WHERE id IN ({marks})", chunk)
        for chunk in _chunks(sorted({int(event_seq) for _, event_seq in rows})):
            marks = ", ".join("?" * len(chunk))
            counts["check_payloads"] += self._execute(
                f"UPDATE events SET payload = NULL WHERE seq IN ({marks}) AND kind = 'check' "
                "AND payload IS NOT NULL",
                chunk,
            )


def _cutoff_case(party_sql: str, cutoffs: PurgeCutoffs) -> tuple[str, list[Any]]:
    """A SQL expression giving the cutoff for the party ``party_sql`` evaluates to; the
    empty string (before every stored time) where nothing is to be purged."""
    params: list[Any] = []
    whens = ""
    for party, cutoff in sorted(cutoffs.by_party.items()):
        whens += " WHEN ? THEN ?"
        params.extend((party, cutoff or ""))
    params.append(cutoffs.default or "")
    if not whens:
        return "CAST(? AS TEXT)", params
    return f"(CASE COALESCE({party_sql}, '') {whens} ELSE CAST(? AS TEXT) END)", params


def _chunks(values: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
