// Second slice, read-only part (both views): incidents, zones, hotspots and missions on the map
// and in their tabs, mission timelines and replays. The operator's controls are in
// operations-controls.js, which main.js loads only in the operator view.

import { MissionData } from "./data.js";
import { IncidentLayer, IncidentsPanel } from "./incidents.js";
import { MapTools } from "./map-tools.js";
import { MissionRouteLayer, MissionsPanel } from "./missions.js";
import { ProposalsPanel } from "./proposals.js";
import { ResponsePanel } from "./response.js";
import { HotspotLayer, ZoneLayer } from "./zones.js";

const HOTSPOTS_KEY = "nazorat.hotspots";

export function installMissionViews(ctx) {
  const map = ctx.map.map;
  // drawing order: zones and hotspots under routes, routes under incident and drone icons
  map.createPane("zones").style.zIndex = "350";
  map.createPane("routes").style.zIndex = "450";

  ctx.data = new MissionData(ctx.api, ctx.store);
  ctx.mapTools = new MapTools(ctx.map, ctx.store);
  ctx.zoneLayer = new ZoneLayer(ctx);
  ctx.hotspotLayer = new HotspotLayer(ctx);
  ctx.missionRoutes = new MissionRouteLayer(ctx);
  ctx.incidentLayer = new IncidentLayer(ctx);

  ctx.panels.register({
    id: "incidents",
    title: "panel.incidents",
    order: 30,
    mount: (el, tab) => {
      ctx.incidentsPanel = new IncidentsPanel(el, ctx, { setBadge: tab.setBadge });
    },
  });
  ctx.panels.register({
    id: "missions",
    title: "panel.missions",
    order: 50,
    mount: (el, tab) => {
      ctx.missionsPanel = new MissionsPanel(el, ctx, { setBadge: tab.setBadge });
    },
  });
  ctx.panels.register({
    id: "proposals",
    title: "panel.proposals",
    order: 55,
    mount: (el, tab) => {
      ctx.proposalsPanel = new ProposalsPanel(el, ctx, { setBadge: tab.setBadge });
    },
  });
  ctx.panels.register({
    id: "response",
    title: "panel.response",
    order: 70,
    mount: (el) => {
      ctx.responsePanel = new ResponsePanel(el, ctx);
    },
  });

  const toggleHotspots = () => {
    const on = !ctx.data.hotspotsOn;
    ctx.data.setHotspots(on);
    ctx.mapTools.setPressed("hotspots", on);
    try {
      localStorage.setItem(HOTSPOTS_KEY, on ? "1" : "0");
    } catch {
      // not remembered
    }
  };
  ctx.mapTools.addButton({ id: "hotspots", label: "tool.hotspots", title: "tool.hotspots.title", toggle: true, order: 90, onClick: toggleHotspots });
  ctx.shortcuts.register({ key: "h", help: "shortcut.hotspots", run: toggleHotspots });
  ctx.shortcuts.register({ key: "m", help: "shortcut.missions", run: () => ctx.panels.show("missions") });
  ctx.shortcuts.register({ key: "n", help: "shortcut.incidents", run: () => ctx.panels.show("incidents") });
  frameIncidentsOnce(ctx);
  try {
    if (localStorage.getItem(HOTSPOTS_KEY) === "1") {
      ctx.data.hotspotsOn = true;
      ctx.mapTools.setPressed("hotspots", true);
    }
  } catch {
    // default off
  }
}

/**
 * Once, when the fleet has been framed and the incidents have loaded: widen the view so that the
 * open incidents are on screen too.
 */
function frameIncidentsOnce(ctx) {
  let done = false;
  const frame = () => {
    if (done || !ctx.map.fitted || !ctx.data.loaded.incidents) return;
    done = true;
    const pts = [...ctx.data.incidents.values()].map((i) => [i.lat, i.lon]);
    if (!pts.length) return;
    const map = ctx.map.map;
    const b = window.L.latLngBounds(pts);
    const fleet = ctx.map._fleetBounds();
    if (fleet) b.extend(fleet);
    if (!map.getBounds().contains(b)) map.fitBounds(b.pad(0.15), { maxZoom: 18, animate: false });
  };
  const offIncidents = ctx.store.on("incidents", frame);
  const offDrones = ctx.store.on("drones", () => {
    frame();
    if (done) {
      offIncidents();
      offDrones();
    }
  });
}

/** Start polling once the operator controls (if any) are in place. */
export function startMissionData(ctx) {
  ctx.data.start();
}
