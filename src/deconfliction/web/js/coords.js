// Coordinates as people type and read them: lat/lon (decimal degrees) and MGRS.
import { forward, toPoint } from "/web/vendor/mgrs/mgrs.esm.js";

const NUMBER = String.raw`[-+]?\d+(?:\.\d+)?`;
const LATLON = new RegExp(String.raw`^\s*(${NUMBER})\s*[,;\s]\s*(${NUMBER})\s*$`);

/** "48.60000 N 36.20000 E" */
export function formatLatLon(lat, lon) {
  const ns = lat >= 0 ? "N" : "S";
  const ew = lon >= 0 ? "E" : "W";
  return `${Math.abs(lat).toFixed(5)} ${ns} ${Math.abs(lon).toFixed(5)} ${ew}`;
}

/** "37U DB 12345 67890" (1 m), or "" where MGRS is not defined (beyond ±80°/84°). */
export function formatMgrs(lat, lon) {
  try {
    const text = forward([wrapLon(lon), lat], 5);
    const m = /^(\d{1,2}[C-X])([A-Z]{2})(\d{5})(\d{5})$/.exec(text);
    return m ? `${m[1]} ${m[2]} ${m[3]} ${m[4]}` : text;
  } catch {
    return "";
  }
}

export function wrapLon(lon) {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/**
 * What the user typed, as the API's point: {"lat", "lon"} or {"mgrs"} (sent as typed, so
 * the service adds the square's half-diagonal to the radius), and where it is, to show.
 * Throws an Error naming the problem.
 */
export function parsePosition(text) {
  const raw = String(text || "").trim();
  if (!raw) throw new Error("type a position (lat, lon or MGRS) or click the map");
  const ll = LATLON.exec(raw);
  if (ll) {
    const lat = Number(ll[1]);
    const lon = Number(ll[2]);
    if (!(lat >= -90 && lat <= 90)) throw new Error(`latitude must be within ±90, got ${ll[1]}`);
    if (!(lon >= -180 && lon <= 180)) throw new Error(`longitude must be within ±180, got ${ll[2]}`);
    return { point: { lat, lon }, lat, lon };
  }
  const mgrs = raw.replace(/\s+/g, "").toUpperCase();
  if (!/^\d{1,2}[C-X][A-Z]{2}(\d{2}){0,5}$/.test(mgrs)) {
    throw new Error(`not a lat, lon pair or an MGRS reference: ${raw}`);
  }
  let lon;
  let lat;
  try {
    [lon, lat] = toPoint(mgrs);
  } catch (err) {
    throw new Error(`not a valid MGRS reference: ${raw}`);
  }
  return { point: { mgrs }, lat, lon };
}
