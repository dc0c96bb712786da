"""Import and export assets, sites and areas as GeoJSON or CSV.

GeoJSON: a FeatureCollection; each feature's ``properties`` are the object's
fields plus ``"object": "asset" | "site" | "area"``; a site's ``position`` is
its Point geometry, an area's ``geometry`` its Polygon or MultiPolygon, an
asset has no geometry (``null``).

CSV: one kind per file, one object per row, a header naming the fields; lists
(``releasable_to``, ``asset_ids``) are separated by ``;``; a site has ``lat`` and
``lon`` (or ``mgrs``); an area's ``geometry`` is GeoJSON text. An empty cell is
an absent field.

An import is all or nothing: every row or feature is validated (and every id it
names must exist) before anything is written; the first problems are reported
by row or feature number. Objects whose id exists are replaced.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from deconfliction.domain.geo import parse_point
from deconfliction.domain.model import Area, Asset, Model, Site
from deconfliction.service import stored_form
from deconfliction.service.errors import InvalidInput
from deconfliction.service.kinds import AREA, ASSET, SITE, Kind
from deconfliction.service.validation import validate
from deconfliction.store import Store

TRANSFER_KINDS: dict[str, Kind] = {"asset": ASSET, "site": SITE, "area": AREA}
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "asset": (
        "id",
        "party_id",
        "type_id",
        "callsign",
        "releasable_to",
        "cot_uid",
        "contact",
        "max_speed_kmh",
    ),
    "site": ("id", "party_id", "kind", "name", "lat", "lon", "mgrs", "radius_m", "releasable_to"),
    "area": (
        "id",
        "party_id",
        "kind",
        "start",
        "end",
        "asset_ids",
        "releasable_to",
        "geometry",
    ),
}
_LISTS = {"releasable_to", "asset_ids"}
_NUMBERS = {"max_speed_kmh", "radius_m", "lat", "lon"}
#: How many problems an import names before it stops listing.
MAX_PROBLEMS = 20

Progress = Callable[[int], None]


class TransferError(InvalidInput):
    """A file that cannot be imported; nothing was written."""

    code = "import_rejected"


@dataclass(frozen=True)
class Item:
    label: str  # "row 4", "feature 2"
    kind: Kind
    raw: dict[str, Any]


@dataclass(frozen=True)
class ImportResult:
    created: int
    replaced: int
    by_kind: dict[str, int]


# --- reading -------------------------------------------------------------------------------


def read_items(path: Path, kind: str | None = None) -> list[Item]:
    """Parse a file (by suffix: ``.csv``, else GeoJSON) into items, without validating them."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".csv":
        return _csv_items(text, kind)
    return _geojson_items(text, kind)


def _kind(name: Any, where: str) -> Kind:
    if name not in TRANSFER_KINDS:
        raise TransferError(
            f"{where}: the object kind must be one of asset, site, area; got {name!r}",
            field="object",
        )
    return TRANSFER_KINDS[name]


