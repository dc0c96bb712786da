// The map: Leaflet (global `L`), a plain graticule by default, an optional tile server,
// and what GET /v1/map says the token may see. A check's position is never drawn here.
import { api, ApiError } from "/web/js/api.js";
import { $, clear, duration, h, originOf, sameOrigin, textLabel, utc, words } from "/web/js/dom.js";
import { formatLatLon, formatMgrs, wrapLon } from "/web/js/coords.js";
import { Graticule } from "/web/js/graticule.js";
import { symbol } from "/web/js/symbols.js";
import { DotLayer } from "/web/js/dots.js";

const L = window.L;
const TILE_KEY = "deconfliction.tileUrl";
const R99_PER_CEP = 2.58;
const REFRESH_MS = 30_000;
/** Past this many assets in view they are drawn as dots on one canvas, not as DOM symbols. */
export const CANVAS_FROM = 300;
/** "On the map" lists at most this many objects (the rest: zoom in). */
const LIST_MAX = 300;
/** The map asks for what is in view, padded by this fraction on every side (smooth panning). */
const VIEW_PAD = 0.1;

export const LAYERS = [
  { key: "aor", label: "My AOR", color: "#39c5cf" },
  { key: "area", label: "Areas", color: "#6cb6ff" },
  { key: "site", label: "Protected sites", color: "#7ee787" },
  { key: "movement", label: "Movements", color: "#f0883e" },
  { key: "asset", label: "Assets", color: "#e6edf3" },
  { key: "graticule", label: "Graticule", color: "#3d4f60" },
];
const COLOR = Object.fromEntries(LAYERS.map((l) => [l.key, l.color]));
const PROTECTED = "#7ee787";
const HIT = "#ffd33d";

export class MapView {
  constructor({ parties, tileOrigins, onPick, onUnauthorised }) {
    this.parties = parties; // id → party
    this.tileOrigins = tileOrigins || []; // GET /v1/map/tile-origins: the CSP's img-src extras
    this.onPick = onPick;
    this.entries = new Map(); // "layer:id" → {layer, feature, label, highlight(on)}
    this.hits = new Set();
    this.reach = new Map();
    this.fresh_s = 900;
    this.horizon_s = 6 * 3600;
    this.fitted = false;
    this.map = L.map("map", { worldCopyJump: true, keyboard: true, zoomSnap: 0.5, minZoom: 2 });
    this.dots = null; // many assets: one canvas (js/dots.js)
    this.loadedBox = null;
    this.drawnOnce = false;
    this.map.setView([48.5, 36.2], 8);
    this.groups = {};
    for (const { key } of LAYERS) this.groups[key] = L.layerGroup().addTo(this.map);
    this.reachGroup = L.layerGroup().addTo(this.map);
    L.control.scale({ imperial: false }).addTo(this.map);
    this.map.attributionControl.setPrefix("Leaflet");
    this.graticule = new Graticule(this.map, this.groups.graticule);
    this.setTiles(localStorage.getItem(TILE_KEY) || "");
    this.map.on("click", (e) => {
      this.onPick(e.latlng.lat, wrapLon(e.latlng.lng));
      const hit = this.dots && this.map.hasLayer(this.dots) ? this.dots.nearest(e.containerPoint) : null;
      if (hit) this.openDotPopup(hit.entry);
    });
    this.map.on("mousemove", (e) => this.showCoords(e.latlng.lat, wrapLon(e.latlng.lng)));
    this.map.on("moveend", () => {
      const c = this.map.getCenter();
      this.showCoords(c.lat, wrapLon(c.lng));
      this.followView();
    });
    this.map.on("zoomend", () => this.sizeCorridors());
    this.buildToggles();
    this.timer = setInterval(() => {
      this.load().catch((err) => {
        if (err instanceof ApiError && err.status === 401) onUnauthorised();
        else $("map-status").textContent = `Map not refreshed: ${err.message}`;
      });
    }, REFRESH_MS);
    this.fadeTimer = setInterval(() => this.restyleAssets(), 10_000);
  }

