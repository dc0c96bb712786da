"""``GET /v1/review``: the after-action review of an incident (``docs/design/review.md``)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction.api.deps import Caller, usecases
from deconfliction.api.schemas import ERRORS
from deconfliction.api.serialize import json_response
from deconfliction.review.incident import DEFAULT_AFTER, DEFAULT_BEFORE, Incident
from deconfliction.review.render import html_with_inline_map, to_markdown, to_png
from deconfliction.review.usecase import parse_at, parse_duration, review_page
from deconfliction.service.errors import InvalidInput

router = APIRouter(tags=["review"])
FORMATS = ("json", "markdown", "html", "png")


@router.get(
    "/v1/review",
    summary="After-action review of an incident",
    description=(
        "The timeline around a point and time, built from the record: what was registered "
        "there (assets, movements, areas, sites whose reach touches the circle in the "
        "window), who was notified when, who answered and when, which checks were made "
        "there and what they returned, which parties had no data there, and the state of "
        "the audit chain it rests on. Coordinator tokens get their party's view (only what "
        "the party may see), admins the whole record; operator tokens are refused (403). "
        "`before`/`after` are durations (`90m`, `6h`, `2d`; defaults 6h and 1h). "
        "`format`: `json` (default), `markdown`, `html` (the map inline) or `png` (the map). "
        'Bounded (docs/design/security.md, "Files and the review, bounded"): `radius_m` at most '
        "50 km, `before` + `after` at most 7 days (a 422 naming the field past either); "
        "paged: at most `limit` items (1 to 1000, default 1000; about 2 MB) a page, in a "
        "stable order; `page.next` (JSON; the `X-Review-Next-Cursor` header in every format) "
        "is the `cursor` of the next page, `null` on the last."
    ),
    responses=ERRORS,
    operation_id="get_review",
)
async def get_review(
    request: Request,
    who: Caller,
    at: Annotated[str, Query(description="The incident's time, RFC 3339 with a zone")],
    lat: Annotated[float, Query(description="Latitude, WGS 84 degrees")],
    lon: Annotated[float, Query(description="Longitude, WGS 84 degrees")],
    radius_m: Annotated[float, Query(description="Radius around the point, metres")],
    before: Annotated[str | None, Query(description="Window before `at` (default 6h)")] = None,
    after: Annotated[str | None, Query(description="Window after `at` (default 1h)")] = None,
    format: Annotated[str, Query(description="json, markdown, html or png")] = "json",
    limit: Annotated[int | None, Query(description="Items a page: 1 to 1000; default 1000")] = None,
    cursor: Annotated[str | None, Query(description="The `page.next` of the previous page")] = None,
) -> Response:
    if format not in FORMATS:
        raise InvalidInput(
            f"format must be one of {', '.join(FORMATS)}, got {format!r}", field="format"
        )
    for name, value in (("lat", lat), ("lon", lon), ("radius_m", radius_m)):
        if not math.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number", field=name)
    incident = Incident(
        at=parse_at(at),
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        before=parse_duration(before, "before") if before else DEFAULT_BEFORE,
        after=parse_duration(after, "after") if after else DEFAULT_AFTER,
    )
    body = await run_in_threadpool(review_page, usecases(request), who, incident, limit, cursor)
    nxt = body["page"]["next"]
    headers = {"X-Review-Next-Cursor": nxt} if nxt else None
    if format == "markdown":
        return Response(
            to_markdown(body, map_file=None),
            media_type="text/markdown; charset=utf-8",
            headers=headers,
        )
    if format == "html":
        page = await run_in_threadpool(html_with_inline_map, body)
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)
    if format == "png":
        png = await run_in_threadpool(to_png, body)
        return Response(png, media_type="image/png", headers=headers)
    return json_response(body, headers=headers)
