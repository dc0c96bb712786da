"""The pre-action check (the hot path) and position reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction.api.deps import Caller, json_body, usecases
from deconfliction.api.schemas import ERRORS, CheckAnswer, ErrorBody, ReportsAccepted
from deconfliction.api.serialize import json_response
from deconfliction.service import policy
from deconfliction.usecases import UseCases

router = APIRouter(tags=["checks"])
CHECKS_PATH = "/v1/checks"

_INCOMPLETE = {
    "model": ErrorBody,
    "description": "The answer would be incomplete (index loading, store unavailable, rate "
    "limit): the body carries `treat_as: HOLD` and the client must treat the point as HOLD.",
}

CHECK_DOC = """\
Ask whether anything registered — a friendly asset, a planned movement, an operating or
protected area, a protected site — **could** be at the observed point at the observed time.

* `HOLD`: at least one registered candidate could be there. Do not act before
  deconflicting (the matches name whom to contact).
* `NO_KNOWN_MATCH`: nothing *registered* could be there. This is **never a clearance**:
  read `coverage_gaps` for parties operating there without fresh reports.

Observed features never change the verdict; they only explain and rank the matches.
A check's `unit_id` must be the token's unit (admins excepted). When the service cannot
give a complete answer it says so — 503 or 429 with `{"error": {..., "treat_as": "HOLD"}}`.
The check and its answer are recorded before the answer is sent.
"""


@router.post(
    CHECKS_PATH,
    status_code=201,
    summary="Check an observation before acting",
    description=CHECK_DOC,
    response_model=None,
    responses={
        201: {"model": CheckAnswer, "description": "The answer, recorded under its `id`."},
        **ERRORS,
        429: _INCOMPLETE,
        503: _INCOMPLETE,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Observation"}}
            },
        }
    },
    operation_id="create_check",
)
async def post_check(request: Request) -> Response:
    # Inline on the event loop: token lookup (cached ≤ 1 s), parse, engine, insert —
    # each tens of microseconds; a thread hop would cost more than the work.
    uc: UseCases = request.app.state.usecases
    who = policy.authorize(
        uc.auth.from_header(request.headers.get("authorization")), "POST", CHECKS_PATH
    )
    body = await request.body()
    obs, data, party = uc.checks.prepare(who, body)
    return Response(
        uc.checks.run(who, obs, data, party), status_code=201, media_type="application/json"
    )


@router.get(
    "/v1/checks/{check_id}",
    summary="Read a recorded check",
    description="For the asking unit, its party's coordinators and admins; else 404.",
    response_model=None,
    responses={200: {"model": CheckAnswer, "description": "The recorded answer."}, **ERRORS},
    operation_id="get_check",
)
async def get_check(request: Request, check_id: str, who: Caller) -> Response:
    answer = await run_in_threadpool(usecases(request).checks.get, who, check_id)
    return json_response(answer)


@router.post(
    "/v1/reports",
    tags=["reports"],
    summary="Post position reports (a batch of up to 10,000)",
    description="Coordinator tokens for their own party's assets, and admins. All or "
    "nothing: one bad item (or an unknown asset) rejects the whole batch with 422, each bad "
    "item named (`reports[3].position.lat`) in `error.details`. Answered only once stored; "
    "every later check sees the reports. A report more than 30 s in the future is rejected.",
    response_model=ReportsAccepted,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": 10_000,
                        "items": {"$ref": "#/components/schemas/PositionReport"},
                    }
                }
            },
        }
    },
    operation_id="post_reports",
)
async def post_reports(request: Request, who: Caller) -> Any:
    data = await json_body(request)
    result = await run_in_threadpool(usecases(request).reports.post, who, data)
    return json_response(result)
