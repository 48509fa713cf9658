// Console start-up: builds the shared context, the views, and connects the telemetry socket.
//
// Extension points for later slices (incidents, zones, planning, dispatch):
//   ctx.panels.register({id, title, order, mount})   a sidebar tab
//   ctx.map.addLayer()                                a Leaflet layer group of their own
//   ctx.shortcuts.register({key, help, run})          a keyboard shortcut (listed under `?`)
//   ctx.store.on("drones" | "events" | "selection" | "connection" | "alerts", fn)
//   ctx.api.get/post(...)                             REST with the session cookie
//   ctx.role.canCommand                               false in the commander view: add no controls
//   ctx.user.username / ctx.user.role                 who is signed in (GET /api/auth/me)
//   addStrings(lang, {...}) from i18n.js              their interface strings
//
// Second slice (operations.js, operations-controls.js): ctx.data (incidents, zones, hotspots,
// missions; polled), ctx.mapTools (map toolbar and click modes), the Incidents, Plan (operator)
// and Missions tabs.

import config from "../config.js";
import { Alerts, AlertsPanel } from "./alerts.js";
import { Api } from "./api.js";
import { searchPlaces } from "./basemap.js";
import { addMapAids } from "./coords.js";
import { DetailPanel } from "./detail.js";
import { closeDialogs, h, toast } from "./dom.js";
import { FleetTable } from "./fleet-table.js";
import { applyTo, onLangChange, setLang, t } from "./i18n.js";
import { MapView } from "./map.js";
import { installTrafficSound, TrafficLayer } from "./traffic.js";
import { installMissionViews, startMissionData } from "./operations.js";
import { Panels } from "./panels.js";
import { loadSession, logout, toLogin } from "./role.js";
import { Shortcuts } from "./shortcuts.js";
import { Store } from "./store.js";
import { installVideo } from "./video.js";
import { TelemetrySocket } from "./ws.js";
import { FootprintLayer } from "./footprint.js";

const TRAIL_HISTORY_S = 300;

async function main() {
  const session = await loadSession();
  const role = session.role;
  document.body.dataset.view = role.name;
  const store = new Store(config);
  const api = new Api({ onUnauthenticated: () => toLogin(true) });
  const ctx = {
    config,
    role,
    store,
    api,
    user: { username: session.username, role: session.userRole },
  };
  // A handle for debugging from the browser's console and for the browser tests; not an API.
  window.nazoratConsole = ctx;

  const badge = document.getElementById("view-badge");
  badge.dataset.i18n = `view.${role.name}`;
  installUserMenu(ctx);
  for (const btn of document.querySelectorAll("[data-lang]")) {
    btn.addEventListener("click", () => setLang(btn.dataset.lang));
  }

  const select = (id) => {
    store.select(id);
    if (id !== null && id !== undefined) ctx.map.revealIfHidden(id);
  };

  ctx.map = new MapView(document.getElementById("map"), store, config, {
    onSelect: select,
    notice: document.getElementById("map-notice"),
  });
  // other aircraft (ADS-B), in every view, and a sound on traffic advisories and alerts
  ctx.traffic = new TrafficLayer(ctx.map, store);
  // where each drone's camera looks (the stream's `fp`), in every view
  ctx.footprints = new FootprintLayer(ctx.map, store);
  installTrafficSound(store);
  new ResizeObserver(() => ctx.map.invalidateSize()).observe(document.getElementById("map"));
  // scale bar, north arrow, coordinate and place search, clicked point in DD and MGRS (coords.js)
  ctx.mapAids = addMapAids(ctx.map.map, {
    clickModeActive: () => Boolean(ctx.mapTools?.mode),
    placeSearch: async (text) => searchPlaces(ctx.map.map, (await ctx.map.baseMap).archives, text),
  });

  ctx.panels = new Panels(document.getElementById("tabs"), document.getElementById("panels"));
  ctx.panels.register({
    id: "fleet",
    title: "panel.fleet",
    order: 10,
    mount: (el) => {
      ctx.fleetTable = new FleetTable(el, store, config, { onSelect: select });
    },
  });
  ctx.alerts = new Alerts(store, config);
  ctx.panels.register({
    id: "alerts",
    title: "panel.alerts",
    order: 20,
    mount: (el, tab) => {
      ctx.alertsPanel = new AlertsPanel(el, ctx.alerts, store, {
        onSelect: select,
        setBadge: tab.setBadge,
      });
    },
  });

  // live camera video of the drones, several side by side (video.js)
  installVideo(ctx);

  ctx.detail = new DetailPanel(document.getElementById("detail"), store, config, {
    onClose: () => store.select(null),
  });

  const helpDialog = document.getElementById("help-dialog");
  ctx.shortcuts = new Shortcuts(helpDialog);
  document.getElementById("help-btn").addEventListener("click", () => ctx.shortcuts.showHelp());
  registerCommonShortcuts(ctx, select);

  installMissionViews(ctx);

  if (role.canCommand) {
    // Operator view only: the commander view never loads these modules, so it has no controls.
    const { installOperatorControls } = await import("./commands.js");
    installOperatorControls(ctx);
    const { installMissionControls } = await import("./operations-controls.js");
    installMissionControls(ctx);
    const { installOperatorLocation } = await import("./operator-location.js");
    installOperatorLocation(ctx);
    const { installLookAt } = await import("./look-at.js");
    installLookAt(ctx);
  }
  startMissionData(ctx);

  connectionIndicator(store);
  applyTo(document);
  onLangChange(() => connectionIndicator.render?.(store));

  ctx.ws = new TelemetrySocket(store, {
    rateHz: config.wsRateHz,
    onUnauthenticated: () => toLogin(true),
    onSchemaMismatch: (v) => showBanner(t("conn.schema", { v }), "error"),
  });
  let trailsSeeded = false;
  store.on("connection", ({ state }) => {
    if (state === "open" && !trailsSeeded) {
      trailsSeeded = true;
      seedTrails(ctx).catch((e) => console.warn(`trail history: ${e.message}`));
    }
  });
  ctx.ws.start();
  ctx.alerts.seed(api).catch((e) => toast(`${t("alerts.historyFailed")}: ${e.message}`, { kind: "info" }));
  document.body.dataset.ready = "true";
}

