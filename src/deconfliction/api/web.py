"""The web UI: static files shipped in the package (``deconfliction/web``), served at ``/``.

The page is plain ES modules; its front-end libraries (Leaflet, milsymbol, mgrs) are
vendored into ``web/vendor`` at install time (``scripts/vendor-web.sh``), never
fetched at run time. Without them ``/`` answers 503 with a page that says how to
vendor them.

The page gets a strict Content-Security-Policy (docs/design/security.md, "The web UI renders data as
text"): scripts, styles, fonts and connections from this origin only, nothing inline (no
inline script, no style attribute or element), images from this origin and ``data:`` URLs only
(the symbols) plus the tile servers the operator names (``serve --tile-origin``), no plugins,
no ``<base>``, no framing, no form submitted anywhere. The page itself renders every registry
string as text; the policy is the second wall, should a string ever reach the DOM as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from deconfliction.api import routes_map

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
#: What the page cannot work without (``scripts/vendor-web.sh`` puts them there).
VENDORED = (
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "vendor/milsymbol/milsymbol.js",
    "vendor/mgrs/mgrs.esm.js",
)
#: One directive per entry, joined by ``content_security_policy``; tests/api/test_map.py
#: holds the exact set. ``img-src`` also gets the operator's tile origins (``--tile-origin``).
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    # Stricter than 'self': the only form (sign-in) is sent by script; a native submission
    # before the modules run would put the token in a URL.
    "form-action 'none'",
)


def content_security_policy(tile_origins: Sequence[str] = ()) -> str:
    """The page's policy. Each tile origin the operator allows (already parsed strictly by
    ``service/tile_origins.py``: a bare origin, nothing a header could be split on) is added
    to ``img-src`` and to no other directive: a tile server may serve pictures to the page,
    never script, style or a place to send data."""
    directives = [
        " ".join((d, *tile_origins)) if d.startswith("img-src ") else d for d in CSP_DIRECTIVES
    ]
    return "; ".join(directives)


def page_headers(tile_origins: Sequence[str] = ()) -> dict[str, str]:
    """The headers of the page and of every file under ``/web``."""
    return {
        "Content-Security-Policy": content_security_policy(tile_origins),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


_MISSING = """<!doctype html><meta charset="utf-8"><title>Deconfliction</title>
<body>
<h1>The web UI's libraries are not vendored</h1>
<p>Run <code>scripts/vendor-web.sh</code> (as <code>./start</code> does), then reload.
The HTTP API under <code>/v1</code> works without them.</p>
<p>Missing: {missing}</p>
"""


class _WebFiles(StaticFiles):
    """The page's files, each with the page's headers: ``/web/index.html`` is the same page
    as ``/`` and must not be a way around the policy."""

    def __init__(self, *, headers: Mapping[str, str], directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.page_headers = dict(headers)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self.page_headers)
        return response


def missing_vendor(web_dir: Path = WEB_DIR) -> list[str]:
    return [name for name in VENDORED if not (web_dir / name).is_file()]


def install(app: FastAPI, tile_origins: Sequence[str] = (), web_dir: Path = WEB_DIR) -> None:
    """``GET /v1/map`` (and the map's tile origins), the page at ``/`` and its files under
    ``/web``, all with the policy built from this app's ``tile_origins``."""
    app.include_router(routes_map.router)
    headers = page_headers(tile_origins)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        missing = missing_vendor(web_dir)
        if missing:
            return HTMLResponse(_MISSING.format(missing=", ".join(missing)), 503, headers)
        page = (web_dir / "index.html").read_bytes()
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    app.mount("/web", _WebFiles(headers=headers, directory=web_dir), name="web")
