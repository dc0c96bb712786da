"""Retention: per-party policies that purge old position reports and checks.

A policy is a JSON file given to ``serve --retention-policy FILE`` (run every
``interval_s`` by a background thread) or to ``deconfliction retention run``::

    {
      "interval_s": 3600,
      "parties": {
        "*":   {"reports_days": 90, "checks_days": 730},
        "ohr": {"reports_days": 30}
      }
    }

``"*"`` applies to every party not named (and to reports of assets no longer
registered). A named party's missing key falls back to ``"*"``; ``null`` keeps
that kind of data for ever; no entry at all keeps everything. Reports age by
their report time and belong to the asset's party; checks age by the time they
were recorded and belong to the asking party. The purge deletes the rows, sets
their events' payloads to NULL (the audit chain covers the digests, so
``audit verify`` stays green), keeps the newest report of each asset (the check
relies on it), and records one ``retention``/``purge`` event: the policy, the
cutoffs, how many of what. ``docs/design/audit.md``, "Retention".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deconfliction.service.core import Service
from deconfliction.store import Store
from deconfliction.store.base import PurgeCutoffs
from deconfliction.store.times import format_time

log = logging.getLogger(__name__)

ANY_PARTY = "*"
ACTOR = "service:retention"
#: What a policy can limit, and the key of each in a party's entry.
CATEGORIES = ("reports_days", "checks_days")


class PartyRetention(BaseModel):
    """How long one party's data is kept, in days (``None``: for ever)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reports_days: float | None = Field(default=None, gt=0)
    checks_days: float | None = Field(default=None, gt=0)


class RetentionPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: How often ``serve`` applies the policy.
    interval_s: float = Field(default=3600.0, gt=0)
    parties: dict[str, PartyRetention] = Field(default_factory=dict)

    def days(self, party: str, category: str) -> float | None:
        """The retention of ``category`` for ``party``, with the ``"*"`` fallback."""
        entry = self.parties.get(party)
        if entry is not None and category in entry.model_fields_set:
            value: float | None = getattr(entry, category)
            return value
        default = self.parties.get(ANY_PARTY)
        return None if default is None else getattr(default, category)

    def cutoffs(self, category: str, now: datetime) -> PurgeCutoffs | None:
        """Stored-time cutoffs for ``category`` at ``now``; ``None`` when nothing ages."""

        def cutoff(days: float | None) -> str | None:
            return None if days is None else format_time(now - timedelta(days=days))

        named = {p: cutoff(self.days(p, category)) for p in self.parties if p != ANY_PARTY}
        default = cutoff(self.days(ANY_PARTY, category))
        if default is None and not any(named.values()):
            return None
        return PurgeCutoffs(by_party=named, default=default)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


def load_policy(path: Path) -> RetentionPolicy:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise PolicyError(f"{path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise PolicyError(f"{path}: not JSON ({exc})") from None
    return parse_policy(data, str(path))


def parse_policy(data: Any, source: str = "policy") -> RetentionPolicy:
    try:
        return RetentionPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise PolicyError(f"{source}: {field}: {first['msg']}") from None


@dataclass(frozen=True)
class PurgeOutcome:
    at: str
    counts: dict[str, int]
    cutoffs: dict[str, dict[str, Any] | None]

    @property
    def purged(self) -> int:
        return sum(self.counts.values())


def apply_policy(
    store: Store, policy: RetentionPolicy, now: datetime, actor: str = ACTOR
) -> PurgeOutcome:
    """Purge what ``policy`` no longer keeps at ``now``, as one audited transaction."""
    reports = policy.cutoffs("reports_days", now)
    checks = policy.cutoffs("checks_days", now)
    described = {"reports": _describe(reports), "checks": _describe(checks)}
    note = {"policy": policy.as_dict(), "at": format_time(now), "cutoffs": described}
    counts = store.purge(reports, checks, actor, note)
    return PurgeOutcome(at=format_time(now), counts=counts, cutoffs=described)


def _describe(cutoffs: PurgeCutoffs | None) -> dict[str, Any] | None:
    if cutoffs is None:
        return None
    return {"parties": dict(sorted(cutoffs.by_party.items())), ANY_PARTY: cutoffs.default}


class RetentionRunner:
    """Applies the policy now and then every ``interval_s`` in a background thread, like
    the escalator; :meth:`run_once` does one pass (tests call it with their own clock)."""

    def __init__(
        self,
        service: Service,
        policy: RetentionPolicy,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.service = service
        self.policy = policy
        self.clock = clock or service.clock.now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: PurgeOutcome | None = None

    def run_once(self) -> PurgeOutcome:
        # Under the write lock and in a write transaction, so the engine's follower
        # stays in step with the event the purge appends.
        with self.service.lock, self.service.writing():
            outcome = apply_policy(self.service.store, self.policy, self.clock())
        self.last = outcome
        if outcome.purged:
            log.info("retention purged %s", outcome.counts)
        return outcome

    def start(self) -> threading.Thread:
        def run() -> None:
            while True:
                try:
                    self.run_once()
                except Exception:  # the next pass retries; serving goes on
                    log.exception("retention pass failed; retrying in %.0f s", self.interval)
                if self._stop.wait(self.interval):
                    return

        thread = threading.Thread(target=run, name="deconfliction-retention", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    @property
    def interval(self) -> float:
        return self.policy.interval_s

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
