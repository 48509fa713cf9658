// The Plan tab (operator view only): the incidents picked on the map or in the list, the drones
// to fly, the options; POST /api/missions/plan returns a preview (routes drawn dashed, figures per
// drone, dropped targets with their reasons), and Dispatch (after confirmation) flies it.

import { ApiError } from "./api.js";
import { confirmDialog, fill, h, toast } from "./dom.js";
import { onLangChange, t } from "./i18n.js";
import { droneColour, duration, incidentTitle, metres, pct, severityColour } from "./format.js";
import { droneName, routeLayers, targetLabel } from "./missions.js";

const L = window.L;
const OPTIONS_KEY = "nazorat.planOptions";

function loadOptions() {
  const defaults = { loiter: 20, altitude: 40, objective: "response", name: "" };
  try {
    return { ...defaults, ...JSON.parse(localStorage.getItem(OPTIONS_KEY) || "{}"), name: "" };
  } catch {
    return defaults;
  }
}

/** Explain a refusal's `field` ("drones[1]", "incidents[0]") in the user's terms. */
export function describeField(field, request, ctx) {
  if (!field) return null;
  const m = /^(drones|incidents)\[(\d+)\]/.exec(field);
  if (m && request) {
    const id = request[m[1]]?.[Number(m[2])];
    if (id !== undefined) {
      if (m[1] === "drones") return `${field} — ${droneName(ctx, id)}`;
      const inc = ctx.data.incidents.get(id);
      return `${field} — ${inc ? incidentTitle(inc) : `#${id}`}`;
    }
  }
  return field;
}

export class PlanPanel {
  constructor(container, ctx, { setBadge } = {}) {
    this.ctx = ctx;
    this.data = ctx.data;
    this.setBadge = setBadge || (() => {});
    this.options = loadOptions();
    /** drone ids ticked; a drone seen for the first time with its link up starts ticked */
    this.chosen = new Set();
    this.seenDrones = new Set();
    this.preview = null; // {mission, sig}
    this.busy = false;
    this.error = null; // {title, message, field}
    this.layer = ctx.map.addLayer();

    this.el = h("div", { class: "plan", "data-testid": "plan-panel" });
    container.append(this.el);
    this.targetsBox = h("div", { class: "plan-targets", "data-testid": "plan-targets" });
    this.dronesBox = h("div", { class: "plan-drones", "data-testid": "plan-drones" });
    this.optionsBox = this._optionsForm();
    this.planBtn = h("button", {
      type: "button",
      class: "btn btn-primary",
      "data-testid": "plan-button",
      onclick: () => this.plan(),
    });
    this.errorBox = h("div", { class: "error-box", role: "alert", hidden: true, "data-testid": "plan-error" });
    this.previewBox = h("div", { class: "plan-preview", hidden: true, "data-testid": "plan-preview" });
    this.el.append(
      h("h3", { class: "step", "data-i18n": "plan.step1" }),
      this.targetsBox,
      h("h3", { class: "step", "data-i18n": "plan.step2" }),
      this.dronesBox,
      h("h3", { class: "step", "data-i18n": "plan.step3" }),
      this.optionsBox,
      h("div", { class: "plan-go" }, this.planBtn),
      this.errorBox,
      this.previewBox,
    );

    ctx.store.on("incidentSelection", () => this.render());
    ctx.store.on("incidents", () => this.render());
    ctx.store.on("missions", () => this._renderDrones());
    ctx.store.on("drones", () => this._renderDrones());
    onLangChange(() => {
      this._droneSig = null;
      this.render();
      this._optionLabels();
    });
    this.render();
  }

  _optionsForm() {
    const o = this.options;
    const save = () => {
      try {
        const remembered = { ...this.options };
        delete remembered.name; // a mission's name is not a default for the next one
        localStorage.setItem(OPTIONS_KEY, JSON.stringify(remembered));
      } catch {
        // not remembered
      }
      this.render();
    };
    this.loiterIn = h("input", { type: "number", id: "plan-loiter", min: "0", max: "3600", step: "5", value: String(o.loiter), "data-testid": "plan-loiter",
      oninput: (e) => { this.options.loiter = e.target.value; save(); } });
    this.altIn = h("input", { type: "number", id: "plan-alt", min: "5", max: "120", step: "5", value: String(o.altitude), "data-testid": "plan-altitude",
      oninput: (e) => { this.options.altitude = e.target.value; save(); } });
    this.objectiveIn = h("select", { id: "plan-objective", class: "select", "data-testid": "plan-objective",
      onchange: (e) => { this.options.objective = e.target.value; save(); } });
    this.nameIn = h("input", { type: "text", id: "plan-name", maxlength: "128", "data-testid": "plan-name", autocomplete: "off",
      oninput: (e) => { this.options.name = e.target.value; } });
    this._optionLabels();
    return h("div", { class: "plan-options" },
      h("label", { class: "field", for: "plan-loiter" }, h("span", { "data-i18n": "plan.loiter" }), this.loiterIn),
      h("label", { class: "field", for: "plan-alt" }, h("span", { "data-i18n": "plan.altitude" }), this.altIn),
      h("label", { class: "field", for: "plan-objective" }, h("span", { "data-i18n": "plan.objective" }), this.objectiveIn),
      h("label", { class: "field", for: "plan-name" }, h("span", { "data-i18n": "plan.name" }), this.nameIn),
    );
  }

