"""Unannounced-entry detection in report batches: the batch's vectorised pieces answer
what one-by-one code answers, and the assets it keeps across batches follow every write."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import shapely

from deconfliction.domain import geo
from deconfliction.index.containment import Containment
from deconfliction.index.shapes import ShapeIndex, distances_m, geometry_shape, site_shape

M_PER_DEG = 111_195.0


def test_batched_chord_distances_are_the_one_by_one_distances() -> None:
    rng = random.Random(3)
    chords: list[geo.Chords] = []
    lats: list[float] = []
    lons: list[float] = []
    for _ in range(300):
        lon, lat = rng.uniform(-179, 179), rng.uniform(-80, 80)
        half = rng.uniform(0.001, 0.3)
        geom: Any = shapely.box(lon - half, lat - half, lon + half, lat + half)
        if rng.random() < 0.3:  # parts separated by NaN
            geom = shapely.MultiPolygon([geom, shapely.box(lon + 1, lat, lon + 1.2, lat + 0.2)])
        if rng.random() < 0.1:  # a single vertex: no segment at all
            chords.append(geo.Chords.of(np.array([lat]), np.array([lon])))
        else:
            chords.append(geo.Chords.of(*geo.chords(geom)))
        lats.append(lat + rng.uniform(-1, 1))
        lons.append(lon + rng.uniform(-1, 1))
    batched = geo.distances_to_precomputed_chords_m(lats, lons, chords)
    for k in range(len(chords)):
        assert batched[k] == geo.distance_to_precomputed_chords_m(lats[k], lons[k], chords[k])
    assert len(geo.distances_to_precomputed_chords_m([], [], [])) == 0


def test_batched_shape_distances_are_each_shapes_own() -> None:
    rng = random.Random(5)
    shapes = []
    lats: list[float] = []
    lons: list[float] = []
    for i in range(200):
        lon, lat = rng.uniform(30, 31), rng.uniform(50, 51)
        half = rng.uniform(0.005, 0.02)
        kind = rng.choice(("aor", "area", "movement", "site"))
        if kind == "site":
            shapes.append(site_shape(f"s{i}", kind, 0, lat, lon, 100.0, None))
        else:
            geom: Any = shapely.box(lon - half, lat - half, lon + half, lat + half)
            if kind == "movement":
                geom = shapely.LineString([(lon - half, lat), (lon + half, lat + half)])
            shapes.append(geometry_shape(f"s{i}", kind, 0, geom, 0.0, -math.inf, math.inf, None))
        # Inside, on the border and outside.
        lats.append(lat + rng.choice((0.0, half, rng.uniform(-0.05, 0.05))))
        lons.append(lon + rng.choice((0.0, rng.uniform(-0.05, 0.05))))
    batched = distances_m(shapes, lats, lons)
    assert (batched == 0.0).any() and (batched > 0.0).any()
    for k, shape in enumerate(shapes):
        assert batched[k] == shape.distance_m(lats[k], lons[k])


def test_containment_keys_name_the_containing_shapes_in_order() -> None:
    rng = random.Random(11)
    index = ShapeIndex()
    for i in range(200):
        lon, lat = rng.uniform(30, 31), rng.uniform(50, 51)
        half = rng.uniform(0.02, 0.2)
        geom = shapely.box(lon - half, lat - half, lon + half, lat + half)
        index.put(geometry_shape(f"u{i}", "aor", 0, geom, 0.0, -math.inf, math.inf, f"k{i}"))
    containment = Containment(index, "aor", key=lambda s: str(s.payload))
    lats = np.array([rng.uniform(49.9, 51.1) for _ in range(2000)])
    lons = np.array([rng.uniform(29.9, 31.1) for _ in range(2000)])
    times = np.zeros(2000)
    shapes = containment.containing(lats, lons, times)
    keys = containment.containing_keys(lats, lons, times)
    assert any(keys) and not all(keys)
    assert keys == [tuple(str(s.payload) for s in found) for found in shapes]
    # A shape added is named at the next query (the tree and its keys are rebuilt).
    index.put(
        geometry_shape(
            "all", "aor", 0, shapely.box(29, 49, 32, 52), 0.0, -math.inf, math.inf, "everywhere"
        )
    )
    assert all("everywhere" in found for found in containment.containing_keys(lats, lons, times))
