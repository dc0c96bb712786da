"""``deconfliction import | export``: assets, sites and areas in and out of the registry
as GeoJSON or CSV, on the store directly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from deconfliction.cli.base import DatabaseUrl, DataDir, app, err, fail, out
from deconfliction.cli.local_store import LocalStore


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A GeoJSON FeatureCollection or a CSV file.")],
    kind: Annotated[
        str | None, typer.Option(help="asset, site or area (CSV: guessed from the header).")
    ] = None,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Import assets, sites and areas: all rows, or (on any bad row) none."""
    from deconfliction.service import transfer

    try:
        items = transfer.read_items(file, kind)
    except transfer.TransferError as exc:
        raise fail(f"{file}: {exc.message}") from None
    with LocalStore(data_dir, database_url) as store, Progress(console=err) as progress:
        task = progress.add_task(f"importing {file.name}", total=2 * len(items))
        try:
            result = transfer.import_items(
                store, items, "cli:import", lambda n: progress.advance(task, n)
            )
        except transfer.TransferError as exc:
            progress.stop()
            raise fail(f"{file}: {exc.message}") from None
    kinds = ", ".join(f"{n} {k}s" for k, n in sorted(result.by_kind.items())) or "nothing"
    out.print(f"imported {kinds} ({result.created} new, {result.replaced} replaced)")


@app.command()
def export(
    kind: Annotated[
        list[str] | None, typer.Option(help="asset, site, area (repeat; default: all)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="geojson or csv")] = "geojson",
    output: Annotated[Path | None, typer.Option("--out", help="File (default: stdout).")] = None,
    data_dir: DataDir = Path("./data"),
    database_url: DatabaseUrl = None,
) -> None:
    """Export assets, sites and areas as a GeoJSON FeatureCollection or CSV (one kind)."""
    from deconfliction.service import transfer

    names = kind or list(transfer.TRANSFER_KINDS)
    unknown = [n for n in names if n not in transfer.TRANSFER_KINDS]
    if unknown:
        raise fail(f"unknown kind(s) {', '.join(unknown)}; use asset, site, area")
    kinds = [transfer.TRANSFER_KINDS[n] for n in names]
    if fmt not in ("geojson", "csv"):
        raise fail("--format is geojson or csv")
    if fmt == "csv" and len(kinds) != 1:
        raise fail("CSV holds one kind: pass exactly one --kind")
    import contextlib

    from deconfliction.private_files import open_private

    with (
        LocalStore(data_dir, database_url) as store,
        # a registry export is registry data: 0600, replaced atomically (docs/design/security.md)
        open_private(output) if output else contextlib.nullcontext(sys.stdout) as sink,
        Progress(console=err, transient=True) as progress,
    ):
        total = sum(store.count(k.name) for k in kinds)
        task = progress.add_task("exporting", total=total)
        pairs = transfer.export_docs(store, kinds)

        def counted(items: Any) -> Any:
            for item in items:
                progress.advance(task)
                yield item

        if fmt == "csv":
            n = transfer.write_csv(sink, kinds[0], (d for _, d in counted(pairs)))
        else:
            n = transfer.write_geojson(sink, (transfer.to_feature(k, d) for k, d in counted(pairs)))
    err.print(f"exported {n} objects")
