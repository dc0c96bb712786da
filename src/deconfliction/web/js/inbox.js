// The signed-in unit's inbox: its notifications, live (server-sent events read with fetch),
// most urgent first, each with its recognition card and the answers it takes. A count of the
// unanswered ones sits in the top bar; an urgent one raises a high-contrast banner (no sound).
// An acknowledgement means "received", never "approved": the screen says so once, at its top
// (three times per card was noise a tired operator learns to skip). Times read
// "17:24Z (in 29 min)", in the unit's own time zone too, and keep counting (when.js).
import { api, ApiError } from "/web/js/api.js";
import { $, clear, h, words } from "/web/js/dom.js";
import { humanise, parts, when } from "/web/js/when.js";
import { formatLatLon, formatMgrs } from "/web/js/coords.js";
import { noticeCard } from "/web/js/cards.js";
import { follow } from "/web/js/sse.js";

const BY_KEY = "deconfliction.answeredBy";
/** At most this many notifications are drawn per list (the most urgent; the rest counted). */
const SHOWN = 100;
/** Live events are drawn together, at most this often (a replayed history is thousands). */
const RENDER_MS = 150;

const CAUSE = {
  announced_arrival: "Announced arrival",
  unannounced_entry: "Unannounced entry",
  recognition_briefing: "Recognition briefing",
  hold_on_your_asset: "HOLD on your asset",
  escalation: "Escalation",
  probing_suspected: "Possible probing",
};

const ANSWER = {
  acknowledged: "Acknowledge (received)",
  briefed: "Briefed — we know what it looks like",
  confirmed_ours: "Confirmed ours",
};

export const unanswered = (n) => n.response === null && (n.state === "pending" || n.state === "escalated");

/** Most urgent first: urgent ones, then by deadline (none last), then oldest. */
export function byUrgency(a, b) {
  if (a.urgent !== b.urgent) return a.urgent ? -1 : 1;
  if ((a.deadline === null) !== (b.deadline === null)) return a.deadline === null ? 1 : -1;
  return (a.deadline || "").localeCompare(b.deadline || "") || a.created_at.localeCompare(b.created_at);
}

