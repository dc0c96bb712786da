"""Health, version, readiness and (for admins) tokens and the check-recording counters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction import __version__
from deconfliction.api.deps import Caller, json_body, usecases
from deconfliction.api.schemas import (
    ERRORS,
    CheckRecording,
    Health,
    Ready,
    TokenIssued,
    Version,
)
from deconfliction.api.serialize import json_response
from deconfliction.service import auth
from deconfliction.service.errors import Forbidden, InvalidInput, NotFound
from deconfliction.store import NotFound as StoreNotFound
from deconfliction.store.times import format_time

router = APIRouter(tags=["service"])


@router.get("/v1/health", response_model=Health, summary="Liveness (no token needed)")
async def health() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/v1/version", response_model=Version, summary="Version (no token needed)")
async def version() -> Response:
    return json_response({"name": "deconfliction", "version": __version__, "api": "v1"})


@router.get(
    "/v1/ready",
    response_model=Ready,
    summary="Readiness: is the index loaded? (no token needed)",
    description="200 once checks can be answered; 503 with `treat_as: HOLD` until then. "
    "`audit` says what the start-up check of the audit log found: `checking`, `intact`, "
    "`broken at seq N` or `cut after seq N` (`audit_problem` has the details); a broken "
    "log never makes the server refuse checks (docs/design/security.md).",
)
async def ready(request: Request) -> Response:
    service = usecases(request).service
    if not service.ready:
        raise usecases(request).checks.not_ready()
    return json_response(
        {"ready": True, "load_seconds": service.load_seconds, **service.audit.state()}
    )


@router.get(
    "/v1/status/checks",
    response_model=CheckRecording,
    summary="How checks were recorded (admins)",
    description="Counters since the server started: checks recorded, the transactions "
    "(groups) that recorded them, the largest group, and how long those transactions held "
    "the database's write lock, in all and per check (docs/design/storage.md, "
    '"How a check is recorded").',
    responses=ERRORS,
)
async def check_recording(request: Request, who: Caller) -> Response:
    if not who.is_admin:
        raise Forbidden("only an admin token may read the recording counters")
    stats = usecases(request).checks.recorder.stats
    per_check = stats.lock_held_s / stats.records if stats.records else None
    return json_response(
        {
            **stats.as_dict(),
            "lock_held_us_per_check": None if per_check is None else round(per_check * 1e6, 1),
        }
    )


@router.get(
    "/v1/me",
    summary="Who this token is",
    description="The token's role, unit and party (the CLI's `check` uses it to fill `unit_id`).",
    responses=ERRORS,
)
async def me(who: Caller) -> Response:
    return json_response(
        {
            "token_id": who.token_id,
            "role": who.role,
            "unit_id": who.unit_id,
            "party_id": who.party_id,
        }
    )


@router.post(
    "/v1/tokens",
    tags=["tokens"],
    status_code=201,
    summary="Issue a token (admins)",
    description='Body: `{"role": "operator"|"coordinator"|"admin", "unit_id"?, "ttl_days"?}`. '
    "Operator and coordinator tokens belong to a unit, whose party they act for. The token "
    "is shown once.",
    response_model=TokenIssued,
    responses=ERRORS,
)
async def issue_token(request: Request, who: Caller) -> Response:
    if not who.is_admin:
        raise Forbidden("only an admin token may issue tokens")
    data = await json_body(request)
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object")
    unknown = set(data) - {"role", "unit_id", "ttl_days"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", field=min(unknown))
    role = data.get("role")
    unit_id = data.get("unit_id")
    ttl_days = data.get("ttl_days", 90)
    if not isinstance(role, str):
        raise InvalidInput(
            f"role is required (operator, coordinator, admin), got {role!r}", field="role"
        )
    if unit_id is not None and not isinstance(unit_id, str):
        raise InvalidInput(f"unit_id must be a string, got {unit_id!r}", field="unit_id")
    if ttl_days is not None and (
        isinstance(ttl_days, bool)
        or not isinstance(ttl_days, int | float)
        or not 0 < ttl_days <= 3650
    ):
        raise InvalidInput(f"ttl_days must be within (0, 3650], got {ttl_days!r}", field="ttl_days")
    ttl = None if ttl_days is None else timedelta(days=float(ttl_days))
    store = usecases(request).service.store
    token, record = await run_in_threadpool(auth.issue, store, role, unit_id, ttl, actor=who.actor)
    return json_response(_token_out(token, record), 201)


@router.delete(
    "/v1/tokens/{token_id}",
    tags=["tokens"],
    status_code=204,
    summary="Revoke a token (admins)",
    description="Takes effect within one second.",
    responses=ERRORS,
)
async def revoke_token(request: Request, token_id: str, who: Caller) -> Response:
    if not who.is_admin:
        raise Forbidden("only an admin token may revoke tokens")
    store = usecases(request).service.store
    try:
        await run_in_threadpool(store.revoke_token, token_id, who.actor)
    except StoreNotFound:
        raise NotFound(f"no token {token_id!r}") from None
    usecases(request).auth.forget()
    return Response(status_code=204)


def _token_out(token: str, record: Any) -> dict[str, Any]:
    return {
        "token": token,
        "token_id": record.token_id,
        "role": record.role,
        "unit_id": record.unit_id,
        "party_id": record.party_id,
        "expires_at": format_time(record.expires_at) if record.expires_at else None,
    }
