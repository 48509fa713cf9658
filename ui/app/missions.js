// Missions: their routes on the map, the missions list with legs, targets and timeline, and the
// replay of a finished mission's recorded tracks. Read-only: the operator module adds pause /
// resume / recall through `legExtras` / `missionExtras`; the commander view adds none.

import { batched } from "./batch.js";
import { fill, h } from "./dom.js";
import { has, lang, onLangChange, t, time } from "./i18n.js";
import {
  ACTIVE_MISSION,
  clock,
  droneColour,
  duration,
  FINAL_MISSION,
  incidentTitle,
  metres,
  pct,
  unix,
} from "./format.js";

const L = window.L;
const TIMELINE_REFRESH_MS = 2000;

export function droneName(ctx, id) {
  const v = ctx.store.get(id);
  return v ? v.name : `#${id}`;
}

export function missionTitle(m) {
  return m.name ? `#${m.id} ${m.name}` : t("missions.untitled", { id: m.id });
}

export function statusChip(kind, status, testid) {
  return h("span", { class: `chip mstatus mstatus-${status}`, "data-testid": testid, dataset: { status } },
    has(`${kind}.${status}`) ? t(`${kind}.${status}`) : status);
}

/**
 * Leaflet layers for a mission's legs: the path (colour per drone) and numbered stops.
 * style: "preview" (dashed), "active" (solid), "past" (faint).
 */
export function routeLayers(ctx, mission, style = "active") {
  const out = [];
  for (const leg of mission.legs) {
    if (!leg.path || leg.path.length < 2) continue;
    const colour = droneColour(leg.drone_id);
    const line = L.polyline(leg.path, {
      pane: "routes",
      color: colour,
      weight: style === "past" ? 3 : 4,
      opacity: style === "past" ? 0.45 : 0.9,
      dashArray: style === "preview" ? "10 7" : null,
      className: `route route-${style}`,
      interactive: true,
    });
    line.bindTooltip( // an element: a string would be HTML (the drone's name)
      h("span", { "data-testid": "route-tooltip" },
        `${droneName(ctx, leg.drone_id)}: ${metres(leg.distance_m)} · ${duration(leg.duration_s)} · ${t("plan.battery")} ${pct(leg.battery_used_pct)}`),
      { sticky: true },
    );
    out.push(line);
    // stops in flying order (the first and last points are home)
    for (const p of leg.path.slice(1, -1)) {
      out.push(L.circleMarker(p, {
        pane: "routes",
        radius: 3.5,
        color: colour,
        weight: 2,
        fillColor: "#fff",
        fillOpacity: 1,
        opacity: style === "past" ? 0.5 : 1,
        interactive: false,
        className: "route-stop",
      }));
    }
  }
  return out;
}

export function targetLabel(data, x) {
  if (x.kind === "incident" && x.incident_ids?.length === 1) {
    const inc = data.incidents.get(x.incident_ids[0]);
    if (inc) return `${incidentTitle(inc)} · ${t("incident.severityN", { n: inc.severity })}`;
  }
  return x.label || x.key;
}

export class MissionRouteLayer {
  constructor(ctx) {
    this.ctx = ctx;
    this.layer = ctx.map.addLayer();
    this.sig = null;
    const render = batched(() => this.render(), 40);
    ctx.store.on("missions", () => render());
    ctx.store.on("missionSelection", () => render());
    onLangChange(() => {
      this.sig = null;
      render();
    });
  }

  render() {
    const data = this.ctx.data;
    const shown = data.activeMissions();
    const selectedId = this.ctx.missionsPanel?.selectedId ?? null;
    const selected = selectedId !== null ? data.mission(selectedId) : null;
    if (selected && !shown.includes(selected) && selected.status !== "planned") shown.push(selected);
    const sig = shown.map((m) => `${m.id}:${m.status}:${m.legs.map((l) => `${l.revision}${l.status}`).join(",")}`).join("|");
    if (sig === this.sig) return;
    this.sig = sig;
    this.layer.clearLayers();
    for (const m of shown) {
      const style = ACTIVE_MISSION.includes(m.status) ? "active" : "past";
      for (const l of routeLayers(this.ctx, m, style)) this.layer.addLayer(l);
    }
    const el = this.ctx.map.map.getContainer();
    el.dataset.routesShown = String(shown.length);
  }
}