def _geojson_items(text: bytes, kind: str | None) -> list[Item]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TransferError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise TransferError("expected a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list):
        raise TransferError("a FeatureCollection needs a 'features' array")
    items: list[Item] = []
    for i, feature in enumerate(features, start=1):
        where = f"feature {i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise TransferError(f"{where}: not a GeoJSON Feature")
        props = feature.get("properties")
        if not isinstance(props, dict):
            raise TransferError(f"{where}: 'properties' must be an object")
        raw = dict(props)
        of = _kind(raw.pop("object", kind), where)
        geometry = feature.get("geometry")
        if of is SITE:
            if not isinstance(geometry, dict) or geometry.get("type") != "Point":
                raise TransferError(f"{where}: a site's geometry must be a Point", field="geometry")
            coords = geometry.get("coordinates")
            if not isinstance(coords, list) or len(coords) not in (2, 3):
                raise TransferError(f"{where}: a Point's coordinates are [lon, lat]")
            raw["position"] = {"lat": coords[1], "lon": coords[0]}
        elif of is AREA:
            raw["geometry"] = geometry
        elif geometry is not None:
            raise TransferError(f"{where}: an asset feature has no geometry (null)")
        items.append(Item(where, of, raw))
    return items


def _csv_items(text: bytes, kind: str | None) -> list[Item]:
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TransferError(f"a CSV file must be UTF-8: {exc}") from None
    reader = csv.DictReader(io.StringIO(decoded))
    header = reader.fieldnames or []
    if kind is None:
        if "type_id" in header:
            kind = "asset"
        elif "radius_m" in header:
            kind = "site"
        elif "geometry" in header:
            kind = "area"
    of = _kind(kind, "the CSV header")
    unknown = [c for c in header if c not in CSV_COLUMNS[of.name]]
    if unknown:
        raise TransferError(
            f"unknown {of.name} columns: {', '.join(unknown)}; "
            f"known: {', '.join(CSV_COLUMNS[of.name])}"
        )
    items: list[Item] = []
    for line, row in enumerate(reader, start=2):
        where = f"row {line}"
        if None in row:
            raise TransferError(f"{where}: more cells than header columns")
        raw: dict[str, Any] = {}
        for key, cell in row.items():
            if cell is None or cell.strip() == "":
                continue
            value = cell.strip()
            if key in _LISTS:
                raw[key] = [v.strip() for v in value.split(";") if v.strip()]
            elif key in _NUMBERS:
                raw[key] = _number(value)
            elif key == "geometry":
                try:
                    raw[key] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    raise TransferError(
                        f"{where}: geometry is not GeoJSON text", field="geometry"
                    ) from None
            else:
                raw[key] = value
        if of is SITE:
            if "mgrs" in raw:
                raw["position"] = {"mgrs": raw.pop("mgrs")}
                raw.pop("lat", None)
                raw.pop("lon", None)
            else:
                raw["position"] = {"lat": raw.pop("lat", None), "lon": raw.pop("lon", None)}
        items.append(Item(where, of, raw))
    return items


def _number(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value  # validation names it


# --- importing -----------------------------------------------------------------------------


def import_items(
    store: Store, items: list[Item], actor: str, progress: Progress | None = None
) -> ImportResult:
    """Validate every item, then write them all in one transaction (or nothing)."""
    problems: list[str] = []
    models: list[tuple[Item, Model]] = []
    for item in items:
        try:
            models.append((item, validate(item.kind.model, item.raw)))
        except InvalidInput as exc:
            problems.append(f"{item.label}: {exc.message}")
        if progress:
            progress(1)
    _check_references(store, models, problems)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        raise TransferError(
            f"nothing imported; {len(problems)} problem(s):\n  "
            + "\n  ".join(shown)
            + (f"\n  ... and {more} more" if more else "")
        )
    created = replaced = 0
    by_kind: dict[str, int] = {}
    with store.transaction():
        for item, model in models:
            obj_id = str(getattr(model, "id"))  # noqa: B009
            party = str(getattr(model, "party_id"))  # noqa: B009
            doc = stored_form.to_doc(model, item.raw)
            if store.get(item.kind.name, obj_id) is None:
                store.create(item.kind.name, obj_id, party, doc, actor)
                created += 1
            else:
                store.update(item.kind.name, obj_id, party, doc, actor)
                replaced += 1
            by_kind[item.kind.name] = by_kind.get(item.kind.name, 0) + 1
            if progress:
                progress(1)
    return ImportResult(created, replaced, by_kind)


def _check_references(store: Store, models: list[tuple[Item, Model]], problems: list[str]) -> None:
    parties: dict[str, bool] = {}
    types: dict[str, bool] = {}
    in_file = {
        str(getattr(m, "id")): str(getattr(m, "party_id"))  # noqa: B009
        for _, m in models
        if isinstance(m, Asset)
    }

    def known(cache: dict[str, bool], kind: str, obj_id: str) -> bool:
        if obj_id not in cache:
            cache[obj_id] = store.get(kind, obj_id) is not None
        return cache[obj_id]

    seen: set[tuple[str, str]] = set()
    for item, model in models:
        key = (item.kind.name, str(getattr(model, "id")))  # noqa: B009
        if key in seen:
            problems.append(f"{item.label}: id {key[1]!r} appears twice in the file")
        seen.add(key)
        if isinstance(model, Asset | Site | Area) and not known(parties, "party", model.party_id):
            problems.append(f"{item.label}: party_id: unknown party {model.party_id!r}")
        if isinstance(model, Asset) and not known(types, "equipment_type", model.type_id):
            problems.append(f"{item.label}: type_id: unknown equipment type {model.type_id!r}")
        if isinstance(model, Area):
            for i, asset_id in enumerate(model.asset_ids):
                owner = in_file.get(asset_id)
                if owner is None:
                    stored = store.get("asset", asset_id)
                    owner = stored.party_id if stored is not None else None
                if owner != model.party_id:
                    problems.append(
                        f"{item.label}: asset_ids[{i}]: unknown asset {asset_id!r} "
                        "(an area names its own party's assets)"
                    )


# --- exporting -----------------------------------------------------------------------------


def export_docs(store: Store, kinds: Iterable[Kind]) -> Iterable[tuple[Kind, dict[str, Any]]]:
    for kind in kinds:
        for stored in store.iter_all(kind.name):
            yield kind, stored.data


def to_feature(kind: Kind, doc: dict[str, Any]) -> dict[str, Any]:
    props = {"object": kind.name, **doc}
    geometry: Any = None
    if kind is SITE:
        point = parse_point(props.pop("position"))
        geometry = {"type": "Point", "coordinates": [point.lon, point.lat]}
    elif kind is AREA:
        geometry = props.pop("geometry")
    return {"type": "Feature", "geometry": geometry, "properties": props}


def to_csv_row(kind: Kind, doc: dict[str, Any]) -> dict[str, str]:
    row: dict[str, str] = {}
    for column in CSV_COLUMNS[kind.name]:
        value: Any
        if kind is SITE and column in ("lat", "lon", "mgrs"):
            position = doc.get("position") or {}
            value = position.get(column)
        else:
            value = doc.get(column)
        if value is None:
            row[column] = ""
        elif column in _LISTS:
            row[column] = ";".join(value)
        elif column == "geometry":
            row[column] = orjson.dumps(value).decode()
        else:
            row[column] = str(value)
    return row


def write_geojson(out: io.TextIOBase | Any, features: Iterable[dict[str, Any]]) -> int:
    count = 0
    out.write('{"type":"FeatureCollection","features":[\n')
    for feature in features:
        out.write((",\n" if count else "") + orjson.dumps(feature).decode())
        count += 1
    out.write("\n]}\n")
    return count


def write_csv(out: Any, kind: Kind, docs_: Iterable[dict[str, Any]]) -> int:
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS[kind.name]), lineterminator="\n")
    writer.writeheader()
    count = 0
    for doc in docs_:
        writer.writerow(to_csv_row(kind, doc))
        count += 1
    return count


__all__ = [
    "CSV_COLUMNS",
    "TRANSFER_KINDS",
    "ImportResult",
    "Item",
    "TransferError",
    "export_docs",
    "import_items",
    "read_items",
    "to_feature",
    "write_csv",
    "write_geojson",
]
