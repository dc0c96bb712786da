// The map's graticule: lines of latitude and longitude with edge labels.
import { h } from "/web/js/dom.js";
import { wrapLon } from "/web/js/coords.js";

const L = window.L;

/** Lines of latitude and longitude at a spacing that suits the zoom, with edge labels. */
export class Graticule {
  constructor(map, group) {
    this.map = map;
    this.group = group;
    map.on("moveend zoomend", () => this.draw());
    map.whenReady(() => this.draw());
  }

  draw() {
    this.group.clearLayers();
    const b = this.map.getBounds();
    const spanLat = b.getNorth() - b.getSouth();
    const steps = [30, 10, 5, 2, 1, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01];
    const step = steps.find((s) => spanLat / s >= 4) || 0.01;
    const south = Math.max(-85, Math.floor(b.getSouth() / step) * step);
    const north = Math.min(85, Math.ceil(b.getNorth() / step) * step);
    const west = Math.floor(b.getWest() / step) * step;
    const east = Math.ceil(b.getEast() / step) * step;
    const style = { color: "#2a3948", weight: 1, interactive: false, className: "dc-grid" };
    const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
    for (let lat = south; lat <= north + 1e-9; lat += step) {
      this.group.addLayer(L.polyline([[lat, west], [lat, east]], style));
      this.label([lat, b.getWest()], `${Math.abs(lat).toFixed(digits)}°${lat >= 0 ? "N" : "S"}`, [2, -8]);
    }
    for (let lon = west; lon <= east + 1e-9; lon += step) {
      this.group.addLayer(L.polyline([[south, lon], [north, lon]], style));
      const w = wrapLon(lon);
      this.label([b.getSouth(), lon], `${Math.abs(w).toFixed(digits)}°${w >= 0 ? "E" : "W"}`, [3, -30]);
    }
  }

  label(latlng, text, [dx, dy]) {
    const html = h("span", {}, text);
    const icon = L.divIcon({ className: "dc-grid-label", html, iconSize: null, iconAnchor: [-dx, -dy] });
    this.group.addLayer(L.marker(latlng, { icon, interactive: false, keyboard: false }));
  }
}
