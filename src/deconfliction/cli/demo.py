"""``deconfliction demo``: load the fictional demo scenario into the store, or replay its
incident twice, without and with the service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from deconfliction.cli.base import DatabaseUrl, DataDir, app, out
from deconfliction.cli.local_store import LocalStore
from deconfliction.cli.render import render_answer


@app.command()
def demo(
    replay: Annotated[
        bool,
        typer.Option("--replay", help="Print the incident twice: without and with the service."),
    ] = False,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Load the fictional demo scenario into the store (idempotent), or replay its incident."""
    if replay:
        from deconfliction.scenarios.demo import build_demo
        from deconfliction.service.demo import replay_check

        scenario = build_demo(datetime.now(UTC))
        result = replay_check(scenario)
        render_replay(out, scenario, result.to_dict())
        return
    from deconfliction.service.demo import load_demo

    with LocalStore(data_dir, database_url) as store:
        loaded = load_demo(store, datetime.now(UTC), actor="cli:demo")
    unit = loaded.scenario.incident_check.unit_id
    out.print(
        f"Demo scenario loaded: {loaded.created} created, {loaded.updated} refreshed, "
        f"{loaded.reports} position reports. {loaded.scenario.narrative.title}."
    )
    out.print(
        f"A token for the drone team: deconfliction token issue --role operator --unit {unit} "
        f"--data-dir {data_dir}"
    )


def render_replay(console: Console, scenario: Any, answer: dict[str, Any]) -> None:
    """The incident twice, in time order: without the service, then with it."""
    narrative = scenario.narrative
    console.print(Panel(f"[bold]{narrative.title}[/]\n{narrative.summary}", expand=False))
    sees = (
        "Kestrel 7's drone sees a wheeled vehicle with a radar and a mast across its "
        "border. It looks like a Type-88 search radar truck."
    )
    without = {
        narrative.arrival_announced_at: "Westmark plans Bastion-2's march. Nobody tells Kestrel 7.",
        narrative.loading_at: (
            "Bastion-2, a Skyshield-W (the new wheeled variant of the tracked Skyshield-T), "
            "is on the road. Kestrel 7 has never seen one."
        ),
        narrative.incident_at: sees + " There is nobody to ask.",
        narrative.enters_drone_aor_at: "Bastion-2 could first have entered Kestrel 7's area.",
    }
    with_service = {
        narrative.arrival_announced_at: (
            "Westmark registers Bastion-2's march, its Skyshield-W recognition card and "
            "releases it to Northland."
        ),
        narrative.loading_at: without[narrative.loading_at],
        narrative.incident_at: sees + " Kestrel 7 checks before acting:",
        narrative.enters_drone_aor_at: "Bastion-2 can first enter Kestrel 7's area.",
    }

    def clock(t: datetime) -> str:
        return t.astimezone(UTC).strftime("%H:%MZ")

    console.rule("[bold]1. Without the service[/]")
    for t in sorted(without):
        console.print(f"{clock(t)}  {without[t]}")
        if t == narrative.incident_at:
            console.print(
                Text(
                    "Outcome: the allied launcher is engaged. "
                    "Afterwards nobody can tell who knew what when.",
                    style="bold red",
                )
            )
    console.rule("[bold]2. With the service[/]")
    for t in sorted(with_service):
        console.print(f"{clock(t)}  {with_service[t]}")
        if t == narrative.incident_at:
            render_answer(console, answer)
            console.print(
                Text(
                    "Outcome: Kestrel 7 holds and calls Westmark; the check is on record.",
                    style="bold green",
                )
            )