export class MissionsPanel {
  constructor(container, ctx, { setBadge } = {}) {
    this.ctx = ctx;
    this.data = ctx.data;
    this.setBadge = setBadge || (() => {});
    this.selectedId = null;
    this.showPreviews = false;
    this.log = [];
    this.logFor = null;
    this.logAt = 0;
    /** Operator view: (mission, leg) => [nodes]; (mission) => [nodes]. */
    this.legExtras = null;
    this.missionExtras = null;
    this.replay = new Replay(ctx);

    const previews = h("input", {
      type: "checkbox",
      id: "missions-previews",
      "data-testid": "missions-show-previews",
      onchange: (e) => {
        this.showPreviews = e.target.checked;
        this.render();
      },
    });
    this.count = h("span", { class: "muted count" });
    this.toolbar = h("div", { class: "panel-toolbar" },
      h("label", { class: "check", for: "missions-previews" }, previews, h("span", { "data-i18n": "missions.showPreviews" }, t("missions.showPreviews"))),
      this.count);
    this.list = h("ul", { class: "mission-list", "data-testid": "mission-list" });
    this.empty = h("p", { class: "empty" });
    this.detail = h("section", { class: "mission-detail", hidden: true, "data-testid": "mission-detail", "aria-live": "polite" });
    container.append(this.toolbar, this.list, this.empty, this.detail);
    const render = batched(() => this.render(), 40);
    ctx.store.on("missions", () => render());
    // a pushed change of the mission shown (its log grew with it): its timeline, at most every
    // TIMELINE_REFRESH_MS, the last change never left out
    ctx.store.on("missionChanged", ({ ids }) => {
      if (this.selectedId === null || !ids.includes(this.selectedId) || this._logTimer) return;
      const wait = Math.max(0, TIMELINE_REFRESH_MS - (Date.now() - this.logAt));
      this._logTimer = setTimeout(() => {
        this._logTimer = null;
        this._loadLog(false);
      }, wait);
    });
    // the timeline of a mission in flight grows even when the mission itself did not change
    ctx.store.on("missionsPolled", () => {
      const m = this.selectedId !== null ? this.data.mission(this.selectedId) : null;
      if (m && ACTIVE_MISSION.includes(m.status) && Date.now() - this.logAt > TIMELINE_REFRESH_MS) this._loadLog(false);
    });
    ctx.store.on("drones", () => {
      const names = ctx.store.list().map((v) => v.name).join("|");
      if (names !== this._names) {
        this._names = names;
        render();
      }
    });
    onLangChange(() => {
      this._detailSig = null;
      render();
    });
    this.render();
  }

  visibleMissions() {
    return this.data.missions.filter((m) => this.showPreviews || m.status !== "planned" || m.id === this.selectedId);
  }

  select(id) {
    this.selectedId = id === this.selectedId ? null : id;
    if (this.selectedId === null || this.replay.missionId !== this.selectedId) this.replay.close();
    this._detailSig = null;
    this.ctx.store.emit("missionSelection", { id: this.selectedId });
    this.render();
    if (this.selectedId !== null) this._loadLog(true);
  }

  /** Select a mission (after a dispatch) without toggling it off. */
  show(id) {
    this.ctx.panels.show("missions");
    if (this.selectedId !== id) this.select(id);
  }

  render() {
    const list = this.visibleMissions();
    this.list.replaceChildren(...list.map((m) => this._item(m)));
    this.empty.hidden = list.length > 0;
    this.empty.textContent = this.data.loaded.missions ? t("missions.empty") : t("common.loading");
    const active = this.data.activeMissions().length;
    this.count.textContent = t("missions.activeCount", { n: active });
    this.setBadge(active, false);
    this._renderDetail();
    const m = this.selectedId !== null ? this.data.mission(this.selectedId) : null;
    if (m && ACTIVE_MISSION.includes(m.status) && Date.now() - this.logAt > TIMELINE_REFRESH_MS) this._loadLog(false);
    // a mission that has just ended: fetch its final timeline once
    if (m && FINAL_MISSION.includes(m.status) && this._logStatus !== m.status) this._loadLog(false);
  }

