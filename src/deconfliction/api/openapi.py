"""The OpenAPI document: request schemas from the domain models, bearer security."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from deconfliction import __version__
from deconfliction.domain.model import Observation, PositionReport
from deconfliction.service.kinds import KINDS

DESCRIPTION = """\
Deconfliction keeps a registry of friendly and protected assets and answers, in
milliseconds, whether anything registered **could** be where a unit is about to act.

* It only ever warns: a check answers `HOLD` (a friendly or protected asset could be
  there) or `NO_KNOWN_MATCH` (none *registered* could be there) — **never a clearance**.
* An acknowledgement means "received", **never "approved"**.
* It fails toward HOLD: when it cannot give a complete answer (index loading, overloaded,
  rate-limited) it answers 503/429 with `"treat_as": "HOLD"`.
* Reads are denied by default; objects are owner-only unless `releasable_to` says
  otherwise; what a token may not see is a 404.

Every request except `/v1/health`, `/v1/version` and `/v1/ready` needs
`Authorization: Bearer <token>` (`deconfliction token issue`). Every error is
`{"error": {"code", "message", "field"?}}`.
"""

_PUBLIC = {"/v1/health", "/v1/version", "/v1/ready"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title="Deconfliction",
            version=__version__,
            description=DESCRIPTION,
            routes=app.routes,
        )
        models: list[tuple[type[BaseModel], Literal["validation"]]] = [
            (k.model, "validation") for k in KINDS
        ]
        models += [(PositionReport, "validation"), (Observation, "validation")]
        _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(defs.get("$defs", {}))
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An API token."}
        }
        for path, operations in schema.get("paths", {}).items():
            if path in _PUBLIC:
                continue
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
