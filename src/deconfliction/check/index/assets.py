"""The latest position of every asset, in arrays, under a time-bucketed cell grid.

Per asset (a *slot*): static attributes (party, type, releasability codes, max
speed) and its latest report (lat, lon, time ``t0``, ``a`` = its 99 % radius in
metres). No Python object per asset sits on the hot path: numpy arrays plus
ints in cell sets.

Reach at query time ``t`` is ``a + v·|t - t0| + r_obs``, so it depends on the
report's age. Slots are grouped into buckets of report time (``bucket_s``
wide); a bucket knows the largest ``a`` and ``v`` it ever held, so for any
query time the largest reach of its members is bounded, and only cells within
that bound are gathered. The exact test then keeps exactly the candidates. A
bucket whose reach bound would touch more cells than it has is read whole. When a
member that set a bound leaves, the bounds are marked stale and recomputed from the
members at the next read: they shrink with their members.

A slot placed *anywhere* (:meth:`AssetTable.place_anywhere`: its report's numbers were out
of physical range) sits in no bucket: every query gathers it, at age 0 and with a reach
wider than the earth, so it matches everywhere at any time until a report that can be
placed replaces it (docs/design/check.md, "Out-of-range stored values").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from deconfliction.check.index import compiled, kernels, presence
from deconfliction.check.index.buckets import Bucket, Gathered
from deconfliction.check.index.grid import CellGrid
from deconfliction.domain.geo import (
    ABSOLUTE_SLACK_M,
    SPHERE_ERROR,
    haversine_m,
)
from deconfliction.domain.limits import ANYWHERE_REACH_M

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0, dtype=np.float64)


def _widen(radius: FloatArray | float) -> FloatArray | float:
    return radius * (1.0 + SPHERE_ERROR) + ABSOLUTE_SLACK_M


class AssetTable:
    def __init__(
        self,
        capacity: int = 1024,
        cell_deg: float = 0.05,
        bucket_s: float = 600.0,
        presence_cell_deg: float = 0.5,
        compiled: bool | None = None,
    ) -> None:
        #: Queries run the compiled loops (kernels.py); False: the numpy reference alone.
        self.compiled = kernels.AVAILABLE if compiled is None else compiled
        self.grid = CellGrid(cell_deg)
        self.presence_grid = CellGrid(presence_cell_deg)
        self.bucket_s = bucket_s
        self.ids: list[str | None] = []
        self.slot_of: dict[str, int] = {}
        self._free: list[int] = []
        self._capacity = 0
        self.party = np.empty(0, dtype=np.int32)
        self.type_code = np.empty(0, dtype=np.int32)
        self.rel_code = np.empty(0, dtype=np.int32)
        #: lat, lon, t0, a, v (below) are the rows of ``cols``.
        self.cols = np.empty((5, 0), dtype=np.float64)
        self.v = self.cols[4]
        self.has = np.empty(0, dtype=bool)
        self.lat, self.lon, self.t0, self.a = self.cols[:4]
        self.bucket_of = np.empty(0, dtype=np.int64)
        self.cell_of = np.empty(0, dtype=np.int64)
        self.pcell_of = np.empty(0, dtype=np.int64)
        #: Each placement's stamp (a new one per report taken): an overlay entry of a
        #: bucket counts only while the slot still holds the stamp it was filed under.
        self.stamp = np.empty(0, dtype=np.int64)
        self._next_stamp = 0
        #: The slot's position in its bucket's snapshot (-1: none; buckets.py).
        self.snap_pos = np.empty(0, dtype=np.int64)
        self.anywhere = np.empty(0, dtype=bool)
        #: Slots placed anywhere (in no bucket), gathered by every query.
        self.anywhere_slots: set[int] = set()
        self.buckets: dict[int, Bucket] = {}
        self.presence: dict[int, set[int]] = {}
        #: Bumped by every registration change (upsert, remove; not reports): a cache of
        #: assets read from the store, kept by the report path, is good while it holds.
        self.registry_version = 0
        self._grow(capacity)

    # -- registration -------------------------------------------------------------------

    def _grow(self, capacity: int) -> None:
        old = self._capacity
        if capacity <= old:
            return
        for name, fill in (
            ("party", -1),
            ("type_code", -1),
            ("rel_code", -1),
            ("has", False),
            ("bucket_of", -1),
            ("cell_of", -1),
            ("pcell_of", -1),
            ("stamp", -1),
            ("snap_pos", -1),
            ("anywhere", False),
        ):
            arr = getattr(self, name)
            grown = np.full(capacity, fill, dtype=arr.dtype)
            grown[:old] = arr[:old]
            setattr(self, name, grown)
        # The report and speed columns are rows of one array: one argument to a loop.
        cols = np.zeros((5, capacity), dtype=np.float64)
        cols[:, :old] = self.cols[:, :old]
        self.cols = cols
        self.lat, self.lon, self.t0, self.a, self.v = cols
        self._capacity = capacity
        # The compiled queries' output (slot; distance and age): every placed slot fits.
        self._out_s = np.empty(capacity, dtype=np.int64)
        self._out_f = np.empty((2, capacity), dtype=np.float64)

    def __len__(self) -> int:
        return len(self.slot_of)

    def upsert(self, asset_id: str, party: int, type_code: int, rel_code: int, v_mps: float) -> int:
        """Register or change an asset's static attributes; returns its slot."""
        self.registry_version += 1
        slot = self.slot_of.get(asset_id)
        if slot is None:
            if self._free:
                slot = self._free.pop()
                self.ids[slot] = asset_id
            else:
                slot = len(self.ids)
                if slot >= self._capacity:
                    self._grow(max(1024, self._capacity * 2))
                self.ids.append(asset_id)
            self.slot_of[asset_id] = slot
        elif (
            self.has[slot]
            and not self.anywhere[slot]
            and (self.party[slot] != party or self.v[slot] != v_mps)
        ):
            # Party and speed live in the bucket's bounds and the presence grid.
            lat, lon, t0, a = self.lat[slot], self.lon[slot], self.t0[slot], self.a[slot]
            self._unplace(slot)
            self.party[slot] = party
            self.v[slot] = v_mps
            self._place(slot, float(lat), float(lon), float(t0), float(a))
        self.party[slot] = party
        self.type_code[slot] = type_code
        self.rel_code[slot] = rel_code
        self.v[slot] = v_mps
        return slot

    def bulk_upsert(
        self,
        asset_ids: list[str],
        party: IntArray,
        type_code: IntArray,
        rel_code: IntArray,
        v_mps: FloatArray,
    ) -> IntArray:
        """Register many new assets at once (start-up and benchmarks)."""
        self.registry_version += 1
        slots = np.empty(len(asset_ids), dtype=np.int64)
        fresh = [i for i, aid in enumerate(asset_ids) if aid not in self.slot_of]
        if len(fresh) == len(asset_ids) and not self._free:
            start = len(self.ids)
            end = start + len(asset_ids)
            if end > self._capacity:
                self._grow(max(end, self._capacity * 2))
            self.ids.extend(asset_ids)
            self.slot_of.update(zip(asset_ids, range(start, end), strict=True))
            sl = slice(start, end)
            self.party[sl] = party
            self.type_code[sl] = type_code
            self.rel_code[sl] = rel_code
            self.v[sl] = v_mps
            slots[:] = np.arange(start, end)
            return slots
        for i, aid in enumerate(asset_ids):
            slots[i] = self.upsert(
                aid, int(party[i]), int(type_code[i]), int(rel_code[i]), float(v_mps[i])
            )
        return slots

    def remove(self, asset_id: str) -> None:
        self.registry_version += 1
        slot = self.slot_of.pop(asset_id, None)
        if slot is None:
            return
        if self.has[slot]:
            self._unplace(slot)
        self.has[slot] = False
        self.party[slot] = -1
        self.ids[slot] = None
        self._free.append(slot)

    # -- reports ------------------------------------------------------------------------

    def _place(self, slot: int, lat: float, lon: float, t0: float, a: float) -> None:
        bkey = int(t0 // self.bucket_s)
        bucket = self.buckets.get(bkey)
        if bucket is None:
            bucket = self.buckets[bkey] = Bucket()
        ckey = self.grid.key(lat, lon)
        members = bucket.cells.get(ckey)
        if members is None:
            bucket.cells[ckey] = {slot}
        else:
            members.add(slot)
        bucket.changed(ckey)
        stamp = self._next_stamp
        self._next_stamp += 1
        bucket.join(slot, stamp)
        self.stamp[slot] = stamp
        self.snap_pos[slot] = -1
        bucket.count += 1
        bucket.hold_a(a)
        if t0 < bucket.min_t0:
            bucket.min_t0 = t0
        if t0 > bucket.max_t0:
            bucket.max_t0 = t0
        bucket.hold_v(float(self.v[slot]))
        pkey = int(self.party[slot]) * (self.presence_grid.n_rows * self.presence_grid.max_cols)
        pkey += self.presence_grid.key(lat, lon)
        pm = self.presence.get(pkey)
        if pm is None:
            self.presence[pkey] = {slot}
        else:
            pm.add(slot)
        self.lat[slot] = lat
        self.lon[slot] = lon
        self.t0[slot] = t0
        self.a[slot] = a
        self.has[slot] = True
        self.bucket_of[slot] = bkey
        self.cell_of[slot] = ckey
        self.pcell_of[slot] = pkey

    def place_anywhere(self, slot: int, t0: float) -> bool:
        """The slot's report could not be placed (its numbers are out of range): from now
        on it could be anywhere. Taken if no newer report is known; True if taken."""
        if self.has[slot]:
            if t0 < self.t0[slot]:
                return False
            self._unplace(slot)
        self.anywhere[slot] = True
        self.anywhere_slots.add(slot)
        self.lat[slot] = 0.0
        self.lon[slot] = 0.0
        self.t0[slot] = t0
        self.a[slot] = ANYWHERE_REACH_M
        self.has[slot] = True
        self.bucket_of[slot] = -1
        self.cell_of[slot] = -1
        self.pcell_of[slot] = -1
        return True

    def _unplace(self, slot: int) -> None:
        if self.anywhere[slot]:
            self.anywhere[slot] = False
            self.anywhere_slots.discard(slot)
            self.has[slot] = False
            return
        bkey = int(self.bucket_of[slot])
        bucket = self.buckets[bkey]
        self._leaving(bucket, slot)
        ckey = int(self.cell_of[slot])
        members = bucket.cells[ckey]
        members.discard(slot)
        bucket.changed(ckey)
        bucket.forget(int(self.snap_pos[slot]))
        self.snap_pos[slot] = -1
        self.stamp[slot] = self._next_stamp  # its overlay entry no longer counts
        self._next_stamp += 1
        if not members:
            del bucket.cells[ckey]
        bucket.count -= 1
        if bucket.count == 0:
            del self.buckets[bkey]
        pkey = int(self.pcell_of[slot])
        pm = self.presence[pkey]
        pm.discard(slot)
        if not pm:
            del self.presence[pkey]
        self.has[slot] = False

    def _leaving(self, bucket: Bucket, slot: int) -> None:
        """A member leaves (before its arrays change): the last one holding a bound makes
        the bucket's bounds stale."""
        if self.a[slot] >= bucket.max_a:
            bucket.at_max_a -= 1
            if bucket.at_max_a <= 0:
                bucket.stale = True
        if self.v[slot] >= bucket.max_v:
            bucket.at_max_v -= 1
            if bucket.at_max_v <= 0:
                bucket.stale = True

    def _refresh(self, bucket: Bucket) -> None:
        """Recompute a stale bucket's bounds from its members."""
        members = np.fromiter(
            itertools.chain.from_iterable(bucket.cells.values()), dtype=np.int64, count=bucket.count
        )
        a = self.a[members]
        v = self.v[members]
        bucket.max_a = float(a.max())
        bucket.at_max_a = int((a == bucket.max_a).sum())
        bucket.max_v = float(v.max())
        bucket.at_max_v = int((v == bucket.max_v).sum())
        bucket.min_t0 = float(self.t0[members].min())
        bucket.max_t0 = float(self.t0[members].max())
        bucket.stale = False

    def report(self, slot: int, lat: float, lon: float, t0: float, a: float) -> bool:
        """Take a report if it is the newest for the slot; True if it was taken."""
        if self.has[slot]:
            if t0 < self.t0[slot]:
                return False
            self._unplace(slot)
        self._place(slot, lat, lon, t0, a)
        return True

    def report_batch(
        self, slots: IntArray, lats: FloatArray, lons: FloatArray, t0s: FloatArray, a: FloatArray
    ) -> int:
        """Take many reports; older-than-known ones are ignored. Returns how many were taken.

        Keys are computed vectorised; only the set moves run per report.
        """
        if len(slots) == 0:
            return 0
        # Within the batch, keep the newest report per slot.
        order = np.lexsort((t0s, slots))
        last = np.ones(len(order), dtype=bool)
        last[:-1] = slots[order][1:] != slots[order][:-1]
        keep = order[last]
        slots, lats, lons, t0s, a = slots[keep], lats[keep], lons[keep], t0s[keep], a[keep]
        newer = ~self.has[slots] | (t0s >= self.t0[slots])
        slots, lats, lons, t0s, a = slots[newer], lats[newer], lons[newer], t0s[newer], a[newer]
        if self.anywhere_slots:
            for slot in slots[self.anywhere[slots]].tolist():
                self._unplace(slot)  # placed now: in a bucket like any other
        bkeys = (t0s // self.bucket_s).astype(np.int64)
        ckeys = self.grid.keys(lats, lons)
        pgrid = self.presence_grid
        pkeys = self.party[slots].astype(np.int64) * (pgrid.n_rows * pgrid.max_cols) + pgrid.keys(
            lats, lons
        )
        had = self.has[slots]
        old_b = self.bucket_of[slots]
        old_c = self.cell_of[slots]
        old_p = self.pcell_of[slots]
        # Every report taken is a new placement for the snapshots (they copy the report).
        stamps = np.arange(self._next_stamp, self._next_stamp + len(slots))
        self._next_stamp += len(slots)
        old_pos = self.snap_pos[slots]
        buckets = self.buckets
        presence = self.presence
        for slot, nb, nc, npk, h, ob, oc, op, st, pos in zip(
            slots.tolist(),
            bkeys.tolist(),
            ckeys.tolist(),
            pkeys.tolist(),
            had.tolist(),
            old_b.tolist(),
            old_c.tolist(),
            old_p.tolist(),
            stamps.tolist(),
            old_pos.tolist(),
            strict=True,
        ):
            if h:  # its bounds are held again below, in whichever bucket it lands
                self._leaving(buckets[ob], slot)
                buckets[ob].forget(pos)
            if not (h and ob == nb and oc == nc):
                if h:
                    obucket = buckets[ob]
                    members = obucket.cells[oc]
                    members.discard(slot)
                    obucket.changed(oc)
                    if not members:
                        del obucket.cells[oc]
                    obucket.count -= 1
                    if obucket.count == 0:
                        del buckets[ob]
                nbucket = buckets.get(nb)
                if nbucket is None:
                    nbucket = buckets[nb] = Bucket()
                nmembers = nbucket.cells.get(nc)
                if nmembers is None:
                    nbucket.cells[nc] = {slot}
                else:
                    nmembers.add(slot)
                nbucket.changed(nc)
                nbucket.count += 1
            buckets[nb].join(slot, st)
            if not h or op != npk:
                if h:
                    pm = presence[op]
                    pm.discard(slot)
                    if not pm:
                        del presence[op]
                npm = presence.get(npk)
                if npm is None:
                    presence[npk] = {slot}
                else:
                    npm.add(slot)
        # Bucket bounds: vectorised maxima per new bucket key.
        vs = self.v[slots]
        for bkey in np.unique(bkeys).tolist():
            sel = bkeys == bkey
            bucket = buckets[bkey]
            a_sel, v_sel = a[sel], vs[sel]
            top_a, top_v = float(a_sel.max()), float(v_sel.max())
            bucket.hold_a(top_a, int((a_sel == top_a).sum()))
            bucket.hold_v(top_v, int((v_sel == top_v).sum()))
            bucket.min_t0 = min(bucket.min_t0, float(t0s[sel].min()))
            bucket.max_t0 = max(bucket.max_t0, float(t0s[sel].max()))
        self.lat[slots] = lats
        self.lon[slots] = lons
        self.t0[slots] = t0s
        self.a[slots] = a
        self.has[slots] = True
        self.bucket_of[slots] = bkeys
        self.cell_of[slots] = ckeys
        self.pcell_of[slots] = pkeys
        self.stamp[slots] = stamps
        self.snap_pos[slots] = -1
        return len(slots)

    def warm(self) -> None:
        """Build every bucket's snapshot (compiled) or every cell's member array (the
        reference) now, after a bulk load, rather than on first read; and compile the
        loops (or load them from numba's cache)."""
        if self.compiled:
            compiled.prime(self)
        for bucket in self.buckets.values():
            if self.compiled:
                bucket.build(self)
                continue
            for key, members in bucket.cells.items():
                if key not in bucket.arrays:
                    bucket.arrays[key] = np.fromiter(members, dtype=np.int64, count=len(members))

    # -- queries ------------------------------------------------------------------------

    def _bucket_slots(
        self, bucket: Bucket, lat: float, lon: float, radius_m: float
    ) -> list[IntArray]:
        cells = bucket.cells
        if self.grid.count_within(lat, radius_m) >= len(cells):
            if bucket.whole is None:
                bucket.whole = np.fromiter(
                    itertools.chain.from_iterable(cells.values()),
                    dtype=np.int64,
                    count=bucket.count,
                )
            return [bucket.whole]
        keys: Iterable[int] = self.grid.cells_within(lat, lon, radius_m)
        arrays = bucket.arrays
        out = []
        for key in keys:
            arr = arrays.get(key)
            if arr is None:
                members = cells.get(key)
                if not members:
                    continue
                arr = arrays[key] = np.fromiter(members, dtype=np.int64, count=len(members))
            out.append(arr)
        return out

    def gather(
        self,
        lat: float,
        lon: float,
        t: float,
        r_obs: float,
        min_age_s: float = 0.0,
        max_age_s: float = math.inf,
        lookahead_s: float = 0.0,
    ) -> Gathered:
        """Every slot with a report aged within [min_age_s, max_age_s] at ``t`` that
        could be within reach of the point at some time in [t, t + lookahead_s]: its
        distance is at most ``widen(a + v·age' + r_obs)·(1 + 1e-9)`` for its greatest age
        ``age'`` over that interval, capped at ``max_age_s`` (a caller asks of no age
        beyond it); and every slot placed anywhere (age 0). The slack only keeps more.
        Distances and ages are exact, for the caller's exact test.

        Compiled loops (``compiled.gather``) unless the table is the numpy reference."""
        if self.compiled:
            return compiled.gather(self, lat, lon, t, r_obs, min_age_s, max_age_s, lookahead_s)
        parts: list[IntArray] = []
        for bucket in self.buckets.values():
            radius = self._bucket_radius(bucket, t, r_obs, min_age_s, max_age_s, lookahead_s)
            if radius is not None:
                parts.extend(self._bucket_slots(bucket, lat, lon, radius))
        if self.anywhere_slots:
            parts.append(np.fromiter(self.anywhere_slots, dtype=np.int64))
        if not parts:
            return Gathered(_EMPTY_I, _EMPTY_F, _EMPTY_F)
        slots = np.concatenate(parts) if len(parts) > 1 else parts[0]
        age = np.abs(t - self.t0[slots])
        if self.anywhere_slots:
            # Anywhere, at any time: as if it had just reported (its reach is the earth).
            age[self.anywhere[slots]] = 0.0
        keep = (age >= min_age_s) & (age <= max_age_s)
        if not keep.all():
            slots = slots[keep]
            age = age[keep]
        dist = haversine_m(lat, lon, self.lat[slots], self.lon[slots])
        # Within its own reach at its greatest age (a slot anywhere: its reach is the earth).
        age_max = np.minimum(np.maximum(age, np.abs(t + lookahead_s - self.t0[slots])), max_age_s)
        near = dist <= self.reach_m(slots, age_max, r_obs) * (1.0 + kernels.REL)
        if not near.all():
            slots, dist, age = slots[near], dist[near], age[near]
        return Gathered(slots, dist, age)

    def _bucket_radius(
        self,
        bucket: Bucket,
        t: float,
        r_obs: float,
        min_age_s: float,
        max_age_s: float,
        lookahead_s: float,
    ) -> float | None:
        """How far from the point the bucket must be read (None: no member's age fits)."""
        if bucket.stale:
            self._refresh(bucket)
        lo = bucket.min_t0
        hi = bucket.max_t0
        min_age = max(0.0, lo - t - lookahead_s, t - hi)
        max_age = max(abs(t + lookahead_s - lo), abs(t - hi), abs(t - lo))
        if min_age > max_age_s or max_age < min_age_s:
            return None
        age_bound = min(max_age, max_age_s)
        # Every member's own bound (gather's, with its slack) is within it.
        return float(_widen(bucket.max_a + bucket.max_v * age_bound + r_obs)) * (1.0 + kernels.REL)

    def reach_m(self, slots: IntArray, age_s: FloatArray, r_obs: float) -> FloatArray:
        """The widened reach of each slot at the given ages (what the exact test compares)."""
        return _widen(self.a[slots] + self.v[slots] * age_s + r_obs)  # type: ignore[return-value]

    def fresh_presence(
        self,
        party: int,
        lat: float,
        lon: float,
        t: float,
        max_age_s: float,
        radius_m: float,
    ) -> bool:
        """Whether ``party`` has any report younger than ``max_age_s`` within ``radius_m``."""
        return presence.fresh(self, party, lat, lon, t, max_age_s, radius_m)


def radius_query(table: AssetTable, lat: float, lon: float, radius_m: float) -> IntArray:
    """Slots whose latest report lies within ``radius_m`` of the point (no time rule)."""
    if table.compiled:
        return compiled.radius_query(table, lat, lon, radius_m)
    parts: list[IntArray] = []
    widened = float(_widen(radius_m))
    for bucket in table.buckets.values():
        parts.extend(table._bucket_slots(bucket, lat, lon, widened))
    if not parts:
        return _EMPTY_I
    slots = np.concatenate(parts) if len(parts) > 1 else parts[0]
    d = haversine_m(lat, lon, table.lat[slots], table.lon[slots])
    hits: IntArray = slots[d <= radius_m]
    return hits