/** Who is signed in (their name is every command's actor in the audit log), and sign-out. */
function installUserMenu(ctx) {
  const slot = document.getElementById("user-menu");
  slot.replaceChildren(
    h("span", { class: "user-name", "data-testid": "user-name", title: ctx.user.role }, ctx.user.username),
    h("button", {
      type: "button",
      class: "btn logout-btn",
      "data-testid": "logout",
      "data-i18n": "user.logout",
      onclick: () => logout(),
    }),
  );
}

function registerCommonShortcuts(ctx, select) {
  const { store, shortcuts } = ctx;
  const step = (delta) => {
    const order = ctx.fleetTable.order();
    if (!order.length) return;
    const i = order.indexOf(store.selectedId);
    const next = i < 0 ? (delta > 0 ? 0 : order.length - 1) : (i + delta + order.length) % order.length;
    select(order[next]);
  };
  shortcuts.register({ key: "?", help: "shortcut.help", run: () => shortcuts.showHelp() });
  shortcuts.register({
    key: "Escape",
    label: "Esc",
    help: "shortcut.escape",
    run: () => {
      if (closeDialogs()) return;
      if (ctx.mapTools?.mode) ctx.mapTools.setMode(null);
      else store.select(null);
    },
  });
  shortcuts.register({ key: "j", help: "shortcut.next", run: () => step(1) });
  shortcuts.register({ key: "k", help: "shortcut.prev", run: () => step(-1) });
  shortcuts.register({ key: "f", help: "shortcut.fit", run: () => ctx.map.fitFleet() });
  shortcuts.register({
    key: "c",
    help: "shortcut.center",
    run: () => store.selectedId !== null && ctx.map.centerOn(store.selectedId),
  });
  shortcuts.register({ key: "a", help: "shortcut.ack", run: () => ctx.alerts.ackNewest() });
  shortcuts.register({
    key: "t",
    help: "shortcut.tabs",
    run: () => {
      const ids = ctx.panels.ids();
      ctx.panels.show(ids[(ids.indexOf(ctx.panels.active) + 1) % ids.length]);
    },
  });
}

function connectionIndicator(store) {
  const el = document.getElementById("conn");
  const text = el.querySelector(".conn-text");
  const render = () => {
    const { state, retryInS } = store.connection;
    el.dataset.state = state;
    text.textContent = t(`conn.${state}`);
    document.body.classList.toggle("stale", state === "lost" || state === "reconnecting");
    if (state === "lost") {
      showBanner(t("conn.banner", { s: retryInS ?? "?" }), "warning");
    } else if (state === "reconnecting") {
      showBanner(t("conn.bannerTrying"), "warning");
    } else {
      hideBanner();
    }
  };
  store.on("connection", render);
  connectionIndicator.render = render;
  render();
}

function showBanner(message, kind) {
  const b = document.getElementById("banner");
  b.textContent = message;
  b.dataset.kind = kind;
  b.hidden = false;
}

function hideBanner() {
  document.getElementById("banner").hidden = true;
}

/** The last minutes of each drone's recorded track, so that trails survive a page reload. */
async function seedTrails(ctx) {
  const from = (Date.now() / 1000 - TRAIL_HISTORY_S).toFixed(0);
  await Promise.all(
    ctx.store.list().map(async (v) => {
      const track = await ctx.api.track(v.id, { from });
      const coords = track?.geometry?.coordinates || [];
      if (coords.length) ctx.store.prependTrail(v.id, coords.map(([lon, lat]) => [lat, lon]));
    }),
  );
}

main().catch((e) => {
  console.error("console start-up failed", e);
  showBanner(`Start-up failed: ${e.message}`, "error");
});
