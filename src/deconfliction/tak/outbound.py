"""What the CoT gateway sends to TLS clients, and what their chat commands do.

The service side of the TAK outbound feed (network: :mod:`deconfliction.tak.streams`):

- **Notifications** come from the same outbox as the web UI's stream
  (:meth:`Notifications.stream_page`): each outbox entry of the client's unit
  becomes a GeoChat message (:func:`~deconfliction.cot.notices.notification_text`)
  and, for an announced arrival, a marker at its entry point. A client that
  connects gets what its certificate missed (:meth:`CotOutbound.backlog`), by the
  certificate's cursor kept in the store (:mod:`deconfliction.tak.cursors`); an entry
  sent again is the same event (same uid), so a TAK client keeps one copy.
- **The picture**: what :class:`~deconfliction.service.map.MapView` shows the
  client's party (releasability applied there), as CoT
  (:class:`~deconfliction.cot.picture.Picture`). :class:`PictureChanges`, a write
  hook, notes the objects and authenticated reports written, so the gateway
  pushes updates as reports arrive.
- **Chat commands** (:meth:`CotOutbound.chat`): ``ACK``/``BRIEFED``/``OURS <code>``
  answer through :meth:`Notifications.respond` (the HTTP API's method) as the
  certificate's unit; ``CHECK …`` runs through :class:`Checks` (stored and audited
  like an HTTP check). The reply is a GeoChat message at 0,0 with ``ce`` 9999999.

Decisions: docs/design/cot.md ("Outbound").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import orjson

from deconfliction.cot.commands import AnswerCommand, CheckCommand, parse_chat_command
from deconfliction.cot.errors import ChatCommandError
from deconfliction.cot.event import CotEvent
from deconfliction.cot.mapping import chat_event, chat_message
from deconfliction.cot.notices import (
    arrival_marker,
    check_reply_text,
    code_matches,
    notification_code,
    notification_text,
)
from deconfliction.cot.picture import Picture
from deconfliction.domain.model import Model, PositionReport
from deconfliction.domain.wording import time_zone
from deconfliction.notifications.inbox import UNANSWERED, view
from deconfliction.service import follow
from deconfliction.service.access import Principal
from deconfliction.service.errors import Forbidden, ServiceError
from deconfliction.service.kinds import ASSET
from deconfliction.service.map import FRESH_S, MapView
from deconfliction.store.times import format_time
from deconfliction.tak.cursors import Cursors
from deconfliction.usecases import UseCases

log = logging.getLogger("deconfliction.cot.notices")

#: A reconnecting certificate gets at most this many missed outbox entries; beyond
#: that, its unit's unanswered notifications (the ones that still need it).
MAX_BACKLOG = 500
MAX_UNANSWERED = 200
#: CEP of a chat CHECK that gives none: a position typed from a map, taken generously.
DEFAULT_CHAT_CEP_M = 100.0
#: Most answers a chat reply lists before "… n more".
MAX_REPLY_MATCHES = 10
#: Object kinds whose writes change the picture.
PICTURE_KINDS = frozenset({"asset", "movement", "area", "site", "party", "equipment_type", "unit"})


#: Outbox events that happen once per notification: their message needs no position.
ONCE = frozenset({"created", "answered"})


def message_id(notification_id: str, event: str, position: int | None) -> str:
    """A GeoChat message id that is the same whenever the entry is sent (after a reconnect,
    after a restart), so the chat event's uid is too and a TAK client keeps one copy:
    ``<notification id>.<event>``, and the outbox position for an event that recurs
    (``repeated``, ``escalated``). The backlog of unanswered notifications sends each as
    ``created``: the message the client had if it had the entry."""
    if event in ONCE or position is None:
        return f"{notification_id}.{event}"
    return f"{notification_id}.{event}.{position}"


@dataclass(frozen=True, slots=True)
class Client:
    """A TLS client: its certificate's unit and party, the certificate, its own uid."""

    unit_id: str
    party_id: str
    cert_id: str
    subject: str = ""
    uid: str | None = None
    callsign: str | None = None

    @property
    def principal(self) -> Principal:
        return Principal(
            token_id=f"tak-cert-{self.cert_id}",
            role="operator",
            unit_id=self.unit_id,
            party_id=self.party_id,
        )

    @property
    def responder(self) -> str:
        """How an answer names who gave it: the TAK user's callsign and the certificate."""
        who = self.callsign or self.unit_id
        return f"{who} (TAK certificate CN={self.unit_id}, serial {self.cert_id})"[:200]


