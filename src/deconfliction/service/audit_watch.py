"""The server's watch over its audit log: a start-up check, and its checkpoints anchored.

At start (``start``), in a background thread: the chain is verified from the position
this node last verified (kept in its anchor file, ``audit/anchor.py``), signatures
included, and every anchor in the data directory is checked against the store. The
outcome is on ``/v1/ready`` (``audit``: ``intact``, ``broken at seq N`` or ``cut after
seq N``) and, when bad, in the log as an error. Checks are never refused for it: a
broken log is evidence to examine, not a reason to stop deconflicting.

Then, every ``interval_s``, the newest entry this node's key signed is anchored (the
file beside the key), after making sure the previous anchor still holds (one indexed
read): a cut made while the server runs is reported too, and anchoring stops so that
the evidence is not rotated away.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from deconfliction.audit.anchor import AnchorBook, anchor_files, load_anchors
from deconfliction.audit.chain import Problem
from deconfliction.audit.verify import verify_store
from deconfliction.store import Store

log = logging.getLogger("deconfliction.audit")

#: How often the newest signed checkpoint is anchored (entries are signed every 1 s or
#: 100 entries: ``store/audit.py``).
ANCHOR_INTERVAL_S = 1.0


def describe(problem: Problem | None) -> str:
    """What ``/v1/ready`` says of the audit log."""
    if problem is None:
        return "intact"
    if problem.code == "cut":
        return f"cut after seq {problem.seq - 1}"
    return f"broken at seq {problem.seq}"


class AuditWatch:
    def __init__(self, store: Store, directory: Path, location: str) -> None:
        self.store = store
        self.directory = Path(directory)
        self.location = location
        key = store.audit_signer()
        self.book = AnchorBook(self.directory, key, location) if key is not None else None
        #: ``checking`` until the start-up check is done, then ``intact`` or what broke.
        self.status = "checking"
        self.problem: Problem | None = None
        self.checked_entries = 0
        self.verified_from = 0
        self.check_seconds: float | None = None
        self._chain: str | None = None
        self._anchored: tuple[int, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the start-up check ---------------------------------------------------------------
    def check(self) -> None:
        """Verify the chain since the last verified checkpoint, and the anchors."""
        started = time.perf_counter()
        try:
            anchors = [a for path in anchor_files(self.directory) for a in load_anchors(path)]
            first = self.store.audit_window(1, 1)
            self._chain = first[0].hash if first and first[0].hash else None
            since = None
            if self.book is not None and self._chain is not None:
                since = self.book.verified(self._chain)
                self._anchored = self.book.newest(self._chain)
            report = verify_store(self.store, None, anchors, location=self.location, since=since)
        except Exception as exc:  # an unreadable anchor file, a store error: say so, go on
            log.exception("the audit log could not be checked")
            self._set(Problem(0, "unchecked", f"could not be checked: {exc}"))
            return
        self.check_seconds = time.perf_counter() - started
        self.checked_entries = report.count
        self.verified_from = report.verified_from
        if report.problem is not None:
            self._set(report.problem)
            return
        if self.book is not None and self._chain is not None and report.last_signed:
            self.book.record_verified(self._chain, *report.last_signed)
        self._set(None)
        note = "" if report.anchored else f"; {report.notes[0]}" if report.notes else ""
        log.info(
            "audit log intact: %d entries after seq %d checked in %.2f s%s",
            report.count,
            report.verified_from,
            self.check_seconds,
            note,
        )

    def _set(self, problem: Problem | None) -> None:
        with self._lock:
            self.problem = problem
            if problem is not None and problem.code == "unchecked":
                self.status = "unchecked"
            else:
                self.status = describe(problem)
        if problem is not None:
            log.error("audit log %s: %s", self.status, problem)

    # -- anchoring --------------------------------------------------------------------------
    def anchor_once(self) -> None:
        """Anchor the newest entry this node signed, if newer than the last anchor and
        the last anchor still holds; a no-op once a problem is known (evidence kept)."""
        if self.book is None or self.problem is not None:
            return
        key = self.store.audit_signer()
        if key is None:
            return
        if self._chain is None:
            first = self.store.audit_window(1, 1)
            if not first or not first[0].hash:
                return
            self._chain = first[0].hash
            self._anchored = self.book.newest(self._chain)
        if self._anchored is not None:
            seq, hash_ = self._anchored
            there = self.store.audit_window(seq, seq)
            if not there or there[0].hash != hash_:
                last = self.store.last_event_seq()
                self._set(
                    Problem(
                        last + 1, "cut", f"seq {seq}, anchored, is gone; the log ends at {last}"
                    )
                    if not there
                    else Problem(seq, "altered", f"seq {seq} is not the entry anchored there")
                )
                return
        newest = self.store.audit_newest_signed(
            key.key_id, self._anchored[0] if self._anchored else 0
        )
        if newest is None or newest.hash is None:
            return
        self.book.record(self._chain, newest)
        self._anchored = (newest.seq, newest.hash)

    # -- the thread -------------------------------------------------------------------------
    def start(self, interval_s: float = ANCHOR_INTERVAL_S) -> threading.Thread:
        def run() -> None:
            self.check()
            while not self._stop.wait(interval_s):
                try:
                    self.anchor_once()
                except Exception:
                    log.exception("anchoring the audit log failed; retrying")

        thread = threading.Thread(target=run, name="deconfliction-audit", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop the thread, and anchor what was signed since the last pass."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
            try:
                self.anchor_once()
            except Exception:
                log.exception("anchoring the audit log at shutdown failed")

    def state(self) -> dict[str, Any]:
        """For ``/v1/ready``."""
        with self._lock:
            problem = self.problem
            return {
                "audit": self.status,
                "audit_problem": None
                if problem is None
                else {"seq": problem.seq, "code": problem.code, "message": problem.message},
            }


def anchor_newest(store: Store, directory: Path, location: str) -> None:
    """Anchor the newest entry ``store``'s key signed (a CLI command that wrote, on exit)."""
    AuditWatch(store, directory, location).anchor_once()