  _item(m) {
    const observed = m.targets.filter((x) => x.observed_at).length;
    const selected = m.id === this.selectedId;
    return h("li", {
      class: `mission-item${selected ? " selected" : ""}`,
      dataset: { missionId: String(m.id), status: m.status },
      "data-testid": "mission-item",
    }, h("button", {
      type: "button",
      class: "mission-main",
      "aria-expanded": String(selected),
      onclick: () => this.select(m.id),
    },
    h("span", { class: "mission-title" }, missionTitle(m)),
    statusChip("mission.status", m.status, "mission-status"),
    h("span", { class: "mission-meta" },
      `${clock(m.created_at)} · ${t("missions.drones", { n: m.legs.length })} · ${t("missions.observed", { n: observed, total: m.targets.length })}`),
    h("span", { class: "mission-swatches" }, ...m.legs.map((l) => h("span", { class: "swatch", style: { background: droneColour(l.drone_id) }, title: droneName(this.ctx, l.drone_id) })))));
  }

  _renderDetail() {
    const m = this.selectedId !== null ? this.data.mission(this.selectedId) : null;
    if (!m) {
      this.detail.hidden = true;
      this.detail.replaceChildren();
      this._detailSig = null;
      return;
    }
    const sig = `${m.id}|${m.updated_at}|${m.status}|${JSON.stringify(m.legs.map((l) => [l.status, l.current_seq, l.reason]))}|${m.targets.map((x) => x.observed_at).join()}|${this.log.length}|${this.logFor}|${lang()}|${this._names}|${this.replay.missionId}`;
    if (sig === this._detailSig) return;
    this._detailSig = sig;
    this.detail.hidden = false;
    this.detail.dataset.missionId = String(m.id);
    const observed = m.targets.filter((x) => x.observed_at).length;
    const legRows = m.legs.map((leg) => h("tr", { dataset: { droneId: String(leg.drone_id), status: leg.status }, "data-testid": "mission-leg" },
      h("td", {}, h("span", { class: "swatch", style: { background: droneColour(leg.drone_id) } }), droneName(this.ctx, leg.drone_id)),
      h("td", {}, statusChip("leg.status", leg.status, "leg-status")),
      h("td", { class: "num", title: t("missions.itemHint") }, leg.status === "planned" ? "–" : `${leg.current_seq}/${leg.last_item_seq}`),
      h("td", { class: "num" }, metres(leg.distance_m)),
      h("td", { class: "num" }, duration(leg.duration_s)),
      h("td", { class: "num" }, pct(leg.battery_used_pct)),
      this.legExtras ? h("td", { class: "leg-actions" }, ...this.legExtras(m, leg)) : null,
    ));
    const reasons = m.legs.filter((l) => l.reason).map((l) => h("li", {}, h("strong", {}, `${droneName(this.ctx, l.drone_id)}: `), l.reason));
    const targets = m.targets.map((x) => h("li", { class: x.observed_at ? "observed" : "", "data-testid": "mission-target", dataset: { key: x.key, observed: String(Boolean(x.observed_at)) } },
      h("span", { class: "target-mark", "aria-hidden": "true" }, x.observed_at ? "✓" : "○"),
      h("span", {}, this._targetLabel(x)),
      h("span", { class: "muted" }, x.observed_at
        ? t("missions.observedBy", { name: droneName(this.ctx, x.observed_by), time: clock(x.observed_at) })
        : x.drone_id ? droneName(this.ctx, x.drone_id) : ""),
      !x.observed_at && typeof x.eta_s === "number"
        ? h("span", { class: "muted target-eta", "data-testid": "target-eta", title: t("plan.etaHint") }, ` · ${t("plan.etaShort", { time: duration(x.eta_s) })}`)
        : null,
    ));
    const dropped = m.dropped.map((x) => h("li", { "data-testid": "mission-dropped" }, h("span", {}, this._targetLabel(x)), h("span", { class: "muted" }, ` — ${x.dropped_reason}`)));
    const finished = FINAL_MISSION.includes(m.status);
    fill(this.detail,
      h("div", { class: "detail-head" },
        h("h3", { class: "detail-title", "data-testid": "mission-detail-title" }, missionTitle(m)),
        statusChip("mission.status", m.status, "mission-detail-status"),
        h("button", { type: "button", class: "icon-btn", "aria-label": t("common.close"), onclick: () => this.select(m.id) }, "×")),
      h("dl", { class: "kv" },
        h("dt", {}, t("missions.created")), h("dd", {}, `${clock(m.created_at)} · ${m.created_by}`),
        m.dispatched_at ? [h("dt", {}, t("missions.dispatched")), h("dd", {}, clock(m.dispatched_at))] : null,
        m.finished_at ? [h("dt", {}, t("missions.finished")), h("dd", {}, clock(m.finished_at))] : null,
        h("dt", {}, t("missions.targets")), h("dd", { "data-testid": "mission-observed" }, t("missions.observed", { n: observed, total: m.targets.length })),
        typeof m.makespan_s === "number" ? [h("dt", {}, t("plan.makespan")), h("dd", {}, duration(m.makespan_s))] : null,
      ),
      m.reason ? h("p", { class: "mission-reason", role: "note" }, m.reason) : null,
      this.missionExtras ? h("div", { class: "mission-actions" }, ...this.missionExtras(m)) : null,
      h("table", { class: "data-table legs-table" },
        h("thead", {}, h("tr", {},
          h("th", {}, t("plan.drone")), h("th", {}, t("missions.legStatus")), h("th", { class: "num" }, t("missions.item")),
          h("th", { class: "num" }, t("plan.distance")), h("th", { class: "num" }, t("plan.duration")), h("th", { class: "num" }, t("plan.battery")),
          this.legExtras ? h("th", {}, "") : null)),
        h("tbody", {}, ...legRows)),
      reasons.length ? h("ul", { class: "leg-reasons" }, ...reasons) : null,
      h("h4", {}, t("missions.targets")),
      h("ul", { class: "target-list" }, ...targets),
      dropped.length ? [h("h4", {}, t("plan.dropped")), h("ul", { class: "target-list dropped" }, ...dropped)] : null,
      finished && m.dispatched_at ? this.replay.section(m) : null,
      h("h4", {}, t("missions.timeline")),
      this._timeline(m),
    );
  }

