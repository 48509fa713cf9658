// The live map: one heading-oriented icon per drone (labelled name · mode · battery · altitude,
// coloured by status), its trail and its home. Leaflet comes from ui/vendor (window.L).
//
// Base map (basemap.js): the service's own archives (GET /tiles), else config.tiles.url (server
// configuration; never a URL from the page's address, which would send the map's position to
// whatever server a link names), or `?tiles=none` for Natural Earth's countries only. When tiles fail to
// load the map
// keeps Natural Earth's countries (basemap.js), and a notice says only those are shown; only
// when even those are missing does it say "Base map unavailable" (a plain background).
//
// Later slices draw their own layers (incidents, zones, planned routes) with addLayer(); the
// returned Leaflet layer group is theirs.

import { addBaseMap } from "./basemap.js";
import { batched } from "./batch.js";
import { h } from "./dom.js";
import { num, onLangChange, t } from "./i18n.js";
import { droneStatus, hasPosition } from "./status.js";

const L = window.L;
const TILE_ERRORS_BEFORE_NOTICE = 2;

export function tileSettings(config, search = location.search) {
  const q = new URLSearchParams(search).get("tiles");
  if (q === "none") return null;
  return config.tiles && config.tiles.url ? config.tiles : null;
}

export class MapView {
  constructor(el, store, config, { onSelect, notice } = {}) {
    this.store = store;
    this.config = config;
    this.onSelect = onSelect || (() => {});
    this.noticeEl = notice;
    this.items = new Map(); // id -> {marker, el, arrow, label, trail, home}
    this.fitted = false;
    this.tileErrors = 0;
    this.tileLoads = 0;

    this.map = L.map(el, { zoomControl: true, attributionControl: true, worldCopyJump: true });
    this.map.setView(config.center, config.zoom);
    this.map.attributionControl.setPrefix(false);
    el.classList.add("map-plain");
    // the base map (the service's archives, else config.tiles.url: basemap.js) comes when
    // GET /tiles answers; everything else is drawn meanwhile
    this.baseMap = addBaseMap(this.map, config, tileSettings(config), (layer) => {
      layer.on("tileerror", () => this._tileError());
      layer.on("tileload", () => this._tileLoad());
    });
    // with Natural Earth under the online tiles, their failure leaves a map, not a blank
    this.hasFallback = false;
    this.baseMap.then((b) => {
      this.hasFallback = Boolean(b.layers.naturalEarth);
    });
    this.trailLayer = L.layerGroup().addTo(this.map);
    this.homeLayer = L.layerGroup().addTo(this.map);
    this.droneLayer = L.layerGroup().addTo(this.map);

    // 100 ms: a 5 Hz feed for a whole fleet lands in a few redraws a second, not one per frame
    // (benchmarks/bench_console.py measures the page with 100 drones).
    const render = batched((ids) => this.render(ids), 100);
    this._declutterAt = 0;
    store.on("drones", ({ changed, removed }) => {
      for (const id of removed) this._drop(id);
      render(changed);
    });
    store.on("selection", () => this._highlight());
    onLangChange(() => render());
    this.map.on("zoomend", () => this._declutter());
  }

  addLayer() {
    return L.layerGroup().addTo(this.map);
  }

  invalidateSize() {
    this.map.invalidateSize();
  }

  render(ids) {
    const list = ids ? [...ids].map((id) => this.store.get(id)).filter(Boolean) : this.store.list();
    for (const v of list) this._renderDrone(v);
    if (!this.fitted && this._fleetBounds()) {
      this.fitFleet();
      this.fitted = true;
    }
    // Label stacking compares every pair of drones: at most twice a second (and on every zoom).
    const now = performance.now();
    if (now - this._declutterAt >= 500) {
      this._declutterAt = now;
      this._declutter();
    }
  }

  /** Stack the labels of drones drawn close together (a fleet at its base) so each is legible. */
  _declutter() {
    const LABEL_H = 21;
    const pts = [];
    for (const item of this.items.values()) {
      if (!this.droneLayer.hasLayer(item.marker)) continue;
      pts.push({ item, p: this.map.latLngToLayerPoint(item.marker.getLatLng()) });
    }
    pts.sort((a, b) => a.p.y - b.p.y || a.p.x - b.p.x);
    const placed = [];
    for (const { item, p } of pts) {
      let stack = 0;
      const clash = (q) =>
        Math.abs(q.x - p.x) < 170 && Math.abs(q.y + q.stack * LABEL_H - (p.y + stack * LABEL_H)) < LABEL_H;
      while (stack < 20 && placed.some(clash)) stack += 1;
      placed.push({ x: p.x, y: p.y, stack });
      if (item.stack !== stack) {
        item.stack = stack;
        item.el.style.setProperty("--stack", String(stack));
      }
    }
  }

  /** Zoom to show every drone and home. */
  fitFleet() {
    const b = this._fleetBounds();
    if (b) this.map.fitBounds(b.pad(0.3), { maxZoom: 18, animate: false });
  }

  centerOn(id) {
    const v = this.store.get(id);
    if (v && hasPosition(v)) this.map.panTo([v.lat, v.lon]);
  }

  /** Pan to a drone only if it is off screen (selection from the table). */
  revealIfHidden(id) {
    const v = this.store.get(id);
    if (v && hasPosition(v) && !this.map.getBounds().contains([v.lat, v.lon])) {
      this.map.panTo([v.lat, v.lon]);
    }
  }

  /** [lat, lon] of a drone's icon as drawn (tests and later slices). */
  markerLatLng(id) {
    const item = this.items.get(id);
    if (!item) return null;
    const ll = item.marker.getLatLng();
    return [ll.lat, ll.lng];
  }

  trailLength(id) {
    const item = this.items.get(id);
    return item ? item.trail.getLatLngs().length : 0;
  }

