// Recognition cards: the catalogue, each type's profile, picture, and its look-alikes side
// by side with the cue that tells them apart. A type that exists only as another type's
// look-alike (named in a confusable_with, with no symbol code of its own: another side's
// vehicle) gets no card of its own (principle 2): it appears only as the "looks like" half.
import { $, clear, h, sameOrigin, words } from "/web/js/dom.js";
import { symbol } from "/web/js/symbols.js";

export function lookAlikeOnly(types) {
  const named = new Set();
  for (const t of types) for (const c of t.confusable_with || []) named.add(c.type_id);
  return new Set(types.filter((t) => named.has(t.id) && !t.sidc).map((t) => t.id));
}

function features(list, other) {
  const mark = new Set(other ? list.filter((f) => !other.includes(f)) : []);
  if (!list.length) return h("span", { class: "hint" }, "none listed");
  return list.map((f) => h("span", {
    class: mark.has(f) ? "feat only" : "feat",
    title: mark.has(f) ? "only this one has it" : null,
  }, words(f)));
}

function profile(t, other) {
  const p = t.profile || {};
  const rows = [
    ["mobility", words(p.mobility || "—")],
    ["axles", p.axles ?? "—"],
    ["size", p.size_class ? words(p.size_class) : "—"],
    ["max speed", `${t.max_speed_kmh} km/h`],
    ["features", features(p.features || [], other?.profile?.features)],
  ];
  return h("dl", { class: "profile" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A picture on this server only: one elsewhere would tell its owner who looks at the card
 * (and the CSP refuses it anyway). Its address is then shown as text, not fetched. */
function picture(t) {
  if (!t.picture_url) return null;
  if (!sameOrigin(t.picture_url)) {
    return h("p", { class: "hint picture-elsewhere" }, `Picture not shown (not on this server): ${t.picture_url}`);
  }
  return h("img", { class: "picture", src: t.picture_url, alt: `Picture of ${t.name}`, loading: "lazy" });
}

/** A notification's recognition card: the catalogue's card of its type when the catalogue
 * has it (look-alikes side by side), else what the notification carries. */
export function noticeCard(c, byId) {
  const known = byId.get(c.type_id);
  if (known) return typeCard(known, byId, `notice-card-${c.type_id}`);
  const t = {
    id: c.type_id, name: c.name, sidc: c.sidc, picture_url: c.picture_url, profile: c.profile,
    max_speed_kmh: c.max_speed_kmh, variant_of: c.variant_of?.type_id || null,
    confusable_with: (c.looks_like || []).map((l) => ({ type_id: l.type_id, cue: l.cue })),
  };
  const names = new Map(byId);
  for (const l of c.looks_like || []) if (!names.has(l.type_id)) names.set(l.type_id, { id: l.type_id, name: l.name, profile: { features: [] } });
  if (c.variant_of && !names.has(c.variant_of.type_id)) names.set(c.variant_of.type_id, { id: c.variant_of.type_id, name: c.variant_of.name });
  return typeCard(t, names, `notice-card-${c.type_id}`);
}

export function typeCard(t, byId, id = `card-${t.id}`) {
  const sym = t.sidc ? symbol(t.sidc, { size: 30 }) : null;
  const variant = t.variant_of ? byId.get(t.variant_of) : null;
  const variants = [...byId.values()].filter((v) => v.variant_of === t.id);
  const looks = (t.confusable_with || []).map((c) => {
    const other = byId.get(c.type_id);
    return h("section", { class: "lookalike" },
      h("h3", {}, `Looks like ${other ? other.name : c.type_id}`),
      h("div", { class: "pair" },
        h("div", {}, h("h4", {}, t.name), picture(t), profile(t, other)),
        h("div", {}, h("h4", {}, other ? other.name : c.type_id),
          other ? [picture(other), profile(other, t)] : h("p", { class: "hint" }, "not in the catalogue"))),
      h("p", { class: "cue" }, `Cue: ${c.cue}`));
  });
  return h("article", { class: "card", id, "data-type": t.id },
    h("header", {},
      sym ? h("img", { class: "sym", src: sym.url, alt: `Symbol ${t.sidc}` }) : null,
      h("div", {},
        h("h2", {}, t.name),
        h("div", { class: "sub" }, t.id, variant ? ` · variant of ${variant.name}` : t.variant_of ? ` · variant of ${t.variant_of}` : ""),
        variants.length ? h("div", { class: "sub" }, `Variants: ${variants.map((v) => v.name).join(", ")}`) : null)),
    picture(t),
    profile(t, null),
    looks);
}

export function renderCards(types) {
  const box = clear($("cards"));
  const byId = new Map(types.map((t) => [t.id, t]));
  const hidden = lookAlikeOnly(types);
  const shown = types.filter((t) => !hidden.has(t.id)).sort((a, b) => a.name.localeCompare(b.name));
  if (!shown.length) box.append(h("p", { class: "hint" }, "The catalogue is empty."));
  for (const t of shown) box.append(typeCard(t, byId));
}
