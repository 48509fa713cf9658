// The selected drone's detail: live values, and (operator view only) the section that
// commands.js fills with command controls. The commander view never calls setControls(), so no
// control is ever created there.

import { batched } from "./batch.js";
import { formatDD, formatMGRS } from "./coords.js";
import { h } from "./dom.js";
import { num, onLangChange, t, time } from "./i18n.js";
import { droneStatus } from "./status.js";

function fmt(x, decimals, unit) {
  if (typeof x !== "number" || !Number.isFinite(x)) return "–";
  return unit ? `${num(x, decimals)} ${unit}` : num(x, decimals);
}

function yesNo(x) {
  if (x === null || x === undefined) return "–";
  return x ? t("common.yes") : t("common.no");
}

/** [label key, value(v, store)] for the facts shown. */
function fields(store) {
  return [
    ["detail.mode", (v) => v.mode || "–"],
    ["detail.armed", (v) => yesNo(v.armed)],
    ["detail.landed", (v) => (v.landed ? t(`landed.${v.landed}`) : "–")],
    ["detail.battery", (v) => `${fmt(v.bat, 0, "%")} · ${fmt(v.volt, 2, t("unit.V"))}`],
    ["detail.alt", (v) => `${fmt(v.ralt, 1, t("unit.m"))} (${fmt(v.alt, 1, t("unit.mAmsl"))})`],
    ["detail.speed", (v) => `${fmt(v.gs, 1, t("unit.mps"))} · ${fmt(v.vs, 1, t("unit.mps"))} ↑`],
    ["detail.heading", (v) => fmt(v.hdg, 0, "°")],
    ["detail.position", (v) => (typeof v.lat === "number" ? formatDD(v.lat, v.lon) : "–")],
    ["detail.mgrs", (v) => (typeof v.lat === "number" ? formatMGRS(v.lat, v.lon) : "–")],
    ["detail.gps", (v) => `${v.fix ?? "–"} · ${v.sats ?? "–"} ${t("detail.sats")} · EKF ${yesNo(v.ekf)}`],
    // OPEN_DRONE_ID_ARM_STATUS: absent until the drone reports Remote ID; the reason when not ready
    ["detail.remoteId", (v) => (v.rid ? (v.rid[0] ? t("detail.remoteIdOk") : v.rid[1] || t("common.no")) : "–")],
    ["detail.mission", (v) => (v.wp && v.wp[1] ? `${v.wp[0]} / ${v.wp[1]}` : "–")],
    [
      "detail.heartbeat",
      (v) => (typeof v.hb_t === "number"
        ? t("detail.ago", { s: num(Math.max(0, store.serverNow() - v.hb_t), 0), time: time(v.hb_t) })
        : "–"),
    ],
  ];
}

export class DetailPanel {
  constructor(el, store, config, { onClose }) {
    this.el = el;
    this.store = store;
    this.config = config;
    this.onClose = onClose;
    this.fields = fields(store);
    this.controls = null; // {mount(container), update(v)} from commands.js, operator view only
    this.values = [];
    this.title = h("h2", { class: "detail-title", "data-testid": "detail-title" });
    this.sub = h("span", { class: "detail-sub" });
    this.statusChip = h("span", { class: "chip", "data-testid": "detail-status" });
    this.closeBtn = h("button", {
      type: "button",
      class: "icon-btn",
      "data-i18n-title": "common.close",
      title: t("common.close"),
      onclick: () => this.onClose(),
    }, "×");
    this.kv = h("dl", { class: "kv" });
    this.controlsBox = h("div", { class: "detail-controls" });
    el.append(
      h("header", { class: "detail-head" }, this.title, this.sub, this.statusChip, this.closeBtn),
      this.kv,
      this.controlsBox,
    );
    this._renderLabels();
    const render = batched(() => this.render());
    store.on("drones", ({ changed, removed }) => {
      const id = store.selectedId;
      if (changed.includes(id) || removed.includes(id)) render();
    });
    store.on("selection", () => this.render());
    onLangChange(() => {
      this._renderLabels();
      this.render();
    });
    // the heartbeat age ticks even when nothing else changes
    setInterval(() => this.store.selectedId !== null && render(), 1000);
  }

  setControls(controls) {
    this.controls = controls;
    controls.mount(this.controlsBox);
    this.render();
  }

  render() {
    const v = this.store.get(this.store.selectedId);
    this.el.hidden = !v;
    if (!v) return;
    this.el.dataset.droneId = String(v.id);
    this.title.textContent = v.name || `#${v.id}`;
    this.sub.textContent = `#${v.id} · sysid ${v.sysid}`;
    const status = droneStatus(v, this.config.lowBatteryPct);
    this.statusChip.className = `chip status-${status}`;
    this.statusChip.textContent = t(`status.${status}`);
    this.fields.forEach(([, value], i) => {
      const text = value(v);
      if (this.values[i].textContent !== text) this.values[i].textContent = text;
    });
    if (this.controls) this.controls.update(v);
  }

  _renderLabels() {
    this.values = [];
    this.kv.replaceChildren(
      ...this.fields.flatMap(([key]) => {
        const dd = h("dd", { dataset: { field: key.split(".")[1] } });
        this.values.push(dd);
        return [h("dt", {}, t(key)), dd];
      }),
    );
  }
}
