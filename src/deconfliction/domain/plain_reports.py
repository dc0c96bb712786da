"""How far an unauthenticated (plain-port) position report may widen where an asset could be.

A plain report is a hint from a sender nobody vouches for. It never moves an asset; it only
widens the asset's reach so that a check finds it there too (the safe side). Unbounded, one
forged datagram could widen an asset over the globe and turn every check anywhere into HOLD
(issue 15, finding 10). Two bounds keep a hint a hint (docs/design/security.md, "TAK uids and
plain-port reports"):

* its own error: a CEP above :data:`PLAIN_MAX_CEP_M` says too little to place anything and is
  treated as no position;
* the widening: measured from the last *authenticated* report's reach (never from an earlier
  plain report's, so hints cannot be chained), at most :data:`PLAIN_MAX_WIDENING_M` — what a
  report at the edge of the reach with the largest plausible error would add. A plain report
  farther out contradicts the authenticated position and the type's top speed, and is refused.
"""

from __future__ import annotations

from enum import Enum

from deconfliction.domain import geo

#: The largest CEP a plain report may carry (about ce 1,700 m). A GNSS fix is metres to tens
#: of metres, a coarse legacy or cell fix hundreds; a 1 km MGRS square's half-diagonal is
#: 707 m. Wider says too little to locate an asset and only spreads HOLD.
PLAIN_MAX_CEP_M = 2_000.0
#: The most a plain report may widen an asset's reach beyond its authenticated reach: the
#: 99 % radius of :data:`PLAIN_MAX_CEP_M` (5,160 m).
PLAIN_MAX_WIDENING_M = geo.r99(PLAIN_MAX_CEP_M)


class PlainEffect(Enum):
    """What a plain report would do to an asset's reach."""

    #: The asset has no position yet: the plain report places it.
    PLACES = "places"
    #: It widens the reach (within the bound).
    WIDENS = "widens"
    #: Nothing: older than the authenticated report, or already within the reach.
    NO_CHANGE = "no_change"
    #: Beyond the bound: refused.
    IMPLAUSIBLE = "implausible"


def plain_cep_plausible(cep_m: float) -> bool:
    """Whether a plain report's own error is small enough to say where an asset is."""
    return cep_m <= PLAIN_MAX_CEP_M


def widening_effect(need_m: float, current_m: float, base_m: float, capped: bool) -> PlainEffect:
    """The effect of a plain report that needs accuracy ``need_m`` (``d + r99 − v·Δt``) on
    an asset whose reach is now ``current_m`` and was ``base_m`` at its last authenticated
    report; ``capped`` is false when no authenticated report placed the asset (nothing
    contradicts the hint, so only its own error is bounded)."""
    if need_m <= current_m:
        return PlainEffect.NO_CHANGE
    if capped and need_m - base_m > PLAIN_MAX_WIDENING_M:
        return PlainEffect.IMPLAUSIBLE
    return PlainEffect.WIDENS
