"""The audit log's end, anchored outside the store (``docs/design/audit.md``, "The end anchored").

A hash chain proves every entry up to its head, but nothing in the store records
where the head *was*: deleting the last entries leaves a shorter chain that is
still intact. So each node also writes its newest signed checkpoint (the newest
entry its key signed: seq and chain hash) to a file beside its signing key,
``audit_anchor-<key_id>.json`` in the data directory, where truncating the store
does not remove it. ``audit verify`` then requires the store to still contain each
anchored checkpoint: absent, the end was **cut**; present with another hash, the log
was **altered** (cut and written again, or rewritten).

One file per key (several servers of one node sharing a PostgreSQL store each have
their own data directory and key, so each anchors its own checkpoints; servers sharing
a data directory share its key and its file). Inside, one record per *chain* (a store,
known by the hash of its first entry, so one key used on two stores keeps both apart):
its location, the last ``KEEP`` anchors (newest first), and the position the server
last verified the chain up to (``verified``), from which the next start-up check goes
on. Each anchor is signed by the key (``ANCHOR_TAG``), so the file needs no store to be
checked. Written atomically (a temporary file, fsync, rename), 0600, under an advisory
lock so that a server and a CLI on the same data directory do not lose each other's
anchors.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deconfliction.audit.chain import AuditEntry, Problem
from deconfliction.audit.keys import NodeKey, key_id_of, verify_signature

FORMAT = "deconfliction-audit-anchor"
VERSION = 1
#: Anchor files in a data directory: ``audit_anchor-<key_id>.json``.
FILE_PREFIX = "audit_anchor-"
FILE_SUFFIX = ".json"
#: Anchors kept per chain (newest first): rotation.
KEEP = 8
#: Chains kept per file (most recently anchored first): a key used on many stores.
KEEP_CHAINS = 16
#: What an anchor's signature signs, followed by seq (8 bytes) and the raw hash.
ANCHOR_TAG = b"deconfliction/audit/anchor/v1\x00"


def anchor_message(seq: int, hash_hex: str) -> bytes:
    return ANCHOR_TAG + seq.to_bytes(8, "big") + bytes.fromhex(hash_hex)


def anchor_path(directory: Path, key_id: str) -> Path:
    return Path(directory) / f"{FILE_PREFIX}{key_id}{FILE_SUFFIX}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Anchor:
    """One anchored checkpoint of one chain, as read from a file (or an export's header)."""

    seq: int
    hash: str
    at: str  # the entry's time
    written_at: str
    key_id: str
    public_key: str  # base64
    signature: str
    chain: str  # the hash of the chain's first entry
    store: str  # where the store was (a redacted URL or a SQLite path)
    source: str  # the file it was read from

    def signed_ok(self) -> bool:
        try:
            import base64

            raw = base64.b64decode(self.public_key, validate=True)
        except ValueError:
            return False
        return key_id_of(raw) == self.key_id and verify_signature(
            raw, self.signature, anchor_message(self.seq, self.hash)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "written_at": self.written_at,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
            "chain": self.chain,
            "store": self.store,
        }


# -- writing -------------------------------------------------------------------------------
class AnchorBook:
    """A node key's anchor file: records checkpoints and the last verified position."""

    def __init__(self, directory: Path, key: NodeKey, store: str) -> None:
        self.path = anchor_path(directory, key.key_id)
        self.key = key
        self.store = store

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The file's content, read and written back under an exclusive lock."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = _read(self.path) or {
                "format": FORMAT,
                "version": VERSION,
                "key_id": self.key.key_id,
                "public_key": self.key.public_b64,
                "chains": {},
            }
            yield data
            _write_atomically(self.path, data)
        finally:
            os.close(fd)  # releases the lock

    def _chain(self, data: dict[str, Any], chain: str) -> dict[str, Any]:
        chains: dict[str, Any] = data.setdefault("chains", {})
        record: dict[str, Any] = chains.pop(chain, None) or {"anchors": [], "verified": None}
        record["store"] = self.store
        # Most recently touched first; the oldest chains beyond KEEP_CHAINS are dropped.
        data["chains"] = dict([(chain, record), *list(chains.items())[: KEEP_CHAINS - 1]])
        return record

    def record(self, chain: str, entry: AuditEntry) -> None:
        """Anchor ``entry`` (committed, chained) as the newest checkpoint of ``chain``."""
        assert entry.hash is not None
        with self._locked() as data:
            record = self._chain(data, chain)
            # Never drop an anchor another entry now stands at (evidence of a rewrite):
            # only the same checkpoint anchored twice (a server and a CLI on one key).
            anchors = [
                a for a in record["anchors"] if (a["seq"], a["hash"]) != (entry.seq, entry.hash)
            ]
            anchor = {
                "seq": entry.seq,
                "hash": entry.hash,
                "at": entry.at,
                "written_at": _now(),
                "signature": self.key.sign_bytes(anchor_message(entry.seq, entry.hash)),
            }
            record["anchors"] = sorted([anchor, *anchors], key=lambda a: -int(a["seq"]))[:KEEP]

    def record_verified(self, chain: str, seq: int, hash_: str) -> None:
        """The chain was verified up to ``seq`` (whose hash is ``hash_``)."""
        with self._locked() as data:
            self._chain(data, chain)["verified"] = {"seq": seq, "hash": hash_, "at": _now()}

    def verified(self, chain: str) -> tuple[int, str] | None:
        data = _read(self.path) or {}
        record = (data.get("chains") or {}).get(chain) or {}
        verified = record.get("verified")
        if not isinstance(verified, dict):
            return None
        seq, hash_ = verified.get("seq"), verified.get("hash")
        if not isinstance(seq, int) or not isinstance(hash_, str):
            return None
        return seq, hash_

    def newest(self, chain: str) -> tuple[int, str] | None:
        """The newest anchor of ``chain``: (seq, hash)."""
        data = _read(self.path) or {}
        anchors = ((data.get("chains") or {}).get(chain) or {}).get("anchors") or []
        if not anchors:
            return None
        top = max(anchors, key=lambda a: int(a["seq"]))
        return int(top["seq"]), str(top["hash"])


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: anchor format version {data.get('version')} is not supported")
    return data


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` (0600) so that a crash leaves the old file or the new one, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


# -- reading -------------------------------------------------------------------------------
def anchor_files(directory: Path) -> list[Path]:
    """The anchor files in a data directory (one per key that anchored there)."""
    return sorted(Path(directory).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))


#: An audit export's format (``audit/verify.py``): its header lists anchors too.
_EXPORT_FORMAT = "deconfliction-audit"


def load_anchors(path: Path) -> list[Anchor]:
    """Every anchor of every chain in an anchor file, or in the header of an audit
    export (a copy kept elsewhere); ``ValueError`` if it is neither."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if isinstance(header, dict) and header.get("format") == _EXPORT_FORMAT:
        listed = header.get("anchors") or []
        return [anchor_from_dict(a, f"{path} (export header)") for a in listed]
    data = _read(path)
    if data is None:
        raise FileNotFoundError(f"{path}: no such file")
    return anchors_from(data, str(path))


def anchors_from(data: dict[str, Any], source: str) -> list[Anchor]:
    """The anchors of an anchor file's content (``load_anchors``)."""
    key_id, public_key = data.get("key_id"), data.get("public_key")
    if not isinstance(key_id, str) or not isinstance(public_key, str):
        raise ValueError(f"{source}: no key_id / public_key")
    found: list[Anchor] = []
    for chain, record in dict(data.get("chains") or {}).items():
        for a in record.get("anchors") or []:
            try:
                found.append(
                    Anchor(
                        seq=int(a["seq"]),
                        hash=str(a["hash"]),
                        at=str(a.get("at", "")),
                        written_at=str(a.get("written_at", "")),
                        key_id=key_id,
                        public_key=public_key,
                        signature=str(a["signature"]),
                        chain=str(chain),
                        store=str(record.get("store", "")),
                        source=source,
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{source}: a malformed anchor in chain {chain}") from None
    return found


def anchor_from_dict(a: dict[str, Any], source: str) -> Anchor:
    """An anchor as an export's header lists it (``Anchor.as_dict``)."""
    try:
        return Anchor(
            seq=int(a["seq"]),
            hash=str(a["hash"]),
            at=str(a["at"]),
            written_at=str(a["written_at"]),
            key_id=str(a["key_id"]),
            public_key=str(a["public_key"]),
            signature=str(a["signature"]),
            chain=str(a["chain"]),
            store=str(a["store"]),
            source=source,
        )
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{source}: a malformed anchor") from None


def applicable(anchors: Sequence[Anchor], chain: str | None, store: str) -> list[Anchor]:
    """The anchors that speak about this store: those of its chain (its first entry's
    hash), and those recorded at its location (a store emptied, or rebuilt from scratch
    where the anchored one was, is the anchored store cut or altered)."""
    return [a for a in anchors if a.chain == chain or (store and a.store == store)]


def check_anchors(
    anchors: Sequence[Anchor],
    head_seq: int,
    entry_at: Callable[[int], AuditEntry | None],
    pinned: set[bytes] | None = None,
) -> Problem | None:
    """The first anchor the chain (intact up to ``head_seq``) does not honour, as a
    problem naming the seq: ``cut`` (the anchored seq is beyond the end), ``altered``
    (the entry there has another hash) or ``anchor`` (a forged or unpinned anchor).
    The highest anchored seq first: it says the most about where the end was."""
    for anchor in sorted(anchors, key=lambda a: -a.seq):
        if not anchor.signed_ok():
            return Problem(
                anchor.seq, "anchor", f"the anchor in {anchor.source} has a bad signature"
            )
        if pinned is not None:
            import base64

            if base64.b64decode(anchor.public_key) not in pinned:
                return Problem(
                    anchor.seq,
                    "anchor",
                    f"the anchor in {anchor.source} is by key {anchor.key_id}, not pinned",
                )
        if anchor.seq > head_seq:
            return Problem(
                head_seq + 1,
                "cut",
                f"the log ends at seq {head_seq} but key {anchor.key_id} anchored seq "
                f"{anchor.seq} (hash {anchor.hash[:16]}…, {anchor.at}) in {anchor.source}: "
                f"the end was cut after seq {head_seq}",
            )
        entry = entry_at(anchor.seq)
        if entry is None or entry.hash != anchor.hash:
            return Problem(
                anchor.seq,
                "altered",
                f"seq {anchor.seq} is not the entry key {anchor.key_id} anchored in "
                f"{anchor.source} (hash {anchor.hash[:16]}…): the log was altered or cut "
                "and written again",
            )
    return None
