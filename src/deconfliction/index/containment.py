"""Which polygons of one kind contain each of many points, in one call.

The unannounced-entry detection asks, for every authenticated report, which AORs
contain it: with 100,000 AORs, one grid query and distance test per report was most of
a report batch's cost. An R-tree (shapely's ``STRtree``) over the kind's polygons answers
a whole batch in one vectorised query; it is rebuilt when the kind changed (its version
in the ``ShapeIndex``), which AORs rarely do.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

from deconfliction.index.shapes import Shape, ShapeIndex


class Containment:
    """Point-in-polygon for a batch of points against every shape of ``kind``."""

    def __init__(self, shapes: ShapeIndex, kind: str) -> None:
        self.index = shapes
        self._kind = kind
        self._version = -1
        self._shapes: list[Shape] = []
        self._tree: shapely.STRtree | None = None
        self._start = np.zeros(0)
        self._end = np.zeros(0)

    def _fresh(self) -> None:
        version = self.index.versions.get(self._kind, 0)
        if version == self._version:
            return
        shapes = [s for s in self.index.shapes(self._kind) if s.geom is not None]
        self._shapes = shapes
        self._tree = shapely.STRtree([s.geom for s in shapes]) if shapes else None
        self._start = np.array([s.start for s in shapes], dtype=float)
        self._end = np.array([s.end for s in shapes], dtype=float)
        self._version = version

    def containing(
        self,
        lats: npt.NDArray[np.float64],
        lons: npt.NDArray[np.float64],
        times: npt.NDArray[np.float64],
    ) -> list[list[Shape]]:
        """For each point, the shapes that contain it (boundary included) and whose
        window holds its time."""
        self._fresh()
        out: list[list[Shape]] = [[] for _ in range(len(lats))]
        if self._tree is None or len(lats) == 0:
            return out
        points = shapely.points(lons, lats)
        point_idx, shape_idx = self._tree.query(points, predicate="intersects")
        t = times[point_idx]
        ok = (self._start[shape_idx] <= t) & (t <= self._end[shape_idx])
        for p, s in zip(point_idx[ok].tolist(), shape_idx[ok].tolist(), strict=True):
            out[p].append(self._shapes[s])
        return out
