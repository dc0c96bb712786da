"""``deconfliction review``: the after-action review of an incident (Markdown, HTML and a
map) from the record, on the store directly or of the demo incident played afresh."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deconfliction.cli.base import DatabaseUrl, DataDir, app, env_var, fail, out
from deconfliction.cli.local_store import open_or_fail


@app.command()
def review(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for review.md/.html/.json and the map.")
    ],
    at: Annotated[str | None, typer.Option("--at", help="The incident's time, RFC 3339.")] = None,
    near: Annotated[
        str | None, typer.Option("--near", help="The incident's point: LAT,LON (degrees).")
    ] = None,
    radius: Annotated[float, typer.Option("--radius", help="Radius around the point, m.")] = 3000.0,
    window: Annotated[
        str, typer.Option("--window", help="How far before --at to look (90m, 6h, 2d).")
    ] = "6h",
    after: Annotated[str, typer.Option("--after", help="How far after --at to look.")] = "1h",
    as_party: Annotated[
        str | None, typer.Option("--as-party", help="Only what this party may see.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar=env_var("token"), help="Review as this token's holder."),
    ] = None,
    demo_story: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Play the demo incident into a fresh store (a temporary directory) at its "
            "own pace and review it (--at/--near default to the incident's check).",
        ),
    ] = False,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """The after-action review of an incident: Markdown, HTML and a map, from the record.

    Without --as-party or --token the review shows the whole record (it runs on the store
    directly, like audit verify); with either, only what that party may see."""
    import tempfile

    from deconfliction.check.engine import Engine
    from deconfliction.review.incident import Incident
    from deconfliction.review.render import write_review
    from deconfliction.review.usecase import parse_at, parse_duration, parse_near, whole_review
    from deconfliction.service.access import SYSTEM, Principal
    from deconfliction.service.config import Settings
    from deconfliction.service.core import Service
    from deconfliction.service.errors import ServiceError
    from deconfliction.usecases import UseCases

    if as_party and token:
        raise fail("--as-party and --token exclude each other", code=2)
    with tempfile.TemporaryDirectory(prefix="deconfliction-review-") as tmp:
        try:
            if demo_story:
                from deconfliction.review.story import play

                story = play(Path(tmp))
                uc = story.usecases
                when = parse_at(at) if at else story.at
                lat, lon = parse_near(near) if near else (story.lat, story.lon)
            else:
                if at is None or near is None:
                    raise fail("--at and --near are needed (or --demo)", code=2)
                when, (lat, lon) = parse_at(at, "--at"), parse_near(near, "--near")
                # reads only; closed below, with the use cases around it
                store = open_or_fail(data_dir, database_url, sign=False)
                uc = UseCases.around(
                    Service(store, Engine(), Settings(data_dir=data_dir, database_url=database_url))
                )
            try:
                who: Principal = SYSTEM
                if as_party:
                    if uc.service.store.get("party", as_party) is None:
                        raise fail(f"--as-party: no party {as_party!r}")
                    who = Principal("review", "coordinator", None, as_party)
                elif token:
                    who = uc.auth.token(token)
                incident = Incident(
                    when,
                    lat,
                    lon,
                    radius,
                    before=parse_duration(window, "--window"),
                    after=parse_duration(after, "--after"),
                )
                body = whole_review(uc, who, incident)  # every page (files, no body)
            finally:
                uc.service.store.close()
        except ServiceError as exc:
            raise fail(exc.message) from None
        files = write_review(body, out_dir)
    findings = len(body["findings"])
    out.print(
        f"review of {body['incident']['at']} written to {out_dir}: "
        + ", ".join(f.name for f in files)
        + f" ({len(body['timeline'])} timeline entries, {findings} findings; "
        f"audit log {'intact' if body['record']['intact'] else 'BROKEN'})"
    )