  _optionLabels() {
    const v = this.options.objective;
    this.objectiveIn.replaceChildren(
      h("option", { value: "response" }, t("plan.objective.response")),
      h("option", { value: "total_time" }, t("plan.objective.total_time")),
      h("option", { value: "makespan" }, t("plan.objective.makespan")),
    );
    this.objectiveIn.value = v;
    this.nameIn.placeholder = t("plan.namePlaceholder");
  }

  /** What a plan would be made of now (to tell a stale preview). */
  request() {
    return {
      name: this.options.name.trim(),
      drones: this.ctx.store.list().filter((v) => this.chosen.has(v.id) && v.link === "up").map((v) => v.id),
      incidents: [...this.data.selected].sort((a, b) => a - b),
      on_station: { kind: "loiter", seconds: Number(this.options.loiter) || 0 },
      objective: this.options.objective,
      altitude_m: Number(this.options.altitude) || 0,
    };
  }

  /** The request without its name: renaming does not make a preview stale. */
  static sig(req) {
    return JSON.stringify({ ...req, name: undefined });
  }

  render() {
    this._renderTargets();
    this._renderDrones();
    const req = this.request();
    this.planBtn.textContent = this.busy === "plan" ? t("plan.planning") : t("plan.plan");
    this.planBtn.disabled = Boolean(this.busy) || !req.incidents.length || !req.drones.length;
    this.planBtn.title = !req.incidents.length ? t("plan.needIncidents") : !req.drones.length ? t("plan.needDrones") : "";
    this._renderError();
    this._renderPreview();
    this.setBadge(this.data.selected.size, false);
  }

  _renderTargets() {
    const picked = this.data.selectedIncidents();
    if (!picked.length) {
      this.targetsBox.replaceChildren(h("p", { class: "hint-muted", "data-testid": "plan-no-targets" }, t("plan.howToSelect")));
      return;
    }
    fill(this.targetsBox,
      h("ul", { class: "chips" }, ...picked.map((inc) => h("li", { class: "target-chip", "data-testid": "plan-target", dataset: { incidentId: String(inc.id) } },
        h("span", { class: "sev-dot", style: { background: severityColour(inc.severity) } }),
        h("span", {}, incidentTitle(inc)),
        h("button", { type: "button", class: "chip-x", "aria-label": t("plan.unpick", { name: incidentTitle(inc) }), onclick: () => this.data.toggleSelected(inc.id, false) }, "×")))),
      h("div", { class: "row-actions" },
        h("span", { class: "muted" }, t("plan.picked", { n: picked.length })),
        h("button", { type: "button", class: "btn btn-small", "data-testid": "plan-clear", onclick: () => this.data.clearSelection() }, t("plan.clear"))),
    );
  }