  centre() {
    const c = this.map.getCenter();
    return { lat: c.lat, lon: wrapLon(c.lng) };
  }

  showCoords(lat, lon) {
    $("coords").textContent = `${formatLatLon(lat, lon)} · ${formatMgrs(lat, lon) || "no MGRS"}`;
  }

  setTiles(url) {
    if (this.tiles) this.map.removeLayer(this.tiles);
    this.tiles = null;
    $("tile-url").value = url;
    const status = $("tile-status");
    status.textContent = "";
    if (url && !tileUrlAllowed(url, this.tileOrigins)) {
      // The CSP loads images from this server, data: URLs and the tile servers the operator
      // named (serve --tile-origin) only: tiles from elsewhere would be refused one by one.
      const named = this.tileOrigins.length
        ? ` and the tile servers the operator allowed (${this.tileOrigins.join(", ")})`
        : "";
      status.textContent =
        `Tiles not shown: the page loads images from its own server${named} only — give a ` +
        "path such as /tiles/{z}/{x}/{y}.png (a tile server behind the same address), or ask " +
        "the operator to allow the tile server (serve --tile-origin).";
      status.closest("details").open = true;
      return;
    }
    if (url) {
      this.tiles = L.tileLayer(url, { maxZoom: 19, attribution: "Tiles: configured server" });
      this.tiles.addTo(this.map);
      this.tiles.bringToBack();
    }
  }

  saveTiles(url) {
    const clean = url.trim();
    if (clean) localStorage.setItem(TILE_KEY, clean);
    else localStorage.removeItem(TILE_KEY);
    this.setTiles(clean);
  }

  buildToggles() {
    const box = clear($("layer-toggles"));
    for (const { key, label, color } of LAYERS) {
      const input = h("input", { type: "checkbox", id: `toggle-${key}`, checked: true });
      // Through the CSSOM, which the CSP allows; a style attribute it would refuse.
      const swatch = h("span", { class: "swatch" });
      swatch.style.borderColor = color;
      input.addEventListener("change", () => {
        const group = this.groups[key];
        if (input.checked) group.addTo(this.map);
        else this.map.removeLayer(group);
        if (key === "asset") {
          if (input.checked) this.reachGroup.addTo(this.map);
          else this.map.removeLayer(this.reachGroup);
        }
      });
      box.append(
        h("label", { for: `toggle-${key}` }, input,
          swatch, label),
      );
    }
  }

  /** Show the unit's AOR first, so that the first map asks for what is around it. */
  setHome(geometry) {
    if (!geometry || this.fitted) return;
    const bounds = L.geoJSON(geometry).getBounds();
    if (bounds.isValid()) {
      this.fitted = true;
      this.map.fitBounds(bounds.pad(0.1), { animate: false });
    }
  }

  /** The view's bounding box, padded, as the bbox query of GET /v1/map. */
  viewBox() {
    const b = this.map.getBounds().pad(VIEW_PAD);
    const south = Math.max(-90, b.getSouth());
    const north = Math.min(90, b.getNorth());
    let west = b.getWest();
    let east = b.getEast();
    if (east - west >= 360) [west, east] = [-180, 180];
    else if (west < -540 || east > 540) {
      const shift = Math.round(((west + east) / 2) / 360) * 360;
      west -= shift;
      east -= shift;
    }
    return { west, south, east, north };
  }

  /** After a pan or zoom: load again when the view has left the box last loaded. */
  followView() {
    if (!this.loadedBox) return;
    const v = this.map.getBounds();
    const box = this.loadedBox;
    const inside = v.getSouth() >= box.south && v.getNorth() <= box.north &&
      v.getWest() >= box.west && v.getEast() <= box.east;
    if (inside) return;
    clearTimeout(this.followTimer);
    this.followTimer = setTimeout(() => {
      this.load().catch((err) => {
        $("map-status").textContent = `Map not refreshed: ${err.message}`;
      });
    }, 250);
  }

