// Building DOM nodes safely: text always goes in as text, never as HTML.
//
// The rule of the whole page (docs/design/security.md, "The web UI renders data as text"): every
// string from the server — names, callsigns, contacts, messages, cues, reasons — reaches the
// DOM as a text node or an attribute value, through h() or textContent; never through
// innerHTML, a template of markup, or a string handed to Leaflet (which would parse it as
// HTML): Leaflet gets an element (textLabel()). Style is classes in app.css: the CSP refuses
// style attributes, so h() refuses them too, and handlers, which are functions, not strings.

/**
 * h("div", {class: "x", onclick: fn}, "text", child, [more, children])
 * Attributes starting with "on" become listeners; null/false attributes and children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    const name = key.toLowerCase();
    if (name.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`h(): ${key} must be a function`);
      el.addEventListener(name.slice(2), value);
    } else if (name === "style") {
      throw new TypeError("h(): no style attribute (the CSP refuses it): use a class");
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Text for Leaflet (a tooltip, a popup, a divIcon): an element, so that Leaflet appends it
 * instead of parsing a string as HTML. Change it later with .textContent. */
export function textLabel(text, className = null) {
  return h("span", { class: className }, text);
}

/** A path on this server ("/tiles/{z}/{x}/{y}.png") or a URL of this very origin
 * (resolved as the browser would: "//elsewhere/…" is elsewhere). */
export function sameOrigin(url) {
  return originOf(url) === window.location.origin;
}

/** The origin a URL (relative to the page) points at, as the browser writes it; null when
 * it is not a URL. */
export function originOf(url) {
  try {
    return new URL(url, window.location.href).origin;
  } catch {
    return null;
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const $ = (id) => document.getElementById(id);

/** "2 min", "1 h 05 min", "3 d" — how long ago or how long until. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(hrs / 24)} d`;
}

/** "14:05:09 UTC" (and the date when it is not today). */
export function utc(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const today = new Date().toISOString().slice(0, 10);
  const day = d.toISOString().slice(0, 10);
  const time = d.toISOString().slice(11, 19);
  return day === today ? `${time} UTC` : `${day} ${time} UTC`;
}

/** A vocabulary word for people: "antenna_mast" → "antenna mast". */
export const words = (w) => String(w).replaceAll("_", " ");
