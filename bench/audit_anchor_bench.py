"""The server's start-up check of the audit log, on a large store (docs/design/audit.md).

    python bench/audit_anchor_bench.py [--events N] [--more M] [--database-url postgresql://...]

Builds N events (seed 42; half object creates, half checks, 1,000 per transaction,
signed at the default policy), then times the start-up check as ``serve`` runs it
(``AuditWatch.check``: the chain, signatures and anchors): first with nothing verified
before (the whole log), then, after M more events, from the checkpoint the first check
kept (what every later start costs). Also times anchoring one checkpoint. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from deconfliction.audit.keys import NodeKey
from deconfliction.service.audit_watch import AuditWatch
from deconfliction.store import open_store, store_location

sys.path.insert(0, str(Path(__file__).resolve().parent))
from world import audit_events


def _timed_check(store: Any, data: Path, location: str) -> tuple[AuditWatch, float]:
    watch = AuditWatch(store, data, location)
    t0 = time.perf_counter()
    watch.check()
    return watch, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--more", type=int, default=1_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = open_store(data, args.database_url)
        store.use_audit_key(NodeKey.load_or_create(data))
        location = store_location(data, args.database_url)
        t0 = time.perf_counter()
        audit_events(store, rng, 0, args.events)
        build_s = time.perf_counter() - t0

        first, first_s = _timed_check(store, data, location)
        t0 = time.perf_counter()
        first.anchor_once()
        anchor_s = time.perf_counter() - t0

        audit_events(store, rng, args.events, args.more)
        again, again_s = _timed_check(store, data, location)
        store.close()
    print(
        json.dumps(
            {
                "events": args.events,
                "backend": "postgresql" if args.database_url else "sqlite",
                "build_s": round(build_s, 2),
                "first_start": {
                    "audit": first.status,
                    "entries_checked": first.checked_entries,
                    "check_s": round(first_s, 3),
                },
                "anchor_s": round(anchor_s, 4),
                "next_start": {
                    "audit": again.status,
                    "more_events": args.more,
                    "verified_from": again.verified_from,
                    "entries_checked": again.checked_entries,
                    "check_s": round(again_s, 3),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
