"""Notifications: a unit's inbox, answers, the live stream (server-sent events)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from deconfliction.api.deps import Caller, json_body, usecases
from deconfliction.api.schemas import ERRORS
from deconfliction.api.serialize import json_response
from deconfliction.domain import limits
from deconfliction.domain.notifications import ACKNOWLEDGEMENT_MEANS
from deconfliction.notifications.inbox import awareness
from deconfliction.service.credentials import may_still_read
from deconfliction.service.errors import InvalidInput

router = APIRouter(tags=["notifications"])


def _cursor(value: int | None, field: str) -> int | None:
    """A stream position as the stores keep it: a 64-bit integer, not negative (past it,
    SQLite raised OverflowError mid-stream); a 422 naming ``field`` otherwise."""
    if value is not None and not 0 <= value <= limits.MAX_CURSOR:
        raise InvalidInput(
            f"{field} must be a stream position from 0 to {limits.MAX_CURSOR}, got {value}",
            field=field,
        )
    return value


#: A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_S = 15.0
#: Without a wake-up, the stream looks at the outbox this often anyway (other processes).
POLL_S = 1.0

_WHO = (
    "An operator token reads and answers its own unit's notifications; a coordinator token "
    "those of its party's units (its answers are recorded as a coordinator's); admins all. "
    "Another party's unit does not exist for the caller (404)."
)

_ACK = (
    f"**{ACKNOWLEDGEMENT_MEANS}** Answers by cause: `announced_arrival`, `unannounced_entry` "
    "and `escalation` take `acknowledged`; `recognition_briefing` takes `briefed`; "
    "`hold_on_your_asset` takes `confirmed_ours` or `acknowledged`."
)


@router.get(
    "/v1/units/{unit_id}/notifications",
    summary="A unit's notifications",
    description=(
        "`state=pending` (default): everything not yet answered (escalated ones included), "
        "soonest deadline first. `state=all`: everything, in the order it was sent; page "
        "with `after` = the previous page's `next`. Each notification carries its cause, "
        "message, deadline, the answers it takes, and for arrivals the recognition card, "
        "the window and where the asset enters (its callsign, id and exact route only where "
        f"releasable to the unit's party). {_ACK} {_WHO}"
    ),
    responses=ERRORS,
    operation_id="list_notifications",
)
async def list_notifications(
    request: Request,
    unit_id: str,
    who: Caller,
    state: Annotated[str | None, Query(description="pending (default) or all")] = None,
    limit: Annotated[int | None, Query(description="1 to 1000; default 100")] = None,
    after: Annotated[int | None, Query(description="The `next` of the previous page")] = None,
) -> Response:
    _cursor(after, "after")
    page = await run_in_threadpool(
        usecases(request).notifications.inbox, who, unit_id, state, limit, after
    )
    return json_response(page)


@router.get(
    "/v1/notifications/{notification_id}",
    summary="Read a notification",
    description=f"{_WHO} {_ACK}",
    responses=ERRORS,
    operation_id="get_notification",
)
async def get_notification(request: Request, notification_id: str, who: Caller) -> Response:
    body = await run_in_threadpool(usecases(request).notifications.get, who, notification_id)
    return json_response(body)


@router.post(
    "/v1/notifications/{notification_id}/responses",
    summary="Answer a notification (acknowledgement means received, never approved)",
    description=(
        'Body: `{"by": "<the person answering>", "response": "acknowledged" | "briefed" | '
        f'"confirmed_ours"}}`. {_ACK} The first answer is stored (201); the same answer '
        "again returns the stored answer (200); a different one is a 409 "
        "`already_answered`; an answer the cause does not take is a 422 naming `response`. "
        "Answering an escalation does not answer the notification it escalated. A "
        "`confirmed_ours` on a `hold_on_your_asset` shows as `owner_response` on the "
        f"asker's check (`GET /v1/checks/{{id}}`). {_WHO}"
    ),
    responses=ERRORS,
    operation_id="answer_notification",
)
async def answer(request: Request, notification_id: str, who: Caller) -> Response:
    data = await json_body(request)
    body, status = await run_in_threadpool(
        usecases(request).notifications.respond, who, notification_id, data
    )
    return json_response(body, status)


@router.get(
    "/v1/units/{unit_id}/notifications/stream",
    summary="A unit's notifications, live (server-sent events)",
    description=(
        "`text/event-stream`. Each event's `id` is the unit's stream position (it only "
        "grows); `event` is `created`, `repeated` (a notification updated and delivered "
        'again), `answered` or `escalated`; `data` is `{"position", "event", "at", '
        '"notification"}`. Reconnect with `Last-Event-ID` (or `?after=`) to resume after '
        "the last position received: delivery is at least once, nothing is lost. Without "
        f"either, the stream starts at the beginning. {_WHO}"
    ),
    responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
    operation_id="stream_notifications",
)
async def stream(
    request: Request,
    unit_id: str,
    who: Caller,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(description="Resume after this position")] = None,
) -> Response:
    uc = usecases(request)
    await run_in_threadpool(uc.notifications.require_unit, who, unit_id)
    start = _cursor(after, "after") or 0
    if last_event_id:
        try:
            start = int(last_event_id.strip())
        except ValueError:
            raise InvalidInput(
                f"Last-Event-ID must be a stream position, got {last_event_id!r}",
                field="Last-Event-ID",
            ) from None
        _cursor(start, "Last-Event-ID")
    notifications = uc.notifications
    bell = notifications.planner.bell

    def page_if_still_allowed(after_position: int) -> list[dict[str, Any]] | None:
        """The next page, or ``None`` once the token or the unit is gone. Asked of the
        store (not the token cache) after the page is read and before it is sent, in one
        trip to the thread pool with the read (with a thousand streams, a second trip per
        wake-up doubled the time to the first delivery): a page read after a revocation or
        the unit's deletion committed is never sent (docs/design/security.md, "Credentials die
        with their unit")."""
        page = notifications.stream_page(unit_id, after_position)
        allowed = may_still_read(
            uc.service.store, who, unit_id, lambda: notifications.require_unit(who, unit_id)
        )
        return page if allowed else None

    async def events() -> AsyncIterator[bytes]:
        position = start
        waiter = bell.waiter(unit_id)
        _, wake = waiter
        idle = 0.0
        try:
            yield b"retry: 1000\n\n"
            while True:
                wake.clear()
                # Every turn, so at least every POLL_S: an idle stream ends within POLL_S
                # of a revocation.
                page = await run_in_threadpool(page_if_still_allowed, position)
                if page is None:
                    yield b": the token was revoked or the unit deleted\n\n"
                    return
                for item in page:
                    position = int(item["position"])
                    yield (
                        f"id: {position}\nevent: {item['event']}\n".encode()
                        + b"data: "
                        + orjson.dumps(item)
                        + b"\n\n"
                    )
                if page:
                    idle = 0.0
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), POLL_S)
                except TimeoutError:
                    idle += POLL_S
                    if idle >= KEEPALIVE_S:
                        idle = 0.0
                        yield b": keepalive\n\n"
        finally:
            bell.discard(waiter)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/v1/test/clock",
    tags=["test hooks"],
    summary="Test hook: move the service clock forward (off unless DECONFLICTION_TEST_CLOCK=1)",
    description=(
        'Admins; body `{"advance_s": seconds}`. Moves the clock that deadlines and '
        "escalations read, then runs the escalation scheduler once, so tests drive deadlines "
        "without sleeping. A 404 unless the server runs with `DECONFLICTION_TEST_CLOCK=1`; "
        "never enable it in production."
    ),
    responses=ERRORS,
    operation_id="advance_test_clock",
    include_in_schema=True,
)
async def advance_clock(request: Request, who: Caller) -> Response:
    data = await json_body(request)
    body = await run_in_threadpool(usecases(request).notifications.advance_clock, who, data)
    return json_response(body)


@router.get(
    "/v1/dashboard/awareness",
    tags=["dashboard"],
    summary="Awareness: who was told about an asset or area, who answered, who is unbriefed",
    description=(
        "Exactly one of `asset` or `area` (an operating area). For every unit that should "
        "know: when it was told, the deadline, whether and when it answered (and who), "
        "whether it is briefed on the type, and the escalations (out-of-band ones name the "
        "contact); soonest deadline first, with the lists of units still unanswered and "
        "unbriefed. For the owner party's coordinators and admins; anyone else gets a 404. "
        f"{ACKNOWLEDGEMENT_MEANS}"
    ),
    responses=ERRORS,
    operation_id="awareness_dashboard",
)
async def awareness_dashboard(
    request: Request,
    who: Caller,
    asset: Annotated[str | None, Query(description="An asset id")] = None,
    area: Annotated[str | None, Query(description="An operating area id")] = None,
) -> Response:
    uc = usecases(request)
    body = await run_in_threadpool(
        awareness, uc.service.store, uc.notifications.planner, who, asset, area
    )
    return json_response(body)
