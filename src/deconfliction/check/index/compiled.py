"""The asset index's queries through the compiled loops (``kernels.scan``), one call per
bucket read; the numpy code in ``assets.py`` is the reference they are tested against.

Each bucket is read from its snapshot and overlay (``buckets.Bucket.source``), or, while
it keeps changing between reads, from its cells' sets as the reference reads them; either
way the same loop filters the members. The loops write into the table's output arrays
(every placed slot fits): reads are not thread-safe, as the lazily built caches were
not before (the engine's lock serialises them).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt

from deconfliction.check.index import kernels
from deconfliction.check.index.buckets import Bucket, Columns, Gathered, Snapshot
from deconfliction.check.index.grid import CellGrid
from deconfliction.domain.geo import haversine_m, widen

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Table(Columns, Protocol):
    """What the compiled queries read of ``AssetTable``."""

    grid: CellGrid
    buckets: dict[int, Bucket]
    stamp: IntArray
    lon: FloatArray
    anywhere_slots: set[int]
    _out_s: IntArray
    _out_f: FloatArray

    def _bucket_slots(
        self, bucket: Bucket, lat: float, lon: float, radius_m: float
    ) -> list[IntArray]: ...

    def _bucket_radius(
        self,
        bucket: Bucket,
        t: float,
        r_obs: float,
        min_age_s: float,
        max_age_s: float,
        lookahead_s: float,
    ) -> float | None: ...


_EMPTY_I = np.empty(0, dtype=np.int64)
#: A bucket read from its cells' sets: no snapshot, everything in the overlay.
_EMPTY = Snapshot(
    _EMPTY_I, np.zeros(1, dtype=np.int64), _EMPTY_I, np.empty(0, dtype=bool), np.empty((6, 0))
)


def _scan_bucket(
    table: Table,
    bucket: Bucket,
    n_out: int,
    lat: float,
    lon: float,
    radius: float,
    t: float,
    r_obs: float,
    min_age_s: float,
    max_age_s: float,
    lookahead_s: float,
    exact_r: float,
) -> int:
    snap = bucket.source(table)
    if snap is None:  # changing between reads: its cells' sets, as the reference
        parts = table._bucket_slots(bucket, lat, lon, radius)
        if not parts:
            return n_out
        extra = np.concatenate(parts) if len(parts) > 1 else parts[0]
        estamp = table.stamp[extra]
        snap = _EMPTY
    else:
        extra, estamp = bucket.overlay_arrays()
    grid = table.grid
    n: int = kernels.scan(
        snap.keys, snap.starts, snap.members, snap.alive, snap.data, extra, estamp,
        table.stamp, table.cols, grid._ncols_array, grid.cell_deg, grid.max_cols,
        lat, lon, radius, t, r_obs, min_age_s, max_age_s, lookahead_s, exact_r,
        table._out_s, table._out_f, n_out,
    )  # fmt: skip
    return n


def gather(
    table: Table,
    lat: float,
    lon: float,
    t: float,
    r_obs: float,
    min_age_s: float,
    max_age_s: float,
    lookahead_s: float,
) -> Gathered:
    """``AssetTable.gather`` (its contract) through the compiled loops."""
    n = 0
    for bucket in table.buckets.values():
        radius = table._bucket_radius(bucket, t, r_obs, min_age_s, max_age_s, lookahead_s)
        if radius is not None:
            n = _scan_bucket(
                table, bucket, n, lat, lon, radius, t, r_obs, min_age_s, max_age_s,
                lookahead_s, -1.0,
            )  # fmt: skip
    slots = table._out_s[:n].copy()
    dist = table._out_f[0, :n].copy()
    age = table._out_f[1, :n].copy()
    if table.anywhere_slots and min_age_s <= 0.0 <= max_age_s:
        # Anywhere, at any time: as if it had just reported (its reach is the earth).
        anywhere = np.fromiter(table.anywhere_slots, dtype=np.int64)
        slots = np.concatenate([slots, anywhere])
        dist = np.concatenate(
            [dist, haversine_m(lat, lon, table.lat[anywhere], table.lon[anywhere])]
        )
        age = np.concatenate([age, np.zeros(len(anywhere))])
    return Gathered(slots, dist, age)


def radius_query(table: Table, lat: float, lon: float, radius_m: float) -> IntArray:
    """``assets.radius_query`` through the compiled loops."""
    n = 0
    widened = float(widen(radius_m))
    for bucket in table.buckets.values():
        n = _scan_bucket(
            table, bucket, n, lat, lon, widened, 0.0, 0.0, 0.0, math.inf, 0.0, radius_m
        )
    return table._out_s[:n].copy()


def prime(table: Table) -> None:
    """Compile (or load from the cache) the loop now, not at the first check."""
    grid = table.grid
    e = _EMPTY
    kernels.scan(
        e.keys, e.starts, e.members, e.alive, e.data, _EMPTY_I, _EMPTY_I, table.stamp,
        table.cols, grid._ncols_array, grid.cell_deg, grid.max_cols,
        0.0, 0.0, 1.0, 0.0, 0.0, 0.0, math.inf, 0.0, -1.0, table._out_s, table._out_f, 0,
    )  # fmt: skip
