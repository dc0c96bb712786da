"""The batch point-in-AOR query equals the grid's one-point query, and follows changes."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import shapely

from deconfliction.check.index.containment import Containment
from deconfliction.check.index.shapes import ShapeIndex, geometry_shape

pytestmark = pytest.mark.unit


def _one_by_one(index: ShapeIndex, lat: float, lon: float, t: float) -> set[str]:
    return {
        shape.id
        for shape, d in index.near(lat, lon, 0.0)
        if shape.kind == "aor" and d <= 0.0 and shape.start <= t <= shape.end
    }


def test_batch_containment_equals_the_one_point_query_and_follows_changes() -> None:
    rng = random.Random(7)
    index = ShapeIndex()
    for i in range(400):
        lon, lat = rng.uniform(-179.5, 179.5), rng.uniform(-80, 80)
        half = rng.uniform(0.01, 0.5)
        geom = shapely.box(lon - half, lat - half, lon + half, lat + half)
        start = rng.choice((-math.inf, 1000.0))
        end = rng.choice((math.inf, 2000.0))
        index.put(geometry_shape(f"u{i}", "aor", 0, geom, 0.0, start, end, f"u{i}"))
    # One across the antimeridian, stored split (as RFC 7946 asks).
    split = shapely.MultiPolygon([shapely.box(179.0, 10, 180, 11), shapely.box(-180, 10, -179, 11)])
    index.put(geometry_shape("wrap", "aor", 0, split, 0.0, -math.inf, math.inf, "wrap"))
    index.put(
        geometry_shape("area", "area", 0, shapely.box(0, 0, 1, 1), 0.0, -math.inf, math.inf, None)
    )
    containment = Containment(index, "aor")
    shapes = index.shapes("aor")
    points = []
    for _ in range(3000):
        shape = rng.choice(shapes)
        west, south, east, north = shape.geom.bounds  # type: ignore[union-attr]
        points.append(
            (
                rng.uniform(south - 0.1, north + 0.1),
                rng.uniform(max(-180, west - 0.1), min(180, east + 0.1)),
                rng.choice((0.0, 1500.0, 3000.0)),
            )
        )
    points.append((10.5, -179.5, 0.0))
    lats, lons, times = (np.array(column, dtype=float) for column in zip(*points, strict=True))
    found = containment.containing_keys(lats, lons, times)
    assert any(found)
    for (lat, lon, t), got in zip(points, found, strict=True):
        assert set(got) == _one_by_one(index, lat, lon, t)
        assert len(got) == len(set(got))  # each shape once
    assert found[-1] == ("wrap",)
    # A changed AOR is seen at the next query (the R-tree is rebuilt).
    index.remove("aor", "wrap")
    assert containment.containing_keys(lats[-1:], lons[-1:], times[-1:]) == [()]