@dataclass
class Delivery:
    """Outbox entries rendered for a client: ``(seq, events)`` in order; ``client``: the
    client as they were addressed (a backlog goes to the device its certificate's entries
    went to last, until the device says who it is)."""

    entries: list[tuple[int, list[CotEvent]]]
    cursor: int
    client: Client | None = None


class PictureChanges:
    """A write hook: which objects and which assets' reports changed, for the feed.

    Called inside write transactions; it only notes keys and wakes the gateway,
    which reads after the writer released the service lock (so after the commit).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: set[tuple[str, str]] = set()
        self._reports: dict[str, PositionReport] = {}
        self.waker: Callable[[], None] | None = None

    def _wake(self) -> None:
        waker = self.waker
        if waker is not None:
            waker()

    def take(self) -> tuple[set[tuple[str, str]], dict[str, PositionReport]]:
        with self._lock:
            objects, self._objects = self._objects, set()
            reports, self._reports = self._reports, {}
        return objects, reports

    # -- WriteHook -------------------------------------------------------------------------
    def loaded(self) -> None:
        with self._lock:
            self._objects.add(("*", "*"))
        self._wake()

    def object_written(self, kind: str, model: Model, owner: str | None) -> None:
        if kind in PICTURE_KINDS:
            with self._lock:
                self._objects.add((kind, str(getattr(model, "id", ""))))
            self._wake()

    def reports_written(self, reports: Sequence[PositionReport]) -> None:
        with self._lock:
            for report in reports:
                if report.source != "authenticated":
                    continue  # a plain report never moves a marker (the map prefers authenticated)
                have = self._reports.get(report.asset_id)
                if have is None or report.time >= have.time:
                    self._reports[report.asset_id] = report
        self._wake()

    def followed(self, written: Sequence[follow.Followed]) -> None:
        with self._lock:
            self._objects.add(("*", "*"))  # another process wrote: re-read the picture
        self._wake()

    def object_removed(self, kind: str, obj_id: str) -> None:
        # The change makes the publisher resync at once: the object's delete event goes
        # out now (not at the periodic resync), and a deleted unit's certificates close.
        with self._lock:
            self._objects.add((kind, obj_id))
        self._wake()

    def drain(self) -> int:
        return 0  # nothing deferred: the publisher reads after each write


class CotOutbound:
    def __init__(self, usecases: UseCases) -> None:
        self.uc = usecases
        self.service = usecases.service
        self.store = usecases.service.store
        self.map = MapView(usecases.service, usecases.registry)
        self.bell = usecases.notifications.planner.bell
        self.changes = PictureChanges()
        self.service.hooks.append(self.changes)
        self.horizon = timedelta(hours=self.service.settings.horizon_hours)
        #: certificate → the last outbox position written to one of its connections.
        self.cursors = Cursors(self.store)
        self._party_kinds: dict[str, str] = {}
        #: asset id → the report time of the newest marker pushed (never move back).
        self._pushed: dict[str, datetime] = {}

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    @staticmethod
    def client(unit_id: str, party_id: str, cert_id: str, subject: str) -> Client:
        return Client(unit_id=unit_id, party_id=party_id, cert_id=cert_id, subject=subject)

    def identify(self, unit_id: str, party_id: str) -> str | None:
        """``None`` while a certificate's unit exists in its party, else why not: a unit
        deleted or moved to another party is sent nothing more and may not answer."""
        with self.service.lock:
            stored = self.store.get("unit", unit_id)
        if stored is None:
            return f"unit {unit_id!r} is not registered"
        if stored.party_id != party_id:
            return f"unit {unit_id!r} no longer belongs to party {party_id!r}"
        return None

    # -- notifications ---------------------------------------------------------------------
    def delivered(self, client: Client, seq: int) -> None:
        """The entries up to ``seq`` were written to one of the certificate's connections
        (memory; the publisher writes it to the store in batches)."""
        self.cursors.moved(client.cert_id, client.unit_id, seq, client.uid, client.callsign)

    def backlog(self, client: Client) -> Delivery:
        """What a connecting client gets: the outbox after its certificate's cursor, or
        (first connection, or more missed than :data:`MAX_BACKLOG`) its unit's
        unanswered notifications; the cursor moves to the end either way. Addressed to the
        device the certificate's entries last went to, so what comes again has its uid."""
        known = self.cursors.get(client.cert_id)
        if known is not None and client.uid is None and known.device_uid is not None:
            client = replace(client, uid=known.device_uid, callsign=known.callsign)
        if known is not None:
            delivery = self.after(client, known.seq, MAX_BACKLOG + 1)
            if len(delivery.entries) <= MAX_BACKLOG:
                delivery.client = client
                return delivery
        with self.service.lock:
            end = self.store.last_outbox_seq()  # first: a newer entry comes again, not never
            rows = self.store.find_notifications(
                unit_id=client.unit_id, states=UNANSWERED, answered=False, limit=MAX_UNANSWERED
            )
            kinds = self._kinds()
            zone = self._zone(client.unit_id)
        rows.sort(key=lambda r: (r["deadline"] is None, r["deadline"] or "", r["created_at"]))
        now = self.now()
        entries = [
            (end, self._render(client, view(r), "created", None, now, kinds, zone)) for r in rows
        ]
        return Delivery(entries, end, client)

    def last_outbox_seq(self) -> int:
        with self.service.lock:
            return self.store.last_outbox_seq()

    def after(self, client: Client, after: int, limit: int = 100) -> Delivery:
        """The unit's outbox entries after ``after``, rendered for this client."""
        with self.service.lock:
            page = self.uc.notifications.stream_page(client.unit_id, after, limit)
            kinds = self._kinds()
            zone = self._zone(client.unit_id) if page else None
        now = self.now()
        entries = [
            (
                int(item["position"]),
                self._render(
                    client,
                    item["notification"],
                    item["event"],
                    int(item["position"]),
                    now,
                    kinds,
                    zone,
                ),
            )
            for item in page
        ]
        cursor = entries[-1][0] if entries else after
        return Delivery(entries, cursor)

    def _render(
        self,
        client: Client,
        notification: dict[str, Any],
        event: str,
        position: int | None,
        now: datetime,
        kinds: dict[str, str],
        zone: tzinfo | None = None,
    ) -> list[CotEvent]:
        # Times relative to the service's clock, which the deadlines are kept by.
        text = notification_text(notification, event, self.service.clock.now(), zone)
        out = [
            chat_event(
                text,
                now=now,
                recipient_uid=client.uid or client.unit_id,
                recipient_callsign=client.callsign,
                message_id=message_id(str(notification["id"]), event, position),
            )
        ]
        if event in ("created", "repeated"):
            owner = notification.get("owner_party_id")
            marker = arrival_marker(notification, kinds.get(str(owner)), now)
            if marker is not None:
                out.append(marker)
        return out

    def _zone(self, unit_id: str) -> tzinfo | None:
        """The unit's own time zone, if it has one (under the service lock)."""
        stored = self.store.get("unit", unit_id)
        return time_zone(stored.data.get("time_zone")) if stored is not None else None

    def _kinds(self) -> dict[str, str]:
        """Party id → kind (under the service lock)."""
        if not self._party_kinds:
            self._party_kinds = {
                s.id: str(s.data.get("kind") or "military") for s in self.store.iter_all("party")
            }
        return self._party_kinds

    # -- the picture -------------------------------------------------------------------------
    def picture(self, party_id: str) -> dict[str, CotEvent]:
        """The whole picture a party may see, uid → event (releasability by MapView)."""
        who = Principal(token_id="tak-feed", role="operator", unit_id=None, party_id=party_id)
        now = self.now()
        with self.service.lock:
            self._party_kinds = {}
            collection = self.map.collection(who, now)
            picture = Picture(self._kinds(), self.horizon)
        out: dict[str, CotEvent] = {}
        for feature in collection["features"]:
            for event in picture.events(feature, now):
                out[event.uid] = event
        return out

    def take_changes(self) -> tuple[bool, dict[str, PositionReport]]:
        """(objects changed: re-read whole pictures, the newest new report per asset)."""
        objects, reports = self.changes.take()
        if objects:
            with self.service.lock:
                self._party_kinds = {}
        return bool(objects), reports

    def report_markers(
        self, reports: dict[str, PositionReport], parties: Sequence[str]
    ) -> dict[str, list[CotEvent]]:
        """Markers for newly reported assets, per party that may see each asset."""
        now = self.now()
        features: list[tuple[Any, dict[str, Any]]] = []
        with self.service.lock:
            kinds = self._kinds()
            types: dict[str, dict[str, Any]] = {}
            for asset_id, report in sorted(reports.items()):
                pushed = self._pushed.get(asset_id)
                if pushed is not None and report.time < pushed:
                    continue
                self._pushed[asset_id] = report.time
                stored = self.store.get(ASSET.name, asset_id)
                if stored is None:
                    continue
                type_id = str(stored.data.get("type_id"))
                if type_id not in types:
                    kind = self.store.get("equipment_type", type_id)
                    types[type_id] = kind.data if kind is not None else {}
                features.append((stored, _asset_feature(stored, types[type_id], report, now)))
        picture = Picture(kinds, self.horizon)
        out: dict[str, list[CotEvent]] = {party: [] for party in parties}
        for stored, feature in features:
            events = picture.events(feature, now)
            for party in parties:
                who = Principal(token_id="tak-feed", role="operator", unit_id=None, party_id=party)
                if self.uc.registry.visible(who, ASSET, stored):
                    out[party].extend(events)
        return out

    # -- chat commands -----------------------------------------------------------------------
    def chat(self, client: Client, event: CotEvent) -> tuple[list[CotEvent], str]:
        """Answer a GeoChat message from a client: (the reply, what it was: ``answer``,
        ``check`` or ``error``)."""
        message = chat_message(event)
        if message is None:
            return [], "ignored"
        to_uid = message.sender_uid or client.uid or client.unit_id
        to_callsign = message.sender_callsign or client.callsign
        client = replace(client, uid=to_uid, callsign=to_callsign)
        kind = "error"
        try:
            problem = self.identify(client.unit_id, client.party_id)
            if problem is not None:
                kind = "refused"
                raise Forbidden(problem)
            command = parse_chat_command(message.text)
            if isinstance(command, AnswerCommand):
                text = self._answer(client, command)
                kind = "answer"
            else:
                text = self._check(client, command)
                kind = "check"
        except ChatCommandError as exc:
            text = f"Not understood ({exc.token or 'empty message'}): {exc.message}"
        except ServiceError as exc:
            where = f" ({exc.field})" if exc.field else ""
            text = f"Refused{where}: {exc.message}"
        reply = chat_event(
            text, now=self.now(), recipient_uid=to_uid, recipient_callsign=to_callsign
        )
        return [reply], kind

    def _answer(self, client: Client, command: AnswerCommand) -> str:
        with self.service.lock:
            rows = self.store.find_notifications(
                unit_id=client.unit_id, states=UNANSWERED, answered=False, limit=10_000
            )
            found = [r for r in rows if code_matches(r["id"], command.code)]
        if not found:
            raise ChatCommandError(
                command.code,
                f"no unanswered notification of unit {client.unit_id} has the code "
                f"{command.code!r} (already answered, or not this unit's)",
            )
        if len(found) > 1:
            raise ChatCommandError(
                command.code,
                f"{command.code!r} names {len(found)} notifications: give more of the id "
                f"({', '.join(r['id'] for r in found[:5])})",
            )
        row = found[0]
        body, status = self.uc.notifications.respond(
            client.principal, row["id"], {"by": client.responder, "response": command.response}
        )
        code = notification_code(row["id"])
        again = "" if status == 201 else " (already recorded)"
        return (
            f"[{code}] answered {body['response']}{again} by {body['by']} at {body['at']}. "
            "Received, never approved."
        )

    def _check(self, client: Client, command: CheckCommand) -> str:
        position: dict[str, Any] = (
            {"mgrs": command.mgrs}
            if command.mgrs is not None
            else {"lat": command.position.lat, "lon": command.position.lon}
        )
        observed: dict[str, Any] = {
            "features": list(command.features),
            "certainty": command.certainty,
        }
        if command.mobility is not None:
            observed["mobility"] = command.mobility
        data = {
            "unit_id": client.unit_id,
            "position": position,
            "cep_m": DEFAULT_CHAT_CEP_M if command.cep_m is None else command.cep_m,
            "observed": observed,
            "note": "asked over TAK chat",
        }
        checks = self.uc.checks
        body = orjson.dumps(data)
        obs, parsed, party = checks.prepare(client.principal, body)
        answer = orjson.loads(checks.run(client.principal, obs, parsed, party))
        shown = dict(answer)
        shown["matches"] = list(answer.get("matches") or [])[:MAX_REPLY_MATCHES]
        return check_reply_text(shown)


def _asset_feature(
    stored: Any, kind: dict[str, Any], report: PositionReport, now: datetime
) -> dict[str, Any]:
    """The map's asset feature for a report just written (as :class:`MapView` draws it)."""
    data = stored.data
    age_s = (now - report.time).total_seconds()
    props = {
        "layer": "asset",
        "id": stored.id,
        "callsign": data.get("callsign"),
        "party_id": stored.party_id,
        "type_id": data.get("type_id"),
        "type_name": kind.get("name"),
        "sidc": kind.get("sidc"),
        "time": format_time(report.time),
        "age_s": round(age_s, 1),
        "stale": age_s > FRESH_S,
        "cep_m": float(report.cep_m) + float(report.position.extra_radius_m),
        "speed_kmh": report.speed_kmh,
        "course_deg": report.course_deg,
        "source": report.source,
    }
    feature = {
        "type": "Feature",
        "id": f"asset:{stored.id}",
        "geometry": {"type": "Point", "coordinates": [report.position.lon, report.position.lat]},
        "properties": props,
    }
    return feature
