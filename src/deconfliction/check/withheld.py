"""Withheld matching: what the asker may not see in detail, matched on the coarse lattice.

A check near something withheld must still say ``HOLD``, but only its party is named,
and the answer depends on the asker's inputs only through (cell, rounded radius, time
bucket), so repeated checks cannot find its edge (domain/coarse.py). Every rounding
only widens: every exact match is a coarse one, and ``valid_until`` is never later
than the exact answer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deconfliction.check.evaluation import ARRIVAL_LOOKAHEADS, Evaluation
from deconfliction.check.index.buckets import Gathered
from deconfliction.domain import geo


@dataclass(slots=True)
class Coarse:
    """Withheld slots as the lattice sees them, at the check's time bucket: the least and
    greatest age over the bucket, the distance between the two cells' centres, the
    rounded-up reach, and the report's time bucket. Read from the coarse inputs only
    (``coarse_inputs``): an answer that depends on nothing finer cannot reveal it."""

    age_min: Any
    age_max: Any
    d: Any
    reach_q: Any
    t0_lo: Any
    a_q: Any
    v_q: Any


def coarse_inputs(ev: Evaluation, slots: Any) -> Coarse:
    """A withheld asset's inputs, and all the lattice reads of it: the centre of its report's
    cell, its accuracy rounded up to whole cells, its report time as its bucket, and its
    maximum speed (a registered attribute of its type or of the asset, not of where it
    was). The reach is computed per check time bucket from them, never frozen at write
    time (it grows with the age)."""
    table = ev.view.assets
    lattice = ev.lattice
    lo, hi = lattice.report_interval(table.t0[slots])
    age_min, age_max = lattice.interval_ages(ev.tb, lo, hi)
    c0lat, c0lon = lattice.centres(table.lat[slots], table.lon[slots])
    a_q = lattice.up(table.a[slots])
    v_q = table.v[slots]
    return Coarse(
        age_min=age_min,
        age_max=age_max,
        d=geo.haversine_m(ev.clat, ev.clon, c0lat, c0lon),
        reach_q=lattice.up(a_q + v_q * age_max),
        t0_lo=lo,
        a_q=a_q,
        v_q=v_q,
    )


def _coarse(ev: Evaluation, slots: Any) -> tuple[Any, Coarse]:
    """For withheld slots: whether each matches on the lattice, and its coarse view. Every
    exact match is a coarse one (domain/coarse.py)."""
    c = coarse_inputs(ev, slots)
    hit = (c.age_min <= ev.horizon) & (c.d <= geo.widen(c.reach_q + ev.r_obs_q + 2 * ev.hd))
    # Anywhere (out-of-range report): at any time, whatever its report time says.
    hit |= ev.view.assets.anywhere[slots]
    return hit, c


def _surely_exact(ev: Evaluation, slots: Any, c: Coarse) -> Any:
    """Withheld slots that surely match exactly too, from the coarse inputs' lower bounds
    (accuracy and observer radius less one rounding step; the least age)."""
    cell = ev.lattice.cell_m
    reach_low = c.a_q - cell + c.v_q * c.age_min + ev.r_obs_q - cell
    return (c.d + 2 * ev.hd <= reach_low) | ev.view.assets.anywhere[slots]


def _coarse_arrival(ev: Evaluation, c: Coarse) -> float | None:
    """The start of the earliest bucket in which a withheld slot could match on the
    lattice (never later than its exact arrival): from the start of its report's bucket,
    with its rounded-up accuracy."""
    if len(c.d) == 0:
        return None
    lattice = ev.lattice
    need = (
        (c.d - geo.ABSOLUTE_SLACK_M) / (1 + geo.SPHERE_ERROR)
        - ev.r_obs_q
        - 2 * ev.hd
        - lattice.cell_m
        - c.a_q
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        # In reach from its report on (need ≤ 0): from the start of its report's bucket.
        when = c.t0_lo + np.maximum(need, 0.0) / c.v_q - lattice.step_s
    ok = (c.v_q > 0) & (when - c.t0_lo <= ev.horizon)
    if not ok.any():
        return None
    return float(when[ok].min())


def _subset(c: Coarse, keep: Any) -> Coarse:
    return Coarse(*(getattr(c, name)[keep] for name in Coarse.__slots__))


def lattice_radius(ev: Evaluation) -> float:
    """What the lattice adds to a reach around the cell's centre (``gather``'s radius): the
    rounded observer radius, the two cells' half diagonals and one more, and two rounding
    steps (the accuracy's, then the reach's)."""
    return ev.r_obs_q + 3 * ev.hd + 2 * ev.lattice.cell_m


def match_assets(ev: Evaluation, near: Gathered) -> None:
    """Withheld assets within reach on the lattice: counted per party; the earliest
    change of the answer they could cause, rounded down to its bucket. ``near``: a
    superset of the lattice's first search (``matching._gather``)."""
    if not ev.any_withheld_asset:
        return
    table = ev.view.assets
    lattice = ev.lattice
    step = lattice.step_s
    extra = lattice_radius(ev)
    searched = ARRIVAL_LOOKAHEADS[0]
    slots = near.slots[~ev.vis(near.slots)]
    hit, c = _coarse(ev, slots)
    if hit.any():
        values = ev.view.party_codes.values
        for code in table.party[slots[hit]].tolist():
            pid = values[code]
            ev.withheld[pid] = ev.withheld.get(pid, 0) + 1
        # A match stops being one when its report passes the horizon (one placed
        # anywhere never does): at the earliest, from the start of its report's bucket.
        ageing = c.t0_lo[hit & ~table.anywhere[slots]]
        if ageing.size:
            ev.soonest_withheld(float(ageing.min()) + ev.horizon)
        # The exact answer might not match yet (the lattice only widens): its change,
        # an arrival, is no earlier than the lattice's bound — so valid_until is never
        # later than the exact answer's.
        hits = _subset(c, hit)
        unsure = ~_surely_exact(ev, slots[hit], hits)
        if unsure.any():
            early = _coarse_arrival(ev, _subset(hits, unsure))
            if early is not None:
                ev.soonest_withheld(early)
    best = _coarse_arrival(ev, _subset(c, ~hit))
    for lookahead in (*ARRIVAL_LOOKAHEADS[1:], ev.horizon):
        if best is not None and best <= ev.tb + searched:
            break
        if ev.tb + searched >= ev.changes_at:
            return
        g = table.gather(
            ev.clat,
            ev.clon,
            ev.tb,
            extra,
            max_age_s=ev.horizon + 2 * step,
            lookahead_s=2 * step + lookahead,
        )
        slots = g.slots[~ev.vis(g.slots)]
        hit, c = _coarse(ev, slots)
        found = _coarse_arrival(ev, _subset(c, ~hit))
        if found is not None and (best is None or found < best):
            best = found
        searched = lookahead
    if best is not None:
        ev.soonest_withheld(best)


