"""``GET /v1/tak/status``: the CoT/TAK gateway's connections, counters and unbound uids."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction.api.deps import Caller
from deconfliction.api.schemas import ERRORS
from deconfliction.api.serialize import json_response
from deconfliction.tak.status import SCOPE_KEY, tak_status

router = APIRouter(tags=["tak"])


@router.get(
    "/v1/tak/status",
    summary="The TAK gateway: connections, rejection counters, unbound uids",
    description=(
        "`enabled` (false when `serve` runs without a CoT port), `listeners` (transport → "
        "port), `connections`: each open one with `transport`, `peer`, `unit`, `party`, "
        "`protocol` (`xml` or `tak-stream`), `seconds`, `bytes`, `events`, `reports` (taken), "
        "`rejected` (reason → count: `invalid:<field>`, `too_large`, `no_position`, "
        "`unbound_uid`, `implausible_error`, `rate_limited:uid`, `control`…) and, for TLS, "
        "`sent` and `commands`; "
        "`unbound`: uids reported by a unit's clients that no asset's `cot_uid` binds, with "
        "`count`, `callsign`, `first_seen`, `last_seen` — bind them, they are never created "
        "as assets. Admins see everything, plain ports and `closed_totals` (closed "
        "connections, refusals) included; coordinators only their own party's TLS "
        "connections and unbound uids; operators are refused (403)."
    ),
    responses=ERRORS,
    operation_id="get_tak_status",
)
async def get_tak_status(request: Request, who: Caller) -> Response:
    runtime = request.scope.get(SCOPE_KEY)
    return json_response(await run_in_threadpool(tak_status, who, runtime))
