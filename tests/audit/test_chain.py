"""The audit hash chain: tamper tests on the store (SQLite and PostgreSQL) and on the
exported file, purged payloads, signatures, the CLI (issue 8, items 1-2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deconfliction.audit.chain import GENESIS, AuditEntry, entry_hash, payload_digest
from deconfliction.audit.keys import KEY_FILE, NodeKey
from deconfliction.audit.verify import export, verify_file, verify_store
from deconfliction.cli import app
from deconfliction.store import open_store

pytestmark = pytest.mark.unit

N = 8  # object creates: events 1..N, none referenced by other rows


def _fill(store: Any) -> None:
    for i in range(1, N + 1):
        store.create("party", f"p{i}", None, {"name": f"Party {i}", "n": i}, "admin-1")


@pytest.fixture
def filled(store_factory: Any) -> Any:
    store = store_factory()
    _fill(store)
    return store


def _problem(store: Any) -> tuple[int, str]:
    report = verify_store(store)
    assert report.problem is not None, "tampering went unnoticed"
    return report.problem.seq, report.problem.code


# -- the pure chain -------------------------------------------------------------


def test_entry_hash_separates_fields_and_covers_every_one() -> None:
    d = payload_digest("{}")
    base = ("2026-03-01T12:00:00.000000Z", "party", "create", "p1", "admin", d)
    h = entry_hash(GENESIS, 1, *base)
    assert len(h) == 64 and h == entry_hash(GENESIS, 1, *base)
    assert entry_hash(GENESIS, 2, *base) != h
    assert entry_hash("11" * 32, 1, *base) != h
    for i in range(5):
        changed = list(base)
        changed[i] = str(changed[i]) + "x"
        assert entry_hash(GENESIS, 1, *changed) != h  # type: ignore[arg-type]
    # no ambiguity between a null and an empty object id, or across field boundaries
    assert entry_hash(GENESIS, 1, base[0], "party", "create", None, "admin", d) != entry_hash(
        GENESIS, 1, base[0], "party", "create", "", "admin", d
    )
    assert entry_hash(GENESIS, 1, base[0], "ab", "c", None, "x", d) != entry_hash(
        GENESIS, 1, base[0], "a", "bc", None, "x", d
    )


# -- on the store ---------------------------------------------------------------


def test_every_kind_of_write_is_chained_and_verifies(store_factory: Any) -> None:
    store = store_factory()
    _fill(store)
    store.update("party", "p1", None, {"name": "Renamed"}, "admin-1")
    store.delete("party", "p2", "admin-1")
    store.add_token("t1", "h" * 64, "admin", None, None, None, "cli")
    store.revoke_token("t1", "cli")
    report = verify_store(store)
    assert report.ok, report.problem
    assert report.count == store.last_event_seq() == N + 4
    entries = list(store.audit_entries())
    assert [e.seq for e in entries] == list(range(1, N + 5))
    assert all(
        e.payload is not None and e.payload_digest == payload_digest(e.payload) for e in entries
    )
    prev = GENESIS
    for e in entries:
        assert e.expected_hash(prev) == e.hash
        prev = e.hash


def test_one_changed_byte_of_a_payload_is_named(filled: Any, store_factory: Any) -> None:
    store_factory.raw(
        "UPDATE events SET payload = replace(payload, 'Party 5', 'Party 6') WHERE seq = 5"
    )
    assert _problem(filled) == (5, "payload_digest")


def test_a_dropped_entry_is_named(filled: Any, store_factory: Any) -> None:
    store_factory.raw("DELETE FROM events WHERE seq = 4")
    assert _problem(filled) == (4, "missing")


def test_two_reordered_entries_are_named(filled: Any, store_factory: Any) -> None:
    cols = ["at", "kind", "action", "object_id", "actor", "payload", "payload_digest", "hash"]
    a = store_factory.raw(f"SELECT {', '.join(cols)} FROM events WHERE seq = 3")[0]
    b = store_factory.raw(f"SELECT {', '.join(cols)} FROM events WHERE seq = 4")[0]
    sets = ", ".join(f"{c} = ?" for c in cols)
    store_factory.raw(f"UPDATE events SET {sets} WHERE seq = 3", tuple(b))
    store_factory.raw(f"UPDATE events SET {sets} WHERE seq = 4", tuple(a))
    seq, code = _problem(filled)
    assert (seq, code) == (3, "reordered")
    assert "seq 4" in str(verify_store(filled).problem)


def test_a_replaced_payload_with_its_digest_breaks_the_hash(
    filled: Any, store_factory: Any
) -> None:
    forged = '{"name":"Nobody"}'
    store_factory.raw(
        "UPDATE events SET payload = ?, payload_digest = ? WHERE seq = 6",
        (forged, payload_digest(forged)),
    )
    assert _problem(filled) == (6, "hash")


def test_a_changed_field_breaks_the_hash(filled: Any, store_factory: Any) -> None:
    store_factory.raw("UPDATE events SET actor = 'someone-else' WHERE seq = 2")
    assert _problem(filled) == (2, "hash")


def test_purged_payloads_keep_the_chain_green(filled: Any, store_factory: Any) -> None:
    store_factory.raw("UPDATE events SET payload = NULL WHERE seq <= 5")
    report = verify_store(filled)
    assert report.ok and report.purged == 5 and report.count == N
    filled.create("party", "late", None, {"name": "Late"}, "admin-1")  # still appends
    assert verify_store(filled).ok


def test_signatures_are_checked_and_tampering_named(filled: Any, store_factory: Any) -> None:
    key = NodeKey.generate()
    filled.use_audit_key(key, every=1)
    for i in range(3):
        filled.create("party", f"s{i}", None, {"name": "signed"}, "admin-1")
    report = verify_store(filled)
    assert report.ok and report.signed == 3 and report.unsigned_tail == 0
    assert verify_store(filled, pinned=[key.public_raw]).ok
    other = NodeKey.generate()
    assert _problem_pinned(filled, other.public_raw) == (N + 1, "signature")
    # a signature from another entry does not verify here
    sig = store_factory.raw("SELECT signature FROM events WHERE seq = ?", (N + 1,))[0][0]
    store_factory.raw("UPDATE events SET signature = ? WHERE seq = ?", (sig, N + 2))
    assert _problem(filled) == (N + 2, "signature")
    store_factory.raw("UPDATE events SET key_id = 'ffffffffffffffff' WHERE seq = ?", (N + 1,))
    assert _problem(filled) == (N + 1, "signature")


def _problem_pinned(store: Any, raw: bytes) -> tuple[int, str]:
    report = verify_store(store, pinned=[raw])
    assert report.problem is not None
    return report.problem.seq, report.problem.code


def test_events_from_before_the_chain_are_sealed_on_migrate(
    filled: Any, store_factory: Any
) -> None:
    store_factory.raw("UPDATE events SET hash = NULL, payload_digest = NULL")
    assert _problem(filled) == (1, "unchained")
    reopened = store_factory()  # migrate() seals them
    assert verify_store(reopened).ok
    reopened.create("party", "after", None, {"name": "After"}, "admin-1")
    assert verify_store(reopened).count == N + 1


def test_open_store_signs_with_a_private_key_in_the_data_dir(tmp_path: Path) -> None:
    with open_store(tmp_path, sign=True) as store:
        store.create("party", "p", None, {"name": "P"}, "admin")
        report = verify_store(store)
    key_file = tmp_path / KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = NodeKey.load_or_create(tmp_path)
    assert report.ok and report.signed == 1 and list(report.keys) == [key.key_id]


# -- on the exported file ---------------------------------------------------------


def _exported(store: Any, path: Path, **kwargs: Any) -> tuple[NodeKey, list[dict[str, Any]]]:
    key = NodeKey.generate()
    store.use_audit_key(key, every=3)
    store.create("party", "x", None, {"name": "X"}, "admin-1")
    with open(path, "w", encoding="utf-8") as f:
        assert export(store, f, key=key, **kwargs).ok
    assert verify_file(path).ok
    assert verify_file(path, pinned=[key.public_raw]).ok
    return key, [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _file_problem(path: Path) -> tuple[int, str]:
    report = verify_file(path)
    assert report.problem is not None, "tampering went unnoticed"
    return report.problem.seq, report.problem.code


def test_exported_file_tampering_is_named(filled: Any, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    key, lines = _exported(filled, path)
    header, entries = lines[0], lines[1:]
    assert header["count"] == N + 1 and header["keys"][key.key_id] == key.public_b64

    changed = [dict(e) for e in entries]
    changed[4]["payload"] = changed[4]["payload"].replace("Party 5", "Party 6")
    _write(path, [header, *changed])
    assert _file_problem(path) == (5, "payload_digest")

    _write(path, [header, *entries[:3], *entries[4:]])
    assert _file_problem(path) == (4, "missing")

    _write(path, [header, *entries[:2], entries[3], entries[2], *entries[4:]])
    assert _file_problem(path) == (3, "reordered")

    forged = [dict(e) for e in entries]
    forged[5]["payload"] = '{"name":"Nobody"}'
    forged[5]["payload_digest"] = payload_digest(forged[5]["payload"])
    _write(path, [header, *forged])
    assert _file_problem(path) == (6, "hash")

    _write(path, [header, *entries[:-1]])  # the last entry dropped
    assert _file_problem(path) == (N + 1, "missing")

    resigned = dict(header, head_signature=NodeKey.generate().sign_bytes(b"x"))
    _write(path, [resigned, *entries])
    assert _file_problem(path) == (N + 1, "signature")

    _write(path, [header, *entries])
    assert verify_file(path, pinned=[NodeKey.generate().public_raw]).problem is not None


def test_exported_file_without_payloads_or_with_purged_ones_verifies(
    filled: Any, store_factory: Any, tmp_path: Path
) -> None:
    store_factory.raw("UPDATE events SET payload = NULL WHERE seq <= 2")
    path = tmp_path / "digests.jsonl"
    _, lines = _exported(filled, path, payloads=False)
    assert all(line["payload"] is None for line in lines[1:])
    assert verify_file(path).purged == N + 1


def test_the_verifier_stops_at_the_first_problem() -> None:
    from deconfliction.audit.chain import first_problem

    e = AuditEntry(1, "t", "k", "a", None, "x", "{}", payload_digest("{}"), "00" * 32)
    _, problem = first_problem([e, e])
    assert problem is not None and problem.seq == 1 and problem.code == "hash"


# -- the command line ---------------------------------------------------------------


def test_cli_verify_and_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()
    for _ in range(3):
        result = runner.invoke(app, ["token", "issue", "--role", "admin", "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"] == 3
    out = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["audit", "export", "--data-dir", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    pub = tmp_path / "node.pub"
    pub.write_text(NodeKey.load_or_create(data).public_b64)
    args = ["audit", "verify", "--file", str(out), "--public-key", str(pub)]
    assert runner.invoke(app, args).exit_code == 0

    import sqlite3

    with sqlite3.connect(data / "deconfliction.sqlite3") as conn:
        conn.execute("UPDATE events SET actor = 'x' WHERE seq = 2")
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert "seq 2" in result.output


def test_cli_export_carries_the_anchors_and_a_kept_export_finds_a_cut(tmp_path: Path) -> None:
    """Finding 12 of issue 15: an export kept elsewhere anchors the end too (``--anchor``)."""
    import sqlite3

    data = tmp_path / "data"
    runner = CliRunner()
    for _ in range(3):  # each command signs its first entry, and anchors it on exit
        result = runner.invoke(app, ["token", "issue", "--role", "admin", "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
    (anchor_file,) = data.glob("audit_anchor-*.json")
    assert anchor_file.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["audit", "export", "--data-dir", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    header = json.loads(out.read_text().splitlines()[0])
    assert [a["seq"] for a in header["anchors"]] == [3, 2, 1]
    assert runner.invoke(app, ["audit", "verify", "--file", str(out)]).exit_code == 0

    anchor_file.unlink()  # the intruder removes the anchor beside the key, and the end
    with sqlite3.connect(data / "deconfliction.sqlite3") as conn:
        conn.execute("DELETE FROM events WHERE seq > 1")
    plain = runner.invoke(app, ["audit", "verify", "--data-dir", str(data)])
    assert plain.exit_code == 0 and "end not anchored" in plain.output
    kept = runner.invoke(app, ["audit", "verify", "--data-dir", str(data), "--anchor", str(out)])
    assert kept.exit_code == 1, kept.output
    assert "cut after seq 1" in kept.output
