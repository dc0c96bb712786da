// Start-up: sign in with a unit token, then the map and check view or the recognition cards.
import { api, ApiError, listAll, token } from "/web/js/api.js";
import { $, h } from "/web/js/dom.js";
import { MapView } from "/web/js/map.js";
import { CheckForm } from "/web/js/check.js";
import { renderCards } from "/web/js/cards.js";
import { Inbox } from "/web/js/inbox.js";
import { Dashboard } from "/web/js/dashboard.js";

const state = { me: null, parties: new Map(), map: null, check: null, types: null, inbox: null, dashboard: null };
const VIEWS = { "signin-view": null, "map-view": "tab-map", "inbox-view": "tab-inbox", "dashboard-view": "tab-dashboard", "cards-view": "tab-cards" };

function show(view) {
  for (const [id, tab] of Object.entries(VIEWS)) {
    $(id).hidden = id !== view;
    if (tab) {
      if (id === view) $(tab).setAttribute("aria-current", "page");
      else $(tab).removeAttribute("aria-current");
    }
  }
  if (view !== "dashboard-view") state.dashboard?.hide();
}

/** The catalogue, read once (recognition cards, the inbox's cards). */
async function catalogue() {
  if (!state.types) state.types = await listAll("/v1/equipment-types");
  return state.types;
}

const NOTICE = "deconfliction.notice";

function signedOut(message = "") {
  token.clear();
  if (state.map) {
    // Whatever the last token could see goes with the page.
    if (message) sessionStorage.setItem(NOTICE, message);
    window.location.reload();
    return;
  }
  message = message || sessionStorage.getItem(NOTICE) || "";
  sessionStorage.removeItem(NOTICE);
  $("nav").hidden = true;
  $("signout").hidden = true;
  $("whoami").textContent = "";
  $("signin-error").textContent = message;
  show("signin-view");
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  token.set(value);
  $("token").value = "";
  try {
    await start();
  } catch (err) {
    token.clear();
    $("signin-error").textContent =
      err instanceof ApiError && err.status === 401 ? "This token is not valid (unknown, expired or revoked)." : err.message;
  }
}

async function start() {
  // In parallel: a 401 on /v1/me still fails the sign-in (the others fail the same way).
  const [me, parties, vocabulary, tiles] = await Promise.all([
    api("GET", "/v1/me"), listAll("/v1/parties"), api("GET", "/v1/vocabulary"),
    api("GET", "/v1/map/tile-origins"),
  ]);
  state.me = me;
  state.parties = new Map(parties.map((p) => [p.id, p]));
  let unitName = me.unit_id;
  let unit = null;
  if (me.unit_id) {
    try {
      unit = await api("GET", `/v1/units/${encodeURIComponent(me.unit_id)}`);
      unitName = unit.name;
    } catch {
      /* the id will do */
    }
  }
  const party = state.parties.get(me.party_id);
  $("whoami").replaceChildren(
    h("strong", {}, unitName || "admin"),
    party ? ` · ${party.name}` : "",
    ` · ${me.role}`,
  );
  $("nav").hidden = false;
  $("signout").hidden = false;
  show("map-view");
  const expired = () => signedOut("Your token is no longer valid: sign in again.");
  state.map = new MapView({
    parties: state.parties,
    tileOrigins: tiles.tile_origins,
    onPick: (lat, lon) => state.check.pick(lat, lon),
    onUnauthorised: expired,
  });
  state.map.setHome(unit?.aor);
  state.check = new CheckForm({
    me, vocabulary, parties: state.parties, map: state.map,
    onUnauthorised: expired,
  });
  $("tile-apply").addEventListener("click", () => state.map.saveTiles($("tile-url").value));
  $("map-refresh").addEventListener("click", () => state.map.load());
  if (me.role === "coordinator" || me.role === "admin") {
    $("tab-dashboard").hidden = false;
    state.dashboard = new Dashboard({ me, onUnauthorised: expired });
  }
  await state.map.load().catch((err) => {
    if (err instanceof ApiError && err.status === 401) expired();
    else $("map-status").textContent = `The map could not be loaded: ${err.message}`;
  });
  // The inbox after the map: a unit's history may be long, and the map is what a check needs.
  if (me.unit_id) {
    $("tab-inbox").hidden = false;
    state.inbox = new Inbox({
      unitId: me.unit_id,
      timeZone: unit?.time_zone,
      catalogue: async () => new Map((await catalogue()).map((t) => [t.id, t])),
      onUnauthorised: expired,
      onOpen: () => (location.hash = "#/inbox"),
    });
    state.inbox.start().catch((err) => {
      if (err instanceof ApiError && err.status === 401) expired();
      else $("inbox-status").textContent = `The inbox could not be loaded: ${err.message}`;
    });
  }

  route();
}

async function route() {
  if (!state.me) return;
  if (location.hash.startsWith("#/inbox") && state.inbox) {
    show("inbox-view");
  } else if (location.hash.startsWith("#/dashboard") && state.dashboard) {
    show("dashboard-view");
    const subject = decodeURIComponent(location.hash.slice("#/dashboard/".length)) || null;
    state.dashboard.show(subject).catch((err) => {
      $("dashboard-status").textContent = `The dashboard could not be loaded: ${err.message}`;
    });
  } else if (location.hash.startsWith("#/cards")) {
    show("cards-view");
    try {
      await catalogue();
    } catch (err) {
      $("cards").textContent = `The catalogue could not be loaded: ${err.message}`;
      return;
    }
    renderCards(state.types);
    const id = decodeURIComponent(location.hash.slice("#/cards/".length));
    if (id) document.getElementById(`card-${id}`)?.scrollIntoView();
  } else {
    show("map-view");
    state.map?.map.invalidateSize();
    // "#/map/@48.65,35.92,13": centre the map there (a view to share or bookmark).
    const at = /^#\/map\/@(-?[\d.]+),(-?[\d.]+)(?:,([\d.]+))?$/.exec(location.hash);
    if (at && state.map) state.map.map.setView([Number(at[1]), Number(at[2])], Number(at[3] || 13), { animate: false });
  }
}

$("signin-form").addEventListener("submit", signIn);
$("signout").addEventListener("click", () => signedOut());
window.addEventListener("hashchange", route);

if (token.get()) {
  start().catch((err) =>
    signedOut(err instanceof ApiError && err.status === 401 ? "Your token is no longer valid: sign in again." : err.message),
  );
} else {
  signedOut();
}
