"""``deconfliction tak issue-client | revoke``: TAK onboarding, client certificates bound
to a unit and the data packages ATAK/WinTAK/iTAK import."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from deconfliction.cli.base import DatabaseUrl, DataDir, app, env_var, err, fail, say
from deconfliction.cli.local_store import LocalStore

tak_app = typer.Typer(help="TAK onboarding: client certificates and data packages.")
app.add_typer(tak_app, name="tak")


@tak_app.command("issue-client")
def tak_issue_client(
    unit: Annotated[str, typer.Option(envvar=env_var("unit"), help="The unit the client acts as.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the files.")],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    server_host: Annotated[
        str | None,
        typer.Option(
            envvar=env_var("server_host"),
            help="Host TAK clients connect to (default: the server certificate's host).",
        ),
    ] = None,
    server_port: Annotated[
        int, typer.Option(envvar=env_var("cot_tls_port"), min=1, max=65535, help="TLS port.")
    ] = 8089,
) -> None:
    """Issue a client certificate bound to a unit, and a TAK data package for it."""
    from deconfliction.tak.package import write_client_bundle
    from deconfliction.tak.pki import PkiError, issue_client_certificate, server_common_name

    with LocalStore(data_dir, database_url) as store:
        stored = store.get("unit", unit)
    if stored is None or not stored.party_id:
        raise fail(
            f"unknown unit {unit!r}: register it first (POST /v1/units), then issue its certificate"
        )
    try:
        host = server_host or server_common_name(data_dir) or "localhost"
        credentials = issue_client_certificate(data_dir, unit, stored.party_id)
        bundle = write_client_bundle(out_dir, unit, credentials, host=host, port=server_port)
    except (OSError, PkiError) as exc:
        raise fail(str(exc)) from None
    err.print(
        f"client certificate for unit {unit} (party {stored.party_id}), serial "
        f"{credentials.serial:x}, valid until {credentials.not_after.isoformat()}"
    )
    for path in bundle.files():
        say(f"wrote {path}")
    say(
        f"data package for ATAK/WinTAK/iTAK: {bundle.data_package} (connects to {host}:"
        f"{server_port}:ssl)"
    )
    say(f"PKCS#12 password (shown once, also inside the data package): {credentials.password}")


@tak_app.command("revoke")
def tak_revoke(
    serial: Annotated[
        str, typer.Option(help="The certificate's serial, in hex, as issue-client printed it.")
    ],
    reason: Annotated[str, typer.Option(help="Why (kept beside the serial).")] = "",
    data_dir: DataDir = Path("./data"),
) -> None:
    """Revoke a client certificate: refused at connect, open connections closed in seconds."""
    from deconfliction.tak.revocation import SerialError, parse_serial, revoke, revoked_path

    try:
        number = parse_serial(serial)
        added = revoke(data_dir, number, datetime.now(UTC), reason)
    except SerialError as exc:
        raise fail(f"--serial: {exc}") from None
    except OSError as exc:
        raise fail(str(exc)) from None
    state = "revoked" if added else "already revoked"
    say(f"certificate serial {number:x} {state} ({revoked_path(data_dir)})")
