"""Audit chain benchmark: build 100,000 events, time ``audit verify`` (target < 10 s),
then an after-action review on that log and a retention purge of every check.

    python bench/audit_bench.py [--events N] [--database-url postgresql://...]

Events are mixed object writes, checks and report batches (seed 42), appended through
the store, signed by a node key (the default policy: at least every 100 entries or 1 s).
The review (as an admin, 50 km around 0 N 0.5 E, the default 6 h window) reads every
check of the log, since all were recorded within the window. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deconfliction.audit.keys import NodeKey
from deconfliction.audit.verify import export, verify_file, verify_store
from deconfliction.check.engine import Engine
from deconfliction.review.incident import Incident
from deconfliction.review.usecase import review
from deconfliction.service.access import SYSTEM
from deconfliction.service.config import Settings
from deconfliction.service.core import Service
from deconfliction.service.retention import apply_policy, parse_policy
from deconfliction.store import open_store
from deconfliction.usecases import UseCases

sys.path.insert(0, str(Path(__file__).resolve().parent))
from world import audit_events


def _review(store: Any, data: Path, database_url: str | None) -> tuple[float, int]:
    """The review of a point on this log (its audit check included): seconds, checks shown."""
    uc = UseCases.around(
        Service(store, Engine(), Settings(data_dir=data, database_url=database_url))
    )
    incident = Incident(datetime.now(UTC), 0.0, 0.5, 50_000.0)
    t0 = time.perf_counter()
    body = review(uc, SYSTEM, incident)
    return time.perf_counter() - t0, len(body["checks"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = open_store(data, args.database_url)
        store.use_audit_key(NodeKey.load_or_create(data))
        t0 = time.perf_counter()
        audit_events(store, rng, 0, args.events)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = verify_store(store)
        verify_s = time.perf_counter() - t0
        out = data / "audit.jsonl"
        t0 = time.perf_counter()
        with open(out, "w", encoding="utf-8") as f:
            export(store, f, key=NodeKey.load_or_create(data))
        export_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        file_report = verify_file(out)
        verify_file_s = time.perf_counter() - t0
        review_s, review_checks = _review(store, data, args.database_url)
        t0 = time.perf_counter()
        purge = apply_policy(
            store,
            parse_policy({"parties": {"*": {"checks_days": 1}}}),
            datetime.now(UTC) + timedelta(days=2),
        )
        retention_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        after_purge = verify_store(store)
        verify_after_purge_s = time.perf_counter() - t0
        store.close()
    print(
        json.dumps(
            {
                "backend": "postgresql" if args.database_url else "sqlite",
                "events": report.count,
                "signed_entries": report.signed,
                "ok": report.ok and file_report.ok,
                "build_s": round(build_s, 2),
                "verify_s": round(verify_s, 2),
                "verify_per_entry_us": round(verify_s / max(1, report.count) * 1e6, 1),
                "export_s": round(export_s, 2),
                "verify_file_s": round(verify_file_s, 2),
                "target_verify_s": 10,
                "review_s": round(review_s, 2),
                "review_checks_shown": review_checks,
                "retention_purge_s": round(retention_s, 2),
                "purged": purge.counts,
                "verify_after_purge_ok": after_purge.ok,
                "verify_after_purge_s": round(verify_after_purge_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