  /** An incident target in the console's words when the incident is known here. */
  _targetLabel(x) {
    return targetLabel(this.data, x);
  }

  _timeline(m) {
    if (this.logFor !== m.id) return h("p", { class: "muted" }, t("common.loading"));
    if (!this.log.length) return h("p", { class: "muted" }, t("missions.noLog"));
    return h("ol", { class: "timeline", "data-testid": "mission-timeline" }, ...this.log.slice().reverse().map((e) => h("li", { dataset: { kind: e.kind } },
      h("span", { class: "tl-time" }, clock(e.at)),
      h("span", { class: "tl-kind" }, has(`timeline.${e.kind}`) ? t(`timeline.${e.kind}`) : e.kind),
      e.drone_id ? h("span", { class: "tl-drone" }, h("span", { class: "swatch", style: { background: droneColour(e.drone_id) } }), droneName(this.ctx, e.drone_id)) : h("span", {}),
      e.message ? h("span", { class: "tl-msg" }, e.message) : null,
    )));
  }

  /** Fetch the selected mission's timeline again (after a change made from this console). */
  reloadLog() {
    return this._loadLog(false);
  }

  async _loadLog(reset) {
    const id = this.selectedId;
    if (id === null) return;
    if (reset) {
      this.log = [];
      this.logFor = null;
    }
    this.logAt = Date.now();
    try {
      const log = await this.ctx.api.get(`/api/missions/${id}/log`);
      if (this.selectedId !== id) return;
      this.log = log;
      this.logFor = id;
      this._logStatus = this.data.mission(id)?.status;
      this._renderDetail();
    } catch (e) {
      console.warn(`mission log: ${e.message}`);
    }
  }
}

/** Replay of a finished mission: each drone's recorded track over the mission's time window. */
export class Replay {
  constructor(ctx) {
    this.ctx = ctx;
    this.layer = null;
    this.missionId = null;
    this.tracks = []; // {droneId, coords: [[lat, lon]], times: [s]}
    this.t0 = 0;
    this.t1 = 0;
    this.pos = 1000;
    this.timer = null;
    this.box = null;
  }

  section(m) {
    if (this.missionId !== m.id) {
      return h("div", { class: "replay" },
        h("button", { type: "button", class: "btn btn-small", "data-testid": "replay-open", onclick: () => this.open(m) }, t("replay.open")));
    }
    return this.box;
  }

