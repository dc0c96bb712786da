"""The pre-action check: validate, authorise, ask the engine, record, answer.

This is the hot path. The answer is serialised once with orjson and the same
bytes are stored and returned; the check and its answer are stored before the
answer goes out ("who knew what when"). Checks that arrive together are recorded
together, one transaction for the group (``service/groupcommit.py``): each still has
its own event, and an answer whose record could not be written is not given (503,
``treat_as: HOLD``). ``docs/design/storage.md``, "How a check is recorded".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from deconfliction.domain.model import Observation
from deconfliction.domain.result import CheckResult
from deconfliction.service.access import Principal
from deconfliction.service.core import Service
from deconfliction.service.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unavailable,
)
from deconfliction.service.groupcommit import GroupCommit
from deconfliction.service.ids import new_check_id
from deconfliction.service.probing import ProbingAlerts
from deconfliction.service.validation import parse_json, validate
from deconfliction.store import CheckRecord


class Ringer(Protocol):
    def ring(self, units: Iterable[str | None] | None = None) -> None: ...


class PendingNotices(Protocol):
    """One check's HOLD notices, made before its transaction (the planner's)."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The notification rows to write with the check."""
        ...

    def forget(self) -> None:
        """The check could not be recorded: its notices were never written."""
        ...


class HoldNotifier(Protocol):
    """What the check needs of the notification planner (``notifications/``, a layer above):
    the owners of matched assets of other parties told, inside the check's transaction."""

    @property
    def bell(self) -> Ringer: ...

    def hold_targets(self, result: CheckResult, asker_party: str | None) -> list[str]: ...

    def prepare_notices(
        self,
        check_id: str,
        unit_id: str,
        asker_party: str | None,
        request: dict[str, Any],
        result: CheckResult,
        asset_ids: list[str],
    ) -> PendingNotices | None:
        """Before the transaction: what the owners will be told (reads the store, notes
        the notices in the de-duplication window)."""
        ...

    def write_notices(self, pending: Sequence[PendingNotices]) -> None:
        """Inside the transaction of a group of checks: their notices, in one batch; the
        streams rung once it has committed."""
        ...

    def coordination_cells(self, party_id: str) -> list[str]: ...

    def owner_responses(self, check_id: str, answer: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(slots=True)
class Answered:
    """A check the engine answered, to be recorded before its answer leaves."""

    record: CheckRecord
    #: The answer's bytes, as stored and as sent.
    body: bytes
    obs: Observation
    party: str | None
    result: CheckResult
    notices: PendingNotices | None
    #: Why it could not be recorded (``None``: recorded, or not yet).
    error: Unavailable | None = None


log = logging.getLogger("deconfliction.checks")


class Checks:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store
        self.engine = service.engine
        #: Tells owners of matched assets of other parties (``hold_on_your_asset``).
        self.planner: HoldNotifier | None = None
        #: Sweep detection (anti-probing, docs/design/security.md).
        self.probing = ProbingAlerts(self.store, service.clock.now, self._coordination_cells)
        #: Checks that arrive together share a transaction (``groupcommit.py``).
        self.recorder: GroupCommit[Answered] = GroupCommit(self._write_group)

    def prepare(
        self, who: Principal, body: bytes
    ) -> tuple[Observation, dict[str, Any], str | None]:
        """Everything before the engine: readiness, parsing, authorisation, rate limit."""
        if not self.engine.ready:
            raise self.not_ready()
        data = parse_json(body)
        obs = validate(Observation, data)
        if who.is_admin:
            unit = self.store.get("unit", obs.unit_id)
            if unit is None:
                raise InvalidInput(
                    f"unknown unit {obs.unit_id!r}", field="unit_id", code="unknown_reference"
                )
            party = unit.party_id
        elif obs.unit_id != who.unit_id:
            raise Forbidden(
                f"this token checks as unit {who.unit_id!r}, not {obs.unit_id!r}", field="unit_id"
            )
        else:
            party = who.party_id
        wait = self.service.rate_limiter.acquire(obs.unit_id)
        if wait > 0:
            raise RateLimited(
                f"unit {obs.unit_id!r} exceeded {self.service.rate_limiter.per_minute} checks per "
                f"minute; retry in {wait:.1f} s and treat the point as HOLD meanwhile",
                retry_after_s=int(wait + 0.999),
            )
        return obs, data, party

    def not_ready(self) -> Unavailable:
        if self.service.load_error:
            return Unavailable(
                f"the index could not be loaded ({self.service.load_error}); the answer would be "
                "incomplete: treat the point as HOLD",
                code="index_unavailable",
            )
        return Unavailable(
            "the index is still loading; the answer would be incomplete: treat the point as HOLD",
            code="index_loading",
        )

    def answer(
        self, who: Principal, obs: Observation, data: dict[str, Any], party: str | None
    ) -> Answered:
        """Ask the engine (it serialises itself); nothing is recorded yet."""
        result = self.engine.check(obs, party)
        check_id = new_check_id()
        body = orjson.dumps({"id": check_id, **result.to_dict()})
        record = CheckRecord(
            check_id, obs.unit_id, party, orjson.dumps(data).decode(), body.decode(), who.actor
        )
        planner = self.planner
        notices = None
        targets = planner.hold_targets(result, party) if planner is not None else []
        if targets and planner is not None:  # the owners' notices: made before the lock
            try:
                notices = planner.prepare_notices(
                    check_id, obs.unit_id, party, data, result, targets
                )
            except Exception as exc:
                raise _unrecorded(exc) from exc
        return Answered(record, body, obs, party, result, notices)

    def record(self, answered: Sequence[Answered]) -> None:
        """Record the checks (in whatever groups they fall into; blocks until done); a
        check that could not be recorded gets its ``error``."""
        errors = self.recorder.submit(answered)
        for item, error in zip(answered, errors, strict=True):
            if error is not None:
                item.error = _unrecorded(error)
                if item.notices is not None:
                    item.notices.forget()

    def finish(self, answered: Answered) -> bytes:
        """After :meth:`record`: the answer's bytes, or its 503 ``treat_as: HOLD``."""
        if answered.error is not None:
            raise answered.error
        record = answered.record
        self._watch_for_sweeps(record.id, answered.obs, answered.party, answered.result)
        return answered.body

    def run(
        self, who: Principal, obs: Observation, data: dict[str, Any], party: str | None
    ) -> bytes:
        """Ask the engine and record the answer (blocking: threads, the CLI, tests)."""
        answered = self.answer(who, obs, data, party)
        self.record([answered])
        return self.finish(answered)

    def _write_group(self, group: Sequence[Answered]) -> float:
        """One transaction: the group's checks (each its own event), then their owners'
        notices; how long it held the write lock."""
        notices = [a.notices for a in group if a.notices is not None]
        with self.service.committing():
            self.store.add_checks([a.record for a in group])
            if notices and self.planner is not None:
                self.planner.write_notices(notices)
        return self.store.last_write_lock_s()

    def _watch_for_sweeps(
        self, check_id: str, obs: Observation, party: str | None, result: CheckResult
    ) -> None:
        """After the check is recorded: a sweep is flagged to the parties concerned. A
        failure here never costs the asker its (already recorded) answer."""
        withheld = [m.party_id for m in result.matches if m.details_withheld]
        try:
            sweep = self.probing.check_recorded(
                check_id, obs.unit_id, party, obs.position.lat, obs.position.lon, withheld
            )
        except Exception:
            log.exception("sweep detection failed for check %s", check_id)
            return
        if sweep is not None and self.planner is not None:
            self.planner.bell.ring()  # wake the streams

    def _coordination_cells(self, party_id: str) -> list[str]:
        return self.planner.coordination_cells(party_id) if self.planner is not None else []

    def check(self, who: Principal, body: bytes) -> bytes:
        """The whole check, blocking (threads, the CLI, tests)."""
        obs, data, party = self.prepare(who, body)
        return self.run(who, obs, data, party)

    def get(self, who: Principal, check_id: str) -> dict[str, Any]:
        """A stored check, for the asking unit, its party's coordinators and admins."""
        record = self.store.get_check(check_id)
        if record is None or not _may_read(who, record):
            raise NotFound(f"no check {check_id!r}")
        result = record["result"]
        if not isinstance(result, dict):
            raise NotFound(f"no check {check_id!r}")
        if self.planner is not None:  # the owners' answers (hold_on_your_asset)
            return self.planner.owner_responses(check_id, result)
        return result


def _unrecorded(exc: Exception) -> Unavailable:
    error = Unavailable(
        f"the check could not be recorded ({type(exc).__name__}); treat the point as HOLD",
        code="store_unavailable",
    )
    error.__cause__ = exc
    return error


def _may_read(who: Principal, record: dict[str, Any]) -> bool:
    if who.is_admin:
        return True
    if who.unit_id is not None and who.unit_id == record.get("unit_id"):
        return True
    return (
        who.role == "coordinator"
        and who.party_id is not None
        and (who.party_id == record.get("party_id"))
    )
