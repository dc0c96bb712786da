"""``deconfliction retention run``: apply a retention policy once, on the store directly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from deconfliction.cli.base import DatabaseUrl, DataDir, app, env_var, fail, out, parse_time_option
from deconfliction.cli.local_store import LocalStore

retention_app = typer.Typer(help="Retention policies: purge old reports and checks (audited).")
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(
    policy_file: Annotated[
        Path,
        typer.Option("--policy", envvar=env_var("retention_policy"), help="The policy (JSON)."),
    ],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Apply as of this time, RFC 3339 (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Apply a retention policy once, on the store directly; the purge is audited."""
    from deconfliction.service.retention import PolicyError, apply_policy, load_policy

    try:
        policy = load_policy(policy_file)
    except PolicyError as exc:
        raise fail(f"--policy: {exc}") from None
    now = parse_time_option("--at", at) if at else datetime.now(UTC)
    with LocalStore(data_dir, database_url) as store:
        outcome = apply_policy(store, policy, now, actor="cli:retention")
    if as_json:
        out.print_json(
            data={"at": outcome.at, "purged": outcome.counts, "cutoffs": outcome.cutoffs}
        )
        return
    c = outcome.counts
    out.print(
        f"retention as of {outcome.at}: {c['report_rows']} reports "
        f"({c['report_payloads']} report events) and {c['checks']} checks "
        f"({c['check_payloads']} check events) purged"
    )
