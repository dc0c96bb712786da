"""The audit hash chain: pure functions and a streaming verifier, no I/O.

Every event-log entry carries

* ``payload_digest`` = SHA-256 of its payload, as the exact UTF-8 text stored
  (the store writes payloads once, as compact JSON, and never rewrites them);
* ``hash`` = SHA-256 over a domain tag, the previous entry's hash (32 zero
  bytes before the first), the seq (8 bytes, big-endian), then ``at``,
  ``kind``, ``action``, ``object_id``, ``actor`` (each length-prefixed, so no
  two different entries encode alike; a null ``object_id`` has its own
  marker) and the payload digest.

The chain covers the payload's *digest*, not the payload: a payload may later
be purged (set to null) and the chain still verifies. Optionally an entry is
signed: Ed25519 over ``SIGNATURE_TAG + hash``; the signature is not part of
the chain (see ``audit.keys``).

Both stores compute an entry's hash at append time, inside the transaction
that appends it, from the previous entry's stored hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

#: The ``prev_hash`` of the first entry.
GENESIS = "00" * 32
_TAG = b"deconfliction/audit/entry/v1\x00"
#: What an entry's signature signs, followed by the entry's raw 32-byte hash.
SIGNATURE_TAG = b"deconfliction/audit/signature/v1\x00"


def payload_digest(payload: str) -> str:
    """SHA-256 (hex) of a payload as stored."""
    return hashlib.sha256(payload.encode()).hexdigest()


def _field(value: str | None) -> bytes:
    if value is None:
        return b"\xff"
    raw = value.encode()
    return b"\x00" + len(raw).to_bytes(4, "big") + raw


def entry_hash(
    prev_hash: str,
    seq: int,
    at: str,
    kind: str,
    action: str,
    object_id: str | None,
    actor: str,
    digest: str,
) -> str:
    """The chain hash (hex) of one entry."""
    h = hashlib.sha256(_TAG)
    h.update(bytes.fromhex(prev_hash))
    h.update(seq.to_bytes(8, "big", signed=False))
    for value in (at, kind, action, object_id, actor):
        h.update(_field(value))
    h.update(bytes.fromhex(digest))
    return h.hexdigest()


def signed_message(hash_hex: str) -> bytes:
    """The bytes an entry's signature signs."""
    return SIGNATURE_TAG + bytes.fromhex(hash_hex)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One entry as stored or exported; ``payload`` is ``None`` once purged (or not exported)."""

    seq: int
    at: str
    kind: str
    action: str
    object_id: str | None
    actor: str
    payload: str | None
    payload_digest: str | None
    hash: str | None
    key_id: str | None = None
    signature: str | None = None

    def expected_hash(self, prev_hash: str, seq: int | None = None) -> str | None:
        if self.payload_digest is None or not _is_hex32(self.payload_digest):
            return None
        return entry_hash(
            prev_hash,
            self.seq if seq is None else seq,
            self.at,
            self.kind,
            self.action,
            self.object_id,
            self.actor,
            self.payload_digest,
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with a log: where and what."""

    seq: int
    # missing | reordered | duplicate | payload_digest | hash | unchained | signature, and
    # against an anchor (``audit.anchor``): cut | altered | anchor
    code: str
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.message}"


def _is_hex32(value: str) -> bool:
    if len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


class ChainVerifier:
    """Checks entries fed in log order; ``feed`` returns the first problem, then stops."""

    def __init__(self, start_seq: int = 0, start_hash: str = GENESIS) -> None:
        # A start other than the genesis: go on from a position verified before.
        self.prev_seq = start_seq
        self.prev_hash = start_hash
        self.count = 0
        self.purged = 0
        self.problem: Problem | None = None

    def feed(self, entry: AuditEntry) -> Problem | None:
        if self.problem is not None:
            return self.problem
        expected = self.prev_seq + 1
        if entry.seq != expected:
            if entry.seq <= self.prev_seq:
                return self._fail(
                    entry.seq,
                    "reordered" if entry.seq < self.prev_seq else "duplicate",
                    f"appears after seq {self.prev_seq}"
                    if entry.seq < self.prev_seq
                    else "appears twice",
                )
            missing = (
                f"seq {expected} is missing"
                if entry.seq == expected + 1
                else f"seqs {expected}..{entry.seq - 1} are missing"
            )
            return self._fail(expected, "missing", f"{missing} (next present: {entry.seq})")
        if entry.hash is None or entry.payload_digest is None:
            return self._fail(entry.seq, "unchained", "no hash or payload digest")
        if entry.payload is None:
            self.purged += 1
        elif payload_digest(entry.payload) != entry.payload_digest:
            return self._fail(
                entry.seq, "payload_digest", "payload digest mismatch (the payload was altered)"
            )
        if entry.expected_hash(self.prev_hash) != entry.hash:
            return self._fail(
                entry.seq, "hash", "hash mismatch (the entry or its predecessor was altered)"
            )
        self.prev_seq = entry.seq
        self.prev_hash = entry.hash
        self.count += 1
        return None

    def _fail(self, seq: int, code: str, message: str) -> Problem:
        self.problem = Problem(seq, code, message)
        return self.problem


def diagnose(problem: Problem, window: Callable[[int, int], Sequence[AuditEntry]]) -> Problem:
    """Refine a hash mismatch at seq n: if the entry stored at n is a valid entry of
    another seq m near it (its hash matches with m and some stored predecessor),
    entries were reordered. ``window(lo, hi)`` gives the stored entries lo..hi."""
    if problem.code != "hash":
        return problem
    n = problem.seq
    span = 64
    entries = list(window(max(1, n - span), n + span))
    here = next((e for e in entries if e.seq == n), None)
    if here is None or here.hash is None:
        return problem
    prevs = {GENESIS} | {e.hash for e in entries if e.hash is not None}
    for m in sorted((e.seq for e in entries if e.seq != n), key=lambda s: abs(s - n)):
        for prev in prevs:
            if here.expected_hash(prev, m) == here.hash:
                return Problem(
                    n, "reordered", f"holds the entry written as seq {m} (entries were reordered)"
                )
    return problem


def first_problem(entries: Iterable[AuditEntry]) -> tuple[ChainVerifier, Problem | None]:
    """Verify a whole sequence of entries (already in memory) by the chain alone."""
    verifier = ChainVerifier()
    for entry in entries:
        if verifier.feed(entry) is not None:
            break
    return verifier, verifier.problem
