// The sidebar's tabs. Each slice registers its panel here: fleet and alerts now; incidents,
// planning and dispatch later (see README "Console"). A panel gets a container element and
// may show a count on its tab.

import { h } from "./dom.js";
import { t } from "./i18n.js";

const ACTIVE_KEY = "nazorat.panel";

export class Panels {
  constructor(tabsEl, panelsEl) {
    this.tabsEl = tabsEl;
    this.panelsEl = panelsEl;
    this.entries = [];
    this.active = null;
  }

  /**
   * @param {{id: string, title: string, order?: number,
   *          mount: (el: HTMLElement, tab: {setBadge, show}) => void}} spec
   *   title is an i18n key; order sorts the tabs (fleet 10, alerts 20; later slices 30+).
   */
  register(spec) {
    const tab = h("button", {
      type: "button",
      role: "tab",
      class: "tab",
      id: `tab-${spec.id}`,
      "aria-controls": `panel-${spec.id}`,
      "aria-selected": "false",
      dataset: { panel: spec.id },
      "data-testid": `tab-${spec.id}`,
      onclick: () => this.show(spec.id),
    }, h("span", { "data-i18n": spec.title }, t(spec.title)));
    const badge = h("span", { class: "badge", hidden: true, "data-testid": `badge-${spec.id}` });
    tab.append(badge);
    const panel = h("section", {
      role: "tabpanel",
      class: "panel",
      id: `panel-${spec.id}`,
      "aria-labelledby": `tab-${spec.id}`,
      hidden: true,
      "data-testid": `panel-${spec.id}`,
    });
    const entry = { ...spec, order: spec.order ?? 100, tab, panel, badge };
    this.entries.push(entry);
    this.entries.sort((a, b) => a.order - b.order);
    this.tabsEl.replaceChildren(...this.entries.map((e) => e.tab));
    this.panelsEl.append(panel);
    const handle = {
      setBadge: (n, critical = false) => {
        badge.hidden = !n;
        badge.textContent = n ? String(n) : "";
        badge.classList.toggle("critical", Boolean(critical));
      },
      show: () => this.show(spec.id),
      element: panel,
    };
    spec.mount(panel, handle);
    let stored = null;
    try {
      stored = localStorage.getItem(ACTIVE_KEY);
    } catch {
      // default tab
    }
    if (!this.active || stored === spec.id) this.show(spec.id, false);
    return handle;
  }

  show(id, remember = true) {
    this.active = id;
    for (const e of this.entries) {
      const on = e.id === id;
      e.tab.setAttribute("aria-selected", String(on));
      e.tab.tabIndex = on ? 0 : -1;
      e.panel.hidden = !on;
    }
    if (remember) {
      try {
        localStorage.setItem(ACTIVE_KEY, id);
      } catch {
        // not remembered
      }
    }
  }

  ids() {
    return this.entries.map((e) => e.id);
  }
}
