"""Coverage gaps: where the check cannot vouch for its answer.

A party operates here (its area or a unit's AOR matched) but none of its assets has a
fresh report nearby; or an asset has been silent past the horizon and could be here
(an operating area of its that covers the time stands for it instead). Withheld assets
past the horizon are found on the lattice and name their party only.
"""

from __future__ import annotations

from deconfliction.check import answer, withheld
from deconfliction.check.evaluation import Evaluation
from deconfliction.domain import geo


def presence_gaps(ev: Evaluation, operating: set[int]) -> None:
    """For each other party operating here: a gap when it has no fresh report near."""
    view = ev.view
    for code in sorted(operating):
        party_id = view.party_codes.values[code]
        if party_id == ev.asker or not party_id:
            continue
        # Another party's presence, at the cell's centre (its AOR was matched there).
        if not view.assets.fresh_presence(
            code, ev.clat, ev.clon, ev.t, ev.fresh, view.settings.gap_radius_m
        ):
            ev.gaps.append(answer.presence_gap(ev, party_id))


def past_horizon(ev: Evaluation) -> None:
    """Visible assets silent past the horizon whose reach covers the point."""
    view = ev.view
    table = view.assets
    g = table.gather(ev.lat, ev.lon, ev.t, ev.r_obs, min_age_s=ev.horizon)
    if len(g.slots) == 0:
        return
    within = (g.dist_m <= table.reach_m(g.slots, g.age_s, ev.r_obs)) & ev.vis(g.slots)
    for slot, age in zip(g.slots[within].tolist(), g.age_s[within].tolist(), strict=True):
        asset_id = table.ids[slot]
        assert asset_id is not None
        if _area_stands_for(ev, asset_id, ev.t, ev.t):
            continue
        party_id = view.party_codes.values[int(table.party[slot])]
        ev.gaps.append(answer.silent_asset_gap(ev, party_id, slot, age))


def withheld_past_horizon(ev: Evaluation) -> None:
    """Withheld assets past the horizon, on the lattice: the gap names the party only."""
    if not ev.any_withheld_asset:
        return
    view = ev.view
    table = view.assets
    lattice = ev.lattice
    step = lattice.step_s
    g = table.gather(
        ev.clat,
        ev.clon,
        ev.tb,
        withheld.lattice_radius(ev),
        # Two steps: the report's own bucket may add one to its greatest age.
        min_age_s=max(0.0, ev.horizon - 2 * step),
        lookahead_s=2 * step,
    )
    slots = g.slots[~ev.vis(g.slots)]
    if len(slots) == 0:
        return
    c = withheld.coarse_inputs(ev, slots)
    within = (c.age_max >= ev.horizon) & (c.d <= geo.widen(c.reach_q + ev.r_obs_q + 2 * ev.hd))
    for slot in slots[within].tolist():
        asset_id = table.ids[slot]
        assert asset_id is not None
        # The area must stand for it over the whole bucket: its window is withheld too.
        if _area_stands_for(ev, asset_id, ev.tb, ev.tb + step):
            continue
        party_id = view.party_codes.values[int(table.party[slot])]
        ev.gaps.append(answer.silent_withheld_gap(ev, party_id))


def _area_stands_for(ev: Evaluation, asset_id: str, start: float, end: float) -> bool:
    """Whether an operating area of the asset covers [start, end]."""
    view = ev.view
    for area_id in view.areas_of_asset.get(asset_id, ()):
        area = view.areas.get(area_id)
        if area is None or area.kind != "operating":
            continue
        if area.start <= start <= end <= area.end:
            return True
    return False
