"""The check path's main cost, alone: ``AssetTable.gather`` in the coalition world.

    python bench/gather_bench.py               # N = 100k
    python bench/gather_bench.py --n 1000000

Deterministic (seed 42; the coalition world of ``coalition_world.py``, fixed epoch).
Runs ``--checks`` checks at uniform points (as ``coalition_bench.py`` in process),
records every ``gather`` they make, then replays those calls, timed, alternating the
compiled loops and the numpy reference on the same table (``AssetTable.compiled``;
code without it is timed as it is). One JSON line per path: ``gather_us`` (mean per
call), ``per_check_us`` (the gathers of one check), ``returned_per_check``, and
``same_as_reference`` (the compiled path returned exactly the reference's slots).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import coalition_world as cw
from check_bench import EPOCH
from deconfliction.check.index import assets
from deconfliction.domain.model import Observation

ROUNDS = 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--checks", type=int, default=300)
    args = ap.parse_args()
    _, e = cw.loaded_engine(args.n, False, EPOCH)
    rng = np.random.default_rng(cw.SEED + 1)
    lat = rng.uniform(cw.LAT_LO, cw.LAT_HI, args.checks).tolist()
    lon = rng.uniform(cw.LON_LO, cw.LON_HI, args.checks).tolist()
    calls: list[tuple[Any, ...]] = []
    original = assets.AssetTable.gather

    def recording(self: assets.AssetTable, *a: Any, **k: Any) -> Any:
        calls.append((a, k))
        return original(self, *a, **k)

    assets.AssetTable.gather = recording  # type: ignore[method-assign]
    for k, (a, b) in enumerate(zip(lat, lon, strict=True)):
        obs = Observation.model_validate(
            {
                "unit_id": f"u{k % cw.PARTIES}",
                "position": {"lat": a, "lon": b},
                "cep_m": 50,
                "observed": {"mobility": "wheeled", "features": ["radar"]},
            }
        )
        e.check(obs, cw.party_id(k % cw.PARTIES), EPOCH)
    assets.AssetTable.gather = original  # type: ignore[method-assign]
    table = e.assets
    paths = ["compiled", "reference"] if hasattr(table, "compiled") else ["as_is"]
    spent: dict[str, list[float]] = {p: [] for p in paths}
    returned: dict[str, int] = {}
    results: dict[str, list[np.ndarray[Any, Any]]] = {}
    for _ in range(ROUNDS):
        for path in paths:
            if path != "as_is":
                table.compiled = path == "compiled"
            got = []
            t = time.perf_counter()
            for a, k in calls:
                got.append(table.gather(*a, **k).slots)
            spent[path].append(time.perf_counter() - t)
            returned[path] = sum(len(s) for s in got)
            results[path] = got
    same = None
    if "reference" in results:
        same = all(
            np.array_equal(np.sort(x), np.sort(y))
            for x, y in zip(results["compiled"], results["reference"], strict=True)
        )
    for path in paths:
        best = float(np.median(spent[path]))
        line = {
            "workload": "gather",
            "path": path,
            "n_assets": args.n,
            "calls_per_check": round(len(calls) / args.checks, 2),
            "gather_us": round(best / len(calls) * 1e6, 1),
            "per_check_us": round(best / args.checks * 1e6, 1),
            "returned_per_check": round(returned[path] / args.checks),
            "same_as_reference": same,
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
