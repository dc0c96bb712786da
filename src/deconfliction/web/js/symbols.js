// APP-6 / MIL-STD-2525 symbols drawn by milsymbol (loaded as the global `ms`).
// The UI never draws a hostile symbol (principle 2): whatever a code says, a registered
// asset is drawn friendly, or neutral when its party is humanitarian.

const FRIEND = "SFGP-----------";
const NEUTRAL = "SNGP-----------";
const cache = new Map();

/** The code with its identity forced to friend (or neutral). */
export function safeSidc(sidc, neutral = false) {
  if (!sidc) return neutral ? NEUTRAL : FRIEND;
  const code = String(sidc).toUpperCase();
  if (/^\d{20,30}$/.test(code)) {
    // 2525D/E and APP-6 D: the 4th digit is the standard identity (3 friend, 4 neutral).
    const keepNeutral = neutral || code[3] === "4";
    return `${code.slice(0, 3)}${keepNeutral ? "4" : "3"}${code.slice(4)}`;
  }
  if (code.length >= 10) {
    // Letter codes (2525B/C, APP-6 A/B): the second character is the affiliation.
    const keepNeutral = neutral || code[1] === "N" || code[1] === "L";
    return `${code[0]}${keepNeutral ? "N" : "F"}${code.slice(2)}`;
  }
  return neutral ? NEUTRAL : FRIEND;
}

/** {url, width, height, anchor: {x, y}} of a symbol, cached. */
export function symbol(sidc, { neutral = false, size = 26 } = {}) {
  const code = safeSidc(sidc, neutral);
  const key = `${code}|${size}`;
  if (!cache.has(key)) {
    let sym = new window.ms.Symbol(code, { size });
    if (!sym.isValid()) sym = new window.ms.Symbol(neutral ? NEUTRAL : FRIEND, { size });
    const { width, height } = sym.getSize();
    cache.set(key, { url: sym.toDataURL(), width, height, anchor: sym.getAnchor() });
  }
  return cache.get(key);
}
