// The response-time panel (both views): how long from a report to a drone's eyes on the scene,
// per stage, as GET /api/reports/response gives it: a bar chart (median bar, 95th percentile
// tick) the operator can take in at a glance, and the figures under it. Plain SVG, no library.

import { fill, h } from "./dom.js";
import { num, onLangChange, t } from "./i18n.js";

const STAGES = ["report_to_dispatch", "dispatch_to_airborne", "airborne_to_on_scene", "report_to_on_scene"];
const WINDOWS = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30 };
const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 30_000;

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function seconds(v) {
  return v === null || v === undefined ? "–" : num(v, v < 10 ? 1 : 0);
}

/** The chart: one row per stage, the p50 as a bar and the p95 as a tick on a shared scale. */
export function stageChart(stats) {
  const width = 300;
  const rowH = 26;
  const left = 4;
  const max = Math.max(1, ...STAGES.map((s) => stats[s]?.p95_s ?? stats[s]?.p50_s ?? 0));
  const scale = (v) => left + ((width - left - 40) * v) / max;
  const chart = svg("svg", {
    class: "response-chart",
    viewBox: `0 0 ${width} ${rowH * STAGES.length + 4}`,
    role: "img",
    "aria-label": t("response.chart"),
    "data-testid": "response-chart",
  });
  STAGES.forEach((stage, i) => {
    const st = stats[stage] || {};
    const y = i * rowH + 4;
    chart.append(svg("text", { x: left, y: y + 9, class: "response-chart-label" }, t(`response.stage.${stage}`)));
    if (st.p50_s === null || st.p50_s === undefined) return;
    chart.append(svg("rect", {
      x: left, y: y + 12, height: 8, width: Math.max(1, scale(st.p50_s) - left),
      class: `response-bar stage-${i}`, "data-stage": stage,
    }));
    if (st.p95_s !== null && st.p95_s !== undefined) {
      const x = scale(st.p95_s);
      chart.append(svg("line", { x1: x, x2: x, y1: y + 10, y2: y + 22, class: "response-p95" }));
      chart.append(svg("text", { x: x + 3, y: y + 20, class: "response-chart-value" }, `${seconds(st.p95_s)} s`));
    }
  });
  return chart;
}

export class ResponsePanel {
  constructor(el, ctx) {
    this.el = el;
    this.api = ctx.api;
    this.window = "7d";
    this.severity = "all";
    this.data = null;
    this.error = null;
    onLangChange(() => this.render());
    this.render();
    this.load();
    this.timer = setInterval(() => this.load(), REFRESH_MS);
  }

  async load() {
    const from = new Date(Date.now() - WINDOWS[this.window] * 3600_000).toISOString();
    try {
      this.data = await this.api.get("/api/reports/response", { from });
      this.error = null;
    } catch (e) {
      this.error = e.message;
    }
    this.render();
  }

  stats() {
    if (!this.data) return null;
    return this.severity === "all" ? this.data.overall : this.data.by_severity[this.severity];
  }

  render() {
    const windowSel = h("select", {
      class: "select",
      "data-testid": "response-window",
      "aria-label": t("response.window"),
      onchange: (e) => {
        this.window = e.target.value;
        this.load();
      },
    }, Object.keys(WINDOWS).map((w) => h("option", { value: w, selected: w === this.window }, t(`response.last${w}`))));
    const sevSel = h("select", {
      class: "select",
      "data-testid": "response-severity",
      "aria-label": t("response.severity"),
      onchange: (e) => {
        this.severity = e.target.value;
        this.render();
      },
    }, ["all", "5", "4", "3", "2", "1"].map((s) =>
      h("option", { value: s, selected: s === this.severity }, s === "all" ? t("response.allSeverities") : t("response.severityN", { n: s }))));
    const controls = h("div", { class: "response-controls" }, windowSel, sevSel,
      h("button", { type: "button", class: "btn", "data-testid": "response-refresh", onclick: () => this.load() }, t("response.refresh")));
    const stats = this.stats();
    let body;
    if (this.error) body = h("p", { class: "muted", role: "alert" }, `${t("response.failed")}: ${this.error}`);
    else if (!stats) body = h("p", { class: "muted" }, t("common.loading"));
    else if (!STAGES.some((s) => stats[s]?.count)) body = h("p", { class: "muted", "data-testid": "response-empty" }, t("response.empty"));
    else {
      body = [
        stageChart(stats),
        h("p", { class: "muted small" }, t("response.chart")),
        h("table", { class: "response-table", "data-testid": "response-table" },
          h("thead", {}, h("tr", {},
            h("th", {}, t("response.col.stage")), h("th", {}, t("response.col.count")),
            h("th", {}, t("response.col.p50")), h("th", {}, t("response.col.p95")))),
          h("tbody", {}, STAGES.map((s) => h("tr", { "data-stage": s },
            h("td", {}, t(`response.stage.${s}`)), h("td", {}, num(stats[s]?.count ?? 0)),
            h("td", {}, seconds(stats[s]?.p50_s)), h("td", {}, seconds(stats[s]?.p95_s)))))),
      ];
    }
    fill(this.el, controls, body);
  }
}
