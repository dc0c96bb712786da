"""``deconfliction token issue | revoke | list``: API tokens, on the store directly."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from deconfliction.cli.base import DatabaseUrl, DataDir, app, env_var, err, fail, out
from deconfliction.cli.local_store import LocalStore
from deconfliction.domain import limits

token_app = typer.Typer(help="Issue and revoke API tokens (on the store directly).")
app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(
    role: Annotated[str, typer.Option(help="operator, coordinator or admin")],
    unit: Annotated[
        str | None, typer.Option(envvar=env_var("unit"), help="The token's unit.")
    ] = None,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    ttl_days: Annotated[
        float,
        typer.Option(
            "--ttl-days",
            envvar=env_var("ttl_days"),
            help="0 = never expires.",
            max=limits.MAX_TOKEN_TTL_DAYS,
        ),
    ] = 90.0,
) -> None:
    """Print a new token (stdout: the token alone), accepted at once by a server on this store."""
    from deconfliction.service import auth
    from deconfliction.service.errors import ServiceError

    if ttl_days < 0:
        raise fail("--ttl-days must be 0 (never expires) or positive")
    ttl = timedelta(days=ttl_days) if ttl_days > 0 else None
    with LocalStore(data_dir, database_url) as store:
        try:
            token, record = auth.issue(store, role, unit, ttl, actor="cli")
        except ServiceError as exc:
            raise fail(exc.message) from None
    expires = record.expires_at.isoformat() if record.expires_at else "never"
    err.print(
        f"token {record.token_id}: role {record.role}, unit {record.unit_id or '-'}, "
        f"party {record.party_id or '-'}, expires {expires}"
    )
    print(token)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str, typer.Argument(help="The token, or its id (the 16 hex digits).")],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token; a running server refuses it within a second."""
    from deconfliction.store import NotFound
    from deconfliction.store.tokens import parse_token

    parsed = parse_token(token)
    token_id = parsed[0] if parsed else token
    with LocalStore(data_dir, database_url) as store:
        try:
            store.revoke_token(token_id, "cli")
        except NotFound:
            raise fail(f"no token {token_id!r}") from None
    err.print(f"token {token_id} revoked")


@token_app.command("list")
def token_list(data_dir: DataDir = Path("./data"), database_url: DatabaseUrl = None) -> None:
    """List tokens (never their secrets)."""
    with LocalStore(data_dir, database_url) as store:
        records = store.list_tokens()
    table = Table("id", "role", "unit", "party", "expires", "revoked")
    for r in records:
        table.add_row(
            r.token_id,
            r.role,
            r.unit_id or "-",
            r.party_id or "-",
            r.expires_at.isoformat() if r.expires_at else "never",
            r.revoked_at.isoformat() if r.revoked_at else "",
        )
    out.print(table)
