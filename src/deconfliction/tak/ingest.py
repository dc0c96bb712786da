"""CoT events to position reports: binding by uid, and the trust rule.

An event whose uid is bound to an asset (``Asset.cot_uid``) is a report for that
asset, whatever the affiliation in its type. A uid binds **within a party**: two
parties may register the same uid (TAK uids are visible on the air, so one party
must not be able to take another's), and within one party it is unique (the
registry refuses a second asset with it). Whether a report sets the position
depends on who sent it:

- over TLS from a client certificate of a unit: an **authenticated** report for
  the asset *of the certificate's party* bound to the uid, whatever other parties
  registered. It goes through the same path as ``POST /v1/reports``
  (:meth:`Reports.write`: store and engine, one transaction, under the service's
  write lock) and sets the asset's position. A uid no asset of its party binds is
  ``unbound_uid``, whether or not another party uses it: nothing tells the sender;
- from a plain TCP or UDP port: a **plain** report for every asset bound to the
  uid, in whichever party, stored beside the last authenticated one (the store
  keeps the latest per asset *and* source) and never replacing it; the engine
  takes positions from authenticated reports only and lets a plain one widen the
  reach within the bound of ``domain/plain_reports.py``. A plain report with too
  large an error, beyond the bound, that changes nothing, or over the rate limits
  (``tak/plain_limits.py``) is counted and not stored.

An unbound uid is counted and listed per sending unit (:meth:`CotIngest.unbound`)
for its coordinators to bind; it never creates an asset. An event whose ``ce``
says "unknown" is no position (``no_position``). Every outcome has a reason,
counted by the gateway per connection (docs/design/security.md, "TAK uids and plain-port
reports").
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from deconfliction.cot.errors import CotError
from deconfliction.cot.event import CotEvent
from deconfliction.cot.mapping import CotPosition, position_from_event
from deconfliction.domain.model import PositionReport
from deconfliction.domain.plain_reports import PlainEffect, plain_cep_plausible
from deconfliction.service.core import Service
from deconfliction.service.reports import Reports
from deconfliction.store import StoreError
from deconfliction.tak.plain_limits import PlainLimits

log = logging.getLogger("deconfliction.cot.ingest")

Transport = Literal["tls", "tcp", "udp"]

#: Outcome reasons (counter keys). Validation errors are ``invalid:<field>``.
TAKEN = "taken"
NO_POSITION = "no_position"
UNBOUND_UID = "unbound_uid"
AMBIGUOUS_UID = "ambiguous_uid"
#: Plain reports: an error (CEP) beyond the plausible, a widening beyond the bound, one
#: that changes nothing (not stored), one over a rate limit (``rate_limited:uid|source``).
IMPLAUSIBLE_ERROR = "implausible_error"
IMPLAUSIBLE_POSITION = "implausible_position"
NO_CHANGE = "no_change"
RATE_LIMITED = "rate_limited"
UNKNOWN_UNIT = "unknown_unit"
STORE_UNAVAILABLE = "store_unavailable"

#: How many unbound uids are remembered per sender, and how many senders.
MAX_UNBOUND_PER_SENDER = 500
MAX_UNBOUND_SENDERS = 1000


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a batch: a TLS client's unit, or a plain port's peer."""

    transport: Transport
    peer: str
    unit_id: str | None = None
    party_id: str | None = None
    #: The client certificate (TLS): its serial number and subject.
    cert_id: str | None = None
    subject: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.transport == "tls" and self.unit_id is not None

    @property
    def actor(self) -> str:
        return f"cot:{self.transport}:{self.unit_id or self.peer}"

    @property
    def source_address(self) -> str:
        """The peer's address without its port: what plain reports are rate-limited by."""
        host, sep, _port = self.peer.rpartition(":")
        return host if sep else self.peer

    @property
    def key(self) -> str:
        """Whom unbound uids are listed for: the unit, or all plain ports together."""
        return f"unit:{self.unit_id}" if self.authenticated else "plain"


