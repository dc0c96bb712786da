// Start-up: sign in with a unit token, then the map and check view or the recognition cards.
import { api, ApiError, listAll, token } from "/web/js/api.js";
import { $, h } from "/web/js/dom.js";
import { MapView } from "/web/js/map.js";
import { CheckForm } from "/web/js/check.js";
import { renderCards } from "/web/js/cards.js";

const state = { me: null, parties: new Map(), map: null, check: null, types: null };

function show(view) {
  for (const id of ["signin-view", "map-view", "cards-view"]) $(id).hidden = id !== view;
  $("tab-map").toggleAttribute("aria-current", view === "map-view");
  $("tab-cards").toggleAttribute("aria-current", view === "cards-view");
  if (view === "map-view") $("tab-map").setAttribute("aria-current", "page");
  if (view === "cards-view") $("tab-cards").setAttribute("aria-current", "page");
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
  const me = await api("GET", "/v1/me");
  state.me = me;
  const [parties, vocabulary] = await Promise.all([listAll("/v1/parties"), api("GET", "/v1/vocabulary")]);
  state.parties = new Map(parties.map((p) => [p.id, p]));
  let unitName = me.unit_id;
  if (me.unit_id) {
    try {
      unitName = (await api("GET", `/v1/units/${encodeURIComponent(me.unit_id)}`)).name;
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
    onPick: (lat, lon) => state.check.pick(lat, lon),
    onUnauthorised: expired,
  });
  state.check = new CheckForm({
    me, vocabulary, parties: state.parties, map: state.map,
    onUnauthorised: expired,
  });
  $("tile-apply").addEventListener("click", () => state.map.saveTiles($("tile-url").value));
  $("map-refresh").addEventListener("click", () => state.map.load());
  await state.map.load().catch((err) => {
    if (err instanceof ApiError && err.status === 401) expired();
    else $("map-status").textContent = `The map could not be loaded: ${err.message}`;
  });
  route();
}

async function route() {
  if (!state.me) return;
  if (location.hash.startsWith("#/cards")) {
    show("cards-view");
    if (!state.types) {
      try {
        state.types = await listAll("/v1/equipment-types");
      } catch (err) {
        $("cards").textContent = `The catalogue could not be loaded: ${err.message}`;
        return;
      }
    }
    renderCards(state.types);
    const id = decodeURIComponent(location.hash.slice("#/cards/".length));
    if (id) document.getElementById(`card-${id}`)?.scrollIntoView();
  } else {
    show("map-view");
    state.map?.map.invalidateSize();
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