  _renderDrones() {
    const drones = this.ctx.store.list();
    const busy = this.data.busyDrones();
    for (const v of drones) {
      if (!this.seenDrones.has(v.id) && v.link === "up") {
        this.seenDrones.add(v.id);
        if (!busy.has(v.id)) this.chosen.add(v.id);
      }
    }
    const sig = drones.map((v) => `${v.id}:${v.name}:${v.link}:${busy.get(v.id) || ""}:${this.chosen.has(v.id)}`).join("|");
    if (sig === this._droneSig) return;
    this._droneSig = sig;
    if (!drones.length) {
      this.dronesBox.replaceChildren(h("p", { class: "hint-muted" }, t("fleet.empty")));
      return;
    }
    this.dronesBox.replaceChildren(...drones.map((v) => {
      const linked = v.link === "up";
      const mission = busy.get(v.id);
      const why = !linked ? t(`status.${v.link === "lost" ? "lost" : "connecting"}`) : mission ? t("plan.busy", { id: mission }) : "";
      const id = `plan-drone-${v.id}`;
      return h("label", { class: `drone-check${linked ? "" : " disabled"}`, for: id, dataset: { droneId: String(v.id) } },
        h("input", {
          type: "checkbox",
          id,
          "data-testid": "plan-drone",
          dataset: { droneId: String(v.id) },
          checked: this.chosen.has(v.id) && linked,
          disabled: !linked,
          onchange: (e) => {
            if (e.target.checked) this.chosen.add(v.id);
            else this.chosen.delete(v.id);
            this._droneSig = null;
            this.render();
          },
        }),
        h("span", { class: "swatch", style: { background: droneColour(v.id) } }),
        h("span", { class: "drone-check-name" }, v.name),
        why ? h("span", { class: "muted" }, ` — ${why}`) : null);
    }));
    // a drone that dropped its link is no longer part of the request
    const req = this.request();
    this.planBtn.disabled = Boolean(this.busy) || !req.incidents.length || !req.drones.length;
    this._renderPreview();
  }

  _renderError() {
    const e = this.error;
    this.errorBox.hidden = !e;
    if (!e) return;
    fill(this.errorBox,
      h("div", { class: "error-head" }, h("strong", {}, e.title),
        h("button", { type: "button", class: "icon-btn icon-small", "aria-label": t("common.close"), onclick: () => { this.error = null; this._renderError(); } }, "×")),
      h("p", { class: "reason", "data-testid": "plan-error-message" }, e.message),
      e.field ? h("p", { class: "err-field-line" }, `${t("plan.field")}: `, h("code", { "data-testid": "plan-error-field" }, e.field)) : null,
    );
  }

  _renderPreview() {
    const p = this.preview;
    this.previewBox.hidden = !p;
    const mapEl = this.ctx.map.map.getContainer();
    mapEl.dataset.previewRoutes = String(p ? p.mission.legs.length : 0);
    if (!p) {
      this.previewBox.replaceChildren();
      return;
    }
    const m = p.mission;
    const stale = PlanPanel.sig(this.request()) !== p.sig;
    const rows = m.legs.map((leg) => h("tr", { "data-testid": "preview-leg", dataset: { droneId: String(leg.drone_id) } },
      h("td", {}, h("span", { class: "swatch swatch-line", style: { background: droneColour(leg.drone_id) } }), droneName(this.ctx, leg.drone_id)),
      h("td", { class: "num" }, String(m.targets.filter((x) => x.drone_id === leg.drone_id).length)),
      h("td", { class: "num", "data-testid": "preview-distance" }, metres(leg.distance_m)),
      h("td", { class: "num", "data-testid": "preview-duration" }, duration(leg.duration_s)),
      h("td", { class: "num", "data-testid": "preview-battery" }, pct(leg.battery_used_pct)),
    ));
    // time to eyes on per target, soonest first: what the response objective minimises
    const byEta = m.targets.slice().sort((a, b) => (a.eta_s ?? Infinity) - (b.eta_s ?? Infinity));
    const targetRows = byEta.map((x) => h("tr", { "data-testid": "preview-target", dataset: { key: x.key, droneId: String(x.drone_id ?? "") } },
      h("td", {}, targetLabel(this.data, x)),
      h("td", {}, x.drone_id ? [h("span", { class: "swatch swatch-line", style: { background: droneColour(x.drone_id) } }), droneName(this.ctx, x.drone_id)] : "–"),
      h("td", { class: "num", "data-testid": "preview-eta", title: t("plan.etaHint") }, duration(x.eta_s)),
    ));
    const idle = this.request().drones.filter((id) => !m.legs.some((l) => l.drone_id === id));
    fill(this.previewBox,
      h("h3", { class: "step" }, t("plan.previewTitle", { id: m.id })),
      h("table", { class: "data-table" },
        h("thead", {}, h("tr", {}, h("th", {}, t("plan.drone")), h("th", { class: "num" }, t("plan.stops")), h("th", { class: "num" }, t("plan.distance")),
          h("th", { class: "num" }, t("plan.duration")), h("th", { class: "num" }, t("plan.battery")))),
        h("tbody", {}, ...rows)),
      h("table", { class: "data-table", "data-testid": "preview-targets" },
        h("thead", {}, h("tr", {}, h("th", {}, t("plan.target")), h("th", {}, t("plan.drone")),
          h("th", { class: "num", title: t("plan.etaHint") }, t("plan.eta")))),
        h("tbody", {}, ...targetRows)),
      h("p", { class: "muted plan-summary" }, t("plan.summary", { makespan: duration(m.makespan_s), total: duration(m.total_time_s), solver: m.solver || "–" })),
      idle.length ? h("p", { class: "muted" }, t("plan.idle", { names: idle.map((id) => droneName(this.ctx, id)).join(", ") })) : null,
      m.dropped.length
        ? h("div", { class: "dropped-box", "data-testid": "plan-dropped" },
          h("strong", {}, t("plan.dropped")),
          h("ul", {}, ...m.dropped.map((x) => h("li", {}, h("span", {}, targetLabel(this.data, x)), h("span", { class: "muted" }, ` — ${x.dropped_reason}`)))))
        : null,
      m.warnings.length ? h("ul", { class: "warnings" }, ...m.warnings.map((w) => h("li", {}, w))) : null,
      stale ? h("p", { class: "hint", "data-testid": "plan-stale" }, t("plan.stale")) : null,
      h("div", { class: "row-actions" },
        h("button", {
          type: "button",
          class: "btn btn-danger",
          "data-testid": "dispatch-button",
          disabled: stale || Boolean(this.busy) || !m.legs.length,
          onclick: () => this.dispatch(),
        }, this.busy === "dispatch" ? t("plan.dispatching") : t("plan.dispatch")),
        h("button", { type: "button", class: "btn", "data-testid": "plan-discard", onclick: () => this.discard() }, t("plan.discard"))),
    );
  }

