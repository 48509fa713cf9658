// The fleet table: one row per drone, sortable by any column (click the header; again to
// reverse). Clicking a row selects the drone. Updated in place as telemetry arrives.

import { batched } from "./batch.js";
import { h } from "./dom.js";
import { num, onLangChange, t } from "./i18n.js";
import { droneStatus, STATUS_RANK } from "./status.js";

const SORT_KEY = "nazorat.fleetSort";

function numOrNull(x) {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** Column definitions; `value` gives the sort key, `text` the cell. */
export function columns(lowBatteryPct) {
  return [
    { key: "name", label: "fleet.col.name", value: (v) => (v.name || "").toLowerCase(), text: (v) => v.name || `#${v.id}` },
    {
      key: "status",
      label: "fleet.col.status",
      value: (v) => STATUS_RANK[droneStatus(v, lowBatteryPct)],
      text: (v) => t(`status.${droneStatus(v, lowBatteryPct)}`),
      cls: (v) => `status-cell status-${droneStatus(v, lowBatteryPct)}`,
    },
    { key: "mode", label: "fleet.col.mode", value: (v) => v.mode || "", text: (v) => v.mode || "–" },
    {
      key: "armed",
      label: "fleet.col.armed",
      value: (v) => (v.armed ? 1 : 0),
      text: (v) => (v.armed === null || v.armed === undefined ? "–" : v.armed ? t("fleet.armed") : t("fleet.disarmed")),
    },
    {
      key: "bat",
      label: "fleet.col.battery",
      num: true,
      value: (v) => numOrNull(v.bat),
      text: (v) => (numOrNull(v.bat) === null ? "–" : `${num(v.bat)}%`),
    },
    {
      key: "ralt",
      label: "fleet.col.alt",
      num: true,
      value: (v) => numOrNull(v.ralt),
      text: (v) => (numOrNull(v.ralt) === null ? "–" : num(v.ralt, 1)),
    },
    {
      key: "gs",
      label: "fleet.col.speed",
      num: true,
      value: (v) => numOrNull(v.gs),
      text: (v) => (numOrNull(v.gs) === null ? "–" : num(v.gs, 1)),
    },
  ];
}

export class FleetTable {
  constructor(container, store, config, { onSelect }) {
    this.store = store;
    this.onSelect = onSelect;
    this.lowBatteryPct = config.lowBatteryPct;
    this.cols = columns(config.lowBatteryPct);
    this.sort = loadSort();
    this.rows = new Map();
    this.tbody = h("tbody");
    this.headRow = h("tr");
    this.table = h(
      "table",
      { class: "fleet-table", "data-testid": "fleet-table" },
      h("thead", {}, this.headRow),
      this.tbody,
    );
    this.empty = h("p", { class: "empty", "data-i18n": "fleet.empty" }, t("fleet.empty"));
    container.append(this.table, this.empty);
    this._renderHead();
    // A table is read, not watched frame by frame: at most four refreshes a second, whatever the
    // fleet size (each sorts and walks every row).
    const render = batched(() => this.render(), 250);
    store.on("drones", () => render());
    store.on("selection", () => this._highlight());
    onLangChange(() => {
      this._renderHead();
      this.render();
    });
    this.render();
  }

  setSort(key) {
    this.sort = this.sort.key === key ? { key, dir: -this.sort.dir } : { key, dir: 1 };
    try {
      localStorage.setItem(SORT_KEY, JSON.stringify(this.sort));
    } catch {
      // not persisted
    }
    this._renderHead();
    this.render();
  }

  /** Drone ids in the order shown (keyboard navigation follows it). */
  order() {
    const col = this.cols.find((c) => c.key === this.sort.key) || this.cols[0];
    const dir = this.sort.dir;
    return this.store.list().sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      if (x === y) return a.id - b.id;
      if (x === null) return 1; // unknown values last either way
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    }).map((v) => v.id);
  }

  render() {
    const ids = this.order();
    const seen = new Set(ids);
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    let prev = null;
    for (const id of ids) {
      const v = this.store.get(id);
      let row = this.rows.get(id);
      if (!row) {
        row = this._createRow(id);
        this.rows.set(id, row);
      }
      this.cols.forEach((c, i) => {
        const cell = row.children[i];
        const text = c.text(v);
        if (cell.textContent !== text) cell.textContent = text;
        const cls = c.cls ? c.cls(v) : c.num ? "num" : "";
        if (cell.className !== cls) cell.className = cls;
      });
      row.dataset.status = droneStatus(v, this.lowBatteryPct);
      const want = prev ? prev.nextSibling : this.tbody.firstChild;
      if (want !== row) this.tbody.insertBefore(row, want);
      prev = row;
    }
    this.empty.hidden = ids.length > 0;
    this._highlight();
  }

  _createRow(id) {
    const row = h("tr", {
      dataset: { droneId: String(id) },
      tabindex: "0",
      onclick: () => this.onSelect(id),
      onkeydown: (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          this.onSelect(id);
        }
      },
    });
    for (const c of this.cols) row.append(h("td", { dataset: { col: c.key } }));
    return row;
  }

  _renderHead() {
    this.headRow.replaceChildren(
      ...this.cols.map((c) => {
        const active = this.sort.key === c.key;
        const arrow = active ? (this.sort.dir > 0 ? " ▲" : " ▼") : "";
        return h(
          "th",
          {
            scope: "col",
            class: c.num ? "num" : "",
            "aria-sort": active ? (this.sort.dir > 0 ? "ascending" : "descending") : "none",
          },
          h("button", { type: "button", class: "sort-btn", dataset: { sort: c.key }, onclick: () => this.setSort(c.key) }, t(c.label) + arrow),
        );
      }),
    );
  }

  _highlight() {
    for (const [id, row] of this.rows) {
      const sel = id === this.store.selectedId;
      row.classList.toggle("selected", sel);
      row.setAttribute("aria-selected", String(sel));
    }
  }
}

function loadSort() {
  try {
    const s = JSON.parse(localStorage.getItem(SORT_KEY));
    if (s && typeof s.key === "string" && (s.dir === 1 || s.dir === -1)) return s;
  } catch {
    // default
  }
  return { key: "name", dir: 1 };
}