  async load() {
    const box = this.viewBox();
    const query = new URLSearchParams({
      bbox: [box.west, box.south, box.east, box.north].map((v) => v.toFixed(5)).join(","),
      compact: "true",
    });
    const data = await api("GET", `/v1/map?${query}`);
    if (data.assets) data.features.push(...assetFeatures(data.assets, data.types || {}));
    this.loadedBox = box;
    this.fresh_s = data.fresh_s;
    this.horizon_s = data.horizon_s;
    for (const key of ["aor", "area", "site", "movement", "asset"]) this.groups[key].clearLayers();
    this.reachGroup.clearLayers();
    this.reach.clear();
    this.entries.clear();
    const assetCount = data.features.filter((f) => f.properties.layer === "asset").length;
    this.onCanvas = assetCount > CANVAS_FROM;
    this.dots = this.onCanvas ? new DotLayer([]) : null;
    for (const feature of data.features) {
      const entry = this.add(feature);
      if (entry) this.entries.set(feature.id, entry);
    }
    if (this.dots) this.groups.asset.addLayer(this.dots);
    this.sizeCorridors();
    this.restyleAssets();
    this.renderList();
    for (const id of this.hits) this.entries.get(id)?.highlight(true);
    const counts = {};
    for (const f of data.features) counts[f.properties.layer] = (counts[f.properties.layer] || 0) + 1;
    $("map-status").textContent =
      `${counts.asset || 0} assets, ${counts.movement || 0} movements, ${counts.area || 0} areas, ` +
      `${counts.site || 0} sites in view · updated ${utc(data.generated_at)}`;
    if (!this.fitted) {
      this.fitted = true;
      const aor = data.features.find((f) => f.properties.layer === "aor");
      const target = aor ? [aor] : data.features;
      if (target.length) {
        const bounds = L.geoJSON({ type: "FeatureCollection", features: target }).getBounds();
        if (bounds.isValid()) this.map.fitBounds(bounds.pad(aor ? 0.35 : 0.1));
      }
    }
    this.markDrawn(counts.asset || 0);
    return data;
  }

  /** Layers are drawn: say so on #map (tests, the load benchmark) and, the first time,
   * as a performance mark (page load to a map ready to check against). */
  markDrawn(assets) {
    $("map").dataset.drawn = `${assets} assets${this.onCanvas ? " (canvas)" : ""}`;
    if (!this.drawnOnce) {
      this.drawnOnce = true;
      performance.mark("dc-map-drawn");
    }
  }

  partyName(id) {
    return this.parties.get(id)?.name || id;
  }

  add(feature) {
    const p = feature.properties;
    switch (p.layer) {
      case "aor":
        return this.addShape(feature, "aor", {
          color: COLOR.aor, weight: 3, dashArray: "8 6", fill: false, className: "dc-aor",
        }, `AOR — ${p.name || p.id}`);
      case "area": {
        const prot = p.kind === "protected";
        const color = prot ? PROTECTED : COLOR.area;
        return this.addShape(feature, "area", {
          color, weight: 2, fillColor: color, fillOpacity: p.active ? 0.18 : 0.05,
          dashArray: p.active ? null : "4 6", className: `dc-area dc-${p.kind}`,
        }, `${prot ? "Protected" : "Operating"} area ${p.id}`);
      }
      case "site":
        return this.addSite(feature);
      case "movement":
        return this.addMovement(feature);
      case "asset":
        return this.addAsset(feature);
      default:
        return null;
    }
  }

  addShape(feature, key, style, label) {
    const layer = L.geoJSON(feature, { style: () => style });
    layer.bindPopup(() => this.popup(feature, label));
    this.pickOn(layer);
    layer.addTo(this.groups[key]);
    return {
      layer, feature, label, key,
      highlight: (on) => layer.setStyle(on ? { ...style, color: HIT, weight: style.weight + 3 } : style),
    };
  }

