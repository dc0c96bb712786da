"""How the server's answers look on a terminal: a check's verdict a tired operator reads
in two seconds, and the awareness dashboard."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def render_answer(console: Console, answer: dict[str, Any]) -> None:
    """A verdict a tired operator reads in two seconds."""
    if answer.get("verdict") == "HOLD":
        headline = Text("  HOLD  ", style="bold white on red")
        sub = "Something registered as friendly or protected could be there. Do not act yet."
    else:
        headline = Text("  NO KNOWN MATCH  ", style="bold black on yellow")
        sub = "Nothing registered could be there. This is NOT a clearance."
    console.print(Panel(Text.assemble(headline, "\n", sub), expand=False))
    matches = answer.get("matches") or []
    for i, match in enumerate(matches, start=1):
        if match.get("details_withheld"):
            title = f"{i}. withheld — party {match.get('party_id')}"
        else:
            title = f"{i}. {match.get('kind')} {match.get('id')} — party {match.get('party_id')}"
        console.print(f"[bold]{title}[/]")
        for reason in match.get("reasons") or []:
            console.print(f"   {reason}")
        for conflict in match.get("feature_conflicts") or []:
            console.print(f"   differs: {conflict.get('feature')} — {conflict.get('cue')}")
        if match.get("contact"):
            console.print(f"   contact: {match['contact']}")
    shown = len(matches)
    total = answer.get("match_count", shown)
    if total > shown:
        console.print(f"... and {total - shown} more matches")
    gaps = answer.get("coverage_gaps") or []
    if gaps:
        console.print("[bold]Coverage gaps[/] (parties that may be there unseen):")
        for gap in gaps:
            console.print(f"   {gap.get('party_id')}: {gap.get('reason')}")
    console.print(
        f"Valid until {answer.get('valid_until')} (evaluated {answer.get('evaluated_at')})"
    )
    if answer.get("id"):
        console.print(f"Check id: {answer['id']}")


def render_dashboard(console: Console, board: dict[str, Any]) -> None:
    """Who knows: one row per unit told, the unanswered ones first to the eye (red)."""
    subject = f"asset {board['asset']}" if board.get("asset") else f"area {board.get('area')}"
    table = Table(title=f"Who should know of {subject} (party {board.get('party_id')})")
    for column in ("unit", "party", "cause", "told", "deadline", "answer", "briefed", "escalated"):
        table.add_column(column)
    for row in board.get("told") or []:
        response = row.get("response")
        answer = (
            f"{response['response']} by {response['by']} at {response['at']}"
            if response
            else "[bold red]UNANSWERED[/]"
        )
        briefed = {True: "yes", False: "[bold red]no[/]", None: "-"}[row.get("briefed")]
        escalations = ", ".join(
            f"L{e['level']} {e['unit_id'] or e.get('contact') or e['party_id']}"
            for e in row.get("escalations") or []
        )
        table.add_row(
            str(row.get("unit_id") or "-"),
            str(row.get("party_id")),
            str(row.get("cause")),
            str(row.get("told_at")),
            str(row.get("deadline") or "-"),
            answer,
            briefed,
            escalations or "-",
        )
    console.print(table)
    unanswered = board.get("unanswered") or []
    unbriefed = board.get("unbriefed") or []
    console.print(f"Unanswered: {', '.join(unanswered) if unanswered else 'none'}")
    console.print(f"Unbriefed: {', '.join(unbriefed) if unbriefed else 'none'}")
    console.print("Acknowledgement means received, never approved.")
