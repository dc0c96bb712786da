"""Compiled loops of the asset index (numba): one pass over a bucket's members.

:func:`scan` walks one bucket's snapshot (cell keys sorted, members grouped by cell,
each with the placement stamp it was filed under) plus the members that joined since,
and writes out every live member that passes the filter: the age window, then a
latitude-band prefilter, then the exact haversine against the member's own bound. The
pure numpy code in ``assets.py`` is the reference these loops are tested against
(``tests/check/test_kernels.py``).

Nothing here decides anything the reference does not: the cells it enumerates are
exactly :meth:`CellGrid.cells_within`'s (same formula, same libm), and every test only
ever keeps more than the caller's exact test (docs/design/index.md, "Compiled loops").

Without numba (or with ``DECONFLICTION_INDEX_KERNELS=0``) :data:`AVAILABLE` is false
and the index runs the numpy reference alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from deconfliction.domain.geo import ABSOLUTE_SLACK_M, EARTH_RADIUS_M, SPHERE_ERROR

F = TypeVar("F", bound=Callable[..., Any])

_RAD = math.pi / 180.0
_DEG = 180.0 / math.pi
#: A hair of relative slack on every keep test: float rounding of the bound (or of a
#: caller's inverse of it, an arrival time) never drops a member the caller would keep.
REL = 1e-9
#: The latitude-band prefilter's margin in metres: great-circle distance is at least
#: R·|Δφ| exactly; the metre covers any rounding of either side.
_BAND_MARGIN_M = 1.0


def _jit(fn: F) -> F:
    """``njit(cache=True)``; without a writable cache directory, compiled per process."""
    import numba

    try:
        return cast(F, numba.njit(cache=True, nogil=True)(fn))
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return cast(F, numba.njit(cache=False, nogil=True)(fn))


def _enabled() -> bool:
    if os.environ.get("DECONFLICTION_INDEX_KERNELS", "1") == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


AVAILABLE = _enabled()


def _row_of(lat: float, cell_deg: float, n_rows: int) -> int:
    return min(n_rows - 1, int((lat + 90.0) / cell_deg))


def _bound(
    t0: float,
    a: float,
    v: float,
    t: float,
    r_obs: float,
    min_age: float,
    max_age: float,
    lookahead: float,
) -> tuple[bool, float, float]:
    """A member's age window, then its own bound: (in the window, bound, age)."""
    age = abs(t - t0)
    if age < min_age or age > max_age:
        return False, 0.0, age
    # Its greatest age over [t, t + lookahead] (|t' − t0| is convex in t'), capped.
    older = abs(t + lookahead - t0)
    age_max = min(age if age > older else older, max_age)
    reach = (a + v * age_max + r_obs) * (1.0 + SPHERE_ERROR) + ABSOLUTE_SLACK_M
    return True, reach * (1.0 + REL), age


def _near(
    p1: float,
    c1: float,
    qlon: float,
    dlon: float,
    p2: float,
    cos_p2: float,
    lon: float,
    bound: float,
) -> tuple[bool, float]:
    """Whether a member is within ``bound`` of the point, and its distance (exact when
    kept). ``dlon``: the search cap's tangent-meridian half-width in degrees (360:
    none), which holds every member's bound (``AssetTable._bucket_radius``)."""
    dp = p2 - p1
    if abs(dp) * EARTH_RADIUS_M > bound * (1.0 + REL) + _BAND_MARGIN_M:
        return False, 0.0
    dl = lon - qlon
    if dlon < 180.0:
        wrapped = dl - 360.0 if dl > 180.0 else (dl + 360.0 if dl < -180.0 else dl)
        if abs(wrapped) > dlon + 1e-9:
            return False, 0.0
    # deconfliction.domain.geo.haversine_m, operation for operation.
    dl = dl * _RAD
    s1 = math.sin(dp * 0.5)
    s2 = math.sin(dl * 0.5)
    h = s1 * s1 + c1 * cos_p2 * (s2 * s2)
    d = 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))
    return d <= bound, d


def _ranges(
    ncols: Any, cell_deg: float, n_keys: int, qlat: float, qlon: float, radius: float
) -> tuple[bool, int, int, float]:
    """CellGrid.cells_within as rows of column ranges: (whole, row_lo, row_hi, dlon);
    ``whole`` when the disc touches at least as many cells as the bucket has."""
    n_rows = ncols.size
    ang = radius / EARTH_RADIUS_M + 1e-9
    if not ang < math.pi:  # NaN too
        return True, 0, -1, 360.0
    dlat = ang * _DEG
    row_lo = _row_of(max(-90.0, qlat - dlat), cell_deg, n_rows)
    row_hi = _row_of(min(90.0, qlat + dlat), cell_deg, n_rows)
    phi = qlat * _RAD
    dlon = 360.0
    if not abs(phi) + ang >= math.pi / 2 - 1e-12:
        dlon = math.asin(min(1.0, math.sin(ang) / math.cos(phi))) * _DEG
    touched = 0
    for row in range(row_lo, row_hi + 1):
        n = ncols[row]
        if dlon >= 180.0:
            touched += n
        else:
            c_lo = math.floor((qlon - dlon + 180.0) / 360.0 * n)
            c_hi = math.floor((qlon + dlon + 180.0) / 360.0 * n)
            touched += min(n, c_hi - c_lo + 1)
        if touched >= n_keys:
            return True, row_lo, row_hi, dlon
    return False, row_lo, row_hi, dlon


