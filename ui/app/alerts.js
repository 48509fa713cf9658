// Alerts: what an operator must see and acknowledge. Built from the telemetry socket's events
// (and, when the console opens, the service's recorded events of the last minutes):
//   link_lost, battery_low, statustext of severity WARNING or worse (classified as geofence /
//   failsafe / autopilot by its text), and a switch to RTL or LAND that this console did not
//   command (flagged as a possible failsafe); other aircraft near a drone (traffic_advisory,
//   traffic_alert; resolved by traffic_clear for the same drone and aircraft).
// Acknowledgement is local to this browser for now (kept in localStorage); a later slice moves
// it to the service so that every console sees who acknowledged what.

import { batched } from "./batch.js";
import { h } from "./dom.js";
import { lang, num, onLangChange, t, time } from "./i18n.js";

const ACK_KEY = "nazorat.ackedAlerts";
const MAX_ALERTS = 300;
const FAILSAFE_MODES = ["RTL", "LAND", "SMART_RTL"];
const OPERATOR_MODE_COMMANDS = ["return_to_launch", "land", "set_mode", "pause", "resume"];
const ALERT_EVENT_KINDS = [
  "link_lost", "link_restored", "battery_low", "statustext", "mode_changed",
  "traffic_advisory", "traffic_alert", "traffic_clear", "separation_alert", "separation_clear",
];

export function classifyStatustext(text) {
  if (/fence/i.test(text)) return "geofence";
  if (/failsafe/i.test(text)) return "failsafe";
  return "autopilot";
}

export class Alerts {
  constructor(store, config) {
    this.store = store;
    this.config = config;
    this.items = []; // newest first
    this.keys = new Set();
    this.acked = loadAcked();
    store.on("events", ({ events, dropped }) => {
      for (const e of events) this.ingest(normaliseWs(e), { live: true });
      if (dropped) this.ingest({ id: 0, kind: "dropped", t: store.serverNow(), sev: 4, msg: "", data: { n: dropped } }, { live: true });
    });
  }

  /** Seed with recent recorded events (GET /api/events, newest first). */
  async seed(api) {
    const since = Date.now() / 1000 - this.config.alertHistorySeconds;
    const rows = await api.events({ from: since.toFixed(0), limit: 200 });
    for (const r of rows.slice().reverse()) {
      if (!ALERT_EVENT_KINDS.includes(r.kind)) continue;
      this.ingest(
        { id: r.drone_id, kind: r.kind, t: r.t, sev: r.severity, msg: r.message, data: r.data || {} },
        { live: false },
      );
    }
  }

  /** Turn an event into an alert (or resolve one); returns the alert or null. */
  ingest(e, { live }) {
    let kind;
    let sev = e.sev ?? 4;
    if (e.kind === "link_lost") {
      kind = "link_lost";
      sev = Math.min(sev, 2);
    } else if (e.kind === "link_restored") {
      for (const a of this.items) if (a.droneId === e.id && a.kind === "link_lost") a.resolved = true;
      this.changed();
      return null;
    } else if (e.kind === "battery_low") {
      kind = "battery_low";
    } else if (e.kind === "statustext") {
      if (typeof e.sev === "number" && e.sev > 4) return null;
      kind = classifyStatustext(e.msg || "");
    } else if (e.kind === "mode_changed") {
      const mode = e.data?.new;
      if (!live || !FAILSAFE_MODES.includes(mode)) return null;
      if (this.store.commandedRecently(e.id, OPERATOR_MODE_COMMANDS, 30)) return null;
      kind = "mode_failsafe";
      sev = 4;
    } else if (e.kind === "traffic_advisory" || e.kind === "traffic_alert") {
      kind = e.kind;
      sev = e.kind === "traffic_alert" ? Math.min(sev, 2) : sev;
    } else if (e.kind === "separation_alert") {
      kind = "separation_alert";
      sev = Math.min(sev, 2);
    } else if (e.kind === "separation_clear") {
      for (const a of this.items) {
        if (a.droneId === e.id && a.kind === "separation_alert" && a.data.other === e.data?.other) a.resolved = true;
      }
      this.changed();
      return null;
    } else if (e.kind === "traffic_clear") {
      const icao = e.data?.icao;
      const uas = e.data?.uas_id;
      for (const a of this.items) {
        if (a.droneId === e.id && a.kind.startsWith("traffic_") && a.data.icao === icao && a.data.uas_id === uas) a.resolved = true;
      }
      this.changed();
      return null;
    } else if (e.kind === "dropped") {
      kind = "dropped";
    } else {
      return null;
    }
    const key = `${e.id}|${e.kind}|${Math.round(e.t)}|${e.msg || ""}`;
    if (this.keys.has(key)) return null;
    const alert = { key, droneId: e.id, kind, sev, t: e.t, msg: e.msg || "", data: e.data || {}, acked: this.acked.has(key), resolved: false };
    this.keys.add(key);
    this.items.unshift(alert);
    if (this.items.length > MAX_ALERTS) {
      for (const old of this.items.splice(MAX_ALERTS)) this.keys.delete(old.key);
    }
    this.changed();
    return alert;
  }