@dataclass
class Outcome:
    """What became of a batch: reasons → counts (``taken`` for stored reports)."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def taken(self) -> int:
        return self.counts[TAKEN]


@dataclass
class UnboundUid:
    uid: str
    count: int
    first_seen: datetime
    last_seen: datetime
    callsign: str | None


class _Bindings:
    """uid → asset ids and asset → party, kept in step with the store's event log."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.asset: dict[str, tuple[str | None, str | None]] = {}  # id → (uid, party)
        self.by_uid: dict[str, set[str]] = {}

    def refresh(self, service: Service) -> None:
        """Apply asset writes since the last call (any process's); under ``service.lock``."""
        store = service.store
        if self.seq is None:
            upto = store.last_event_seq()  # before reading, per the store's contract
            self.asset.clear()
            self.by_uid.clear()
            for stored in store.iter_all("asset"):
                self._put(stored.id, stored.data.get("cot_uid"), stored.party_id)
            self.seq = upto
            return
        upto = store.last_event_seq()
        if upto == self.seq:
            return
        while True:
            events = service.events.after(self.seq)
            for event in events:
                if event.kind == "asset" and event.object_id is not None:
                    if event.action == "delete":
                        self._drop(event.object_id)
                    else:
                        payload: Any = event.payload
                        data = payload.get("data") or {}
                        self._put(event.object_id, data.get("cot_uid"), payload.get("party_id"))
                self.seq = event.seq
            if not events:
                self.seq = max(self.seq, upto)
                return

    def _put(self, asset_id: str, uid: Any, party: str | None) -> None:
        self._drop(asset_id)
        uid = uid if isinstance(uid, str) and uid else None
        self.asset[asset_id] = (uid, party)
        if uid is not None:
            self.by_uid.setdefault(uid, set()).add(asset_id)

    def _drop(self, asset_id: str) -> None:
        old = self.asset.pop(asset_id, None)
        if old is not None and old[0] is not None:
            ids = self.by_uid.get(old[0])
            if ids is not None:
                ids.discard(asset_id)
                if not ids:
                    del self.by_uid[old[0]]


