"""Webhooks: a unit's notification stream POSTed to an HTTP endpoint, signed, at least once.

Each webhook follows one unit's stream (the outbox the server-sent events read) from a
stored cursor: every event is POSTed, in order, as the JSON an SSE ``data`` line
carries, plus ``webhook_id`` and ``unit_id``; a 2xx moves the cursor on (stored), anything
else (or no answer within the timeout) is retried with exponential back-off, stored too,
so that it survives a restart. One failing endpoint delays only its own webhook.

The body is signed with the webhook's secret: ``X-Deconfliction-Signature:
sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` with ``X-Deconfliction-Timestamp``
(Unix seconds) — a receiver recomputes it and rejects old timestamps (replays).
``X-Deconfliction-Delivery: <webhook id>:<position>`` is the same for every retry of one
event: delivery is at least once, so a receiver drops a delivery id it has seen.
Only addresses the destination policy allows are reached, checked at registration, after
resolution and when connecting (``notifications/webhook_destinations.py``,
``notifications/webhook_connect.py``; docs/design/security.md, "Webhook destinations").
Decisions: docs/design/notifications.md ("Webhooks").
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from deconfliction.domain import limits
from deconfliction.notifications.inbox import Notifications
from deconfliction.notifications.webhook_connect import (
    Connector,
    DeliveryFailed,
    Resolver,
    SystemResolver,
)
from deconfliction.notifications.webhook_destinations import DestinationPolicy
from deconfliction.service.access import Principal
from deconfliction.service.core import Service
from deconfliction.service.credentials import webhook_alive
from deconfliction.service.errors import Forbidden, InvalidInput, NotFound
from deconfliction.service.ids import time_ordered_hex
from deconfliction.store.errors import NotFound as StoreNotFound
from deconfliction.store.times import format_time, parse_time

log = logging.getLogger("deconfliction.webhooks")

SIGNATURE_HEADER = "X-Deconfliction-Signature"
TIMESTAMP_HEADER = "X-Deconfliction-Timestamp"
DELIVERY_HEADER = "X-Deconfliction-Delivery"
MAX_URL_CHARS = 2000
MIN_SECRET_CHARS, MAX_SECRET_CHARS = 16, 200
#: Events POSTed per webhook per round (then the next webhook gets its turn).
PAGE = 50
#: Endpoints called at once (a slow one holds one worker, not the others).
WORKERS = 8


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` with the webhook's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def public(webhook: dict[str, Any]) -> dict[str, Any]:
    """A webhook as the API shows it: never its secret."""
    return {k: v for k, v in webhook.items() if k != "secret"}


class Webhooks:
    """Registering, listing and removing a unit's webhooks (coordinators of the unit's
    party and admins: a webhook sends the unit's notifications somewhere else)."""

    def __init__(
        self, service: Service, notifications: Notifications, resolver: Resolver | None = None
    ) -> None:
        self.service = service
        self.store = service.store
        self.notifications = notifications
        self.policy = DestinationPolicy(service.settings.webhook_allow)
        self.dispatcher = Dispatcher(service, notifications, self.policy, resolver)

    def _unit_party(self, who: Principal, unit_id: str) -> str:
        stored = self.store.get("unit", unit_id)
        if stored is None or not (who.is_admin or who.party_id == stored.party_id):
            raise NotFound(f"no unit {unit_id!r}")
        if not (who.is_admin or who.role == "coordinator"):
            raise Forbidden(f"only a coordinator of its party manages unit {unit_id!r}'s webhooks")
        assert stored.party_id is not None
        return stored.party_id

    def register(self, who: Principal, unit_id: str, data: Any) -> dict[str, Any]:
        party_id = self._unit_party(who, unit_id)
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object", field="body")
        unknown = set(data) - {"url", "secret", "after"}
        if unknown:
            raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        url = data.get("url")
        if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
            raise InvalidInput(f"url: a string of at most {MAX_URL_CHARS} characters", field="url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"url: an http(s) URL with a host, got {url!r}", field="url")
        try:
            # The host as the client that delivers will read it (no parser differential).
            host = httpx.URL(url).host
        except httpx.InvalidURL:
            raise InvalidInput(f"url: not a valid URL, got {url!r}", field="url") from None
        if not host:
            raise InvalidInput(f"url: an http(s) URL with a host, got {url!r}", field="url")
        if self.policy.registration_refusal(host) is not None:
            raise InvalidInput(
                f"url: refused: {host!r} is not an address webhooks may reach (loopback, "
                "private, link-local and other internal ranges are refused unless the "
                'operator allows them: docs/design/security.md, "Webhook destinations")',
                field="url",
            )
        secret = data.get("secret")
        if secret is None:
            secret = secrets.token_urlsafe(32)
        elif not isinstance(secret, str) or not (
            MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS
        ):
            raise InvalidInput(
                f"secret: a string of {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters",
                field="secret",
            )
        after = data.get("after", 0)
        if (
            isinstance(after, bool)
            or not isinstance(after, int)
            or not 0 <= after <= limits.MAX_CURSOR
        ):
            raise InvalidInput("after: a stream position (an integer ≥ 0)", field="after")
        webhook = {
            "id": "whk_" + time_ordered_hex(),
            "unit_id": unit_id,
            "party_id": party_id,
            "url": url,
            "secret": secret,
            "created_at": format_time(self.service.clock.now()),
            "delivered_seq": after,
        }
        stored = self.store.add_webhook(webhook, who.actor)
        self.dispatcher.wake()
        return {**public(stored), "secret": secret}  # the secret is shown this once

    def list(self, who: Principal, unit_id: str) -> dict[str, Any]:
        self._unit_party(who, unit_id)
        return {"items": [public(w) for w in self.store.list_webhooks(unit_id)]}

    def delete(self, who: Principal, webhook_id: str) -> None:
        webhook = self.store.get_webhook(webhook_id)
        if webhook is None:
            raise NotFound(f"no webhook {webhook_id!r}")
        try:
            self._unit_party(who, webhook["unit_id"])
        except NotFound:
            raise NotFound(f"no webhook {webhook_id!r}") from None
        try:
            self.store.delete_webhook(webhook_id, format_time(self.service.clock.now()), who.actor)
        except StoreNotFound:
            raise NotFound(f"no webhook {webhook_id!r}") from None


class Dispatcher:
    """Delivers every webhook's stream from its stored cursor (a thread and a small pool)."""

    def __init__(
        self,
        service: Service,
        notifications: Notifications,
        policy: DestinationPolicy,
        resolver: Resolver | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.notifications = notifications
        #: Resolves, judges and pins each webhook's destination (its ``resolver`` is the
        #: system's unless given: tests inject their DNS answers there).
        self.connector = Connector(
            policy, resolver or SystemResolver(), service.settings.webhook_timeout_s
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        notifications.planner.bell.on_ring(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> threading.Thread:
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="deconfliction-webhook")

        def run() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.service.settings.webhook_poll_s)
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self.round()
                except Exception:
                    log.exception("webhook round failed; retrying")

        thread = threading.Thread(target=run, name="deconfliction-webhooks", daemon=True)
        self._thread = thread
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def round(self) -> None:
        """Hand every due webhook that is not being delivered already to the pool."""
        now = self.service.clock.now()
        for webhook in self.store.list_webhooks():
            due = webhook["next_attempt_at"]
            if due is not None and parse_time(due) > now:
                continue
            with self._busy_lock:
                if webhook["id"] in self._busy:
                    continue
                self._busy.add(webhook["id"])
            assert self._pool is not None
            self._pool.submit(self._deliver_guarded, webhook)

    def _deliver_guarded(self, webhook: dict[str, Any]) -> None:
        try:
            if self.deliver(webhook) == PAGE:
                self.wake()  # more to send: another round soon
        except Exception:
            log.exception("webhook %s: delivery failed", webhook["id"])
        finally:
            with self._busy_lock:
                self._busy.discard(webhook["id"])

    def _alive(self, webhook: dict[str, Any]) -> bool:
        """Asked of the store before each page and each POST: a webhook of a deleted unit,
        or registered by a token revoked since, delivers nothing more (and is removed if a
        store written before that rule still holds it). docs/design/security.md, "Credentials die
        with their unit"."""
        if webhook_alive(self.store, webhook):
            return True
        log.warning("webhook %s: its unit was deleted or its token revoked; stopped", webhook["id"])
        with contextlib.suppress(StoreNotFound):
            self.store.delete_webhook(
                webhook["id"], format_time(self.service.clock.now()), "system"
            )
        return False

    def deliver(self, webhook: dict[str, Any]) -> int:
        """POST the webhook's next events in order; how many the endpoint acknowledged.

        The destination is resolved and judged once per call (a page), and every POST of
        the page goes to that one checked address (``notifications/webhook_connect.py``)."""
        if not self._alive(webhook):
            return 0
        page = self.notifications.stream_page(webhook["unit_id"], webhook["delivered_seq"], PAGE)
        if not page:
            return 0
        done = 0
        try:
            with self.connector.open(webhook["url"]) as session:
                for item in page:
                    if not self._alive(webhook):  # revoked or deleted meanwhile: not one more
                        return done
                    body = orjson.dumps(
                        {"webhook_id": webhook["id"], "unit_id": webhook["unit_id"], **item}
                    )
                    timestamp = str(int(time.time()))
                    session.post(
                        body,
                        {
                            "Content-Type": "application/json",
                            TIMESTAMP_HEADER: timestamp,
                            SIGNATURE_HEADER: signature(webhook["secret"], timestamp, body),
                            DELIVERY_HEADER: f"{webhook['id']}:{item['position']}",
                            "User-Agent": "deconfliction-webhook/1",
                        },
                    )
                    self.store.webhook_delivered(
                        webhook["id"], int(item["position"]), format_time(datetime.now(UTC))
                    )
                    webhook = {**webhook, "delivered_seq": int(item["position"]), "attempts": 0}
                    done += 1
        except DeliveryFailed as failure:
            self._failed(webhook, failure)
        return done

    def _failed(self, webhook: dict[str, Any], failure: DeliveryFailed) -> None:
        """Store the failure (the caller's words only) and when to try again."""
        attempts = webhook["attempts"] + 1
        backoff = min(
            self.service.settings.webhook_retry_max_s,
            self.service.settings.webhook_retry_base_s * 2 ** (attempts - 1),
        )
        next_at = datetime.now(UTC) + timedelta(seconds=backoff)
        self.store.webhook_failed(webhook["id"], attempts, format_time(next_at), failure.shown)
        log.warning(
            "webhook %s: %s (attempt %d); next in %.1f s",
            webhook["id"],
            failure.detail,
            attempts,
            backoff,
        )
