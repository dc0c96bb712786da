"""Matching: which registered things could be at the observed point at the time, and
the verdict — ``HOLD`` when anything could, else ``NO_KNOWN_MATCH``.

Assets within reach of their last report, areas, planned movements and protected sites
are matched exactly here; what the asker may not see is matched on the lattice
(``withheld``), and what the check cannot vouch for becomes a coverage gap (``gaps``).
Semantics: docs/design/check.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deconfliction.check import answer, gaps, likely, withheld
from deconfliction.check.evaluation import ARRIVAL_LOOKAHEADS, Evaluation
from deconfliction.check.index.buckets import Gathered
from deconfliction.check.index.shapes import Shape
from deconfliction.domain import geo
from deconfliction.domain.features import NOT_COMPARED
from deconfliction.domain.result import CheckResult, Verdict


def evaluate(ev: Evaluation) -> CheckResult:
    """Run every pass over ``ev``, then decide the verdict and word the answer."""
    near = _gather(ev)
    _assets(ev, near)
    withheld.match_assets(ev, near)
    _shapes(ev)
    gaps.past_horizon(ev)
    gaps.withheld_past_horizon(ev)
    entries: list[tuple[int, int, float, str, Any]] = list(ev.found)
    # Withheld entries: a fixed place and the party id, nothing of their geometry.
    for party_id in sorted(ev.withheld):
        entries.append((1, 0, 0.0, party_id, ("withheld", party_id)))
    entries.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
    # Assets beyond the best max_matches were counted, not queued.
    listed_assets = sum(1 for entry in entries if entry[4][0] == "asset")
    total = len(entries) - listed_assets + ev.asset_total
    verdict: Verdict = "HOLD" if total else "NO_KNOWN_MATCH"
    return answer.result(ev, verdict, entries[: ev.view.settings.max_matches], total)


# assets by reach -----------------------------------------------------------------------


def _gather(ev: Evaluation) -> Gathered:
    """One pass over the index for both asset passes: a superset of what the exact pass
    needs (reach of the point at [t, t + 60 s]) and of what the lattice pass needs (reach
    of the cell's centre, within a half diagonal of the point, with its rounded radius,
    over its time bucket; the report's own bucket adds one step to the greatest age, so
    the window is two steps from the bucket's start and the ages two steps past the
    horizon). Distances are from the point; ages from the bucket's start, so the exact
    pass takes its own."""
    table = ev.view.assets
    if not ev.any_withheld_asset:  # the exact pass alone
        return table.gather(
            ev.lat,
            ev.lon,
            ev.t,
            ev.r_obs,
            max_age_s=ev.horizon,
            lookahead_s=ARRIVAL_LOOKAHEADS[0],
        )
    step = ev.lattice.step_s
    return table.gather(
        ev.lat,
        ev.lon,
        ev.tb,
        max(ev.r_obs, withheld.lattice_radius(ev) + ev.hd),
        max_age_s=ev.horizon + 2 * step,
        lookahead_s=max(2 * step, step + ARRIVAL_LOOKAHEADS[0]),
    )


def _assets(ev: Evaluation, near: Gathered) -> None:
    table = ev.view.assets
    age = np.abs(ev.t - table.t0[near.slots])
    if len(table.anywhere_slots):
        age[table.anywhere[near.slots]] = 0.0  # as ``gather``: anywhere, at any time
    within = age <= ev.horizon
    slots, dist, age = near.slots[within], near.dist_m[within], age[within]
    reach = table.reach_m(slots, age, ev.r_obs)
    exact = dist <= reach
    # The owners of every exact match are told (hold_on_your_asset), withheld or not.
    if exact.any():
        ev.matched_slots = slots[exact]  # their ids only when the answer is made
    # What the asker may not see is matched on the lattice (withheld.match_assets).
    vis = ev.vis(slots)
    hit = exact & vis
    miss = ~exact & vis
    _arrivals(ev, slots[miss], dist[miss], ARRIVAL_LOOKAHEADS[0])
    m_slots = slots[hit]
    m_dist = dist[hit]
    m_age = age[hit]
    m_key = likely.asset_keys(reach[hit], m_dist, table.a[m_slots] + ev.r_obs)
    t0 = table.t0[m_slots]
    # A match stops being one when its report passes the horizon (one placed anywhere
    # never does).
    if len(m_slots):
        ends = t0[(t0 <= ev.t) & ~table.anywhere[m_slots]] + ev.horizon
        if ends.size:
            ev.soonest(float(ends.min()))
    else:
        return
    ids = table.ids
    tcodes = table.type_code[m_slots]
    # Few distinct types per check: a dict beats np.unique on arrays this small.
    score_of: dict[int, int] = {}
    score_list = []
    for code in tcodes.tolist():
        score = score_of.get(code)
        if score is None:
            score = score_of[code] = ev.comparison(code).score
        score_list.append(score)
    scores = np.asarray(score_list)
    # Only the best max_matches assets can be listed: order them here (by feature
    # agreement, then by what is likely at the point), word them later.
    order = np.lexsort((m_key, -scores))
    ev.asset_total = len(order)
    top = order[: ev.view.settings.max_matches]
    top_slots = m_slots[top]
    for slot, score, key, d, a, t0_i, tc, pc, v in zip(
        top_slots.tolist(),
        scores[top].tolist(),
        m_key[top].tolist(),
        m_dist[top].tolist(),
        m_age[top].tolist(),
        t0[top].tolist(),
        tcodes[top].tolist(),
        table.party[top_slots].tolist(),
        table.v[top_slots].tolist(),
        strict=True,
    ):
        ev.found.append((2, -score, key, ids[slot] or "", ("asset", slot, d, a, t0_i, tc, pc, v)))


def _arrivals(ev: Evaluation, slots: Any, dist: Any, searched_s: float) -> None:
    """The earliest time a non-matching asset could come within reach."""
    table = ev.view.assets
    best = _arrival_times(ev, slots, dist)
    if best is not None and best <= ev.t + searched_s:
        ev.soonest(best)
        return
    for lookahead in (*ARRIVAL_LOOKAHEADS[1:], ev.horizon):
        if ev.t + searched_s >= ev.changes_at:
            return
        g = table.gather(
            ev.lat,
            ev.lon,
            ev.t,
            ev.r_obs,
            max_age_s=ev.horizon,
            lookahead_s=lookahead,
        )
        miss = (g.dist_m > table.reach_m(g.slots, g.age_s, ev.r_obs)) & ev.vis(g.slots)
        best = _arrival_times(ev, g.slots[miss], g.dist_m[miss])
        if best is not None and best <= ev.t + lookahead:
            ev.soonest(best)
            return
        searched_s = lookahead
    ev.soonest(ev.t + searched_s)


def _arrival_times(ev: Evaluation, slots: Any, dist: Any) -> float | None:
    if len(slots) == 0:
        return None
    table = ev.view.assets
    v = table.v[slots]
    need = (dist - geo.ABSOLUTE_SLACK_M) / (1 + geo.SPHERE_ERROR) - table.a[slots] - ev.r_obs
    with np.errstate(divide="ignore", invalid="ignore"):
        when = table.t0[slots] + need / v
    ok = (v > 0) & (when > ev.t) & (when <= table.t0[slots] + ev.horizon)
    if not ok.any():
        return None
    return float(when[ok].min())


# areas, movements, sites, AORs ---------------------------------------------------------


def _shapes(ev: Evaluation) -> None:
    operating_parties: set[int] = set()
    for shape, d in ev.view.shapes.near(ev.lat, ev.lon, ev.r_obs):
        if shape.kind == "aor":
            continue  # whose units operate here: on the lattice (withheld.match_shapes)
        if not ev.visible(*ev.shape_rel(shape)):
            _owner_of_withheld_movement(ev, shape)
            continue
        start, end = shape.start, shape.end
        if shape.kind == "movement":
            slot = ev.view.assets.slot_of.get(shape.payload.asset_id)
            v = float(ev.view.assets.v[slot]) if slot is not None else 0.0
            widen = (shape.margin_m + ev.r_obs) / v if v > 0 else 0.0
            start, end = start - widen, end + widen
        if ev.t < start:
            ev.soonest(start)
            continue
        if ev.t > end:
            continue
        ev.soonest(end)
        if shape.kind == "area":
            operating_parties.add(shape.party)
        _shape_match(ev, shape, d, start, end)
    withheld.match_shapes(ev, operating_parties)
    gaps.presence_gaps(ev, operating_parties)


def _owner_of_withheld_movement(ev: Evaluation, shape: Shape) -> None:
    """A withheld movement matched exactly: its owner is still told."""
    if shape.kind != "movement":
        return
    slot = ev.view.assets.slot_of.get(shape.payload.asset_id)
    if slot is None:
        return
    v = float(ev.view.assets.v[slot])
    widen = (shape.margin_m + ev.r_obs) / v if v > 0 else 0.0
    if shape.start - widen <= ev.t <= shape.end + widen:
        ev.matched_assets.append(shape.payload.asset_id)


def _shape_match(ev: Evaluation, shape: Shape, d: float, start: float, end: float) -> None:
    if shape.kind == "movement":
        slot = ev.view.assets.slot_of.get(shape.payload.asset_id)
        if slot is not None:
            ev.matched_assets.append(shape.payload.asset_id)
    protected = shape.kind == "site" or (shape.kind == "area" and shape.payload.kind == "protected")
    comparison = NOT_COMPARED
    if shape.kind == "movement":
        slot = ev.view.assets.slot_of.get(shape.payload.asset_id)
        if slot is not None:
            comparison = ev.comparison(int(ev.view.assets.type_code[slot]))
    # Protected things first, nearest first; the rest among the assets, by what is likely.
    group, key = (0, d) if protected else (2, likely.shape_key(shape, ev.r_obs))
    ev.found.append(
        (group, -comparison.score, key, shape.id, ("shape", shape, d, start, end, comparison))
    )
