// Times and messages as a tired operator reads them, at the moment they are read:
// "17:24Z (in 29 min)", with the unit's own time zone where it has one ("17:24Z (18:24 CET,
// in 29 min)"), the date in front when it is 20 h or more away. The same as the server's
// domain/notice_text.py and domain/wording.py (GeoChat); tests/web/test_texts.py holds the two
// to the same output. The acknowledgement rule is taken out of each message: the inbox says
// it once, at the top of the screen.

const RULES = [
  "Acknowledgement means received, never approved: answering says you were told, not that anything is cleared or permitted.",
  "Acknowledgement means received, never approved.",
];
/** An RFC 3339 instant inside a text. */
const INSTANT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Python's round(): halves to the even neighbour. */
function roundEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** "45 s", "29 min", "1.5 h", "3 days" (wording.duration). */
export function span(seconds) {
  const s = Math.abs(seconds);
  if (s < 90) return `${roundEven(s)} s`;
  const minutes = s / 60;
  if (minutes < 90) return `${roundEven(minutes)} min`;
  const hours = minutes / 60;
  if (hours < 48) return `${(roundEven(hours * 10) / 10).toFixed(1)} h`.replace(".0 h", " h");
  return `${roundEven(hours / 24)} days`;
}

/** "in 29 min", "2 min ago", "now" (within 30 s). */
export function relative(seconds) {
  if (Math.abs(seconds) < 30) return "now";
  return seconds > 0 ? `in ${span(seconds)}` : `${span(seconds)} ago`;
}

function local(ms, timeZone) {
  try {
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short",
    }).formatToParts(new Date(ms));
    const get = (type) => parts.find((p) => p.type === type)?.value || "";
    return `${get("hour")}:${get("minute")} ${get("timeZoneName")}`.trim();
  } catch {
    return null; // a zone this browser does not know: UTC alone
  }
}

/** One instant as "17:24Z (in 29 min)", read at nowMs; what is not an instant, unchanged. */
export function when(iso, nowMs = Date.now(), timeZone = null) {
  if (!iso) return "";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso);
  const floored = Math.floor(ms / 1000) * 1000;
  const d = new Date(floored);
  const far = Math.abs(ms - nowMs) >= 20 * 3600 * 1000;
  const day = far ? `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ` : "";
  const hhmm = `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}Z`;
  let inside = relative((ms - nowMs) / 1000);
  const there = timeZone ? local(floored, timeZone) : null;
  if (there) inside = `${there}, ${inside}`;
  return `${day}${hhmm} (${inside})`;
}

/** One punctuation mark where two met ("like.." → "like."), single spaces. */
export function tidy(text) {
  return text.replace(/([.!?;:,])(?:\s*[.;:,])+/g, "$1").replace(/[ \t]{2,}/g, " ").trim();
}

/** The message without the acknowledgement rule, split into text and instants:
 * [{text}, {time: iso}, …] (instants are drawn as <time> and kept up to date). */
export function parts(message) {
  let text = String(message || "");
  for (const rule of RULES) text = text.replaceAll(rule, " ");
  text = tidy(text);
  const out = [];
  let at = 0;
  for (const m of text.matchAll(INSTANT)) {
    if (m.index > at) out.push({ text: text.slice(at, m.index) });
    out.push({ time: m[0] });
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push({ text: text.slice(at) });
  return out;
}

/** The message as read at nowMs (notice_text.humanise). */
export function humanise(message, nowMs = Date.now(), timeZone = null) {
  return tidy(parts(message).map((p) => (p.time ? when(p.time, nowMs, timeZone) : p.text)).join(""));
}
