"""What is likely at the point: the key that orders a ``HOLD``'s listed matches within
equal feature agreement (docs/design/check.md, "The order of the listed matches").

The key is an *inverse density*: the smaller it is, the more of the candidate's
probability lies at the point. An asset whose maximum speed is known but whose actual
speed (uniform up to the maximum) and heading are not is spread over the disc of its
reach ``R`` with a 2-D density ``1 / (2π · R · r)`` at distance ``r`` from its last
report. Distances under ``b``, the report's and the observer's 99 % radii together,
cannot be told apart, so ``r`` is blurred to ``hypot(d, b)``; a fresh report (``R``
about ``b``) is then about the uniform disc ``1 / (π R²)``. The key is
``R · hypot(d, b)``: it grows strictly with the reach and with the distance, so a
stale asset with a 300 km reach cannot outrank a fresh one 20 m away. A visible area or
planned movement is a thing known only to be somewhere in its shape: the uniform disc
that holds it, ``(circumradius + margin + r_obs)²``, on the same scale.

Only what the asker may see is ever scored: withheld entries keep their fixed place.
"""

from __future__ import annotations

import numpy as np

from deconfliction.check.index.shapes import Shape
from deconfliction.domain.geo import FloatArray

#: The least blur: an exact report seen by an exact observer still has a positive key,
#: so the reach orders two candidates at the very point.
MIN_BLUR_M = 1.0


def asset_keys(reach_m: FloatArray, dist_m: FloatArray, blur_m: FloatArray) -> FloatArray:
    """Per matching asset, vectorised: reach × distance, the distance blurred by the
    report's plus the observer's 99 % radius."""
    return reach_m * np.hypot(dist_m, np.maximum(blur_m, MIN_BLUR_M))


def shape_key(shape: Shape, r_obs: float) -> float:
    """A matching area or movement: the uniform disc around its centre that holds it
    (infinite for a shape too large to have one: it sorts after every asset)."""
    radius = shape.circumradius_m + shape.margin_m + r_obs
    return radius * radius