def _scan(
    keys: Any,
    starts: Any,
    members: Any,
    alive: Any,
    data: Any,
    extra: Any,
    estamp: Any,
    stamp: Any,
    cols: Any,
    ncols: Any,
    cell_deg: float,
    max_cols: int,
    qlat: float,
    qlon: float,
    radius: float,
    t: float,
    r_obs: float,
    min_age: float,
    max_age: float,
    lookahead: float,
    exact_r: float,
    out_s: Any,
    out_f: Any,
    n_out: int,
) -> int:
    """One bucket: its snapshot's live entries in the cells ``radius`` can touch (all
    of them when that is at least as many cells as it has), then its overlay (members
    joined since, read from the table's columns, each while it holds its stamp).
    Appends the kept ones (slot; distance and age) to ``out_s`` and ``out_f`` from
    ``n_out``; returns the new length. ``data`` is the snapshot's (``Snapshot.data``),
    ``cols`` the table's (lat, lon, t0, a, v)."""
    radius_only = exact_r >= 0.0  # a radius query: that plain distance, no time rule
    p1 = qlat * _RAD
    c1 = math.cos(p1)
    n_keys = keys.size
    whole, row_lo, row_hi, dlon = _ranges(ncols, cell_deg, n_keys, qlat, qlon, radius)
    if whole:
        row_lo, row_hi = 0, 0
    for row in range(row_lo, row_hi + 1):
        # Up to two key ranges per row (one unless it wraps around the antimeridian).
        if whole:
            i_lo, i_hi, i_lo2, i_hi2 = 0, n_keys, 0, 0
        else:
            n = ncols[row]
            base = row * max_cols
            lo1, hi1, lo2, hi2 = 0, n - 1, 0, -1
            if dlon < 180.0:
                c_lo = math.floor((qlon - dlon + 180.0) / 360.0 * n)
                c_hi = math.floor((qlon + dlon + 180.0) / 360.0 * n)
                if c_hi - c_lo + 1 < n:
                    lo1 = c_lo % n
                    hi1 = c_hi % n
                    if lo1 > hi1:  # [lo1, n - 1] and [0, hi1]
                        lo2, hi2 = 0, hi1
                        hi1 = n - 1
            i_lo = int(np.searchsorted(keys, base + lo1))
            i_hi = int(np.searchsorted(keys, base + hi1, side="right"))
            i_lo2 = int(np.searchsorted(keys, base + lo2))
            i_hi2 = int(np.searchsorted(keys, base + hi2, side="right")) if hi2 >= lo2 else i_lo2
        for part in range(2):
            j_lo = starts[i_lo] if part == 0 else starts[i_lo2]
            j_hi = starts[i_hi] if part == 0 else starts[i_hi2]
            for j in range(j_lo, j_hi):
                if not alive[j]:
                    continue
                # A radius query reads only the position rows (no age, no reach).
                bound, age = exact_r, 0.0
                if not radius_only:
                    ok, bound, age = _bound(
                        data[3, j], data[4, j], data[5, j], t, r_obs, min_age, max_age,
                        lookahead,
                    )  # fmt: skip
                    if not ok:
                        continue
                keep, d = _near(p1, c1, qlon, dlon, data[0, j], data[1, j], data[2, j], bound)
                if keep:
                    out_s[n_out] = members[j]
                    out_f[0, n_out] = d
                    out_f[1, n_out] = age
                    n_out += 1
    for j in range(extra.size):
        s = extra[j]
        if estamp[j] != stamp[s]:
            continue
        bound, age = exact_r, 0.0
        if not radius_only:
            ok, bound, age = _bound(
                cols[2, s], cols[3, s], cols[4, s], t, r_obs, min_age, max_age, lookahead
            )
            if not ok:
                continue
        p2 = cols[0, s] * _RAD
        keep, d = _near(p1, c1, qlon, dlon, p2, math.cos(p2), cols[1, s], bound)
        if keep:
            out_s[n_out] = s
            out_f[0, n_out] = d
            out_f[1, n_out] = age
            n_out += 1
    return n_out


if AVAILABLE:
    _row_of = _jit(_row_of)
    _bound = _jit(_bound)
    _near = _jit(_near)
    _ranges = _jit(_ranges)
    scan = _jit(_scan)
else:
    scan = _scan
