// The awareness dashboard (coordinators, admins): for one of the party's assets or operating
// areas, every unit that should know — when it was told, its deadline, whether and when it
// answered, whether it is briefed on the type, the escalations — soonest deadline first
// (the service's order), with the units still unanswered and unbriefed. It refreshes while
// shown: the answers it reports are other units' (nothing on this unit's own stream says so).
import { api, ApiError, listAll } from "/web/js/api.js";
import { $, clear, duration, h, utc, words } from "/web/js/dom.js";

const REFRESH_MS = 3000;

export class Dashboard {
  constructor({ me, onUnauthorised }) {
    this.me = me;
    this.onUnauthorised = onUnauthorised;
    this.units = new Map(); // id → name (those the token may read)
    this.subject = null; // "asset:<id>" | "area:<id>"
    this.timer = null;
    $("dashboard-subject").addEventListener("change", (e) => {
      this.subject = e.target.value;
      this.refresh();
    });
    $("dashboard-refresh").addEventListener("click", () => this.refresh());
  }

  async prepare() {
    if (this.prepared) return;
    this.prepared = true;
    const mine = (o) => this.me.role === "admin" || o.party_id === this.me.party_id;
    const [assets, areas, units] = await Promise.all([
      listAll("/v1/assets"), listAll("/v1/areas"), listAll("/v1/units").catch(() => []),
    ]);
    for (const u of units) this.units.set(u.id, u.name);
    const select = clear($("dashboard-subject"));
    const ownAssets = assets.filter(mine).sort((a, b) => a.callsign.localeCompare(b.callsign));
    const ownAreas = areas.filter((a) => mine(a) && a.kind === "operating");
    select.append(
      h("optgroup", { label: "Assets" }, ownAssets.map((a) => h("option", { value: `asset:${a.id}` }, `${a.callsign} (${a.id})`))),
      h("optgroup", { label: "Operating areas" }, ownAreas.map((a) => h("option", { value: `area:${a.id}` }, a.id))),
    );
    this.subject = ownAssets.length ? `asset:${ownAssets[0].id}` : ownAreas.length ? `area:${ownAreas[0].id}` : null;
    if (this.subject) select.value = this.subject;
    else $("dashboard-body").replaceChildren(h("p", { class: "hint" }, "Your party has no assets or operating areas registered."));
  }

  /** Show a subject ("asset:<id>" / "area:<id>") and keep it current while shown. */
  async show(subject) {
    await this.prepare();
    if (subject) {
      this.subject = subject;
      $("dashboard-subject").value = subject;
    }
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    await this.refresh();
  }

  hide() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    if (!this.subject) return;
    const [kind, ...rest] = this.subject.split(":");
    const id = rest.join(":");
    let data;
    try {
      data = await api("GET", `/v1/dashboard/awareness?${kind}=${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return this.onUnauthorised();
      $("dashboard-status").textContent = `Not refreshed: ${err.message}`;
      return;
    }
    $("dashboard-status").textContent = `Updated ${utc(new Date().toISOString())}`;
    this.render(data);
  }

  name(unitId) {
    return this.units.get(unitId) || unitId;
  }

  render(data) {
    const now = Date.now();
    const names = (ids) => (ids.length ? ids.map((u) => this.name(u)).join(", ") : "none");
    const summary = h("div", { class: "dash-summary" },
      h("p", { id: "dashboard-unanswered", class: data.unanswered.length ? "warn" : "ok" },
        h("strong", {}, "Not answered: "), names(data.unanswered)),
      h("p", { id: "dashboard-unbriefed", class: data.unbriefed.length ? "warn" : "ok" },
        h("strong", {}, "Not briefed on the type: "), names(data.unbriefed)),
      h("p", { class: "hint" }, "An answer means received, never approved."));
    const rows = data.told.map((r) => {
      const left = r.deadline ? (new Date(r.deadline).getTime() - now) / 1000 : null;
      const deadline = r.deadline
        ? `${utc(r.deadline)} (${left >= 0 ? `${duration(left)} left` : `${duration(-left)} overdue`})`
        : "—";
      const answer = r.response
        ? `${words(r.response.response)} — ${r.response.by}, ${utc(r.response.at)}`
        : "NO ANSWER";
      const escalations = r.escalations.map((e) =>
        `level ${e.level} → ${e.unit_id ? this.name(e.unit_id) : e.contact || e.party_id} ${utc(e.at)}${e.answered ? " (answered)" : ""}`);
      return h("tr", {
        "data-unit": r.unit_id || "", "data-answered": String(r.answered),
        class: r.answered ? "ok" : left !== null && left < 0 ? "overdue" : "",
      },
      h("td", {}, this.name(r.unit_id), h("div", { class: "sub" }, r.party_id)),
      h("td", {}, words(r.cause)),
      h("td", {}, utc(r.told_at)),
      h("td", {}, deadline),
      h("td", { class: "answer" }, answer),
      h("td", { class: "briefed" }, r.briefed === null ? "—" : r.briefed ? "briefed" : "NOT BRIEFED"),
      h("td", {}, escalations.length ? escalations.join("; ") : "—"));
    });
    const table = h("table", { class: "dash", id: "dashboard-table" },
      h("thead", {}, h("tr", {}, ["Unit", "Told about", "Told at", "Deadline", "Answer", "Type", "Escalations"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: "7", class: "hint" }, "No unit has been told about it."))));
    $("dashboard-body").replaceChildren(summary, table);
  }
}
