"""The notifications use case: a unit's inbox (reading and answering its notifications),
its stream (the outbox after a position), who was told of an asset (``awareness``), and the
test clock. It makes the planner (``planner.py``, hooked into the service's writes) and the
escalator (``escalation.py``), and tells the planner of each new answer (a ``briefed``
ends a type's briefings).

Who may read and answer a unit's notifications: an operator token of that unit,
a coordinator token of the unit's party (its answer recorded as such), admins.
For anyone else a unit of another party does not exist (404); a unit of the
caller's own party is a 403. A last-level escalation addressed to a party's
out-of-band contact (no unit) is for that party's coordinators and admins.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deconfliction.domain.notifications import (
    ALLOWED_RESPONSES,
    RESPONSES,
    ResponseRefused,
    check_response,
)
from deconfliction.notifications.escalation import Escalator
from deconfliction.notifications.planner import Planner
from deconfliction.service.access import Principal
from deconfliction.service.core import Service
from deconfliction.service.errors import Conflict, Forbidden, InvalidInput, NotFound
from deconfliction.store.errors import NotFound as StoreNotFound
from deconfliction.store.times import format_time

MAX_PAGE = 1000
DEFAULT_PAGE = 100
UNANSWERED = ("pending", "escalated")


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A notification as the API shows it (internal keys, and ids withheld, left out)."""
    payload = {k: v for k, v in row["payload"].items() if not k.startswith("_")}
    response = None
    if row["response"] is not None:
        response = {
            "response": row["response"],
            "by": row["responded_by"],
            "at": row["responded_at"],
            "as": row["responded_as"],
        }
    return {
        "id": row["id"],
        "unit_id": row["unit_id"],
        "party_id": row["party_id"],
        "cause": row["cause"],
        "urgent": row["urgent"],
        "created_at": row["created_at"],
        "deadline": row["deadline"],
        "state": row["state"],
        "answers": list(ALLOWED_RESPONSES[row["cause"]]),
        "response": response,
        "escalation_level": row["escalation_level"],
        "parent_id": row["parent_id"],
        "type_id": row["type_id"],
        **payload,
    }