  async open(m) {
    this.close();
    this.missionId = m.id;
    const from = unix(m.dispatched_at) - 2;
    const to = (unix(m.finished_at) || Date.now() / 1000) + 5;
    this.t0 = from;
    this.t1 = to;
    this.label = h("span", { class: "replay-time", "data-testid": "replay-time" });
    this.slider = h("input", {
      type: "range",
      min: "0",
      max: "1000",
      value: "1000",
      class: "replay-slider",
      "data-testid": "replay-slider",
      "aria-label": t("replay.slider"),
      oninput: (e) => {
        this.stop();
        this.seek(Number(e.target.value));
      },
    });
    this.playBtn = h("button", { type: "button", class: "btn btn-small", "data-testid": "replay-play", onclick: () => this.toggle() }, t("replay.play"));
    this.status = h("span", { class: "muted" }, t("common.loading"));
    this.box = h("div", { class: "replay open", "data-testid": "replay" },
      h("div", { class: "replay-head" }, h("strong", {}, t("replay.title")), this.status,
        h("button", { type: "button", class: "btn btn-small", "data-testid": "replay-close", onclick: () => { this.close(); this.ctx.missionsPanel._detailSig = null; this.ctx.missionsPanel.render(); } }, t("replay.close"))),
      h("div", { class: "replay-controls" }, this.playBtn, this.slider, this.label));
    this.ctx.missionsPanel._detailSig = null;
    this.ctx.missionsPanel.render();
    this.layer = this.ctx.map.addLayer();
    try {
      const drones = [...new Set(m.legs.map((l) => l.drone_id))];
      const tracks = await Promise.all(drones.map(async (id) => {
        const f = await this.ctx.api.track(id, { from: from.toFixed(1), to: to.toFixed(1) });
        const coords = (f?.geometry?.coordinates || []).map(([lon, lat]) => [lat, lon]);
        return { droneId: id, coords, times: f?.properties?.times || [] };
      }));
      if (this.missionId !== m.id) return;
      this.tracks = tracks.filter((x) => x.coords.length);
      const bounds = [];
      for (const tr of this.tracks) {
        const colour = droneColour(tr.droneId);
        tr.full = L.polyline(tr.coords, { pane: "routes", color: colour, weight: 2, opacity: 0.35, dashArray: "3 5", interactive: false }).addTo(this.layer);
        tr.flown = L.polyline([], { pane: "routes", color: colour, weight: 4, opacity: 0.95, interactive: false, className: "replay-track" }).addTo(this.layer);
        tr.dot = L.circleMarker(tr.coords[0], { pane: "routes", radius: 7, color: "#0b1620", weight: 2, fillColor: colour, fillOpacity: 1, interactive: false, className: "replay-dot" }).addTo(this.layer);
        bounds.push(...tr.coords);
      }
      const points = this.tracks.reduce((n, tr) => n + tr.coords.length, 0);
      this.status.textContent = t("replay.points", { n: points, drones: this.tracks.length });
      this.status.dataset.points = String(points);
      if (bounds.length) this.ctx.map.map.fitBounds(L.latLngBounds(bounds).pad(0.2), { maxZoom: 18, animate: false });
      this.seek(1000);
    } catch (e) {
      this.status.textContent = `${t("replay.failed")}: ${e.message}`;
    }
  }

  seek(pos) {
    this.pos = pos;
    this.slider.value = String(pos);
    const at = this.t0 + ((this.t1 - this.t0) * pos) / 1000;
    this.label.textContent = time(at);
    for (const tr of this.tracks) {
      let i = 0;
      while (i < tr.times.length - 1 && tr.times[i + 1] <= at) i += 1;
      const upTo = tr.times.length && tr.times[0] > at ? 0 : i + 1;
      tr.flown.setLatLngs(tr.coords.slice(0, upTo));
      let p = tr.coords[Math.max(0, upTo - 1)];
      const a = tr.times[i];
      const b = tr.times[i + 1];
      if (upTo > 0 && b !== undefined && at > a && b > a) {
        const f = Math.min(1, (at - a) / (b - a));
        const q = tr.coords[i + 1];
        p = [p[0] + (q[0] - p[0]) * f, p[1] + (q[1] - p[1]) * f];
      }
      tr.dot.setLatLng(p);
    }
  }

  toggle() {
    if (this.timer) {
      this.stop();
      return;
    }
    if (this.pos >= 1000) this.seek(0);
    this.playBtn.textContent = t("replay.pause");
    // the whole window in ~15 s whatever its length
    this.timer = setInterval(() => {
      const next = Math.min(1000, this.pos + 4);
      this.seek(next);
      if (next >= 1000) this.stop();
    }, 60);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.playBtn) this.playBtn.textContent = t("replay.play");
  }

  close() {
    this.stop();
    if (this.layer) {
      this.layer.remove();
      this.layer = null;
    }
    this.tracks = [];
    this.missionId = null;
    this.box = null;
  }

  get points() {
    return this.tracks.reduce((n, tr) => n + tr.coords.length, 0);
  }
}
