"""``audit verify`` and ``audit export``: the chain checked from a store or a file.

The export is JSON lines: a header (format, the public keys of the nodes that
signed, the head, and the exporting node's signature of the head), then one
line per entry with its digest, hash, signature and (unless left out) payload,
stored as the exact text it was digested from. ``verify_file`` needs nothing
but the file, and optionally the public keys to pin.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from deconfliction.audit.anchor import Anchor, anchor_from_dict, applicable, check_anchors
from deconfliction.audit.chain import (
    GENESIS,
    AuditEntry,
    ChainVerifier,
    Problem,
    diagnose,
    signed_message,
)
from deconfliction.audit.keys import NodeKey, key_id_of, verify_signature

FORMAT = "deconfliction-audit"
VERSION = 1
_HEAD_TAG = b"deconfliction/audit/head/v1\x00"


#: What verify says of a log whose end no anchor speaks for (docs/design/security.md).
NOT_ANCHORED = "end not anchored"


class AuditSource(Protocol):
    def audit_entries(self, after: int = 0) -> Iterator[AuditEntry]: ...

    def audit_window(self, lo: int, hi: int) -> list[AuditEntry]: ...

    def audit_keys(self) -> dict[str, str]: ...


@dataclass
class Report:
    """What a verification found."""

    problem: Problem | None = None
    count: int = 0
    purged: int = 0
    signed: int = 0
    unsigned_tail: int = 0  # entries after the last signed one
    head_seq: int = 0
    head_hash: str = GENESIS
    keys: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: How many anchors were checked (``None``: anchors were not looked for), and the
    #: highest anchored seq among them.
    anchors_checked: int | None = None
    anchored_seq: int | None = None
    #: Where the check began (a position verified before; 0: the whole log).
    verified_from: int = 0
    #: The newest signed entry the check verified: (seq, hash), a checkpoint to go on from.
    last_signed: tuple[int, str] | None = None

    @property
    def anchored(self) -> bool:
        return bool(self.anchors_checked)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def require_anchor(self, why: str) -> None:
        """Count an intact log whose end no anchor speaks for as broken (``not_anchored``
        at the head; ``why`` names who asked, e.g. ``--require-anchor``)."""
        if self.ok and not self.anchored:
            self.problem = Problem(self.head_seq, "not_anchored", f"{NOT_ANCHORED} ({why})")

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problem": None
            if self.problem is None
            else {
                "seq": self.problem.seq,
                "code": self.problem.code,
                "message": self.problem.message,
            },
            "entries": self.count,
            "purged_payloads": self.purged,
            "signed_entries": self.signed,
            "unsigned_tail": self.unsigned_tail,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "keys": self.keys,
            "notes": self.notes,
            "anchors": None
            if self.anchors_checked is None
            else {"checked": self.anchors_checked, "newest_seq": self.anchored_seq},
            "verified_from": self.verified_from,
        }


def _head_message(seq: int, hash_hex: str) -> bytes:
    return _HEAD_TAG + seq.to_bytes(8, "big") + bytes.fromhex(hash_hex)


def _check(
    entries: Iterable[AuditEntry],
    keys: dict[str, bytes],
    window: Callable[[int, int], Sequence[AuditEntry]],
    pinned: set[bytes] | None,
    start: tuple[int, str] = (0, GENESIS),
) -> Report:
    report = Report(keys={k: base64.b64encode(v).decode() for k, v in keys.items()})
    report.verified_from = start[0]
    chain = ChainVerifier(*start)
    problem: Problem | None = None
    for entry in entries:
        problem = chain.feed(entry)
        if problem is not None:
            break
        if entry.key_id is None and entry.signature is None:
            report.unsigned_tail += 1
            continue
        raw = keys.get(entry.key_id or "")
        if raw is None or entry.signature is None:
            problem = Problem(entry.seq, "signature", f"signed by unknown key {entry.key_id!r}")
            break
        if pinned is not None and raw not in pinned:
            problem = Problem(
                entry.seq, "signature", f"signed by key {entry.key_id}, which is not pinned"
            )
            break
        assert entry.hash is not None
        if not verify_signature(raw, entry.signature, signed_message(entry.hash)):
            problem = Problem(entry.seq, "signature", "signature does not verify")
            break
        report.signed += 1
        report.unsigned_tail = 0
        report.last_signed = (entry.seq, entry.hash)
    if problem is not None:
        problem = diagnose(problem, window)
    report.problem = problem
    report.count = chain.count
    report.purged = chain.purged
    report.head_seq = chain.prev_seq
    report.head_hash = chain.prev_hash
    return report


def _decode_keys(keys: dict[str, str]) -> dict[str, bytes]:
    decoded: dict[str, bytes] = {}
    for key_id, b64 in keys.items():
        raw = base64.b64decode(b64)
        if key_id_of(raw) != key_id:
            raise ValueError(f"key {key_id}: its id does not match the public key")
        decoded[key_id] = raw
    return decoded


def _entry_at(store: AuditSource, seq: int) -> AuditEntry | None:
    found = store.audit_window(seq, seq)
    return found[0] if found else None


def verify_store(
    store: AuditSource,
    pinned: Sequence[bytes] | None = None,
    anchors: Sequence[Anchor] | None = None,
    *,
    location: str = "",
    since: tuple[int, str] | None = None,
) -> Report:
    """Check the store's log (one snapshot), signatures included, then the anchors that
    speak for this store (``audit.anchor``; read them *before* calling, so that none
    names an entry committed after the snapshot). ``since``: a position verified
    before, (seq, hash): the check goes on from there (the start-up check)."""
    keys = _decode_keys(store.audit_keys())
    pin = set(pinned) if pinned else None
    start = (0, GENESIS)
    if since is not None and since[0] > 0:
        there = _entry_at(store, since[0])
        if there is None or there.hash != since[1]:
            report = Report(verified_from=since[0])
            what = "is missing" if there is None else "has another hash"
            report.problem = Problem(
                since[0],
                "cut" if there is None else "altered",
                f"seq {since[0]}, verified before, {what} now",
            )
            return report
        start = since
    report = _check(store.audit_entries(after=start[0]), keys, store.audit_window, pin, start)
    if anchors is not None:
        first = _entry_at(store, 1)
        relevant = applicable(anchors, first.hash if first else None, location)
        _apply_anchors(report, relevant, lambda seq: _entry_at(store, seq), pin)
    return report


def _apply_anchors(
    report: Report,
    relevant: Sequence[Anchor],
    entry_at: Callable[[int], AuditEntry | None],
    pinned: set[bytes] | None,
) -> None:
    report.anchors_checked = len(relevant)
    report.anchored_seq = max((a.seq for a in relevant), default=None)
    if not relevant:
        report.notes.append(
            f"{NOT_ANCHORED}: no anchor of this log was found, so entries removed from its "
            "end would go unnoticed (docs/design/security.md)"
        )
        return
    if report.ok:
        report.problem = check_anchors(relevant, report.head_seq, entry_at, pinned)
    if report.ok:
        report.notes.append(
            f"end anchored: {len(relevant)} anchors checked, newest at seq {report.anchored_seq}"
        )


def export(
    store: AuditSource,
    out: IO[str],
    *,
    payloads: bool = True,
    key: NodeKey | None = None,
    anchors: Sequence[Anchor] | None = None,
    location: str = "",
) -> Report:
    """Write the log to ``out`` (JSON lines) after checking it; the header is written
    last-known-first: the entries are read once, into memory, so that the header can
    name the head. Refuses (the report has the problem) to export a broken log, or one
    whose end an anchor shows cut. The anchors of this store go into the header: the
    export is a second place where its end is recorded."""
    entries = list(store.audit_entries())
    keys = store.audit_keys()
    report = _check(entries, _decode_keys(keys), store.audit_window, None)
    relevant: list[Anchor] = []
    if anchors is not None:
        by_seq = {e.seq: e for e in entries}
        relevant = applicable(anchors, entries[0].hash if entries else None, location)
        _apply_anchors(report, relevant, by_seq.get, None)
    if not report.ok:
        return report
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "payloads": payloads,
        "count": len(entries),
        "head": {"seq": report.head_seq, "hash": report.head_hash},
        "keys": keys,
        "exported_by": None,
        "head_signature": None,
        "anchors": [a.as_dict() for a in relevant],
    }
    if key is not None:
        header["keys"] = {**keys, key.key_id: key.public_b64}
        header["exported_by"] = key.key_id
        header["head_signature"] = key.sign_bytes(_head_message(report.head_seq, report.head_hash))
    out.write(json.dumps(header, separators=(",", ":")) + "\n")
    for e in entries:
        line = {
            "seq": e.seq,
            "at": e.at,
            "kind": e.kind,
            "action": e.action,
            "object_id": e.object_id,
            "actor": e.actor,
            "payload_digest": e.payload_digest,
            "hash": e.hash,
            "key_id": e.key_id,
            "signature": e.signature,
            "payload": e.payload if payloads else None,
        }
        out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
    return report


def _entry(obj: Any, line: int) -> AuditEntry:
    if not isinstance(obj, dict) or not isinstance(obj.get("seq"), int):
        raise ValueError(f"line {line}: not an audit entry")
    try:
        return AuditEntry(
            seq=obj["seq"],
            at=obj["at"],
            kind=obj["kind"],
            action=obj["action"],
            object_id=obj["object_id"],
            actor=obj["actor"],
            payload=obj.get("payload"),
            payload_digest=obj["payload_digest"],
            hash=obj["hash"],
            key_id=obj.get("key_id"),
            signature=obj.get("signature"),
        )
    except KeyError as exc:
        raise ValueError(f"line {line}: missing {exc}") from None


def verify_file(path: Path, pinned: Sequence[bytes] | None = None) -> Report:
    """Check an exported file with nothing but the file (and the keys to pin, if any).
    ``ValueError`` if it is not an audit export at all."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    if not lines:
        raise ValueError(f"{path}: empty")
    header = json.loads(lines[0])
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: format version {header.get('version')} is not supported")
    keys = _decode_keys(dict(header.get("keys") or {}))
    entries = [_entry(json.loads(text), n) for n, text in enumerate(lines[1:], start=2)]
    by_seq = {e.seq: e for e in entries}
    pin = set(pinned) if pinned else None

    def window(lo: int, hi: int) -> list[AuditEntry]:
        return [by_seq[s] for s in range(lo, hi + 1) if s in by_seq]

    # Lines out of order: name the seq that should have come.
    for index, entry in enumerate(entries):
        expected = (entries[index - 1].seq + 1) if index else 1
        if entry.seq != expected and expected in by_seq and entry.seq > expected:
            where = entries.index(by_seq[expected]) + 2
            report = Report()
            report.problem = Problem(
                expected,
                "reordered",
                f"appears at line {where}, after seq {entry.seq} (entries were reordered)",
            )
            return report
        if entry.seq != expected:
            break
    report = _check(entries, keys, window, pin)
    report.keys = dict(header.get("keys") or {})
    if not report.ok:
        return report
    head = header.get("head") or {}
    head_seq, head_hash = head.get("seq"), head.get("hash")
    if head_seq != report.head_seq or head_hash != report.head_hash:
        report.problem = Problem(
            report.head_seq + 1,
            "missing",
            f"the file ends at seq {report.head_seq}, its header names head seq {head_seq} "
            "(entries dropped from the end, or the header altered)",
        )
        return report
    signer, signature = header.get("exported_by"), header.get("head_signature")
    if signer is not None or signature is not None:
        raw = keys.get(str(signer))
        if raw is None or not isinstance(signature, str):
            report.problem = Problem(report.head_seq, "signature", "head signed by unknown key")
        elif pin is not None and raw not in pin:
            report.problem = Problem(report.head_seq, "signature", "head key is not pinned")
        elif not verify_signature(raw, signature, _head_message(report.head_seq, report.head_hash)):
            report.problem = Problem(report.head_seq, "signature", "head signature does not verify")
        else:
            report.unsigned_tail = 0
            report.notes.append(f"head signed by {signer}")
    elif pin is not None:
        report.problem = Problem(report.head_seq, "signature", "the head is not signed")
    if report.ok and "anchors" in header:
        # The anchors the exporting node knew: the file must hold each of them too.
        listed = [anchor_from_dict(a, f"{path} header") for a in header.get("anchors") or []]
        _apply_anchors(report, listed, by_seq.get, pin)
    return report