class CotIngest:
    def __init__(
        self,
        service: Service,
        reports: Reports,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.service = service
        self.reports = reports
        self.clock = clock
        self._bindings = _Bindings()
        self._limits = PlainLimits()
        self._unbound: dict[str, dict[str, UnboundUid]] = {}
        #: sender key → (unit, party) of the unbound uids listed under it.
        self._unbound_owner: dict[str, tuple[str | None, str | None]] = {}

    def identify(self, unit_id: str, party_id: str) -> str | None:
        """``None`` if a certificate's unit exists and belongs to its party, else why not."""
        return self.identify_many([(unit_id, party_id)])[0]

    def identify_many(self, keys: Sequence[tuple[str, str]]) -> list[str | None]:
        """:meth:`identify` of each (unit, party), read under one hold of the lock (the
        gateway asks this for every open connection twice a second)."""
        with self.service.lock:
            stored = [self.service.store.get("unit", unit_id) for unit_id, _ in keys]
        out: list[str | None] = []
        for (unit_id, party_id), unit in zip(keys, stored, strict=True):
            if unit is None:
                out.append(f"unit {unit_id!r} is not registered")
            elif unit.party_id != party_id:
                out.append(
                    f"the certificate binds unit {unit_id!r} to party {party_id!r}, "
                    f"but the unit belongs to {unit.party_id!r}"
                )
            else:
                out.append(None)
        return out

    def ingest(self, sender: Sender, events: Sequence[CotEvent]) -> Outcome:
        """Turn a batch of events into reports and store them (one transaction)."""
        outcome = Outcome()
        if not events:
            return outcome
        now = self.clock()
        with self.service.lock:
            if sender.authenticated:
                assert sender.unit_id is not None and sender.party_id is not None
                problem = self.identify(sender.unit_id, sender.party_id)
                if problem is not None:
                    outcome.counts[UNKNOWN_UNIT] += len(events)
                    log.warning("%s: %d events dropped: %s", sender.actor, len(events), problem)
                    return outcome
            try:
                self._bindings.refresh(self.service)
            except StoreError:
                log.exception("%s: cannot read the asset bindings", sender.actor)
                outcome.counts[STORE_UNAVAILABLE] += len(events)
                return outcome
            reports: list[PositionReport] = []
            for event in events:
                reason = self._report(sender, event, now, reports)
                if reason is not None:
                    outcome.counts[reason] += 1
            if reports:
                try:
                    self.reports.write(reports, sender.actor)
                except StoreError:
                    log.exception("%s: %d reports not stored", sender.actor, len(reports))
                    outcome.counts[STORE_UNAVAILABLE] += len(reports)
                else:
                    outcome.counts[TAKEN] += len(reports)
        return outcome

    def _report(
        self, sender: Sender, event: CotEvent, now: datetime, out: list[PositionReport]
    ) -> str | None:
        """Append the event's report(s) to ``out`` (``None``), or say why there is none."""
        try:
            position = position_from_event(event, now)
        except CotError as exc:
            log.info(
                "%s: event %r rejected: %s: %s", sender.actor, event.uid, exc.field, exc.message
            )
            return f"invalid:{exc.field}"
        if position is None:
            return NO_POSITION
        if sender.authenticated:
            return self._authenticated(sender, event, position, now, out)
        return self._plain(sender, event, position, now, out)

    def _authenticated(
        self,
        sender: Sender,
        event: CotEvent,
        position: CotPosition,
        now: datetime,
        out: list[PositionReport],
    ) -> str | None:
        """A TLS report moves the asset *of the certificate's party* whose uid it is. Other
        parties' assets with the same uid are not looked at: to the sender such a uid is
        unbound, exactly as one nobody registered (no ``not_owner``, nothing that says
        another party has it)."""
        mine = [
            asset_id
            for asset_id in self._bindings.by_uid.get(event.uid, ())
            if self._bindings.asset[asset_id][1] == sender.party_id
        ]
        if not mine:
            self._note_unbound(sender, event, now)
            return UNBOUND_UID
        if len(mine) > 1:  # registration refuses it; two processes racing could still
            log.warning(
                "%s: uid %r is bound to several assets of party %s (%s); not taken",
                sender.actor,
                event.uid,
                sender.party_id,
                ", ".join(sorted(mine)),
            )
            return AMBIGUOUS_UID
        return self._append(sender, event, position, mine[0], "authenticated", now, out)

    def _plain(
        self,
        sender: Sender,
        event: CotEvent,
        position: CotPosition,
        now: datetime,
        out: list[PositionReport],
    ) -> str | None:
        """A plain report widens every asset bound to its uid, in whichever party, within
        the bounds of ``domain/plain_reports.py`` and the rate limits; one that would change
        nothing is not stored."""
        if not plain_cep_plausible(position.cep_m):
            return IMPLAUSIBLE_ERROR
        asset_ids = sorted(self._bindings.by_uid.get(event.uid, ()))
        if not asset_ids:
            self._note_unbound(sender, event, now)
            return UNBOUND_UID
        engine = self.service.engine
        reason: str | None = None
        widened: list[str] = []
        for asset_id in asset_ids:
            effect = engine.plain_effect(
                asset_id, position.lat, position.lon, position.time, position.cep_m
            )
            if effect is PlainEffect.IMPLAUSIBLE:
                reason = reason or IMPLAUSIBLE_POSITION
            elif effect is PlainEffect.NO_CHANGE:
                reason = reason or NO_CHANGE
            else:  # places, widens, or the index cannot tell yet (its loader applies the bound)
                widened.append(asset_id)
        if not widened:
            return reason
        limited = self._limits.admit(sender.source_address, event.uid)
        if limited is not None:
            return f"{RATE_LIMITED}:{limited}"
        for asset_id in widened:
            problem = self._append(sender, event, position, asset_id, "plain", now, out)
            if problem is not None:
                return problem
        return None

    def _append(
        self,
        sender: Sender,
        event: CotEvent,
        position: CotPosition,
        asset_id: str,
        source: Literal["authenticated", "plain"],
        now: datetime,
        out: list[PositionReport],
    ) -> str | None:
        try:
            out.append(position.to_report(asset_id, now=now, source=source))
        except CotError as exc:
            log.info(
                "%s: event %r rejected: %s: %s", sender.actor, event.uid, exc.field, exc.message
            )
            return f"invalid:{exc.field}"
        return None

    def _note_unbound(self, sender: Sender, event: CotEvent, now: datetime) -> None:
        seen = self._unbound.get(sender.key)
        if seen is None:
            if len(self._unbound) >= MAX_UNBOUND_SENDERS:
                return
            seen = self._unbound[sender.key] = {}
            self._unbound_owner[sender.key] = (
                (sender.unit_id, sender.party_id) if sender.authenticated else (None, None)
            )
        entry = seen.get(event.uid)
        if entry is not None:
            entry.count += 1
            entry.last_seen = now
            return
        if len(seen) >= MAX_UNBOUND_PER_SENDER:
            return
        seen[event.uid] = UnboundUid(event.uid, 1, now, now, event.detail.callsign)
        who = (
            f"unit {sender.unit_id} (party {sender.party_id})"
            if sender.authenticated
            else ("a plain port")
        )
        log.info(
            "unbound CoT uid %r (callsign %s) from %s: set an asset's cot_uid to take its reports",
            event.uid,
            event.detail.callsign or "-",
            who,
        )

    def unbound(self, unit_id: str | None = None) -> list[UnboundUid]:
        """Unbound uids seen from a unit's clients (``None``: from plain ports)."""
        with self.service.lock:
            key = f"unit:{unit_id}" if unit_id is not None else "plain"
            return sorted(self._unbound.get(key, {}).values(), key=lambda u: u.uid)

    def unbound_listing(self, party_id: str | None = None) -> list[dict[str, Any]]:
        """Every unbound uid with the unit whose clients sent it, for its coordinators to
        bind: the units of ``party_id`` only, or everything (plain ports too) for ``None``."""
        out: list[dict[str, Any]] = []
        with self.service.lock:
            for key, seen in self._unbound.items():
                unit_id, owner = self._unbound_owner.get(key, (None, None))
                if party_id is not None and owner != party_id:
                    continue
                for entry in seen.values():
                    out.append(
                        {
                            "unit_id": unit_id,
                            "party_id": owner,
                            "transport": "tls" if unit_id is not None else "plain",
                            "uid": entry.uid,
                            "callsign": entry.callsign,
                            "count": entry.count,
                            "first_seen": entry.first_seen.isoformat(),
                            "last_seen": entry.last_seen.isoformat(),
                        }
                    )
        out.sort(key=lambda u: (u["unit_id"] or "", u["uid"]))
        return out
