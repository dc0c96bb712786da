"""Webhooks: a unit's notification stream delivered to an HTTP endpoint, signed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction.api.deps import Caller, json_body, usecases
from deconfliction.api.schemas import ERRORS
from deconfliction.api.serialize import json_response

router = APIRouter(tags=["notifications"])

_WHO = (
    "Coordinators of the unit's party and admins (a webhook sends the unit's notifications "
    "elsewhere); a unit of another party does not exist for the caller (404)."
)


@router.post(
    "/v1/units/{unit_id}/webhooks",
    summary="Deliver a unit's notifications to an HTTP endpoint",
    status_code=201,
    description=(
        'Body: `{"url": "https://…", "secret": "<16-200 characters, optional>", "after": '
        "<stream position, default 0: from the start>}`. Every event of the unit's stream "
        "(the same JSON as a server-sent event's `data`, plus `webhook_id` and `unit_id`) is "
        "POSTed in order, at least once: a 2xx moves on, anything else is retried with "
        "exponential back-off (stored: it survives a restart). Each body is signed: "
        '`X-Deconfliction-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with '
        "`X-Deconfliction-Timestamp`; `X-Deconfliction-Delivery` (`<webhook>:<position>`) is "
        "the same on every retry, for de-duplication. The secret (generated when not given) "
        "is returned in this answer only. Acknowledgement by an endpoint means received, "
        "never approved. Only globally reachable addresses are called (loopback, private, "
        "link-local and other internal ranges are refused: a 422 naming `url` for an address "
        "or `localhost`, `last_error` `refused` after resolution) unless the operator allows "
        'a network; redirects are never followed (docs/design/security.md, "Webhook '
        f'destinations"). {_WHO}'
    ),
    responses=ERRORS,
    operation_id="create_webhook",
)
async def create_webhook(request: Request, unit_id: str, who: Caller) -> Response:
    data = await json_body(request)
    body = await run_in_threadpool(usecases(request).webhooks.register, who, unit_id, data)
    return json_response(body, 201)


@router.get(
    "/v1/units/{unit_id}/webhooks",
    summary="A unit's webhooks and their delivery state",
    description=(
        "Each webhook with `delivered_seq` (the last position its endpoint acknowledged), "
        f"`attempts`, `next_attempt_at` and `last_error`; never its secret. {_WHO}"
    ),
    responses=ERRORS,
    operation_id="list_webhooks",
)
async def list_webhooks(request: Request, unit_id: str, who: Caller) -> Response:
    body = await run_in_threadpool(usecases(request).webhooks.list, who, unit_id)
    return json_response(body)


@router.delete(
    "/v1/webhooks/{webhook_id}",
    summary="Stop a webhook",
    status_code=204,
    description=_WHO,
    responses=ERRORS,
    operation_id="delete_webhook",
)
async def delete_webhook(request: Request, webhook_id: str, who: Caller) -> Response:
    await run_in_threadpool(usecases(request).webhooks.delete, who, webhook_id)
    return Response(status_code=204)
