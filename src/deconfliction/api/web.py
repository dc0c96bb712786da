"""The web UI: static files shipped in the package (``deconfliction/web``), served at ``/``.

The page is plain ES modules; its front-end libraries (Leaflet, milsymbol, mgrs) are
vendored into ``web/vendor`` at install time (``scripts/vendor-web.sh``), never
fetched at run time. Without them ``/`` answers 503 with a page that says how to
vendor them. The page gets a Content-Security-Policy that allows scripts, styles and
connections from this origin only (images from anywhere: a configured tile server,
catalogue pictures).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from deconfliction.api import routes_map

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
#: What the page cannot work without (``scripts/vendor-web.sh`` puts them there).
VENDORED = (
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "vendor/milsymbol/milsymbol.js",
    "vendor/mgrs/mgrs.esm.js",
)
CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src * data: blob:; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_MISSING = """<!doctype html><meta charset="utf-8"><title>Deconfliction</title>
<body style="background:#111;color:#eee;font:16px sans-serif;padding:2em">
<h1>The web UI's libraries are not vendored</h1>
<p>Run <code>scripts/vendor-web.sh</code> (as <code>./start</code> does), then reload.
The HTTP API under <code>/v1</code> works without them.</p>
<p>Missing: {missing}</p>
"""


def missing_vendor(web_dir: Path = WEB_DIR) -> list[str]:
    return [name for name in VENDORED if not (web_dir / name).is_file()]


def install(app: FastAPI, web_dir: Path = WEB_DIR) -> None:
    """``GET /v1/map``, the page at ``/`` and its files under ``/web``."""
    app.include_router(routes_map.router)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        missing = missing_vendor(web_dir)
        if missing:
            return HTMLResponse(_MISSING.format(missing=", ".join(missing)), 503, _HEADERS)
        page = (web_dir / "index.html").read_bytes()
        return Response(page, media_type="text/html; charset=utf-8", headers=_HEADERS)

    app.mount("/web", StaticFiles(directory=web_dir, check_dir=False), name="web")