  addSite(feature) {
    const p = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    const style = { color: PROTECTED, weight: 2, fillColor: PROTECTED, fillOpacity: 0.25, className: "dc-site" };
    const circle = L.circle([lat, lon], { ...style, radius: Math.max(p.radius_m, 1) });
    const dot = L.circleMarker([lat, lon], { radius: 5, color: PROTECTED, weight: 2, fillOpacity: 1 });
    const label = `${words(p.kind)}: ${p.name || p.id}`;
    const group = L.featureGroup([circle, dot]);
    group.bindPopup(() => this.popup(feature, label));
    this.pickOn(group);
    // An element, not a string: Leaflet would parse a string as HTML (docs/design/security.md).
    dot.bindTooltip(textLabel(p.name || p.id), { permanent: true, direction: "right", className: "dc-label" });
    group.addTo(this.groups.site);
    return {
      layer: group, feature, label, key: "site",
      highlight: (on) => circle.setStyle(on ? { ...style, color: HIT, weight: 5 } : style),
    };
  }

  addMovement(feature) {
    const p = feature.properties;
    const coords = feature.geometry.coordinates;
    const lines = feature.geometry.type === "MultiLineString" ? coords : [coords];
    const latlngs = lines.map((line) => line.map(([lon, lat]) => [lat, lon]));
    const corridor = L.polyline(latlngs, {
      color: COLOR.movement, opacity: p.active ? 0.22 : 0.1, lineCap: "round", lineJoin: "round",
      interactive: false, className: "dc-corridor",
    });
    const style = { color: COLOR.movement, weight: 2, dashArray: p.active ? null : "6 6", className: "dc-movement" };
    const route = L.polyline(latlngs, style);
    const label = `Movement ${p.callsign ? `of ${p.callsign}` : p.id}`;
    const group = L.featureGroup([corridor, route]);
    group.bindPopup(() => this.popup(feature, label));
    this.pickOn(group);
    group.addTo(this.groups.movement);
    return {
      layer: group, feature, label, key: "movement", corridor,
      highlight: (on) => route.setStyle(on ? { ...style, color: HIT, weight: 5 } : style),
    };
  }

  sizeCorridors() {
    const zoom = this.map.getZoom();
    for (const entry of this.entries.values()) {
      if (!entry.corridor) continue;
      const lat = entry.corridor.getBounds().getCenter().lat;
      const metresPerPx = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / 2 ** (zoom + 8);
      const width = (2 * (entry.feature.properties.corridor_m || 0)) / metresPerPx;
      entry.corridor.setStyle({ weight: Math.max(3, Math.min(width, 400)) });
    }
  }

  addAsset(feature) {
    if (this.onCanvas) return this.addAssetDot(feature);
    const p = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    const humanitarian = this.parties.get(p.party_id)?.kind === "humanitarian";
    const sym = symbol(p.sidc, { neutral: humanitarian });
    const icon = L.icon({
      iconUrl: sym.url,
      iconSize: [sym.width, sym.height],
      iconAnchor: [sym.anchor.x, sym.anchor.y],
      className: "dc-asset",
    });
    const marker = L.marker([lat, lon], { icon, title: p.callsign, alt: p.callsign, keyboard: true });
    // The label's text is set by restyleMarkers (callsign and age), always as text.
    const tag = textLabel(p.callsign);
    marker.bindTooltip(tag, { permanent: true, direction: "right", offset: [10, 0], className: "dc-label" });
    const label = `${p.callsign}`;
    marker.bindPopup(() => this.popup(feature, label, marker));
    this.pickOn(marker);
    marker.addTo(this.groups.asset);
    marker.getElement()?.setAttribute("data-id", p.id);
    return {
      layer: marker, feature, label, key: "asset", marker, tag,
      highlight: (on) => marker.getElement()?.classList.toggle("dc-hit", on),
    };
  }

  /** Many assets: a dot each on one canvas (DotLayer); symbol and details in the popup. */
  addAssetDot(feature) {
    const p = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    const humanitarian = this.parties.get(p.party_id)?.kind === "humanitarian";
    const item = { lat, lon, color: humanitarian ? "#d6a8ff" : "#80e0ff", opacity: 1, hit: false };
    const entry = {
      feature, label: `${p.callsign}`, key: "asset", dot: item,
      layer: { getLatLng: () => L.latLng(lat, lon), openPopup: () => this.openDotPopup(entry) },
      highlight: (on) => {
        item.hit = on;
        this.dots?.redraw();
      },
    };
    item.entry = entry;
    this.dots.items.push(item);
    return entry;
  }

