"""The review as Markdown, HTML and a map image (matplotlib, Agg backend).

Each renderer reads only the review dict built for one viewer (``review/build.py``),
so nothing reaches a page that the builder did not already release to that viewer.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deconfliction.private_files import private_dir, write_private

#: File names written by :func:`write_review` (the HTML refers to the map by name).
MARKDOWN_FILE = "review.md"
HTML_FILE = "review.html"
MAP_FILE = "review-map.png"
JSON_FILE = "review.json"


def _clock(stored: str | None) -> str:
    """``2026-03-14T10:05:00.000000Z`` → ``10:05:00Z`` (the date is in the heading)."""
    if not stored:
        return "-"
    return stored[11:19] + "Z"


def _title(review: dict[str, Any]) -> str:
    inc = review["incident"]
    return (
        f"After-action review: {inc['lat']:.5f}, {inc['lon']:.5f} "
        f"(radius {inc['radius_m']:g} m) at {inc['at'][:19]}Z"
    )


def _viewer(review: dict[str, Any]) -> str:
    v = review["viewer"]
    if v["role"] == "admin":
        return "the whole record (admin)"
    return f"{v['party_name']} ({v['party_id']}): only what this party may see"


def _record(review: dict[str, Any]) -> str:
    r = review["record"]
    state = "intact" if r["intact"] else f"BROKEN ({r['problem']})"
    return (
        f"audit log {state}: {r['entries']} entries, head seq {r['head_seq']}, "
        f"hash {r['head_hash']}, {r['purged_payloads']} payloads purged by retention"
    )


def _page_line(page: dict[str, Any]) -> str:
    """Where a page is in its review (``review/pages.py``)."""
    if not page["items"]:
        return f"No item on this page; the review has {page['total']}."
    first = page["first"]
    where = f"This page: items {first} to {first + page['items'] - 1} of {page['total']}"
    if page["next"]:
        return f"{where}; the next page: cursor={page['next']}"
    return f"{where} (the last page)."


def _lines(review: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The page's content, as (block kind, data) — shared by Markdown and HTML."""
    inc = review["incident"]
    yield "h1", _title(review)
    yield (
        "p",
        f"Window {inc['window']['start'][:19]}Z to {inc['window']['end'][:19]}Z. "
        f"Seen as: {_viewer(review)}. Built from the {_record(review)}.",
    )
    page = review.get("page")
    if page and page["items"] < page["total"]:
        yield "p", _page_line(page)
    if review["findings"]:
        yield "h2", "Why it happened without the service, and why it could not go unnoticed with it"
        for f in review["findings"]:
            yield "h3", f"{f['callsign']} and the check {f['check_id']}"
            yield "p", "Without the service:"
            yield "ul", f["without_service"]
            yield "p", "With the service:"
            yield "ul", f["with_service"]
    yield "h2", "Timeline"
    if review["timeline"]:
        yield (
            "table",
            (
                ["time (UTC)", "what", "party", ""],
                [
                    [_clock(e["at"]), e["what"], e["party_id"] or "", e["text"]]
                    for e in review["timeline"]
                ],
            ),
        )
    else:
        yield "p", "Nothing you may see."
    yield "h2", "Registered there"
    rows = []
    for a in review["assets"]:
        rows.append(
            [
                "asset",
                f"{a['callsign']} ({a['id']})",
                a["party_id"],
                f"{a['type_name']}; closest report {a['closest_m'] / 1000:.1f} km at "
                f"{_clock(a['closest_at'])}",
            ]
        )
    for m in review["movements"]:
        rows.append(
            [
                "movement",
                m["id"],
                m["party_id"],
                f"{m['callsign']} ({m['type_name']}) {_clock(m['start'])} to {_clock(m['end'])}, "
                f"route {m['distance_m'] / 1000:.1f} km away",
            ]
        )
    for ar in review["areas"]:
        rows.append(
            [
                "area",
                ar["id"],
                ar["party_id"],
                f"{ar['kind']}, {ar['distance_m'] / 1000:.1f} km away",
            ]
        )
    for s in review["sites"]:
        rows.append(
            [
                "site",
                s["name"] or s["id"],
                s["party_id"],
                f"{s['kind']}, radius {s['radius_m']:g} m, {s['distance_m'] / 1000:.1f} km away",
            ]
        )
    for u in review["units"]:
        rows.append(
            ["unit (AOR)", u["name"], u["party_id"], f"AOR {u['distance_m'] / 1000:.1f} km away"]
        )
    if rows:
        yield "table", (["kind", "what", "party", "where"], rows)
    else:
        yield "p", "Nothing you may see."
    yield "h2", "Who was told, who answered"
    if review["notifications"]:
        yield (
            "table",
            (
                ["sent", "to", "cause", "about", "due", "answer", "by", "at"],
                [
                    [
                        _clock(n["created_at"]),
                        n["unit_name"],
                        n["cause"],
                        n["about"],
                        _clock(n["deadline"]),
                        n["response"] or n["state"],
                        n["responded_by"] or "",
                        _clock(n["responded_at"]),
                    ]
                    for n in review["notifications"]
                ],
            ),
        )
    else:
        yield "p", "No notification you may see."
    yield "h2", "Checks made there"
    if review["checks"]:
        for c in review["checks"]:
            observed = c["observed"] or {}
            seen = ", ".join(
                [str(observed.get("mobility") or ""), *list(observed.get("features") or [])]
            ).strip(", ")
            yield (
                "p",
                f"{_clock(c['at'])} {c['unit_id']} at {c['lat']:.5f}, {c['lon']:.5f} "
                f"(CEP {c['cep_m']:g} m), saw {seen or 'nothing stated'} "
                f"({observed.get('certainty', '')}){' — ' + repr(c['note']) if c['note'] else ''}: "
                f"**{c['verdict']}**",
            )
            yield (
                "ul",
                [
                    f"{m['name']} [{m['kind']}, {m['party_id']}]: "
                    + "; ".join(m["reasons"])
                    + (
                        "; cue: " + "; ".join(fc["cue"] for fc in m["feature_conflicts"])
                        if m["feature_conflicts"]
                        else ""
                    )
                    + (
                        f"; owner answered {m['owner_response']['response']}"
                        if m["owner_response"]
                        else ""
                    )
                    for m in c["matches"]
                ],
            )
    else:
        yield "p", "No check you may see."
    yield "h2", "Parties"
    yield (
        "ul",
        [
            f"{p['name']} ({p['party_id']}): "
            + ("data here" if p["data_here"] else "no data here that you may see")
            for p in review["parties"]
        ]
        + [f"coverage gap: {g['party_id']}: {g['reason']}" for g in review["coverage_gaps"]],
    )