export class Inbox {
  constructor({ unitId, timeZone, catalogue, onUnauthorised, onOpen }) {
    this.unitId = unitId;
    this.timeZone = timeZone || null; // the unit's IANA zone, if it has one
    this.catalogue = catalogue; // async () => Map(type id → type)
    this.byId = new Map();
    this.items = new Map(); // notification id → its newest view
    this.open = new Set(); // notification ids whose card is shown
    this.onUnauthorised = onUnauthorised;
    this.onOpen = onOpen;
    $("answer-by").value = sessionStorage.getItem(BY_KEY) || "";
    $("answer-by").addEventListener("change", () => sessionStorage.setItem(BY_KEY, $("answer-by").value.trim()));
    $("alert-open").addEventListener("click", () => this.onOpen());
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  async start() {
    try {
      this.byId = await this.catalogue();
    } catch {
      this.byId = new Map(); // the cards fall back to what each notification carries
    }
    const path = `/v1/units/${encodeURIComponent(this.unitId)}/notifications`;
    const first = await api("GET", `${path}?state=pending&limit=1000`);
    for (const n of first.items) this.items.set(n.id, n);
    this.render();
    this.stream = follow(`${path}/stream`, {
      onEvent: (ev) => this.received(ev),
      onStatus: (text) => ($("inbox-status").textContent = `Stream: ${text}`),
      onUnauthorised: this.onUnauthorised,
    });
  }

  received(ev) {
    let item;
    try {
      item = JSON.parse(ev.data);
    } catch {
      return;
    }
    const n = item.notification;
    if (!n || !n.id) return;
    const had = this.items.get(n.id);
    // Events replayed from the start of the stream may be older than what we hold.
    if (had && had.response && !n.response) return;
    this.items.set(n.id, n);
    this.scheduleRender();
  }

  scheduleRender() {
    if (this.renderTimer) return;
    this.renderTimer = setTimeout(() => {
      this.renderTimer = null;
      this.render();
    }, RENDER_MS);
  }

  stop() {
    this.stream?.stop();
    clearInterval(this.ticker);
  }

  render() {
    // Keep the keyboard where it was: a live update must not throw the focus away.
    const active = document.activeElement;
    const focused = active?.closest?.("article.notice") && active.dataset.answer
      ? [active.closest("article.notice").id, active.dataset.answer] : null;
    const all = [...this.items.values()];
    const open = all.filter(unanswered).sort(byUrgency);
    const done = all.filter((n) => !unanswered(n)).sort((a, b) => (b.response?.at || "").localeCompare(a.response?.at || ""));
    const count = $("inbox-count");
    count.textContent = String(open.length);
    count.hidden = open.length === 0;
    count.classList.toggle("urgent", open.some((n) => n.urgent));
    $("tab-inbox").setAttribute("aria-label", `Inbox, ${open.length} unanswered`);
    this.alert(open.filter((n) => n.urgent));
    const list = clear($("inbox-list"));
    if (!open.length) list.append(h("p", { class: "hint", id: "inbox-empty" }, "Nothing waits for an answer."));
    for (const n of open.slice(0, SHOWN)) list.append(this.item(n));
    if (open.length > SHOWN) {
      list.append(h("p", { class: "hint" }, `${open.length - SHOWN} more unanswered, less urgent: answer the ones above first.`));
    }
    const answered = clear($("inbox-answered"));
    for (const n of done.slice(0, 50)) answered.append(this.item(n));
    $("inbox-answered-box").hidden = done.length === 0;
    if (focused) document.querySelector(`#${CSS.escape(focused[0])} button[data-answer="${CSS.escape(focused[1])}"]`)?.focus();
    this.tick();
  }

  alert(urgent) {
    const banner = $("alert-banner");
    banner.hidden = urgent.length === 0;
    if (!urgent.length) return;
    const first = urgent[0];
    $("alert-text").textContent =
      `URGENT (${urgent.length}): ${CAUSE[first.cause] || words(first.cause)} — ${humanise(first.message, Date.now(), this.timeZone)}`;
  }

  item(n) {
    const answered = !unanswered(n);
    const facts = [];
    const row = (k, v) => v && facts.push(h("dt", {}, k), h("dd", {}, v));
    if (n.asset) row("asset", n.asset.callsign || n.asset.id);
    else if (n.details_withheld) row("asset", "details withheld");
    if (n.window) row("window", [this.time(n.window.start), " – ", n.window.end ? this.time(n.window.end) : "open"]);
    if (n.entry) {
      const p = n.entry.position;
      row("enters", [this.time(n.entry.at), p ? ` at ${formatLatLon(p.lat, p.lon)} · ${formatMgrs(p.lat, p.lon)}` : ""]);
    }
    if (n.owner_party_id) row("owner", n.owner_party_id);
    row("contact", n.contact);
    if (n.arrival_count) row("arrivals", String(n.arrival_count));
    // The card is built when first opened: an inbox may hold hundreds of notifications.
    const cardBox = n.card
      ? h("details", { class: "notice-card", open: this.open.has(n.id) || null,
        ontoggle: (e) => {
          const box = e.target;
          if (box.open) {
            this.open.add(n.id);
            if (!box.querySelector("article.card")) box.append(noticeCard(n.card, this.byId));
          } else this.open.delete(n.id);
        } },
      h("summary", {}, `Recognition card: ${n.card.name}`),
      this.open.has(n.id) ? noticeCard(n.card, this.byId) : null)
      : null;
    const answers = answered
      ? h("p", { class: "answered" },
        `Answered “${words(n.response.response)}” by ${n.response.by}, `, this.time(n.response.at), ".")
      : h("div", { class: "answers" },
        n.answers.map((a) => h("button", {
          type: "button", class: a === "acknowledged" ? "" : "primary", "data-answer": a,
          onclick: (e) => this.answer(n, a, e.target),
        }, ANSWER[a] || words(a))),
        h("p", { class: "error", role: "alert" }));
    return h("article", {
      class: `notice${n.urgent ? " urgent" : ""}${answered ? " done" : ""}`,
      id: `notice-${n.id}`, "data-cause": n.cause, "data-state": n.state,
    },
    h("header", {},
      n.urgent ? h("span", { class: "badge urgent" }, "urgent") : null,
      n.state === "escalated" ? h("span", { class: "badge warn" }, "escalated") : null,
      h("strong", {}, CAUSE[n.cause] || words(n.cause)),
      n.deadline ? h("span", { class: "deadline", "data-deadline": n.deadline }, "") : null),
    h("p", { class: "message" }, parts(n.message).map((p) => (p.time ? this.time(p.time) : p.text))),
    facts.length ? h("dl", { class: "facts" }, facts) : null,
    cardBox,
    answers);
  }

  /** An instant, kept up to date by tick(): "17:24Z (in 29 min)". */
  time(iso) {
    return h("time", { class: "when", datetime: iso }, when(iso, Date.now(), this.timeZone));
  }

  /** Deadlines and times count in place. */
  tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll("#inbox-view .deadline")) {
      const left = (new Date(el.dataset.deadline).getTime() - now) / 1000;
      const at = when(el.dataset.deadline, now, this.timeZone);
      el.textContent = left >= 0 ? `answer by ${at}` : `OVERDUE since ${at}`;
      el.classList.toggle("overdue", left < 0);
    }
    for (const el of document.querySelectorAll("#inbox-view time.when")) {
      el.textContent = when(el.getAttribute("datetime"), now, this.timeZone);
    }
  }

  async answer(n, response, button) {
    const error = button.parentElement.querySelector(".error");
    const by = $("answer-by").value.trim();
    if (!by) {
      error.textContent = "Your name: who is answering (the by field) is needed.";
      $("answer-by").focus();
      return;
    }
    sessionStorage.setItem(BY_KEY, by);
    for (const b of button.parentElement.querySelectorAll("button")) b.disabled = true;
    try {
      const stored = await api("POST", `/v1/notifications/${encodeURIComponent(n.id)}/responses`, { by, response });
      this.items.set(n.id, { ...n, state: stored.state, response: { response: stored.response, by: stored.by, at: stored.at, as: stored.as } });
      this.render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return this.onUnauthorised();
      for (const b of button.parentElement.querySelectorAll("button")) b.disabled = false;
      error.textContent = `Not answered: ${err.message}${err.field ? ` (${err.field})` : ""}`;
    }
  }
}