  text(a) {
    const d = a.data || {};
    switch (a.kind) {
      case "link_lost":
        return t("alert.text.link_lost", { s: typeof d.silence_s === "number" ? num(d.silence_s, 0) : "?" });
      case "battery_low":
        return t("alert.text.battery_low", { pct: typeof d.percent === "number" ? num(d.percent, 0) : "?" });
      case "mode_failsafe":
        return t("alert.text.mode_failsafe", { mode: d.new || "?" });
      case "dropped":
        return t("alert.text.dropped", { n: d.n });
      case "separation_alert": {
        const other = this.store.get(d.other);
        return t("alert.text.separation", {
          other: other ? other.name : `#${d.other}`,
          h: typeof d.h_m === "number" ? num(d.h_m, 0) : "?",
          v: typeof d.v_m === "number" ? num(d.v_m, 0) : "?",
        });
      }
      case "traffic_advisory":
      case "traffic_alert": {
        const rel = typeof d.relative_alt_m === "number" ? `${d.relative_alt_m >= 0 ? "+" : "−"}${num(Math.abs(d.relative_alt_m), 0)}` : "?";
        const text = t("alert.text.traffic", {
          who: d.callsign || d.icao || (d.uas_id ? t("traffic.rid_label", { id: d.uas_id }) : "?"),
          km: typeof d.h_m === "number" ? num(d.h_m / 1000, 2) : "?",
          rel,
          cpa: typeof d.t_cpa_s === "number" ? num(d.t_cpa_s, 0) : "?",
        });
        return d.action && d.action !== "none" ? `${text} ${t(`alert.text.traffic_action.${d.action}`)}` : text;
      }
      default:
        return a.msg; // the autopilot's own words, untranslated
    }
  }

  unackedCount() {
    return this.items.filter((a) => !a.acked).length;
  }

  ack(key) {
    const a = this.items.find((x) => x.key === key);
    if (!a || a.acked) return;
    a.acked = true;
    this.acked.add(key);
    saveAcked(this.acked);
    this.changed();
  }

  ackAll() {
    for (const a of this.items) {
      a.acked = true;
      this.acked.add(a.key);
    }
    saveAcked(this.acked);
    this.changed();
  }

  /** Acknowledge the newest unacknowledged alert (keyboard `a`). */
  ackNewest() {
    const a = this.items.find((x) => !x.acked);
    if (a) this.ack(a.key);
  }

  changed() {
    this.store.emit("alerts", { count: this.unackedCount() });
  }
}

function normaliseWs(e) {
  return { id: e.id, kind: e.kind, t: e.t, sev: e.sev, msg: e.msg, data: e.data || {} };
}

function loadAcked() {
  try {
    const arr = JSON.parse(localStorage.getItem(ACK_KEY) || "[]");
    return new Set(Array.isArray(arr) ? arr : []);
  } catch {
    return new Set();
  }
}