  openDotPopup(entry) {
    L.popup({ offset: [0, -2] })
      .setLatLng(entry.layer.getLatLng())
      .setContent(this.popup(entry.feature, entry.label, entry.layer))
      .openOn(this.map);
  }

  /** A click on a drawn object (its popup stops the map's own click) still picks the point
   * for the check: what an operator clicks on is where they are looking. */
  pickOn(layer) {
    layer.on("click", (e) => this.onPick(e.latlng.lat, wrapLon(e.latlng.lng)));
  }

  ageOf(p) {
    return (Date.now() - new Date(p.time).getTime()) / 1000;
  }

  /** Assets fade as their last report ages: full until fresh_s, down to 0.3 at the horizon. */
  restyleAssets() {
    this.restyleMarkers();
    this.dots?.redraw();
  }

  restyleMarkers() {
    for (const entry of this.entries.values()) {
      if (entry.dot) {
        entry.dot.opacity = this.opacityAt(this.ageOf(entry.feature.properties));
        continue;
      }
      if (!entry.marker) continue;
      const p = entry.feature.properties;
      const age = this.ageOf(p);
      const opacity = this.opacityAt(age);
      entry.marker.setOpacity(opacity);
      const past = age > this.horizon_s ? " (past horizon)" : "";
      entry.tag.textContent = `${p.callsign} · ${duration(age)}${past}`;
      entry.marker.setTooltipContent(entry.tag); // the same element: Leaflet re-measures it
      entry.marker.getTooltip()?.setOpacity(Math.max(opacity, 0.5));
    }
  }

  opacityAt(age) {
    if (age > this.horizon_s) return 0.2;
    if (age > this.fresh_s) return 1 - (0.7 * (age - this.fresh_s)) / (this.horizon_s - this.fresh_s);
    return 1;
  }

  popup(feature, label, marker) {
    const p = feature.properties;
    const rows = [];
    const row = (k, v) => v !== null && v !== undefined && v !== "" && rows.push(h("dt", {}, k), h("dd", {}, v));
    row("party", this.partyName(p.party_id));
    if (p.layer === "asset") {
      const age = this.ageOf(p);
      row("type", p.type_name || p.type_id);
      row("last report", `${duration(age)} ago (${utc(p.time)})${p.source === "plain" ? ", plain port" : ""}`);
      row("CEP", `${Math.round(p.cep_m)} m`);
      if (p.speed_kmh !== null) row("speed", `${p.speed_kmh} km/h`);
      if (p.course_deg !== null) row("course", `${p.course_deg}°`);
      row("max speed", p.max_speed_kmh !== null ? `${p.max_speed_kmh} km/h` : null);
      row("contact", p.contact);
    }
    if (p.layer === "site") row("radius", `${Math.round(p.radius_m)} m`);
    if (p.layer === "movement") {
      row("corridor", `${p.corridor_m} m either side`);
      row("window", `${utc(p.start)} – ${utc(p.end)}`);
    }
    if (p.layer === "area") row("window", `${utc(p.start)} – ${utc(p.end)}${p.active ? "" : " (not active now)"}`);
    const [lon, lat] = feature.geometry.type === "Point" ? feature.geometry.coordinates : [null, null];
    if (lat !== null) row("position", `${formatLatLon(lat, lon)} · ${formatMgrs(lat, lon)}`);
    const box = h("div", {}, h("strong", {}, label), h("dl", {}, rows));
    if (marker) {
      const button = h("button", { type: "button" }, this.reach.has(p.id) ? "Hide reach" : "Show reach");
      button.addEventListener("click", () => {
        this.toggleReach(p, marker);
        button.textContent = this.reach.has(p.id) ? "Hide reach" : "Show reach";
      });
      box.append(button);
    }
    return box;
  }

