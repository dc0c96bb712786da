"""``deconfliction audit verify | export``: the tamper-evident audit log's hash chain,
signatures and anchors checked, and the log written to a portable file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from deconfliction.cli.base import DatabaseUrl, DataDir, app, err, fail, out
from deconfliction.cli.local_store import LocalStore

audit_app = typer.Typer(help="The tamper-evident audit log: verify and export the hash chain.")
app.add_typer(audit_app, name="audit")

EXIT_AUDIT_BROKEN = 1

PublicKeys = Annotated[
    list[Path] | None,
    typer.Option(
        "--public-key",
        help="Pin a signer: a file with a base64 or PEM Ed25519 public key (repeatable). "
        "Every signature must then be by a pinned key.",
    ),
]


def _pinned(paths: list[Path] | None) -> list[bytes] | None:
    from deconfliction.audit.keys import public_key_from_text

    if not paths:
        return None
    try:
        return [public_key_from_text(path.read_text()) for path in paths]
    except (OSError, ValueError) as exc:
        raise fail(f"--public-key: {exc}") from None


def _audit_outcome(report: Any, as_json: bool) -> None:
    if as_json:
        out.print_json(data=report.as_dict())
    elif report.ok:
        signers = ", ".join(sorted(report.keys)) or "none"
        out.print(
            f"[bold green]audit log intact[/]: {report.count} entries "
            f"(head seq {report.head_seq}, hash {report.head_hash}), "
            f"{report.purged} payloads purged, {report.signed} signed entries "
            f"(keys: {signers}), {report.unsigned_tail} unsigned after the last signature"
        )
        for note in report.notes:
            out.print(note)
    else:
        problem = report.problem
        where = (
            f"cut after seq {problem.seq - 1}"
            if problem.code == "cut"
            else f"broken at seq {problem.seq}"
        )
        err.print(f"[bold red]audit log {where}[/] ({problem.code}): {problem.message}")
    if not report.ok:
        raise typer.Exit(EXIT_AUDIT_BROKEN)


def _anchors(data_dir: Path, paths: list[Path] | None) -> list[Any]:
    """The anchors to check: those in ``--anchor`` files/directories, else the data
    directory's (beside the key). Read before the store's snapshot is taken."""
    from deconfliction.audit.anchor import anchor_files, load_anchors

    found: list[Any] = []
    for path in paths or [data_dir]:
        try:
            files = anchor_files(path) if path.is_dir() else [path]
            for file in files:
                found.extend(load_anchors(file))
        except (OSError, ValueError) as exc:
            raise fail(f"--anchor: {exc}") from None
    return found


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Verify an exported file instead of the store.")
    ] = None,
    public_key: PublicKeys = None,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor",
            help="An anchor file, or a directory of them (repeatable); default: the "
            "anchors in --data-dir, beside the audit key.",
        ),
    ] = None,
    require_anchor: Annotated[
        bool,
        typer.Option(
            "--require-anchor", help="Fail (exit 1) when no anchor speaks for the log's end."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the whole hash chain (and signatures), and that the log still holds every
    anchored checkpoint (its end was not cut); name the first broken entry.

    Exit 0 when intact, 1 when broken or cut (or the store cannot be read)."""
    from deconfliction.audit.verify import verify_file, verify_store
    from deconfliction.store import store_location

    pinned = _pinned(public_key)
    if file is not None:
        try:
            report = verify_file(file, pinned)
        except (OSError, ValueError) as exc:
            raise fail(f"{file}: {exc}") from None
    else:
        anchors = _anchors(data_dir, anchor)
        with LocalStore(data_dir, database_url, sign=False) as store:
            location = store_location(data_dir, database_url)
            report = verify_store(store, pinned, anchors, location=location)
    if require_anchor:
        report.require_anchor("--require-anchor")
    _audit_outcome(report, as_json)


@audit_app.command("export")
def audit_export(
    out_file: Annotated[Path, typer.Option("--out", help="The JSON-lines file to write.")],
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
    no_payloads: Annotated[
        bool, typer.Option("--no-payloads", help="Digests only: leave the payloads out.")
    ] = False,
) -> None:
    """Write the log to a portable file that verifies with the public key alone."""
    from deconfliction.audit.keys import NodeKey
    from deconfliction.audit.verify import export
    from deconfliction.private_files import open_private
    from deconfliction.store import store_location

    anchors = _anchors(data_dir, None)
    with LocalStore(data_dir, database_url) as store:
        key = NodeKey.load_or_create(data_dir)
        location = store_location(data_dir, database_url)
        try:
            # the audit log: 0600, replaced atomically, discarded when broken
            with open_private(out_file) as f:
                report = export(
                    store,
                    f,
                    payloads=not no_payloads,
                    key=key,
                    anchors=anchors,
                    location=location,
                )
                if not report.ok:
                    _audit_outcome(report, False)  # raises: the file is not written
        except OSError as exc:
            raise fail(f"{out_file}: {exc}") from None
    err.print(
        f"exported {report.count} entries to {out_file} (head seq {report.head_seq}); "
        f"exporting node key {key.key_id}: {key.public_b64}"
    )