function saveAcked(set) {
  try {
    localStorage.setItem(ACK_KEY, JSON.stringify([...set].slice(-500)));
  } catch {
    // not persisted
  }
}

export class AlertsPanel {
  constructor(container, alerts, store, { onSelect, setBadge }) {
    this.alerts = alerts;
    this.store = store;
    this.onSelect = onSelect;
    this.setBadge = setBadge;
    this.nodes = new Map(); // alert key -> {li, sig}
    this.ackAllBtn = h("button", {
      type: "button",
      class: "btn btn-small",
      "data-testid": "alerts-ack-all",
      "data-i18n": "alerts.ackAll",
      onclick: () => alerts.ackAll(),
    }, t("alerts.ackAll"));
    this.list = h("ol", { class: "alert-list", "data-testid": "alerts-list" });
    this.empty = h("p", { class: "empty", "data-i18n": "alerts.empty" }, t("alerts.empty"));
    container.append(h("div", { class: "panel-toolbar" }, this.ackAllBtn), this.list, this.empty);
    const render = batched(() => this.render(), 60);
    store.on("alerts", () => render());
    let names = "";
    store.on("drones", () => {
      // only a change of names matters here; telemetry must not rebuild the list (clicks)
      const now = store.list().map((v) => `${v.id}:${v.name}`).join("|");
      if (now !== names) {
        names = now;
        render();
      }
    });
    onLangChange(() => render());
    this.render();
  }

  /** Keyed update: an alert's element is rebuilt only when its own state changed. */
  render() {
    const items = this.alerts.items;
    const language = lang();
    const keep = new Set();
    let prev = null;
    for (const a of items) {
      const v = this.store.get(a.droneId);
      const sig = `${a.acked}|${a.resolved}|${language}|${v ? v.name : ""}`;
      let entry = this.nodes.get(a.key);
      if (!entry || entry.sig !== sig) {
        const li = this._item(a);
        if (entry) entry.li.replaceWith(li);
        entry = { li, sig };
        this.nodes.set(a.key, entry);
      }
      keep.add(a.key);
      const expected = prev ? prev.nextSibling : this.list.firstChild;
      if (expected !== entry.li) this.list.insertBefore(entry.li, expected);
      prev = entry.li;
    }
    for (const [key, entry] of this.nodes) {
      if (!keep.has(key)) {
        entry.li.remove();
        this.nodes.delete(key);
      }
    }
    this.empty.hidden = items.length > 0;
    const n = this.alerts.unackedCount();
    this.ackAllBtn.disabled = n === 0;
    this.setBadge(n, items.some((a) => !a.acked && a.sev <= 3));
  }

  _item(a) {
    const v = this.store.get(a.droneId);
    const name = a.droneId ? (v ? v.name : `#${a.droneId}`) : "";
    const level = a.sev <= 3 ? "critical" : "warning";
    return h(
      "li",
      {
        class: `alert alert-${level}${a.acked ? " acked" : ""}${a.resolved ? " resolved" : ""}`,
        dataset: { kind: a.kind, droneId: String(a.droneId), acked: String(a.acked) },
        "data-testid": "alert",
      },
      h(
        "button",
        { type: "button", class: "alert-main", onclick: () => a.droneId && this.onSelect(a.droneId) },
        h("span", { class: "alert-time" }, time(a.t)),
        h("span", { class: "alert-kind" }, t(`alert.kind.${a.kind}`)),
        h("span", { class: "alert-drone" }, name),
        h("span", { class: "alert-text" }, this.alerts.text(a)),
        a.resolved
          ? h("span", { class: "chip chip-ok" }, t(a.kind.startsWith("traffic_") || a.kind === "separation_alert" ? "alert.trafficClear" : "alert.resolved"))
          : null,
      ),
      a.acked
        ? h("span", { class: "alert-acked", "aria-label": t("alert.acked") }, "✓")
        : h("button", {
          type: "button",
          class: "btn btn-small",
          "data-testid": "alert-ack",
          onclick: () => this.alerts.ack(a.key),
        }, t("alert.ack")),
    );
  }
}
