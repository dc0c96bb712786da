"""What the web UI draws with: ``GET /v1/map`` (what the token may see, as GeoJSON) and
``GET /v1/vocabulary`` (the recognition words in force, for the check form) and
``GET /v1/map/tile-origins`` (where the operator lets the page load tiles from)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deconfliction.api.deps import Caller, usecases
from deconfliction.api.schemas import ERRORS
from deconfliction.api.serialize import json_response
from deconfliction.domain import vocabulary
from deconfliction.service.map import MapView
from deconfliction.service.map_assets import AssetPositions

router = APIRouter(tags=["map"])

MAP_DOC = """\
A GeoJSON FeatureCollection of everything this token may see, for the web UI's map:
the token's unit's AOR, and the areas, sites, movements (route and `corridor_m`) and
assets (at their newest report, with their catalogue type's `sidc`) that the token's
party may see — the same releasability rule as the lists. Nothing else appears, not
even as a count. Each feature has `properties.layer` (`aor`, `area`, `site`,
`movement`, `asset`) and an `id` of the form `<layer>:<object id>`. Areas and
movements whose window has ended are left out; `properties.active` tells whether a
window is open now. Top-level `fresh_s` and `horizon_s` give the staleness
thresholds. A check's position is never on a map.

`bbox=west,south,east,north` (degrees; a map view, so longitudes may run past ±180°
and a box with west > east crosses ±180°) keeps only what reaches into that box
(the unit's own AOR always): with 100k assets the page asks for what is in view.
The answer's `bbox` echoes the box used (null without one). A malformed `bbox` is a
422 naming `bbox`. `compact=true` leaves the assets out of `features` and gives them as
`assets: {"fields": [...], "rows": [[...], ...]}` (fields `id, lon, lat, time, cep_m,
party_id, type_id, callsign, max_speed_kmh` (the asset's own limit or null), `contact,
speed_kmh, course_deg, source`) with `types: {type_id: {"name", "sidc", "max_speed_kmh"}}`:
the same assets in less than half the bytes.
"""


@router.get(
    "/v1/map",
    summary="The map: what this token may see, as GeoJSON",
    description=MAP_DOC,
    responses={200: {"description": "A GeoJSON FeatureCollection."}, **ERRORS},
    operation_id="get_map",
)
async def get_map(
    request: Request,
    who: Caller,
    bbox: Annotated[
        str | None, Query(description="west,south,east,north in degrees: only what is in view")
    ] = None,
    compact: Annotated[
        bool, Query(description="assets as rows of `assets.fields` (see above), not features")
    ] = False,
) -> Response:
    uc = usecases(request)
    view = MapView(uc.service, uc.registry, _positions(request))
    collection = await run_in_threadpool(view.collection, who, None, bbox, compact)
    return json_response(collection, headers={"Cache-Control": "no-store"})


def _positions(request: Request) -> AssetPositions:
    """The app's snapshot of asset positions, made on first use (one per app)."""
    state = request.app.state
    positions: AssetPositions | None = getattr(state, "map_positions", None)
    if positions is None:
        positions = AssetPositions()
        state.map_positions = positions
    return positions


def _ordered(words: frozenset[str], defaults: tuple[str, ...]) -> list[str]:
    """The defaults in their documented order (docs/design/principles.md), then configured
    extensions alphabetically."""
    return [w for w in defaults if w in words] + sorted(words - set(defaults))


@router.get(
    "/v1/vocabulary",
    summary="The recognition vocabulary in force",
    description="Mobility words, visible features, size classes and certainties that checks "
    "and the catalogue accept (the documented defaults plus configured extensions). "
    "Readable by any authenticated token.",
    responses=ERRORS,
    operation_id="get_vocabulary",
)
async def get_vocabulary(who: Caller) -> Response:
    words = vocabulary.current()
    return json_response(
        {
            "mobility": _ordered(words.mobility, vocabulary.DEFAULT_MOBILITY),
            "features": _ordered(words.features, vocabulary.DEFAULT_FEATURES),
            "size_classes": _ordered(words.size_classes, vocabulary.DEFAULT_SIZE_CLASSES),
            "certainties": list(vocabulary.CERTAINTIES),
        }
    )


@router.get(
    "/v1/map/tile-origins",
    summary="Where the web UI may load map tiles from",
    description="The origins besides this server whose map tiles the web UI's policy lets "
    "the page load (`serve --tile-origin`; the page's CSP `img-src` names the same): "
    '`{"tile_origins": ["http://10.0.0.5:8080", ...]}`, normalised as a browser writes an '
    "origin (lower case, no default port). Map settings accept a tile URL on this server "
    "or on one of these, and refuse any other.",
    responses=ERRORS,
    operation_id="get_tile_origins",
)
async def get_tile_origins(request: Request, who: Caller) -> Response:
    origins = usecases(request).service.settings.tile_origins
    return json_response({"tile_origins": list(origins)}, headers={"Cache-Control": "no-store"})