  _fleetBounds() {
    const pts = [];
    for (const v of this.store.drones.values()) {
      if (hasPosition(v)) pts.push([v.lat, v.lon]);
      if (v.home) pts.push([v.home[0], v.home[1]]);
    }
    return pts.length ? L.latLngBounds(pts) : null;
  }

  _renderDrone(v) {
    let item = this.items.get(v.id);
    const status = droneStatus(v, this.config.lowBatteryPct);
    if (!item) {
      if (!hasPosition(v) && !v.home) return;
      item = this._create(v);
    }
    if (hasPosition(v)) {
      item.marker.setLatLng([v.lat, v.lon]);
      if (!this.droneLayer.hasLayer(item.marker)) this.droneLayer.addLayer(item.marker);
    }
    // Write to the DOM only what changed: with a fleet at 5 Hz, unconditional writes made the
    // browser restyle every marker several times a second.
    const heading = typeof v.hdg === "number" ? Math.round(v.hdg) : null;
    if (item.heading !== heading) {
      item.heading = heading;
      item.arrow.style.transform = heading === null ? "" : `rotate(${heading}deg)`;
      item.el.classList.toggle("no-heading", heading === null);
    }
    if (item.status !== status) {
      item.el.className = item.el.className.replace(/\bstatus-\w+/, `status-${status}`);
      item.el.dataset.status = status;
    }
    if (item.el.dataset.mode !== (v.mode || "")) item.el.dataset.mode = v.mode || "";
    const label = markerLabel(v, status);
    if (item.labelText !== label) {
      item.labelText = label;
      item.label.textContent = label;
      item.el.title = label;
    }
    item.marker.options.title = v.name;

    const trail = this.store.trails.get(v.id) || [];
    const last = trail[trail.length - 1];
    if (item.trailLast !== last || item.trailLen !== trail.length || item.status !== status) {
      item.trailLast = last;
      item.trailLen = trail.length;
      item.trail.setLatLngs(trail);
      item.trail.getElement()?.setAttribute("class", `trail trail-${status}`);
    }
    item.status = status;
    if (v.home && (item.homeAt?.[0] !== v.home[0] || item.homeAt?.[1] !== v.home[1])) {
      item.homeAt = [v.home[0], v.home[1]];
      item.home.setLatLng(item.homeAt);
      if (!this.homeLayer.hasLayer(item.home)) this.homeLayer.addLayer(item.home);
    }
  }

  _create(v) {
    const arrow = h(
      "span",
      { class: "drone-arrow" },
    );
    arrow.innerHTML =
      '<svg viewBox="-12 -12 24 24" aria-hidden="true"><path d="M0,-10 L7,8 L0,4 L-7,8 Z"/>' +
      '<circle r="4" class="drone-dot"/></svg>';
    const label = h("span", { class: "drone-label" });
    const el = h(
      "div",
      { class: "drone-marker status-ok", dataset: { droneId: String(v.id) }, "data-testid": "drone-marker" },
      arrow,
      label,
    );
    const icon = L.divIcon({ className: "drone-icon", html: el, iconSize: [28, 28], iconAnchor: [14, 14] });
    const marker = L.marker(hasPosition(v) ? [v.lat, v.lon] : [v.home[0], v.home[1]], {
      icon,
      keyboard: true,
      title: v.name,
      riseOnHover: true,
      zIndexOffset: 1000,
    });
    marker.on("click", () => this.onSelect(v.id));
    const trail = L.polyline([], { className: "trail", weight: 3, opacity: 0.75, interactive: false });
    this.trailLayer.addLayer(trail);
    const homeEl = h("div", { class: "home-marker", dataset: { droneId: String(v.id) } }, "H");
    const home = L.marker([0, 0], {
      icon: L.divIcon({ className: "home-icon", html: homeEl, iconSize: [18, 18], iconAnchor: [9, 9] }),
      interactive: false,
      keyboard: false,
      zIndexOffset: -100,
    });
    const item = { marker, el, arrow, label, trail, home };
    this.items.set(v.id, item);
    if (hasPosition(v)) this.droneLayer.addLayer(marker);
    this._highlightOne(v.id, item);
    return item;
  }

  _drop(id) {
    const item = this.items.get(id);
    if (!item) return;
    this.droneLayer.removeLayer(item.marker);
    this.trailLayer.removeLayer(item.trail);
    this.homeLayer.removeLayer(item.home);
    this.items.delete(id);
  }

  _highlight() {
    for (const [id, item] of this.items) this._highlightOne(id, item);
  }

  _highlightOne(id, item) {
    const selected = id === this.store.selectedId;
    item.el.classList.toggle("selected", selected);
    item.marker.setZIndexOffset(selected ? 2000 : 1000);
  }

  _tileError() {
    this.tileErrors += 1;
    if (this.tileLoads === 0 && this.tileErrors >= TILE_ERRORS_BEFORE_NOTICE && this.noticeEl) {
      const key = this.hasFallback ? "map.tilesFallback" : "map.tilesFailed";
      this.noticeEl.hidden = false;
      this.noticeEl.dataset.i18n = key;
      this.noticeEl.textContent = t(key);
    }
  }

  _tileLoad() {
    this.tileLoads += 1;
    if (this.noticeEl) this.noticeEl.hidden = true;
  }
}

export function markerLabel(v, status) {
  const parts = [v.name || `#${v.id}`, v.mode || "?"];
  parts.push(typeof v.bat === "number" ? `${num(v.bat)}%` : "–%");
  parts.push(typeof v.ralt === "number" ? `${num(v.ralt)} ${t("unit.m")}` : `– ${t("unit.m")}`);
  if (status === "lost") parts.push(t("status.lost"));
  return parts.join(" · ");
}
