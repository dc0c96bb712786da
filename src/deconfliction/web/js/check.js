// The check form and its verdict. The verdict fills the screen; a HOLD is unmistakable.
// The check's own position is never drawn on the map (principle 2): only the matches
// this token may see are highlighted.
import { api, ApiError, Unreachable } from "/web/js/api.js";
import { $, clear, duration, h, utc, words } from "/web/js/dom.js";
import { formatLatLon, formatMgrs, parsePosition } from "/web/js/coords.js";

/** "4:07" under an hour (seconds tick), else "2 h 05 min". */
function countdown(seconds) {
  if (seconds >= 3600) return duration(seconds);
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Append what is there (render helpers return null for "nothing to show"). */
function put(parent, ...nodes) {
  parent.append(...nodes.filter((n) => n !== null && n !== undefined));
}

export class CheckForm {
  constructor({ me, vocabulary, parties, map, onUnauthorised }) {
    this.me = me;
    this.parties = parties;
    this.map = map;
    this.onUnauthorised = onUnauthorised;
    this.countdown = null;
    this.last = null;
    this.fill(vocabulary);
    const form = $("check-form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    $("check-position").addEventListener("input", () => this.readout());
    $("use-centre").addEventListener("click", () => {
      const c = this.map.centre();
      this.pick(c.lat, c.lon);
    });
    $("check-unit-row").hidden = Boolean(me.unit_id);
    $("hitbanner-show").addEventListener("click", () => this.reopen());
    $("hitbanner-clear").addEventListener("click", () => this.dismiss());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("verdict").hidden) this.collapse();
    });
  }

  fill(vocabulary) {
    const mobility = $("check-mobility");
    for (const word of vocabulary.mobility) mobility.append(h("option", { value: word }, words(word)));
    const features = clear($("check-features"));
    for (const word of vocabulary.features) {
      const id = `feature-${word}`;
      features.append(
        h("label", { for: id }, h("input", { type: "checkbox", id, name: "features", value: word }), words(word)),
      );
    }
  }

  pick(lat, lon) {
    $("check-position").value = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
    this.readout();
  }

  readout() {
    const out = $("position-readout");
    const text = $("check-position").value;
    if (!text.trim()) {
      out.textContent = "";
      return null;
    }
    try {
      const pos = parsePosition(text);
      const square = pos.point.mgrs ? " (MGRS square: its centre; the service widens the radius)" : "";
      out.textContent = `${formatLatLon(pos.lat, pos.lon)} · ${formatMgrs(pos.lat, pos.lon)}${square}`;
      return pos;
    } catch (err) {
      out.textContent = err.message;
      return null;
    }
  }

  body() {
    const form = $("check-form");
    const pos = parsePosition($("check-position").value);
    const cep = Number($("check-cep").value);
    if (!Number.isFinite(cep) || cep < 0 || $("check-cep").value === "") {
      throw new Error("CEP must be a number of metres, 0 or more");
    }
    const observed = {
      features: [...form.querySelectorAll("input[name=features]:checked")].map((i) => i.value),
      certainty: form.querySelector("input[name=certainty]:checked")?.value || "probable",
    };
    if ($("check-mobility").value) observed.mobility = $("check-mobility").value;
    const unit = this.me.unit_id || $("check-unit").value.trim();
    if (!unit) throw new Error("an admin token checks as a unit: name it");
    const body = { unit_id: unit, position: pos.point, cep_m: cep, observed };
    const note = $("check-note").value.trim();
    if (note) body.note = note;
    return body;
  }

  async submit() {
    const error = $("check-error");
    error.textContent = "";
    let body;
    try {
      body = this.body();
    } catch (err) {
      error.textContent = err.message;
      $("check-position").focus();
      return;
    }
    const button = $("check-submit");
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      const answer = await api("POST", "/v1/checks", body);
      this.show({ kind: "answer", answer });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        this.onUnauthorised();
      } else if (err instanceof Unreachable) {
        this.show({ kind: "incomplete", message: err.message });
      } else if (err instanceof ApiError && (err.treatAs === "HOLD" || err.status === 429 || err.status >= 500)) {
        this.show({ kind: "incomplete", message: err.message, status: err.status, retryAfter: err.retryAfter });
      } else {
        error.textContent = err.message;
      }
    } finally {
      button.disabled = false;
      button.textContent = "Check";
    }
  }

  partyName(id) {
    return this.parties.get(id)?.name || id;
  }

  /** Fill the screen with the verdict. */
  show(result) {
    this.last = result;
    this.map.clearHighlight();
    const hold = result.kind === "incomplete" || result.answer.verdict === "HOLD";
    const panel = clear($("verdict"));
    panel.className = `verdict ${hold ? "hold" : "nkm"}`;
    panel.dataset.verdict = hold ? "HOLD" : "NO_KNOWN_MATCH";
    if (result.kind === "incomplete") this.renderIncomplete(panel, result);
    else if (hold) this.renderHold(panel, result.answer);
    else this.renderNoKnownMatch(panel, result.answer);
    panel.hidden = false;
    $("hitbanner").hidden = true;
    panel.focus();
  }

  actions(answer) {
    const back = h("button", { type: "button", class: "primary", id: "verdict-map" }, "Show on map (Esc)");
    back.addEventListener("click", () => this.collapse());
    const again = h("button", { type: "button", id: "verdict-new" }, "New check");
    again.addEventListener("click", () => {
      this.dismiss();
      $("check-position").focus();
    });
    return h("div", { class: "actions" }, back, again);
  }

  renderIncomplete(panel, r) {
    const retry = r.retryAfter ? ` Retry in ${r.retryAfter} s.` : "";
    put(panel, 
      h("p", { class: "word", id: "verdict-word" }, "HOLD"),
      h("p", { class: "lead" }, "No complete answer — treat the point as HOLD."),
      h("div", { class: "match" },
        h("h3", {}, r.status ? `The service answered ${r.status}` : "No answer"),
        h("ul", { id: "verdict-reasons" }, h("li", {}, `${r.message}.${retry}`))),
      this.actions(null),
    );
  }

  renderHold(panel, a) {
    const listed = a.matches.length;
    const more = a.match_count > listed ? ` (${listed} listed)` : "";
    put(panel, 
      h("p", { class: "word", id: "verdict-word" }, "HOLD"),
      h("p", { class: "lead" },
        `A friendly or protected asset could be there: ${a.match_count} match${a.match_count === 1 ? "" : "es"}${more}. ` +
        "Do not act before deconflicting with the contact named."),
      this.actions(a),
      h("div", { class: "matches", id: "verdict-reasons" }, a.matches.map((m) => this.renderMatch(m))),
      this.renderGaps(a.coverage_gaps),
      this.renderValidity(a),
    );
  }

  renderNoKnownMatch(panel, a) {
    put(panel, 
      h("p", { class: "word", id: "verdict-word" }, "NO KNOWN MATCH"),
      h("p", { class: "lead" },
        "Nothing registered could be there. This is not a clearance: only what is registered is known."),
      this.renderValidity(a),
      this.renderGaps(a.coverage_gaps, true),
      this.actions(a),
    );
  }

  renderMatch(m) {
    const badges = [h("span", { class: "badge" }, m.kind || "withheld")];
    if (m.stale) badges.push(h("span", { class: "badge warn" }, "stale report"));
    const title = m.details_withheld
      ? `Details withheld — ${this.partyName(m.party_id)}`
      : `${m.reasons[0] || m.id}`;
    const reasons = m.details_withheld ? m.reasons : m.reasons.slice(1);
    const conflicts = m.feature_conflicts.map((c) =>
      h("li", {}, `Not as reported: ${words(c.feature)}${c.cue ? ` — cue: ${c.cue}` : ""}`));
    const owner = m.owner_response
      ? h("p", {}, `Owner answered “${words(m.owner_response.response)}” (${m.owner_response.by}, ${utc(m.owner_response.at)})`)
      : null;
    return h("article", { class: "match" },
      h("h3", {}, badges, title),
      h("ul", {}, reasons.map((r) => h("li", {}, r)), conflicts),
      owner,
      h("p", { class: "contact" }, `Contact: ${m.contact || this.partyName(m.party_id)}`),
      h("p", { class: "hint" }, `Party: ${this.partyName(m.party_id)}`),
    );
  }

  renderGaps(gaps, prominent = false) {
    if (!gaps.length) {
      return prominent ? h("div", { class: "gaps", id: "verdict-gaps" }, h("p", {}, "No coverage gaps reported here.")) : null;
    }
    return h("div", { class: "gaps", id: "verdict-gaps" },
      h("h3", {}, "Coverage gaps — parties operating here without fresh reports"),
      h("ul", {}, gaps.map((g) => h("li", {}, `${this.partyName(g.party_id)}: ${g.reason}`))));
  }

  renderValidity(a) {
    const count = h("span", { class: "countdown", id: "verdict-countdown" });
    const box = h("div", { class: "validity" },
      h("p", {}, "Valid until ", h("strong", { id: "verdict-valid-until", "data-valid-until": a.valid_until }, utc(a.valid_until)),
        " — ", count),
      h("p", { class: "meta" }, `Check ${a.id}, evaluated ${utc(a.evaluated_at)}`));
    clearInterval(this.countdown);
    const until = new Date(a.valid_until).getTime();
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left <= 0) {
        count.textContent = "EXPIRED: check again";
        count.classList.add("expired");
        clearInterval(this.countdown);
      } else {
        count.textContent = `${countdown(left)} left`;
      }
    };
    tick();
    this.countdown = setInterval(tick, 1000);
    return box;
  }

  /** Back to the map: a banner keeps the verdict in view, the visible matches are highlighted. */
  collapse() {
    if (!this.last) return;
    $("verdict").hidden = true;
    const banner = $("hitbanner");
    const r = this.last;
    const hold = r.kind === "incomplete" || r.answer.verdict === "HOLD";
    banner.className = `hitbanner ${hold ? "hold" : "nkm"}`;
    let text;
    if (r.kind === "incomplete") text = "HOLD — no complete answer";
    else if (hold) {
      const shown = this.map.highlight(r.answer.matches);
      text = `HOLD — ${r.answer.match_count} match${r.answer.match_count === 1 ? "" : "es"}, ${shown} shown on the map`;
    } else text = `NO KNOWN MATCH — valid until ${utc(r.answer.valid_until)} (not a clearance)`;
    $("hitbanner-text").textContent = text;
    banner.hidden = false;
    $("hitbanner-show").focus();
  }

  reopen() {
    if (this.last) this.show(this.last);
  }

  dismiss() {
    clearInterval(this.countdown);
    this.last = null;
    this.map.clearHighlight();
    $("verdict").hidden = true;
    $("hitbanner").hidden = true;
  }
}
