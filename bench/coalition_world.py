"""The coalition world of issue 18 drawn as numpy arrays (seed 42), and its two loaders:
straight into an engine (in process) and straight into a store (what the server loads).

Lat 50.0-54.5, lon 30.0-37.0; 20 parties ``p0``...``p19``; N assets, 100k operating
areas, 10k protected sites and 50k units with AORs, each thing owner-only with
probability 0.9, else releasable to ``*`` or to 1-3 other parties (half each); report
ages 60 % 0-2 min, 30 % 2-30 min, 10 % 30 min-6 h. Plus 1,000 *friendlies* (the
``named_in_list`` simulation): max speed 20-80 km/h, moved in a straight line at up to
95 % of it since their last report (age from the same mix, capped at 5.5 h), reported
with CEP 5-80 m (the reported point drawn around the true one at report time). The open
world is the same draw with everything releasable to ``*``.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

import world
from deconfliction.check.engine import Engine
from deconfliction.domain.geo import R99_PER_CEP
from deconfliction.domain.model import Area, PositionReport, Site, Unit
from deconfliction.service.stored_form import report_row
from deconfliction.store import Store

SEED = 42
LAT_LO, LAT_HI, LON_LO, LON_HI = 50.0, 54.5, 30.0, 37.0
PARTIES = 20
N_AREAS, N_SITES, N_AORS = 100_000, 10_000, 50_000
#: Scales the shape counts (smoke runs only; every figure is taken at 1.0).
SHAPES_SCALE = [1.0]
#: Report ages: ``mix`` (the issue's world) or ``fresh`` (every report 0-2 min old, the
#: world the earlier engine figures were taken in; docs/design/index.md says why both).
AGES = ["mix"]
N_FRIENDLIES = 1000
#: Friendlies are checked at most this long after their last report.
FRIENDLY_MAX_AGE_S = 5.5 * 3600
#: CEP of a report over its 1-sigma radius (circular normal).
CEP_OVER_SIGMA = 1.1774
M_PER_DEG = 111_195.0
Array = np.ndarray[Any, Any]


@dataclass
class Things:
    """Circles (areas, sites or AORs): centre, radius, owner index, releasability."""

    lat: Array
    lon: Array
    radius_m: Array
    party: Array
    rel: list[list[str] | None]


@dataclass
class World:
    """Every asset (the friendlies last, ids ``f...``) with its last report, and the shapes;
    report times as ages (seconds before the check time)."""

    name: str
    ids: list[str]
    party: Array
    rel: list[list[str] | None]
    speed_kmh: Array
    lat: Array
    lon: Array
    age_s: Array
    cep_m: Array
    true_lat: Array  # where each asset is at the check time (the others: where reported)
    true_lon: Array
    areas: Things
    sites: Things
    aors: Things

    @property
    def friendlies(self) -> range:
        return range(len(self.ids) - N_FRIENDLIES, len(self.ids))


def party_id(k: int) -> str:
    return f"p{k}"


def _rel(rng: np.random.Generator, owner: Array, open_world: bool) -> list[list[str] | None]:
    """Owner-only (``None``) with probability 0.9, else ``*`` or 1-3 other parties."""
    n = len(owner)
    u = rng.random(n)
    how_many = rng.integers(1, 4, n)
    others = rng.integers(1, PARTIES, (n, 3))  # offsets from the owner: never the owner
    if open_world:
        return [["*"]] * n
    rel: list[list[str] | None] = [None] * n
    for i in np.flatnonzero(u >= 0.9).tolist():
        if u[i] >= 0.95:
            rel[i] = ["*"]
        else:
            picked = {(int(owner[i]) + int(o)) % PARTIES for o in others[i, : how_many[i]]}
            rel[i] = sorted(party_id(p) for p in picked)
    return rel


def _ages(rng: np.random.Generator, n: int) -> Array:
    """60 % 0-2 min, 30 % 2-30 min, 10 % 30 min-6 h; every one 0-2 min in the ``fresh``
    variant (``AGES``). The same draws either way: the worlds differ only in ages."""
    u = rng.random(n)
    mixed = np.where(
        u < 0.6,
        rng.uniform(0, 120, n),
        np.where(u < 0.9, rng.uniform(120, 1800, n), rng.uniform(1800, 6 * 3600, n)),
    )
    return mixed if AGES[0] == "mix" else mixed % 120.0


def _circles(rng: np.random.Generator, n: int, r_lo: float, r_hi: float, ow: bool) -> Things:
    lat = rng.uniform(LAT_LO, LAT_HI, n)
    lon = rng.uniform(LON_LO, LON_HI, n)
    party = np.arange(n) % PARTIES
    return Things(lat, lon, rng.uniform(r_lo, r_hi, n), party, _rel(rng, party, ow))


def _offset(lat: Array, lon: Array, north_m: Array, east_m: Array) -> tuple[Array, Array]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * np.cos(np.radians(lat)))


def build(n: int, open_world: bool) -> World:
    """The world with ``n`` assets (plus the friendlies); the same draws for both worlds;
    its name says the ages when they are ``fresh`` (``coalition-fresh``, ``open-fresh``)."""
    rng = np.random.default_rng(SEED)
    party = np.arange(n) % PARTIES
    rel = _rel(rng, party, open_world)
    speed = rng.uniform(20, 80, n)
    lat = rng.uniform(LAT_LO, LAT_HI, n)
    lon = rng.uniform(LON_LO, LON_HI, n)
    age = _ages(rng, n)
    cep = rng.uniform(10, 50, n)
    k = SHAPES_SCALE[0]
    areas = _circles(rng, int(N_AREAS * k), 1000, 3000, open_world)
    sites = _circles(rng, int(N_SITES * k), 100, 1000, open_world)
    aors = _circles(rng, max(PARTIES, int(N_AORS * k)), 1000, 3000, open_world)
    # The friendlies: true position now, and where (and how well) they were last reported.
    m = N_FRIENDLIES
    f_party = rng.integers(0, PARTIES, m)
    f_rel = _rel(rng, f_party, open_world)
    f_speed = rng.uniform(20, 80, m)
    f_age = np.minimum(_ages(rng, m), FRIENDLY_MAX_AGE_S)
    f_cep = rng.uniform(5, 80, m)
    then_lat = rng.uniform(LAT_LO + 0.5, LAT_HI - 0.5, m)
    then_lon = rng.uniform(LON_LO + 0.5, LON_HI - 0.5, m)
    moved = rng.uniform(0, 0.95, m) * f_speed / 3.6 * f_age
    heading = rng.uniform(0, 2 * math.pi, m)
    now_lat, now_lon = _offset(then_lat, then_lon, moved * np.cos(heading), moved * np.sin(heading))
    sigma = f_cep / CEP_OVER_SIGMA
    rep_lat, rep_lon = _offset(then_lat, then_lon, rng.normal(0, sigma), rng.normal(0, sigma))
    return World(
        name=("open" if open_world else "coalition") + ("" if AGES[0] == "mix" else "-fresh"),
        ids=[f"a{i}" for i in range(n)] + [f"f{i}" for i in range(m)],
        party=np.concatenate([party, f_party]),
        rel=rel + f_rel,
        speed_kmh=np.concatenate([speed, f_speed]),
        lat=np.concatenate([lat, rep_lat]),
        lon=np.concatenate([lon, rep_lon]),
        age_s=np.concatenate([age, f_age]),
        cep_m=np.concatenate([cep, f_cep]),
        true_lat=np.concatenate([lat, now_lat]),
        true_lon=np.concatenate([lon, now_lon]),
        areas=areas,
        sites=sites,
        aors=aors,
    )


# in process ------------------------------------------------------------------------------


def loaded_engine(n: int, open_world: bool, now: datetime) -> tuple[World, Engine]:
    """The world with ``n`` assets in a fresh engine, built as ``Engine.load`` builds: the
    collector off while loading, then the registry frozen out of its way."""
    from check_bench import engine_base

    w = build(n, open_world)
    gc.disable()
    engine = engine_base(PARTIES)
    load_engine(engine, w, now)
    gc.enable()
    gc.collect()
    gc.freeze()
    return w, engine


def load_engine(engine: Engine, w: World, now: datetime) -> None:
    """Everything into an engine made by ``check_bench.engine_base(PARTIES)`` (its type
    ``veh``); the areas live from an hour before ``now`` to 12 h after."""
    pids = [party_id(int(p)) for p in w.party.tolist()]
    slots = engine.load_asset_arrays(w.ids, w.ids, pids, ["veh"] * len(w.ids), w.rel, w.speed_kmh)
    t0 = now.timestamp() - w.age_s
    engine.assets.report_batch(slots, w.lat, w.lon, t0, R99_PER_CEP * w.cep_m)
    start, end = now - timedelta(hours=1), now + timedelta(hours=12)
    a = w.areas
    for i in range(len(a.lat)):
        engine.put(
            Area.model_construct(
                id=f"op{i}",
                party_id=party_id(int(a.party[i])),
                kind="operating",
                geometry=world.circle(float(a.lat[i]), float(a.lon[i]), float(a.radius_m[i])),
                start=start,
                end=end,
                asset_ids=[],
                releasable_to=a.rel[i],
            )
        )
    for data in _site_docs(w.sites):
        engine.put(Site.model_validate(data))
    for data in _unit_docs(w.aors):
        engine.put(Unit.model_validate(data))
    engine.assets.warm()


def _site_docs(s: Things) -> list[dict[str, Any]]:
    return [
        {
            "id": f"site{i}",
            "party_id": party_id(int(s.party[i])),
            "kind": "hospital",
            "position": {"lat": float(s.lat[i]), "lon": float(s.lon[i])},
            "radius_m": float(s.radius_m[i]),
            "releasable_to": s.rel[i],
        }
        for i in range(len(s.lat))
    ]


def _unit_docs(u: Things) -> list[dict[str, Any]]:
    """Unit ``u{i}`` of party ``i % 20`` (so ``u0``...``u19`` ask for every party)."""
    return [
        {
            "id": f"u{i}",
            "party_id": party_id(int(u.party[i])),
            "name": f"Unit {i}",
            "aor": world.circle(float(u.lat[i]), float(u.lon[i]), float(u.radius_m[i])),
        }
        for i in range(len(u.lat))
    ]


# into a store (the server's) -------------------------------------------------------------

BATCH = 10_000


def load_store(store: Store, w: World, now: datetime) -> None:
    """The world written through the store's bulk path (one transaction per 10,000
    objects, reports by batch), report times relative to ``now``."""
    start = (now - timedelta(hours=1)).isoformat()
    end = (now + timedelta(hours=12)).isoformat()
    with store.transaction():
        for p in range(PARTIES):
            world.party(store, party_id(p), f"Party {p}", f"net {p}")
        world.equipment_type(store, "veh", "Vehicle", "wheeled", 80.0)
    jobs: list[Any] = []
    for d in _unit_docs(w.aors):
        jobs.append(lambda d=d: world.unit(store, d["id"], d["party_id"], d["name"], d["aor"]))
    for i in range(len(w.ids)):
        jobs.append(
            lambda i=i: world.asset(
                store,
                w.ids[i],
                party_id(int(w.party[i])),
                "veh",
                w.ids[i],
                releasable_to=w.rel[i],
                max_speed_kmh=round(float(w.speed_kmh[i]), 3),
            )
        )
    a = w.areas
    for i in range(len(a.lat)):
        jobs.append(
            lambda i=i: world.area(
                store,
                f"op{i}",
                party_id(int(a.party[i])),
                world.circle(float(a.lat[i]), float(a.lon[i]), float(a.radius_m[i])),
                start,
                end,
                releasable_to=a.rel[i],
            )
        )
    for d in _site_docs(w.sites):
        jobs.append(
            lambda d=d: world.site(
                store,
                d["id"],
                d["party_id"],
                d["position"]["lat"],
                d["position"]["lon"],
                d["radius_m"],
                releasable_to=d["releasable_to"],
            )
        )
    for k in range(0, len(jobs), BATCH):
        with store.transaction():
            for job in jobs[k : k + BATCH]:
                job()
    times = [now - timedelta(seconds=float(s)) for s in w.age_s.tolist()]
    for k in range(0, len(w.ids), BATCH):
        rows = [
            report_row(
                PositionReport.model_validate(
                    {
                        "asset_id": w.ids[i],
                        "time": times[i],
                        "position": {"lat": float(w.lat[i]), "lon": float(w.lon[i])},
                        "cep_m": round(float(w.cep_m[i]), 2),
                    }
                )
            )
            for i in range(k, min(len(w.ids), k + BATCH))
        ]
        store.add_reports(rows, "bench")