  /** Where the asset could be now: r99 of its report plus max speed × age (up to the horizon). */
  toggleReach(p, marker) {
    if (this.reach.has(p.id)) {
      this.reachGroup.removeLayer(this.reach.get(p.id));
      this.reach.delete(p.id);
      return;
    }
    const age = Math.min(Math.max(this.ageOf(p), 0), this.horizon_s);
    const radius = R99_PER_CEP * p.cep_m + ((p.max_speed_kmh || 0) / 3.6) * age;
    const circle = L.circle(marker.getLatLng(), {
      radius: Math.max(radius, 1), color: "#e6edf3", weight: 1, dashArray: "3 5", fillOpacity: 0.05,
      interactive: false, className: "dc-reach",
    });
    circle.addTo(this.reachGroup);
    this.reach.set(p.id, circle);
  }

  renderList() {
    const list = clear($("map-list"));
    const order = { aor: 0, site: 1, area: 2, movement: 3, asset: 4 };
    const entries = [...this.entries.entries()].sort(
      // Plain comparison, not localeCompare: this list may hold tens of thousands of objects.
      ([, a], [, b]) => order[a.key] - order[b.key] || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0),
    );
    if (entries.length > LIST_MAX) {
      list.append(h("li", { class: "hint" },
        `${entries.length} objects in view: the first ${LIST_MAX} are listed; zoom in for the rest.`));
    }
    for (const [id, entry] of entries.slice(0, LIST_MAX)) {
      const button = h("button", { type: "button", "data-feature": id },
        h("span", { class: "layer" }, entry.key), entry.label);
      button.addEventListener("click", () => this.focus(id));
      list.append(h("li", {}, button));
    }
  }

  focus(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    const layer = entry.layer;
    if (layer.getLatLng) this.map.setView(layer.getLatLng(), Math.max(this.map.getZoom(), 11));
    else if (layer.getBounds) this.map.fitBounds(layer.getBounds().pad(0.2));
    layer.openPopup?.();
  }

  /** Highlight the matches the token may see (ids of visible objects); returns how many. */
  highlight(matches) {
    this.clearHighlight();
    const bounds = L.latLngBounds([]);
    for (const m of matches) {
      if (!m.id || !m.kind) continue;
      const id = `${m.kind}:${m.id}`;
      const entry = this.entries.get(id);
      if (!entry) continue;
      this.hits.add(id);
      entry.highlight(true);
      if (entry.layer.getLatLng) bounds.extend(entry.layer.getLatLng());
      else if (entry.layer.getBounds) bounds.extend(entry.layer.getBounds());
    }
    if (bounds.isValid()) this.map.fitBounds(bounds.pad(0.3), { maxZoom: 12 });
    return this.hits.size;
  }

  clearHighlight() {
    for (const id of this.hits) this.entries.get(id)?.highlight(false);
    this.hits.clear();
  }

  destroy() {
    clearInterval(this.timer);
    clearInterval(this.fadeTimer);
    this.map.remove();
  }
}

/** The compact form's asset rows as the GeoJSON features the rest of the map draws. */
function assetFeatures({ fields, rows }, types) {
  const at = Object.fromEntries(fields.map((f, i) => [f, i]));
  return rows.map((r) => {
    const kind = types[r[at.type_id]] || {};
    return {
      type: "Feature",
      id: `asset:${r[at.id]}`,
      geometry: { type: "Point", coordinates: [r[at.lon], r[at.lat]] },
      properties: {
        layer: "asset", id: r[at.id], callsign: r[at.callsign], party_id: r[at.party_id],
        type_id: r[at.type_id], type_name: kind.name ?? null, sidc: kind.sidc ?? null,
        max_speed_kmh: r[at.max_speed_kmh] ?? kind.max_speed_kmh ?? null, contact: r[at.contact],
        time: r[at.time], cep_m: r[at.cep_m], speed_kmh: r[at.speed_kmh],
        course_deg: r[at.course_deg], source: r[at.source],
      },
    };
  });
}

/** A tile URL template the page's CSP lets it load: on this server, or on an origin the
 * operator allowed (the server gives them normalised as `URL.origin` writes them). */
export function tileUrlAllowed(url, tileOrigins) {
  if (sameOrigin(url)) return true;
  const origin = originOf(url);
  return origin !== null && tileOrigins.includes(origin);
}