  async plan() {
    const req = this.request();
    if (!req.incidents.length || !req.drones.length) return;
    this.busy = "plan";
    this.error = null;
    this.render();
    try {
      const mission = await this.ctx.api.post("/api/missions/plan", req);
      this.preview = { mission, sig: PlanPanel.sig(req) };
      this._draw(mission);
      this.data.putMission(mission);
    } catch (e) {
      this._fail(t("plan.refused"), e, req);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  _draw(mission) {
    this.layer.clearLayers();
    const layers = routeLayers(this.ctx, mission, "preview");
    for (const l of layers) this.layer.addLayer(l);
    const pts = mission.legs.flatMap((l) => l.path);
    if (pts.length) {
      const b = L.latLngBounds(pts);
      const map = this.ctx.map.map;
      if (!map.getBounds().contains(b)) map.fitBounds(b.pad(0.15), { maxZoom: 18, animate: false });
    }
  }

  discard() {
    this.preview = null;
    this.layer.clearLayers();
    this.render();
  }

  /** Dispatch a planned mission (this preview, or one from the missions list). */
  async dispatch(mission = this.preview?.mission) {
    if (!mission) return;
    const names = mission.legs.map((l) => droneName(this.ctx, l.drone_id)).join(", ");
    const ok = await confirmDialog({
      title: t("dispatch.title", { id: mission.id }),
      body: t("dispatch.body", { names, n: mission.targets.filter((x) => !x.dropped_reason).length }),
      confirmLabel: t("plan.dispatch"),
    });
    if (!ok) return;
    const fromPreview = this.preview?.mission.id === mission.id;
    this.busy = "dispatch";
    this.error = null;
    this.render();
    try {
      const m = await this.ctx.api.post(`/api/missions/${mission.id}/dispatch`);
      this.data.putMission(m);
      const failed = m.legs.filter((l) => l.status === "failed");
      if (m.status === "failed") {
        this.error = { title: t("dispatch.failed"), message: m.reason || failed.map((l) => l.reason).join("; "), field: null };
        toast(m.reason, { kind: "error", title: t("dispatch.failed") });
      } else {
        toast(t("dispatch.ok", { id: m.id, n: m.legs.length - failed.length }), { kind: "success" });
        for (const l of failed) toast(l.reason, { kind: "error", title: `${t("dispatch.legFailed")} — ${droneName(this.ctx, l.drone_id)}` });
        if (fromPreview) {
          this.preview = null;
          this.layer.clearLayers();
          this.data.clearSelection();
        }
        this.ctx.missionsPanel.show(m.id);
      }
      this.data.refreshAll({ fast: true });
    } catch (e) {
      this._fail(t("dispatch.refused"), e, null);
      if (!fromPreview) toast(e.message, { kind: "error", title: t("dispatch.refused") });
    } finally {
      this.busy = false;
      this.render();
    }
  }

  _fail(title, e, req) {
    const status = e instanceof ApiError && e.status ? ` (${e.status})` : "";
    this.error = {
      title: `${title}${status}`,
      message: e.message,
      field: e instanceof ApiError ? describeField(e.field, req, this.ctx) : null,
    };
  }
}
