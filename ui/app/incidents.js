// Incidents on the map (fill: severity, ring and badge: status) and the incidents list with its
// status filter. Read-only here: the operator module adds the controls (pick for a plan, triage,
// close, add, import) through `rowExtras` / `toolbar`; the commander view adds none.

import { batched } from "./batch.js";
import { formatPosition } from "./coords.js";
import { fill, h } from "./dom.js";
import { lang, onLangChange, t, time } from "./i18n.js";
import {
  categoryName,
  INCIDENT_STATUSES,
  incidentTitle,
  severityColour,
  statusName,
  unix,
} from "./format.js";

const L = window.L;
const STATUS_GLYPH = { new: "", triaged: "•", assigned: "➜", observed: "✓", closed: "", false_alarm: "✕" };

export function incidentTooltip(inc) {
  const parts = [
    `${incidentTitle(inc)} · ${t("incident.severityN", { n: inc.severity })} · ${statusName(inc.status)}`,
  ];
  if (inc.description) parts.push(inc.description.slice(0, 140));
  if (Number.isFinite(inc.lat) && Number.isFinite(inc.lon)) parts.push(formatPosition(inc.lat, inc.lon));
  return parts.join("\n");
}

export class IncidentLayer {
  constructor(ctx, { onClick } = {}) {
    this.ctx = ctx;
    this.data = ctx.data;
    this.layer = ctx.map.addLayer();
    this.onClick = onClick || ((id) => ctx.incidentsPanel?.reveal(id));
    this.items = new Map(); // id -> {marker, el, sig}
    const render = batched(() => this.render(), 30);
    ctx.store.on("incidents", () => render());
    ctx.store.on("incidentSelection", () => this._selection());
    onLangChange(() => {
      for (const item of this.items.values()) item.sig = null;
      render();
    });
  }

  render() {
    const seen = new Set();
    for (const inc of this.data.incidents.values()) {
      seen.add(inc.id);
      let item = this.items.get(inc.id);
      if (!item) item = this._create(inc);
      const sig = `${inc.status}|${inc.severity}|${inc.lat}|${inc.lon}|${inc.category}|${inc.description}`;
      if (item.sig === sig) continue;
      item.sig = sig;
      item.marker.setLatLng([inc.lat, inc.lon]);
      item.el.className = `incident-marker status-${inc.status}`;
      item.el.style.setProperty("--sev", severityColour(inc.severity));
      item.el.dataset.status = inc.status;
      item.el.dataset.severity = String(inc.severity);
      item.num.textContent = String(inc.severity);
      item.badge.textContent = STATUS_GLYPH[inc.status] || "";
      item.badge.hidden = !STATUS_GLYPH[inc.status];
      item.el.setAttribute("aria-label", incidentTooltip(inc));
      item.marker.setTooltipContent(h("div", {}, ...incidentTooltip(inc).split("\n").map((line) => h("div", {}, line))));
      item.el.classList.toggle("selected", this.data.isSelected(inc.id));
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        this.layer.removeLayer(item.marker);
        this.items.delete(id);
      }
    }
  }

  _create(inc) {
    const num = h("span", { class: "incident-num" });
    const badge = h("span", { class: "incident-badge", "aria-hidden": "true" });
    const el = h("div", {
      class: "incident-marker",
      "data-testid": "incident-marker",
      dataset: { incidentId: String(inc.id) },
    }, num, badge);
    const marker = L.marker([inc.lat, inc.lon], {
      icon: L.divIcon({ className: "incident-icon", html: el, iconSize: [24, 24], iconAnchor: [12, 12] }),
      keyboard: true,
      riseOnHover: true,
      zIndexOffset: 0,
    });
    marker.bindTooltip("", { direction: "top", offset: [0, -12], className: "incident-tooltip" });
    marker.on("click", (e) => this.onClick(inc.id, e.originalEvent));
    this.layer.addLayer(marker);
    const item = { marker, el, num, badge, sig: null };
    this.items.set(inc.id, item);
    return item;
  }

  _selection() {
    for (const [id, item] of this.items) item.el.classList.toggle("selected", this.data.isSelected(id));
  }

  /** Incident ids whose markers lie inside a Leaflet LatLngBounds. */
  idsWithin(bounds) {
    return [...this.data.incidents.values()].filter((i) => bounds.contains([i.lat, i.lon])).map((i) => i.id);
  }

  flash(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.el.classList.remove("flash");
    void item.el.offsetWidth;
    item.el.classList.add("flash");
  }

  /** Screen position (page pixels) of an incident's marker centre, for tests. */
  markerCentre(id) {
    const item = this.items.get(id);
    if (!item) return null;
    const r = item.el.getBoundingClientRect();
    return [r.left + r.width / 2, r.top + r.height / 2];
  }
}

