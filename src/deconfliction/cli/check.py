"""Ask a running server: ``deconfliction check`` (exit codes by verdict, for scripts) and
``deconfliction dashboard`` (who knows of an asset or an area)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.panel import Panel
from rich.text import Text

from deconfliction.cli.base import (
    EXIT_HOLD,
    EXIT_NO_KNOWN_MATCH,
    EXIT_REFUSED,
    EXIT_TREAT_AS_HOLD,
    app,
    env_var,
    err,
    fail,
    out,
    parse_time_option,
)
from deconfliction.cli.render import render_answer, render_dashboard
from deconfliction.domain import limits


@app.command()
def check(
    lat: Annotated[
        float | None,
        typer.Option(help="Latitude, WGS 84 degrees.", min=limits.LAT_MIN, max=limits.LAT_MAX),
    ] = None,
    lon: Annotated[
        float | None,
        typer.Option(help="Longitude, WGS 84 degrees.", min=limits.LON_MIN, max=limits.LON_MAX),
    ] = None,
    mgrs: Annotated[str | None, typer.Option(help="An MGRS reference instead of lat/lon.")] = None,
    cep_m: Annotated[
        float,
        typer.Option("--cep-m", help="Circular error probable, m.", min=0, max=limits.MAX_CEP_M),
    ] = 10.0,
    mobility: Annotated[str | None, typer.Option(help="wheeled, tracked, foot, ...")] = None,
    feature: Annotated[
        list[str] | None, typer.Option("--feature", help="A seen feature; repeat for more.")
    ] = None,
    certain: Annotated[
        bool, typer.Option("--certain", help="What was seen is certain (default: probable).")
    ] = False,
    unit: Annotated[
        str | None, typer.Option(help="The asking unit (default: the token's unit).")
    ] = None,
    time: Annotated[
        str | None, typer.Option(help="Observed time, RFC 3339 (default: now).")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Free text stored with the check.")] = None,
    url: Annotated[str, typer.Option(envvar=env_var("url"))] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(envvar=env_var("token"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw answer.")] = False,
) -> None:
    """Ask a running server whether anything registered could be at a point."""
    if token is None:
        raise fail("a token is needed: --token or DECONFLICTION_TOKEN", EXIT_REFUSED)
    # Out of the time window: a usage error naming the flag, before anything is sent.
    observed_at = parse_time_option("--time", time).isoformat() if time else None
    if mgrs is not None:
        position: dict[str, Any] = {"mgrs": mgrs}
    elif lat is not None and lon is not None:
        position = {"lat": lat, "lon": lon}
    else:
        raise fail("give --lat and --lon, or --mgrs")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0) as client:
            if unit is None:
                me = client.get("/v1/me")
                if me.status_code != 200:
                    exit_on_error(me)
                unit = me.json().get("unit_id")
                if not unit:
                    raise fail("this token has no unit: pass --unit")
            body: dict[str, Any] = {
                "unit_id": unit,
                "position": position,
                "cep_m": cep_m,
                "observed": {
                    "features": feature or [],
                    "certainty": "certain" if certain else "probable",
                },
            }
            if mobility:
                body["observed"]["mobility"] = mobility
            if observed_at:
                body["time"] = observed_at
            if note:
                body["note"] = note
            response = client.post("/v1/checks", json=body)
    except httpx.HTTPError as exc:
        err.print(Panel(Text("NO ANSWER — TREAT AS HOLD", style="bold white on red"), expand=False))
        raise fail(f"could not reach {url}: {exc}", EXIT_TREAT_AS_HOLD) from None
    if response.status_code != 201:
        exit_on_error(response)
    answer = response.json()
    if as_json:
        out.print_json(data=answer)
    else:
        render_answer(out, answer)
    raise typer.Exit(EXIT_HOLD if answer.get("verdict") == "HOLD" else EXIT_NO_KNOWN_MATCH)


@app.command()
def dashboard(
    asset: Annotated[str | None, typer.Option(help="An asset id.")] = None,
    area: Annotated[str | None, typer.Option(help="An operating area id.")] = None,
    url: Annotated[str, typer.Option(envvar=env_var("url"))] = "http://127.0.0.1:8080",
    token: Annotated[str | None, typer.Option(envvar=env_var("token"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw answer.")] = False,
) -> None:
    """Awareness: every unit that should know of an asset (or an area's assets), when it
    was told, whether it answered, who is still unbriefed; soonest deadline first.
    For the owner party's coordinators and admins."""
    if token is None:
        raise fail("a token is needed: --token or DECONFLICTION_TOKEN", EXIT_REFUSED)
    if (asset is None) == (area is None):
        raise fail("give exactly one of --asset or --area")
    params = {"asset": asset} if asset is not None else {"area": area}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0) as client:
            response = client.get("/v1/dashboard/awareness", params=params)
    except httpx.HTTPError as exc:
        raise fail(f"could not reach {url}: {exc}") from None
    if response.status_code != 200:
        exit_on_error(response)
    board = response.json()
    if as_json:
        out.print_json(data=board)
        return
    render_dashboard(out, board)


def exit_on_error(response: httpx.Response) -> None:
    """Exit with the server's error: 4 when it says to treat it as HOLD, else 1."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {"message": response.text[:200]}
    if error.get("treat_as") == "HOLD":
        out.print(Panel(Text("TREAT AS HOLD", style="bold white on red"), expand=False))
        raise fail(
            f"{response.status_code} {error.get('code')}: {error.get('message')}",
            EXIT_TREAT_AS_HOLD,
        )
    field = f" (field {error['field']})" if error.get("field") else ""
    raise fail(f"{response.status_code} {error.get('code')}: {error.get('message')}{field}")
