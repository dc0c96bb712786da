// Many assets as dots on one canvas, drawn in one pass: tens of thousands of Leaflet layers
// (even canvas ones) take seconds to add; a plain array drawn at the end of each move does
// not. Clicks find the nearest dot (within a few pixels) through a coarse pixel grid.
const L = window.L;
const HIT_PX = 8;

export class DotLayer extends L.Layer {
  /** items: [{lat, lon, color, opacity, hit}] (mutable: change them, then redraw()). */
  constructor(items) {
    super();
    this.items = items;
  }

  onAdd(map) {
    this.canvas = L.DomUtil.create("canvas", "dc-dots leaflet-zoom-hide");
    this.canvas.setAttribute("aria-hidden", "true");
    map.getPane("overlayPane").appendChild(this.canvas);
    map.on("moveend zoomend resize viewreset", this.redraw, this);
    this.redraw();
  }

  onRemove(map) {
    map.off("moveend zoomend resize viewreset", this.redraw, this);
    this.canvas.remove();
    this.canvas = null;
  }

  redraw() {
    const map = this._map;
    if (!map || !this.canvas) return;
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    const canvas = this.canvas;
    canvas.width = size.x * ratio;
    canvas.height = size.y * ratio;
    canvas.style.width = `${size.x}px`;
    canvas.style.height = `${size.y}px`;
    L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.grid = new Map();
    const hits = [];
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[i];
      const p = map.latLngToContainerPoint([it.lat, it.lon]);
      it.x = p.x;
      it.y = p.y;
      if (p.x < -10 || p.y < -10 || p.x > size.x + 10 || p.y > size.y + 10) continue;
      const key = `${Math.floor(p.x / HIT_PX)},${Math.floor(p.y / HIT_PX)}`;
      const cell = this.grid.get(key);
      if (cell) cell.push(i);
      else this.grid.set(key, [i]);
      if (it.hit) {
        hits.push(it);
        continue;
      }
      ctx.globalAlpha = it.opacity;
      ctx.fillStyle = it.color;
      ctx.fillRect(p.x - 2.5, p.y - 2.5, 5, 5);
    }
    ctx.globalAlpha = 1;
    for (const it of hits) {
      ctx.beginPath();
      ctx.arc(it.x, it.y, 8, 0, 2 * Math.PI);
      ctx.fillStyle = "#ffd33d";
      ctx.fill();
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#000";
      ctx.stroke();
    }
  }

  /** The item nearest to a container point, within HIT_PX pixels, or null. */
  nearest(point) {
    if (!this.grid) return null;
    let best = null;
    let bestD = HIT_PX * HIT_PX;
    const cx = Math.floor(point.x / HIT_PX);
    const cy = Math.floor(point.y / HIT_PX);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (const i of this.grid.get(`${cx + dx},${cy + dy}`) || []) {
          const it = this.items[i];
          const d = (it.x - point.x) ** 2 + (it.y - point.y) ** 2;
          if (d <= bestD) {
            best = it;
            bestD = d;
          }
        }
      }
    }
    return best;
  }
}