export class IncidentsPanel {
  constructor(container, ctx, { setBadge } = {}) {
    this.ctx = ctx;
    this.data = ctx.data;
    this.setBadge = setBadge || (() => {});
    this.rows = new Map(); // id -> {li, sig}
    /** Operator view: (incident) => [nodes] (checkbox, actions). */
    this.rowExtras = null;
    this.filter = h("select", {
      id: "incident-filter",
      class: "select",
      "data-testid": "incident-filter",
      onchange: (e) => this.data.setIncidentFilter(e.target.value),
    });
    this._filterOptions();
    this.count = h("span", { class: "muted count", "data-testid": "incident-count" });
    this.toolbar = h("div", { class: "panel-toolbar incident-toolbar" },
      h("label", { class: "field-inline", for: "incident-filter" }, h("span", { "data-i18n": "incidents.filter" }, t("incidents.filter")), this.filter),
      this.count);
    this.extraBar = h("div", { class: "panel-toolbar incident-actions-bar", hidden: true });
    this.importErrors = h("div", { class: "error-box", role: "alert", hidden: true, "data-testid": "import-errors" });
    this.list = h("ul", { class: "incident-list", "data-testid": "incident-list" });
    this.empty = h("p", { class: "empty" });
    container.append(this.toolbar, this.extraBar, this.importErrors, this.list, this.empty);
    const render = batched(() => this.render(), 40);
    ctx.store.on("incidents", () => render());
    ctx.store.on("incidentSelection", () => render());
    onLangChange(() => {
      this._filterOptions();
      for (const r of this.rows.values()) r.sig = null;
      render();
    });
    this.render();
  }

  _filterOptions() {
    const current = this.data.incidentFilter;
    this.filter.replaceChildren(
      h("option", { value: "open" }, t("incidents.filter.open")),
      h("option", { value: "all" }, t("incidents.filter.all")),
      ...INCIDENT_STATUSES.map((s) => h("option", { value: s }, statusName(s))),
    );
    this.filter.value = current;
  }

  /** Operator toolbar buttons (add, import). */
  addToolbar(...nodes) {
    this.extraBar.append(...nodes);
    this.extraBar.hidden = false;
  }

  render() {
    const items = [...this.data.incidents.values()];
    const language = lang();
    const keep = new Set();
    let prev = null;
    for (const inc of items) {
      const sig = `${inc.updated_at}|${inc.status}|${this.data.isSelected(inc.id)}|${language}`;
      let entry = this.rows.get(inc.id);
      if (!entry || entry.sig !== sig) {
        const li = this._row(inc);
        if (entry) entry.li.replaceWith(li);
        entry = { li, sig };
        this.rows.set(inc.id, entry);
      }
      keep.add(inc.id);
      const expected = prev ? prev.nextSibling : this.list.firstChild;
      if (expected !== entry.li) this.list.insertBefore(entry.li, expected);
      prev = entry.li;
    }
    for (const [id, entry] of this.rows) {
      if (!keep.has(id)) {
        entry.li.remove();
        this.rows.delete(id);
      }
    }
    this.count.textContent = t("incidents.count", { n: items.length });
    this.empty.hidden = items.length > 0;
    this.empty.textContent = this.data.loaded.incidents ? t("incidents.empty") : t("common.loading");
    const fresh = items.filter((i) => i.status === "new").length;
    this.setBadge(fresh, false);
  }

  _row(inc) {
    const reported = unix(inc.reported_at);
    return h(
      "li",
      {
        class: `incident-row status-${inc.status}${this.data.isSelected(inc.id) ? " selected" : ""}`,
        dataset: { incidentId: String(inc.id), status: inc.status },
        "data-testid": "incident-row",
      },
      ...(this.rowExtras ? this.rowExtras(inc, "lead") : []),
      h(
        "button",
        { type: "button", class: "incident-main", onclick: () => this.focus(inc.id) },
        h("span", { class: "sev-chip", style: { background: severityColour(inc.severity) }, title: t("incident.severityN", { n: inc.severity }) }, String(inc.severity)),
        h("span", { class: "incident-title" }, incidentTitle(inc)),
        h("span", { class: `chip incident-status status-${inc.status}`, "data-testid": "incident-status" }, statusName(inc.status)),
        h("span", { class: "incident-meta" }, `${reported ? time(reported) : ""} · ${t(`incident.source.${inc.source}`)}`),
        inc.description ? h("span", { class: "incident-desc" }, inc.description) : null,
      ),
      ...(this.rowExtras ? this.rowExtras(inc, "trail") : []),
    );
  }

  /** Centre the map on an incident and make its marker blink. */
  focus(id) {
    const inc = this.data.incidents.get(id);
    if (!inc) return;
    const map = this.ctx.map.map;
    if (!map.getBounds().pad(-0.1).contains([inc.lat, inc.lon])) map.panTo([inc.lat, inc.lon]);
    this.ctx.incidentLayer.flash(id);
  }

  /** Show an incident's row (a click on its marker in the read-only view). */
  reveal(id) {
    this.ctx.panels.show("incidents");
    const entry = this.rows.get(id);
    if (!entry) return;
    entry.li.scrollIntoView({ block: "nearest" });
    entry.li.classList.remove("flash");
    void entry.li.offsetWidth;
    entry.li.classList.add("flash");
    this.ctx.incidentLayer.flash(id);
  }

  showImportErrors(title, errors) {
    if (!title) {
      this.importErrors.hidden = true;
      this.importErrors.replaceChildren();
      return;
    }
    this.importErrors.hidden = false;
    fill(this.importErrors,
      h("div", { class: "error-head" },
        h("strong", {}, title),
        h("button", { type: "button", class: "icon-btn icon-small", "aria-label": t("common.close"), onclick: () => this.showImportErrors(null) }, "×")),
      errors.length
        ? h("ul", { class: "error-rows" }, ...errors.slice(0, 50).map((e) => h("li", { "data-testid": "import-error-row" },
          e.row !== undefined ? h("span", { class: "err-row" }, t("import.row", { n: e.row })) : null,
          e.field ? h("code", { class: "err-field" }, e.field) : null,
          h("span", {}, e.message || e.msg || ""))))
        : null,
      errors.length > 50 ? h("p", { class: "muted" }, t("import.more", { n: errors.length - 50 })) : null,
    );
  }
}