def match_shapes(ev: Evaluation, operating: set[int]) -> None:
    """Withheld areas, movements and sites, and other parties' AORs, on the lattice:
    within the rounded radius plus a half diagonal of the cell's centre (so the match
    only widens, and depends on the cell, not the point), the window over the whole
    time bucket. Adds the parties operating here to ``operating``."""
    if not ev.any_withheld_shape:
        return
    step = ev.lattice.step_s
    for shape in ev.view.near_cell(ev.clat, ev.clon, ev.r_obs_q + ev.hd):
        if shape.kind == "aor":
            if shape.party == ev.asker_code:
                continue
        elif ev.visible(*ev.shape_rel(shape)):
            continue
        start, end = shape.start, shape.end
        if shape.kind == "movement":
            slot = ev.view.assets.slot_of.get(shape.payload.asset_id)
            v = float(ev.view.assets.v[slot]) if slot is not None else 0.0
            widen = (shape.margin_m + ev.r_obs_q + ev.hd) / v if v > 0 else 0.0
            start, end = start - widen, end + widen
        if end < ev.tb:
            continue
        if start > ev.tb + step:
            ev.soonest_withheld(start)
            continue
        # Never later than the exact answer's change: the window as registered ends no
        # later than its exact widening, and an exact start still to come is no earlier
        # than the lattice's.
        ev.soonest_withheld(shape.end)
        if shape.start > ev.t:
            ev.soonest_withheld(start)
        if shape.kind in ("aor", "area"):
            operating.add(shape.party)
        if shape.kind != "aor":
            pid = ev.view.party_codes.values[shape.party] or "unknown"
            ev.withheld[pid] = ev.withheld.get(pid, 0) + 1
