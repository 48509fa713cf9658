// The map's own toolbar (top left, under the zoom buttons), click modes and the legend.
//
// A click mode ("add incident", "quick dispatch") owns clicks on the map until it is switched
// off (its button again, Esc, or another mode); a hint over the map says what a click does.
// Emits "mapMode" {mode} on the store.

import { h } from "./dom.js";
import { applyTo, t } from "./i18n.js";
import { INCIDENT_STATUSES, SEVERITY_COLOURS } from "./format.js";

const L = window.L;
const LEGEND_KEY = "nazorat.legend";

export class MapTools {
  constructor(mapView, store) {
    this.mapView = mapView;
    this.map = mapView.map;
    this.store = store;
    this.modes = new Map();
    this.mode = null;
    this.buttons = new Map();

    const Bar = L.Control.extend({
      onAdd: () => {
        const el = h("div", { class: "leaflet-bar map-tools", role: "toolbar", "data-testid": "map-tools" });
        L.DomEvent.disableClickPropagation(el);
        L.DomEvent.disableScrollPropagation(el);
        return el;
      },
    });
    this.bar = new Bar({ position: "topleft" });
    this.bar.addTo(this.map);
    this.barEl = this.bar.getContainer();

    // Messages over the top of the map, stacked so that they never cover each other: the base-map
    // notice, the picked incidents (operator), the current click mode's hint.
    this.stack = h("div", { class: "map-stack" });
    const wrap = this.map.getContainer().parentElement;
    const notice = wrap.querySelector(".map-notice");
    if (notice) this.stack.append(notice);
    this.hint = h("div", { class: "map-hint", hidden: true, "data-testid": "map-hint", role: "status" });
    this.stack.append(this.hint);
    wrap.append(this.stack);

    this.map.on("click", (e) => {
      const m = this.mode && this.modes.get(this.mode);
      if (m) m.onClick(e.latlng, e);
    });
    this._legend();
  }

  /**
   * A toolbar button. `toggle`: reflects aria-pressed (for modes and layers).
   * Returns the element.
   */
  addButton({ id, label, title, onClick, toggle = false, order = 50 }) {
    const btn = h("button", {
      type: "button",
      class: "map-tool",
      "data-testid": `tool-${id}`,
      "data-i18n": label,
      "data-i18n-title": title || label,
      dataset: { tool: id, order: String(order) },
      onclick: (e) => {
        e.preventDefault();
        onClick();
      },
    }, t(label));
    btn.title = t(title || label);
    if (toggle) btn.setAttribute("aria-pressed", "false");
    this.buttons.set(id, btn);
    const after = [...this.barEl.children].find((c) => Number(c.dataset.order) > order);
    this.barEl.insertBefore(btn, after || null);
    return btn;
  }

  setPressed(id, on) {
    this.buttons.get(id)?.setAttribute("aria-pressed", String(Boolean(on)));
  }

  /** {name, hint: i18n key, onClick(latlng), onExit?()} */
  registerMode(spec) {
    this.modes.set(spec.name, spec);
  }

  toggleMode(name) {
    this.setMode(this.mode === name ? null : name);
  }

  setMode(name) {
    if (name === this.mode) return;
    const prev = this.mode && this.modes.get(this.mode);
    this.mode = name && this.modes.has(name) ? name : null;
    prev?.onExit?.();
    for (const [n] of this.modes) this.setPressed(n, n === this.mode);
    const container = this.map.getContainer();
    container.classList.toggle("map-picking", Boolean(this.mode));
    if (this.mode) container.dataset.mode = this.mode;
    else delete container.dataset.mode;
    const spec = this.mode && this.modes.get(this.mode);
    this.hint.hidden = !spec;
    if (spec) {
      this.hint.dataset.i18n = spec.hint;
      this.hint.textContent = t(spec.hint);
    }
    this.store.emit("mapMode", { mode: this.mode });
  }

  _legend() {
    const Legend = L.Control.extend({
      onAdd: () => {
        const sev = h("div", { class: "legend-row" }, h("span", { class: "legend-label", "data-i18n": "legend.severity" }),
          ...[1, 2, 3, 4, 5].map((s) => h("span", { class: "legend-sev", style: { background: SEVERITY_COLOURS[s] } }, String(s))));
        const statuses = h("div", { class: "legend-row legend-statuses" },
          ...INCIDENT_STATUSES.map((s) => h("span", { class: "legend-status" },
            h("span", { class: `incident-dot status-${s}` }),
            h("span", { "data-i18n": `incident.status.${s}` }))));
        const zones = h("div", { class: "legend-row" },
          h("span", { class: "legend-zone legend-red" }), h("span", { "data-i18n": "legend.redZone" }),
          h("span", { class: "legend-zone legend-nofly" }), h("span", { "data-i18n": "legend.noFly" }));
        const body = h("div", { class: "legend-body", id: "legend-body" }, sev, statuses, zones);
        const toggle = h("button", {
          type: "button",
          class: "legend-toggle",
          "aria-expanded": "true",
          "aria-controls": "legend-body",
          "data-i18n": "legend.title",
          "data-testid": "legend-toggle",
          onclick: () => {
            body.hidden = !body.hidden;
            toggle.setAttribute("aria-expanded", String(!body.hidden));
            try {
              localStorage.setItem(LEGEND_KEY, body.hidden ? "closed" : "open");
            } catch {
              // not remembered
            }
          },
        });
        try {
          if (localStorage.getItem(LEGEND_KEY) === "closed") {
            body.hidden = true;
            toggle.setAttribute("aria-expanded", "false");
          }
        } catch {
          // open
        }
        const el = h("div", { class: "map-legend", "data-testid": "map-legend" }, toggle, body);
        L.DomEvent.disableClickPropagation(el);
        applyTo(el);
        return el;
      },
    });
    new Legend({ position: "bottomright" }).addTo(this.map);
  }
}