def to_markdown(review: dict[str, Any], map_file: str | None = MAP_FILE) -> str:
    out: list[str] = []
    for kind, data in _lines(review):
        if kind == "h1":
            out.append(f"# {data}\n")
            if map_file:
                out.append(f"![Map of the incident]({map_file})\n")
        elif kind == "h2":
            out.append(f"## {data}\n")
        elif kind == "h3":
            out.append(f"### {data}\n")
        elif kind == "p":
            out.append(f"{data}\n")
        elif kind == "ul":
            out.extend(f"- {item}" for item in data)
            out.append("")
        elif kind == "table":
            head, rows = data
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#111}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #ccc;
padding:2px 6px;text-align:left;vertical-align:top}th{background:#eee}img{max-width:100%}
h3{margin-bottom:.2em}
"""


def to_html(review: dict[str, Any], map_src: str | None = MAP_FILE) -> str:
    esc = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(_title(review))}</title><style>{_CSS}</style></head><body>",
    ]
    for kind, data in _lines(review):
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{esc(data)}</{kind}>")
            if kind == "h1" and map_src:
                out.append(f'<img src="{esc(map_src)}" alt="Map of the incident">')
        elif kind == "p":
            text = esc(data)
            # the one Markdown emphasis used: the verdict
            parts = text.split("**")
            text = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
            out.append(f"<p>{text}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{esc(str(i))}</li>" for i in data) + "</ul>")
        elif kind == "table":
            head, rows = data
            out.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>")
            out.extend(
                "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows
            )
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def to_png(review: dict[str, Any]) -> bytes:
    """The map: the circle, AORs, routes, areas, sites, report tracks and check points."""
    import matplotlib
    import shapely
    import shapely.geometry

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    inc = review["incident"]
    lat0, lon0 = inc["lat"], inc["lon"]
    k = math.cos(math.radians(lat0))
    fig = Figure(figsize=(8, 6.5), dpi=100)
    ax = fig.add_subplot()
    ax.set_aspect(1 / k)
    # the extent: the circle and every track and check point, padded
    deg_lat = inc["radius_m"] / 111_320.0
    lats = [lat0 - deg_lat, lat0 + deg_lat]
    lons = [lon0 - deg_lat / k, lon0 + deg_lat / k]
    for track in review["map"]["tracks"].values():
        lats += [p["lat"] for p in track]
        lons += [p["lon"] for p in track]
    for c in review["checks"]:
        lats.append(c["lat"])
        lons.append(c["lon"])
    pad = max(max(lats) - min(lats), (max(lons) - min(lons)) * k) * 0.15 + 0.005
    ax.set_xlim(min(lons) - pad / k, max(lons) + pad / k)
    ax.set_ylim(min(lats) - pad, max(lats) + pad)

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    view = shapely.box(x0, y0, x1, y1)

    def label_inside(geometry: dict[str, Any], text: str, color: str) -> None:
        """Name a polygon where it shows (its first vertex may be far off the map)."""
        shown = shapely.geometry.shape(geometry).intersection(view)
        if not shown.is_empty:  # in the top right corner of the part shown
            _, _, right, top = shown.bounds
            ax.annotate(
                text,
                (right, top),
                xytext=(-3, -3),
                textcoords="offset points",
                fontsize=7,
                color=color,
                ha="right",
                va="top",
            )

    for u in review["units"]:
        for ring in _rings(u["aor"]):
            ax.fill(*zip(*ring, strict=True), color="#4a90d9", alpha=0.08)
            ax.plot(*zip(*ring, strict=True), color="#4a90d9", lw=1, ls="--", label="unit AOR")
        label_inside(u["aor"], f"AOR {u['name']}", "#2a5d9f")
    for ar in review["areas"]:
        for ring in _rings(ar["geometry"]):
            ax.fill(*zip(*ring, strict=True), color="#2ca02c", alpha=0.25)
        label_inside(ar["geometry"], f"{ar['kind']} area", "#1d6b1d")
    for m in review["movements"]:
        for line in _lines_of(m["route"]):
            ax.plot(*zip(*line, strict=True), color="#7f7f7f", lw=2, alpha=0.6, label="route")
        ax.annotate(f"route {m['callsign']}", _lines_of(m["route"])[0][0], fontsize=7, color="#555")
    for s in review["sites"]:
        ax.plot(s["lon"], s["lat"], marker="P", color="#2ca02c", ms=10)
        ax.annotate(
            s["name"] or s["kind"],
            (s["lon"], s["lat"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    names = {a["id"]: a["callsign"] for a in review["assets"]}
    for asset_id, track in review["map"]["tracks"].items():
        track_x = [p["lon"] for p in track]
        track_y = [p["lat"] for p in track]
        ax.plot(track_x, track_y, color="#1f4e9c", lw=1, marker=".", ms=5, label="reports")
        ax.annotate(
            f"{names.get(asset_id, asset_id)} {track[-1]['time'][11:16]}Z",
            (track_x[-1], track_y[-1]),
            fontsize=8,
            color="#1f4e9c",
            xytext=(-8, 10),
            ha="right",
            textcoords="offset points",
        )
    theta = [i * 2 * math.pi / 96 for i in range(97)]
    ax.plot(
        [lon0 + deg_lat / k * math.cos(t) for t in theta],
        [lat0 + deg_lat * math.sin(t) for t in theta],
        color="#d62728",
        lw=1.2,
        label="review radius",
    )
    ax.plot(lon0, lat0, marker="+", color="#d62728", ms=12)
    for c in review["checks"]:
        ax.plot(
            c["lon"],
            c["lat"],
            ls="none",
            marker="o",
            mfc="none",
            mec="#ff8c00",
            ms=9,
            mew=2,
            label="check",
        )
        ax.annotate(
            f"check {c['at'][11:16]}Z: {c['verdict']}",
            (c["lon"], c["lat"]),
            fontsize=8,
            color="#b35900",
            xytext=(8, -12),
            textcoords="offset points",
        )
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="lower left", fontsize=7)
    ax.set_title(f"{inc['at'][:16]}Z, radius {inc['radius_m']:g} m", fontsize=10)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.tick_params(labelsize=7)
    ax.grid(True, lw=0.3, alpha=0.5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _rings(geometry: dict[str, Any]) -> list[list[tuple[float, float]]]:
    if geometry["type"] == "Polygon":
        return [[(x, y) for x, y, *_ in geometry["coordinates"][0]]]
    return [[(x, y) for x, y, *_ in poly[0]] for poly in geometry["coordinates"]]


def _lines_of(geometry: dict[str, Any]) -> list[list[tuple[float, float]]]:
    if geometry["type"] == "LineString":
        return [[(x, y) for x, y, *_ in geometry["coordinates"]]]
    return [[(x, y) for x, y, *_ in line] for line in geometry["coordinates"]]


def html_with_inline_map(review: dict[str, Any]) -> str:
    """The HTML page with the map inside it (``GET /v1/review?format=html``)."""
    png = base64.b64encode(to_png(review)).decode()
    return to_html(review, f"data:image/png;base64,{png}")


def write_review(review: dict[str, Any], out_dir: Path) -> list[Path]:
    """Markdown, HTML (referring to the map file), the map and the JSON, in ``out_dir``,
    each 0600 (``private_files.py``: a review holds registry data)."""
    private_dir(out_dir)
    files = {
        MARKDOWN_FILE: to_markdown(review).encode(),
        HTML_FILE: to_html(review).encode(),
        MAP_FILE: to_png(review),
        JSON_FILE: (json.dumps(review, indent=1, sort_keys=True) + "\n").encode(),
    }
    written = []
    for name, data in files.items():
        path = out_dir / name
        write_private(path, data)
        written.append(path)
    return written
