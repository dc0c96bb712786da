"""Web UI load benchmark: the page with the 100k-asset workload, in Chromium, on loopback.

    python bench/web_bench.py [--assets 100000] [--areas 1000] [--runs 5]

Deterministic (seed 42). The world is the API benchmark's (``bench/api_bench.py``, built
through the store's bulk path): ``--assets`` assets uniform in lat 50.0-54.5, lon
30.0-37.0, a third of them releasable to everyone, 20 parties with one unit each (an AOR
box of 2°), ``--areas`` circular operating areas. The signed-in token is unit-00's
operator: it may see its own party's assets and the releasable ones. The bench starts
``python -m deconfliction serve`` on a free port, then measures:

* first, how long after start-up the server answers a map at all: with this world the
  notification planner's start-up catch-up (the assets reported inside other parties'
  AORs: ~240k unannounced entries) holds the store for minutes, and every read waits
  (``--keep`` then ``--data-dir`` reuses a world already planned);
* ``GET /v1/map`` without a bounding box (everything the token may see), with the
  bounding box of the first view (the unit's AOR, padded), and that box in the compact
  form the page asks for: time (p50 of ``--runs``), size, how many assets;
* the page in Debian's Chromium (Playwright, headless), ``--runs`` fresh tabs already
  signed in: from navigation start to the map's layers drawn (the page sets
  ``data-drawn`` on ``#map`` and records ``performance.mark("dc-map-drawn")``), split
  into the sign-in reads before the map's request, the map request as the browser saw
  it, and parsing plus drawing; and how many DOM elements the map holds (canvas
  rendering: not one node per asset).

Prints one JSON object per line. Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_bench import build_store
from deconfliction.service import auth
from deconfliction.store import open_store
from harness import emit, start_server

SEED = 42
CHROMIUM = os.environ.get("DECONFLICTION_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def aor_bbox(data_dir: Path, unit: str) -> str:
    """The unit's AOR padded by 35 %: a first view to time the map with and without
    ``compact`` (the page's own first request is timed after the page step)."""
    store = open_store(data_dir)
    try:
        stored = store.get("unit", unit)
        assert stored is not None
        ring = stored.data["aor"]["coordinates"][0]
    finally:
        store.close()
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    dx = (max(lons) - min(lons)) * 0.35
    dy = (max(lats) - min(lats)) * 0.35
    return f"{min(lons) - dx},{min(lats) - dy},{max(lons) + dx},{max(lats) + dy}"


def wait_for_map(port: int, token: str, bbox: str) -> float:
    """Seconds until two maps in a row answer within 2 s (the start-up backlog is done)."""
    t0 = time.perf_counter()
    quick = 0
    while quick < 2:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        r0 = time.perf_counter()
        conn.request("GET", f"/v1/map?bbox={bbox}", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise SystemExit(f"GET /v1/map: {response.status}")
        quick = quick + 1 if time.perf_counter() - r0 < 2.0 else 0
    return round(time.perf_counter() - t0, 1)


def time_map(port: int, token: str, query: str, runs: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    size = 0
    body: Any = None
    for _ in range(runs):
        t0 = time.perf_counter()
        conn.request("GET", "/v1/map" + query, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        times.append(time.perf_counter() - t0)
        if response.status != 200:
            raise SystemExit(f"GET /v1/map{query}: {response.status} {raw[:200]!r}")
        size = len(raw)
        body = json.loads(raw)
    conn.close()
    assets = sum(1 for f in body["features"] if f["properties"]["layer"] == "asset")
    assets += len(body.get("assets", {}).get("rows", []))
    return {
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "bytes": size,
        "assets": assets,
        "features": len(body["features"]),
    }


def time_page(port: int, token: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    url = f"http://127.0.0.1:{port}/"
    loads: list[float] = []
    before_map: list[float] = []  # navigation start to the map's request (sign-in reads)
    map_request: list[float] = []  # the GET /v1/map request, as the browser saw it
    drawing: list[float] = []  # its answer received to the layers drawn
    nodes = 0
    drawn = ""
    query = ""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for run in range(runs + 1):  # the first run warms the HTTP cache and is not counted
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script(
                f"sessionStorage.setItem('deconfliction.token', {json.dumps(token)})"
            )
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#map[data-drawn]", state="attached", timeout=120_000)
            ms = page.evaluate("performance.getEntriesByName('dc-map-drawn')[0].startTime")
            timing = page.evaluate(
                """() => {
                  const map = performance.getEntriesByType("resource")
                    .find((e) => e.name.includes("/v1/map?"));
                  return { start: map.startTime, end: map.responseEnd, url: map.name };
                }"""
            )
            if run:
                loads.append(float(ms))
                before_map.append(float(timing["start"]))
                map_request.append(float(timing["end"]) - float(timing["start"]))
                drawing.append(float(ms) - float(timing["end"]))
                query = str(timing["url"]).split("/v1/map", 1)[1]
            nodes = int(page.evaluate("document.querySelectorAll('#map *').length"))
            drawn = str(page.get_attribute("#map", "data-drawn"))
            context.close()
            time.sleep(2)  # the closed tab's inbox stream ends: each run loads a quiet server
        browser.close()
    return {
        "load_to_drawn_p50_ms": round(statistics.median(loads), 1),
        "load_to_drawn_max_ms": round(max(loads), 1),
        "runs": len(loads),
        "before_map_request_p50_ms": round(statistics.median(before_map), 1),
        "map_request_p50_ms": round(statistics.median(map_request), 1),
        "parse_and_draw_p50_ms": round(statistics.median(drawing), 1),
        "map_dom_nodes": nodes,
        "drawn": drawn,
        "map_query": query,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--areas", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    ap.add_argument(
        "--data-dir", type=Path, help="reuse a data directory kept by --keep (built, planned)"
    )
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(SEED)
    reuse = args.data_dir is not None
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="dcf-web-bench-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        store = open_store(data_dir)
        if not reuse:
            build_store(store, args.assets, args.areas, rng)
        token, _ = auth.issue(store, "operator", "unit-00", None)
        store.close()
        emit(
            step="store_reused" if reuse else "store_built",
            assets=args.assets,
            areas=args.areas,
            seconds=round(time.perf_counter() - t0, 2),
        )
        t0 = time.perf_counter()
        proc, port = start_server(data_dir)
        emit(step="server_ready", seconds_to_ready=round(time.perf_counter() - t0, 2))
        bbox = aor_bbox(data_dir, "unit-00")
        emit(step="first_map_answer", seconds_after_ready=wait_for_map(port, token, bbox))
        emit(step="map_everything", **time_map(port, token, "", args.runs))
        emit(step="map_first_view", bbox=bbox, **time_map(port, token, f"?bbox={bbox}", args.runs))
        emit(
            step="map_first_view_compact",
            **time_map(port, token, f"?bbox={bbox}&compact=true", args.runs),
        )
        page = time_page(port, token, args.runs)
        emit(step="page_load", viewport="1280x800", **page)
        emit(step="map_page_request", **time_map(port, token, page["map_query"], args.runs))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if args.keep or reuse:
            emit(step="kept", data_dir=str(data_dir))
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
