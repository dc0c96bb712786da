"""The HTTP API: a FastAPI app over the service's use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from deconfliction import __version__
from deconfliction.api import (
    errors,
    openapi,
    routes_checks,
    routes_meta,
    routes_notifications,
    routes_registry,
    routes_review,
    routes_tak,
    routes_webhooks,
    web,
)
from deconfliction.api.fastpath import CheckFastPath
from deconfliction.api.limits import BodyLimit
from deconfliction.service.config import DEFAULT_BODY_LIMIT, REPORTS_BODY_LIMIT
from deconfliction.usecases import UseCases


def create_app(usecases: UseCases, *, load_on_startup: bool = True) -> FastAPI:
    """The app; on start-up it loads the engine from the store in a background thread."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_on_startup and not usecases.service.ready:
            usecases.service.start_loading()
            usecases.service.start_following()
            usecases.service.audit.start()  # the audit log checked, its end anchored
            usecases.notifications.escalator.start()
            usecases.webhooks.dispatcher.start()
        try:
            yield
        finally:
            if load_on_startup:
                usecases.notifications.escalator.stop()
                usecases.webhooks.dispatcher.stop()
                usecases.service.close()

    app = FastAPI(
        title="Deconfliction",
        version=__version__,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.usecases = usecases
    errors.install(app)
    app.include_router(routes_meta.router)
    app.include_router(routes_checks.router)
    for router in routes_registry.routers():
        app.include_router(router)
    app.include_router(routes_notifications.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_review.router)  # GET /v1/review (issue 8)
    app.include_router(routes_tak.router)  # GET /v1/tak/status (issue 5)
    # GET /v1/map, the web UI at / and /web; its CSP names the operator's tile origins.
    web.install(app, usecases.service.settings.tile_origins)
    openapi.install(app)
    app.add_middleware(
        BodyLimit,
        default=DEFAULT_BODY_LIMIT,
        per_path={"/v1/reports": REPORTS_BODY_LIMIT},
    )
    return app


def create_asgi(usecases: UseCases, *, load_on_startup: bool = True) -> ASGIApp:
    """What the server runs: the app behind the check's fast path."""
    return CheckFastPath(create_app(usecases, load_on_startup=load_on_startup), usecases)
