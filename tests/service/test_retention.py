"""Retention (issue 8, item 3): per-party policies purge old reports and checks, the
newest report of each asset stays, the purge is audited, the chain still verifies; on
SQLite and PostgreSQL, through the store, the service's runner, the API and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from deconfliction.audit.verify import verify_store
from deconfliction.cli import app
from deconfliction.service.retention import (
    PolicyError,
    apply_policy,
    parse_policy,
)
from deconfliction.store.times import format_time

pytestmark = pytest.mark.unit

#: The moment the policy runs in these tests (the CLI is given it with ``--at``): every row
#: is placed relative to it, so it is its own constant rather than the suite's FIXED_NOW.
POLICY_RUN_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _report(asset: str, at: datetime, lat: float = 48.5) -> dict[str, Any]:
    return {
        "asset_id": asset,
        "time": format_time(at),
        "lat": lat,
        "lon": 36.1,
        "cep_m": 10.0,
        "extra_radius_m": 0.0,
        "speed_kmh": None,
        "course_deg": None,
        "source": "authenticated",
    }


def _fill(store: Any, clock: Clock) -> None:
    """Parties a (reports kept 90 days, checks 730) and b (reports 30 days), assets a1, b1."""
    clock.at = POLICY_RUN_AT - timedelta(days=400)
    for party in ("a", "b", "c"):
        store.create("party", party, party, {"id": party, "name": party.upper()}, "admin")
    store.create("asset", "a1", "a", {"id": "a1", "party_id": "a"}, "admin")
    store.create("asset", "b1", "b", {"id": "b1", "party_id": "b"}, "admin")
    # one batch of both parties, 100 days old: a1's part is due, b1's is its newest
    store.add_reports(
        [
            _report("a1", POLICY_RUN_AT - timedelta(days=100)),
            _report("b1", POLICY_RUN_AT - timedelta(days=100), 48.61234),
        ],
        "a",
    )
    store.add_reports([_report("a1", POLICY_RUN_AT - timedelta(days=95), 48.55555)], "a")  # due
    store.add_reports([_report("a1", POLICY_RUN_AT - timedelta(days=60))], "a")  # kept (90 days)
    store.add_reports([_report("a1", POLICY_RUN_AT - timedelta(days=1))], "a")  # the newest
    # checks: one by party a 800 days before POLICY_RUN_AT... recorded by the store's clock
    clock.at = POLICY_RUN_AT - timedelta(days=800)
    store.add_check(
        "chk-old-a", "a-unit", "a", {"position": {"lat": 48.77777}}, {"verdict": "HOLD"}, "op"
    )
    store.add_check(
        "chk-old-c", "c-unit", "c", {"position": {"lat": 48.1}}, {"verdict": "HOLD"}, "op"
    )
    clock.at = POLICY_RUN_AT - timedelta(days=10)
    store.add_check(
        "chk-new-a", "a-unit", "a", {"position": {"lat": 48.2}}, {"verdict": "HOLD"}, "op"
    )
    clock.at = POLICY_RUN_AT


POLICY = {
    "parties": {
        "*": {"checks_days": 730},
        "a": {"reports_days": 90},
        "b": {"reports_days": 30},
        "c": {"checks_days": None},
    }
}


def test_policy_purges_per_party_keeps_the_newest_report_and_verifies(store_factory: Any) -> None:
    clock = Clock(POLICY_RUN_AT)
    store = store_factory(clock=clock)
    _fill(store, clock)
    before = store.last_event_seq()
    outcome = apply_policy(store, parse_policy(POLICY), POLICY_RUN_AT)

    # a1: the 100- and 95-day-old reports go; 60 days and the newest stay; b1's only report
    # (its newest) stays although its party keeps 30 days: the check relies on it.
    assert outcome.counts == {
        "report_rows": 2,
        "report_payloads": 1,  # the 95-day batch; the mixed batch keeps b1's row
        "checks": 1,  # chk-old-a; c keeps its checks for ever
        "check_payloads": 1,
    }
    left = [(r["asset_id"], r["time"]) for r in store.reports_between("", "~")]
    assert left == [
        ("b1", format_time(POLICY_RUN_AT - timedelta(days=100))),
        ("a1", format_time(POLICY_RUN_AT - timedelta(days=60))),
        ("a1", format_time(POLICY_RUN_AT - timedelta(days=1))),
    ]
    assert store.get_check("chk-old-a") is None
    assert store.get_check("chk-old-c") is not None
    assert store.get_check("chk-new-a") is not None

    events = {e.seq: e for e in store.events(limit=1000)}
    purged = [e for e in events.values() if e.payload is None]
    assert {(e.kind, e.object_id) for e in purged} == {("report", None), ("check", "chk-old-a")}
    assert not any("48.55555" in json.dumps(e.payload) for e in events.values())
    assert not any("48.77777" in json.dumps(e.payload) for e in events.values())

    # the purge is itself an audited event: which policy, up to when, how many of what
    assert store.last_event_seq() == before + 1
    record = events[before + 1]
    assert (record.kind, record.action, record.actor) == ("retention", "purge", "service:retention")
    assert record.payload is not None
    assert record.payload["purged"] == outcome.counts
    assert record.payload["policy"] == POLICY
    assert record.payload["cutoffs"]["reports"]["parties"]["a"] == format_time(
        POLICY_RUN_AT - timedelta(days=90)
    )
    assert record.payload["cutoffs"]["checks"]["*"] == format_time(
        POLICY_RUN_AT - timedelta(days=730)
    )

    report = verify_store(store)
    assert report.ok, report.problem
    assert report.purged == 2

    # a second pass purges nothing and records nothing
    again = apply_policy(store, parse_policy(POLICY), POLICY_RUN_AT)
    assert again.purged == 0
    assert store.last_event_seq() == before + 1
    assert verify_store(store).ok


def test_no_policy_entry_keeps_everything(store_factory: Any) -> None:
    clock = Clock(POLICY_RUN_AT)
    store = store_factory(clock=clock)
    _fill(store, clock)
    before = store.last_event_seq()
    outcome = apply_policy(
        store, parse_policy({"parties": {"zz": {"reports_days": 1}}}), POLICY_RUN_AT
    )
    assert outcome.purged == 0
    assert store.last_event_seq() == before
    assert store.count_reports() == 5


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"parties": {"a": {"reports_days": 0}}}, "parties.a.reports_days"),
        ({"parties": {"a": {"positions_days": 3}}}, "parties.a.positions_days"),
        ({"interval_s": "hourly"}, "interval_s"),
        ({"parties": []}, "parties"),
    ],
)
def test_bad_policy_names_the_field(policy: Any, field: str) -> None:
    with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
        parse_policy(policy)


def test_cli_retention_run_purges_and_audit_verify_stays_green(
    store_factory: Any, tmp_path: Path
) -> None:
    clock = Clock(POLICY_RUN_AT)
    store = store_factory(clock=clock)
    _fill(store, clock)
    store.close()
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    where = ["--data-dir", str(store_factory.data_dir)]
    if store_factory.database_url:
        where += ["--database-url", store_factory.database_url]
    runner = CliRunner()
    ran = runner.invoke(
        app,
        [
            "retention",
            "run",
            "--policy",
            str(policy),
            "--at",
            "2026-06-01T12:00:00Z",
            "--json",
            *where,
        ],
    )
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.output)["purged"]["report_rows"] == 2
    verified = runner.invoke(app, ["audit", "verify", "--json", *where])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["purged_payloads"] == 2

    bad = tmp_path / "bad.json"
    bad.write_text('{"parties": {"a": {"reports_days": -1}}}')
    refused = runner.invoke(app, ["retention", "run", "--policy", str(bad), *where])
    assert refused.exit_code == 1
    assert "parties.a.reports_days" in refused.output


def test_the_services_runner_applies_the_policy_on_its_clock(store_factory: Any) -> None:
    """What ``serve --retention-policy`` runs: one pass under the write lock, its clock
    injected (no sleeping); the engine's follower steps over the purge event."""
    from deconfliction.check.engine import Engine
    from deconfliction.service.config import Settings
    from deconfliction.service.core import Service
    from deconfliction.service.retention import RetentionRunner

    clock = Clock(POLICY_RUN_AT)
    store = store_factory(clock=clock)
    _fill(store, clock)
    # the engine stays unloaded: these fixtures are bare store documents, not valid models
    service = Service(store, Engine(), Settings(data_dir=store_factory.data_dir))
    runner = RetentionRunner(service, parse_policy(POLICY), clock=lambda: POLICY_RUN_AT)
    first = runner.run_once()
    assert first.counts["report_rows"] == 2 and first.counts["checks"] == 1
    assert service.applied_seq == store.last_event_seq()  # the purge event is applied
    assert runner.run_once().purged == 0
    assert verify_store(store).ok
    # the follower reads purged report batches as payload-less and skips them
    from deconfliction.service import follow

    followed = service.events.after(0)
    purged = [e for e in followed if e.kind == "report" and e.payload is None]
    assert len(purged) == 1
    assert follow.replay(service, purged[0].seq - 1, purged[0].seq) == 0
