"""One time bucket of the asset index: its cells, its bounds, and a compiled-friendly copy.

The cells (a dict of cell key → set of slots) are what writes change, in O(1). Reads by
the compiled loops use a *snapshot*: every member in one array grouped by cell, the
sorted cell keys, and a copy of what the loop reads of each member (latitude in radians
and its cosine, longitude, report time, ``a``, ``v``), so that a read streams through
memory instead of jumping between a million-row table's columns. The snapshot is not
rebuilt when the bucket changes:

* a member that leaves, or whose report changes, has its entry marked dead (the table
  keeps each slot's position in its bucket's snapshot), in O(1);
* a member that joins (or reports again) is appended to a short *overlay* (slot and
  placement stamp; an entry counts while the slot still holds that stamp), which the
  loop reads whole, from the table's columns, after the snapshot's cells.

So a read never pays for a rebuild while the overlay stays short and fewer than half the
snapshot's entries are dead. Past that, the bucket is rebuilt at its next read if no
member joined since the previous read (the rebuild is paid once per many writes, about
``n/8`` for a bucket of ``n``); a bucket that keeps changing between reads is read the
reference way instead, by its cells' sets (docs/design/index.md, "Compiled loops").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_EMPTY_I = np.empty(0, dtype=np.int64)
_RAD = math.pi / 180.0
#: Joined members read from the overlay before a rebuild is due: a few thousand at
#: most, so a bucket that gains many members is rebuilt (or read by cells) instead.
_OVERLAY_BASE = 256
_OVERLAY_MAX = 4096


@dataclass(slots=True, frozen=True)
class Snapshot:
    """A bucket's members grouped by cell: the members of ``keys[i]`` are
    ``members[starts[i]:starts[i + 1]]``; ``alive`` and the rows of ``data`` (latitude in
    radians, its cosine, longitude, t0, a, v) are per member, in that order."""

    keys: IntArray
    starts: IntArray
    members: IntArray
    alive: npt.NDArray[np.bool_]
    data: npt.NDArray[np.float64]


class Columns(Protocol):
    """What a snapshot copies from the table (``AssetTable``'s per-slot columns)."""

    cols: npt.NDArray[np.float64]  # lat, lon, t0, a, v
    lat: FloatArray
    snap_pos: IntArray


@dataclass(slots=True)
class Bucket:
    cells: dict[int, set[int]] = field(default_factory=dict)
    # The members of a cell as an array, built on first read, dropped on change.
    arrays: dict[int, IntArray] = field(default_factory=dict)
    # Every member as one array, for a read of the whole bucket (an old report's reach
    # spans more cells than the bucket has): built on first read, dropped on change.
    whole: IntArray | None = None
    count: int = 0
    max_a: float = 0.0
    max_v: float = 0.0
    # How many members hold max_a and max_v: when the last of them leaves, the bounds
    # are recomputed from the members (``stale``), so they shrink with their members.
    at_max_a: int = 0
    at_max_v: int = 0
    stale: bool = False
    # Report times of members ever placed here (only widen, so they stay bounds; the
    # bucket's width bounds them anyway).
    min_t0: float = math.inf
    max_t0: float = -math.inf
    # The compiled loops' copy (None: build at a read), and what changed since it.
    snap: Snapshot | None = None
    joined: list[int] = field(default_factory=list)
    jstamps: list[int] = field(default_factory=list)
    overlay: tuple[IntArray, IntArray] | None = None
    left: int = 0
    # A member joined since the last read.
    hot: bool = False

    def changed(self, ckey: int) -> None:
        """A member joined or left cell ``ckey``: its cached arrays are out of date."""
        self.arrays.pop(ckey, None)
        self.whole = None

    def join(self, slot: int, stamp: int) -> None:
        """``slot`` was filed here (or reported again) under placement ``stamp``."""
        self.hot = True
        if self.snap is not None:
            self.joined.append(slot)
            self.jstamps.append(stamp)
            self.overlay = None

    def forget(self, pos: int) -> None:
        """A member left or reported again: its snapshot entry (at ``pos``, or -1 for
        none) no longer counts."""
        if pos >= 0 and self.snap is not None:
            self.snap.alive[pos] = False
            self.left += 1

    def hold_a(self, a: float, n: int = 1) -> None:
        if a > self.max_a:
            self.max_a, self.at_max_a = a, n
        elif a == self.max_a:
            self.at_max_a += n

    def hold_v(self, v: float, n: int = 1) -> None:
        if v > self.max_v:
            self.max_v, self.at_max_v = v, n
        elif v == self.max_v:
            self.at_max_v += n

    # -- the compiled loops' view -----------------------------------------------------

    def source(self, table: Columns) -> Snapshot | None:
        """The snapshot to read (rebuilt first if due), or None: read the cells."""
        hot, self.hot = self.hot, False
        snap = self.snap
        if snap is not None:
            n = len(snap.members)
            if len(self.joined) <= _OVERLAY_BASE + min(n // 8, _OVERLAY_MAX) and 2 * self.left <= n:
                return snap
        if hot:
            return None
        return self.build(table)

    def build(self, table: Columns) -> Snapshot:
        """The snapshot of the members now (cells in key order); sets their positions."""
        cells = self.cells
        keys = sorted(cells)
        sizes = np.fromiter((len(cells[k]) for k in keys), dtype=np.int64, count=len(keys))
        starts = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        members = np.fromiter(
            itertools.chain.from_iterable(cells[k] for k in keys), dtype=np.int64, count=self.count
        )
        data = np.empty((6, len(members)), dtype=np.float64)
        data[0] = table.lat[members] * _RAD  # np.radians, as geo.haversine_m
        np.cos(data[0], out=data[1])
        np.take(table.cols[1:], members, axis=1, out=data[2:])  # lon, t0, a, v
        snap = Snapshot(
            np.asarray(keys, dtype=np.int64),
            starts,
            members,
            np.ones(len(members), dtype=bool),
            data,
        )
        table.snap_pos[members] = np.arange(len(members))
        self.snap = snap
        self.joined.clear()
        self.jstamps.clear()
        self.overlay = None
        self.left = 0
        return snap

    def overlay_arrays(self) -> tuple[IntArray, IntArray]:
        """Members joined since the snapshot, and their stamps."""
        if self.overlay is None:
            if self.joined:
                self.overlay = (
                    np.asarray(self.joined, dtype=np.int64),
                    np.asarray(self.jstamps, dtype=np.int64),
                )
            else:
                self.overlay = (_EMPTY_I, _EMPTY_I)
        return self.overlay


@dataclass(slots=True)
class Gathered:
    """Slots gathered near a point, with their distance and report age at ``t``."""

    slots: IntArray
    dist_m: FloatArray
    age_s: FloatArray
