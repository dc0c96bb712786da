"""Registered objects written straight into a store (the bulk path, not HTTP), for the
benchmarks' worlds: one document shape each, whatever the bench; and the geometry the
worlds are drawn with (circles as polygons, a bare table of points)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from deconfliction.check.index.assets import AssetTable
from deconfliction.store import Store

ACTOR = "bench"


def circle(lat: float, lon: float, radius_m: float, n: int = 32) -> dict[str, Any]:
    """A circle of ``radius_m`` as a GeoJSON polygon of ``n`` vertices."""
    ang = np.linspace(0, 2 * math.pi, n, endpoint=False)
    dlat = radius_m / 111_195.0 * np.cos(ang)
    dlon = radius_m / (111_195.0 * math.cos(math.radians(lat))) * np.sin(ang)
    ring = [[float(lon + x), float(lat + y)] for x, y in zip(dlon, dlat, strict=True)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def points_table(lat: np.ndarray[Any, Any], lon: np.ndarray[Any, Any], t: float) -> AssetTable:
    """The points as an index table (one report each at ``t``, no reach), warmed as
    ``Engine.load`` leaves it: what ``radius_query`` searches."""
    n = len(lat)
    table = AssetTable(capacity=n)
    zeros = np.zeros(n, dtype=np.int64)
    slots = table.bulk_upsert([f"p{i}" for i in range(n)], zeros, zeros, zeros, np.zeros(n))
    table.report_batch(slots, lat, lon, np.full(n, t), np.zeros(n))
    table.warm()
    return table


def party(store: Store, pid: str, name: str, contact: str) -> None:
    data = {"id": pid, "name": name, "kind": "military", "contact": contact}
    store.create("party", pid, pid, data, ACTOR)


def unit(
    store: Store, uid: str, pid: str, name: str, aor: dict[str, Any], cell: bool = False
) -> None:
    data = {
        "id": uid,
        "party_id": pid,
        "name": name,
        "roles": [],
        "aor": aor,
        "aor_start": None,
        "aor_end": None,
        "tak_uids": [],
        "coordination_cell": cell,
    }
    store.create("unit", uid, pid, data, ACTOR)


def equipment_type(
    store: Store,
    tid: str,
    name: str,
    mobility: str,
    max_speed_kmh: float,
    *,
    axles: int | None = None,
    features: Sequence[str] = ("radar",),
) -> None:
    data = {
        "id": tid,
        "name": name,
        "variant_of": None,
        "profile": {
            "mobility": mobility,
            "axles": axles,
            "features": list(features),
            "size_class": None,
        },
        "max_speed_kmh": max_speed_kmh,
        "sidc": None,
        "picture_url": None,
        "confusable_with": [],
    }
    store.create("equipment_type", tid, None, data, ACTOR)


def asset(
    store: Store,
    aid: str,
    pid: str,
    type_id: str,
    callsign: str,
    *,
    releasable_to: list[str] | None = None,
    max_speed_kmh: float | None = None,
) -> None:
    data = {
        "id": aid,
        "party_id": pid,
        "type_id": type_id,
        "callsign": callsign,
        "releasable_to": releasable_to,
        "cot_uid": None,
        "contact": None,
        "max_speed_kmh": max_speed_kmh,
    }
    store.create("asset", aid, pid, data, ACTOR)


def area(
    store: Store,
    aid: str,
    pid: str,
    geometry: dict[str, Any],
    start: str,
    end: str,
    *,
    releasable_to: list[str] | None = None,
) -> None:
    data = {
        "id": aid,
        "party_id": pid,
        "kind": "operating",
        "geometry": geometry,
        "start": start,
        "end": end,
        "asset_ids": [],
        "releasable_to": releasable_to,
    }
    store.create("area", aid, pid, data, ACTOR)


def site(
    store: Store,
    sid: str,
    pid: str,
    lat: float,
    lon: float,
    radius_m: float,
    *,
    releasable_to: list[str] | None = None,
) -> None:
    data = {
        "id": sid,
        "party_id": pid,
        "kind": "hospital",
        "name": sid,
        "position": {"lat": lat, "lon": lon},
        "radius_m": radius_m,
        "releasable_to": releasable_to,
    }
    store.create("site", sid, pid, data, ACTOR)


def audit_events(store: Store, rng: random.Random, start: int, count: int) -> None:
    """``count`` events for the audit benches (half party creates, half checks), 1,000 per
    transaction, numbered from ``start``."""
    written = 0
    while written < count:
        with store.transaction():
            for _ in range(min(1000, count - written)):
                i = start + written
                if rng.random() < 0.5:
                    data = {"name": f"Party {i}", "kind": "military", "x": rng.random()}
                    store.create("party", f"p{i}", None, data, ACTOR)
                else:
                    store.add_check(
                        f"c{i}",
                        "u1",
                        "p1",
                        {"position": {"lat": rng.uniform(-80, 80), "lon": rng.random()}},
                        {"verdict": rng.choice(["HOLD", "NO_KNOWN_MATCH"]), "matches": []},
                        ACTOR,
                    )
                written += 1