class Notifications:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.store = service.store
        self.planner = Planner(service)
        self.escalator = Escalator(
            service, self.planner.context, self.planner.cells, self.planner.bell
        )
        service.hooks.append(self.planner)

    # -- access ------------------------------------------------------------------------------
    def require_unit(self, who: Principal, unit_id: str) -> None:
        """May ``who`` read and answer this unit's notifications? 404 / 403 otherwise."""
        stored = self.store.get("unit", unit_id)
        if stored is None:
            raise NotFound(f"no unit {unit_id!r}")
        if who.is_admin:
            return
        if who.role == "coordinator" and who.party_id == stored.party_id:
            return
        if who.role == "operator" and who.unit_id == unit_id:
            return
        if who.party_id != stored.party_id:
            raise NotFound(f"no unit {unit_id!r}")
        raise Forbidden(
            f"an {who.role} token of unit {who.unit_id!r} may not read or answer the "
            f"notifications of unit {unit_id!r}"
        )

    def _readable(self, who: Principal, row: dict[str, Any]) -> bool:
        if who.is_admin:
            return True
        if row["unit_id"] is None:
            return who.role == "coordinator" and who.party_id == row["party_id"]
        if who.role == "operator":
            return bool(who.unit_id == row["unit_id"])
        return who.role == "coordinator" and who.party_id == row["party_id"]

    # -- reads -------------------------------------------------------------------------------
    def inbox(
        self,
        who: Principal,
        unit_id: str,
        state: str | None,
        limit: int | None,
        after: int | None,
    ) -> dict[str, Any]:
        """``state=pending`` (the default): unanswered, escalated ones included, by deadline;
        ``state=all``: everything, in the order it was sent (keyset by ``seq``)."""
        self.require_unit(who, unit_id)
        size = DEFAULT_PAGE if limit is None else limit
        if not 1 <= size <= MAX_PAGE:
            raise InvalidInput(f"limit must be within [1, {MAX_PAGE}], got {size}", field="limit")
        wanted = state or "pending"
        if wanted not in ("pending", "all", "answered", "escalated"):
            raise InvalidInput(
                f"state must be pending, answered, escalated or all, got {wanted!r}",
                field="state",
            )
        states: tuple[str, ...] | None
        states = {"pending": UNANSWERED, "all": None}.get(wanted, (wanted,))
        rows = self.store.find_notifications(
            unit_id=unit_id,
            states=states,
            answered=False if wanted == "pending" else None,
            after_seq=after or 0,
            limit=size,
        )
        nxt = rows[-1]["seq"] if len(rows) == size else None
        items = [view(r) for r in rows]
        if wanted == "pending":
            items.sort(key=lambda v: (v["deadline"] is None, v["deadline"] or "", v["created_at"]))
        return {"items": items, "next": nxt}

    def get(self, who: Principal, notification_id: str) -> dict[str, Any]:
        row = self.store.get_notification(notification_id)
        if row is None or not self._readable(who, row):
            raise NotFound(f"no notification {notification_id!r}")
        return view(row)

    # -- answers -----------------------------------------------------------------------------
    def respond(
        self, who: Principal, notification_id: str, data: Any
    ) -> tuple[dict[str, Any], int]:
        """Answer idempotently: 201 first, 200 for the same answer again, 409 for another."""
        row = self.store.get_notification(notification_id)
        if row is None or not self._readable(who, row):
            raise NotFound(f"no notification {notification_id!r}")
        if not isinstance(data, dict):
            raise InvalidInput('expected a JSON object {"by", "response"}')
        unknown = set(data) - {"by", "response"}
        if unknown:
            raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", field=min(unknown))
        by = data.get("by")
        if not isinstance(by, str) or not by.strip() or len(by) > 200:
            raise InvalidInput(
                f"by must name the person answering (1 to 200 characters), got {by!r}",
                field="by",
            )
        response = data.get("response")
        if response not in RESPONSES:
            raise InvalidInput(
                f"response must be one of {', '.join(RESPONSES)}, got {response!r}",
                field="response",
            )
        try:
            check_response(row["cause"], response)
        except ResponseRefused as exc:
            raise InvalidInput(str(exc), field="response", code="wrong_response") from None
        responded_as = who.actor
        with self.service.lock:
            try:
                with self.service.writing():
                    stored, fresh = self.store.answer_notification(
                        notification_id,
                        str(response),
                        by.strip(),
                        responded_as,
                        format_time(self.service.clock.now()),
                        who.actor,
                    )
            except StoreNotFound:
                raise NotFound(f"no notification {notification_id!r}") from None
        if fresh:
            self.planner.answered(stored)
            self.planner.bell.ring([stored["unit_id"]])
        elif stored["response"] != response:
            raise Conflict(
                f"notification {notification_id!r} was already answered "
                f"{stored['response']!r} by {stored['responded_by']} at {stored['responded_at']}",
                field="response",
                code="already_answered",
            )
        body = {
            "notification_id": notification_id,
            "response": stored["response"],
            "by": stored["responded_by"],
            "at": stored["responded_at"],
            "as": stored["responded_as"],
            "state": stored["state"],
        }
        return body, 201 if fresh else 200

    # -- the stream --------------------------------------------------------------------------
    def stream_page(self, unit_id: str, after: int, limit: int = 100) -> list[dict[str, Any]]:
        return [
            {
                "position": r["seq"],
                "event": r["event"],
                "at": r["at"],
                "notification": view(r["notification"]),
            }
            for r in self.store.outbox_after(unit_id, after, limit)
        ]

    # -- the test clock ----------------------------------------------------------------------
    def advance_clock(self, who: Principal, data: Any) -> dict[str, Any]:
        """Test hook: move the service clock forward and run the escalator once."""
        if not self.service.settings.test_clock:
            raise NotFound("no such endpoint")
        if not who.is_admin:
            raise Forbidden("only an admin token may move the test clock")
        seconds = data.get("advance_s") if isinstance(data, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise InvalidInput(
                f"advance_s must be a non-negative number, got {seconds!r}", field="advance_s"
            )
        now = self.service.clock.advance(timedelta(seconds=float(seconds)))
        escalated = self.escalator.tick()
        return {"now": format_time(now), "escalated": escalated}


def _dashboard_row(row: dict[str, Any], briefed: bool | None, chain: list[Any]) -> dict[str, Any]:
    return {
        "notification_id": row["id"],
        "unit_id": row["unit_id"],
        "party_id": row["party_id"],
        "cause": row["cause"],
        "told_at": row["created_at"],
        "deadline": row["deadline"],
        "state": row["state"],
        "answered": row["response"] is not None,
        "response": (
            {"response": row["response"], "by": row["responded_by"], "at": row["responded_at"]}
            if row["response"] is not None
            else None
        ),
        "briefed": briefed,
        "escalations": [
            {
                "level": e["escalation_level"],
                "unit_id": e["unit_id"],
                "party_id": e["party_id"],
                "contact": e["payload"].get("contact") if e["unit_id"] is None else None,
                "at": e["created_at"],
                "answered": e["response"] is not None,
            }
            for e in chain
        ],
    }


def awareness(
    store: Any, planner: Planner, who: Principal, asset: str | None, area: str | None
) -> dict[str, Any]:
    """Who should know about an asset (or an operating area's assets): when each unit was
    told, whether and when it answered, who is still unbriefed; soonest deadline first.
    For the owner party's coordinators and admins (anyone else: 404)."""
    if (asset is None) == (area is None):
        raise InvalidInput("give exactly one of asset or area", field="asset")
    kind, obj_id = ("asset", asset) if asset is not None else ("area", area)
    assert obj_id is not None
    stored = store.get(kind, obj_id)
    owner = stored.party_id if stored is not None else None
    if stored is None or not (
        who.is_admin or (who.role == "coordinator" and who.party_id == owner)
    ):
        raise NotFound(f"no {kind} {obj_id!r}")
    if asset is not None:
        rows = [
            r
            for r in store.find_notifications(asset_id=asset, limit=MAX_PAGE * 10)
            if r["cause"] in ("announced_arrival", "unannounced_entry")
        ]
    else:
        rows = store.find_notifications(
            subject=f"area:{area}", cause="announced_arrival", limit=MAX_PAGE * 10
        )
    told = []
    unbriefed: set[str] = set()
    for row in rows:
        briefed = None
        if row["type_id"] and row["unit_id"]:
            briefed = (row["unit_id"], row["type_id"]) in planner.briefed
            if not briefed:
                unbriefed.add(row["unit_id"])
        chain = store.find_notifications(parent_id=row["id"], cause="escalation")
        told.append(_dashboard_row(row, briefed, chain))
    told.sort(key=lambda r: (r["deadline"] is None, r["deadline"] or "", r["told_at"]))
    return {
        kind: obj_id,
        "party_id": owner,
        "told": told,
        "unanswered": sorted({r["unit_id"] for r in told if not r["answered"] and r["unit_id"]}),
        "unbriefed": sorted(unbriefed),
    }
