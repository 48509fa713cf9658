// Auto-dispatch proposals (mission/dispatch/): a rule proposed a drone for a new incident, and
// waits for an operator to confirm or reject it before its countdown ends (then the rule's
// `on_timeout` decides). Listed with the drone, its ETA and the seconds left; pushed on the
// telemetry socket ("proposal" changes), fetched once at start and after lost changes.
// Confirm and reject only in the operator view.

import { fill, h, toast } from "./dom.js";
import { num, onLangChange, t } from "./i18n.js";

export class ProposalsPanel {
  constructor(el, ctx, { setBadge }) {
    this.el = el;
    this.ctx = ctx;
    this.setBadge = setBadge;
    this.proposals = new Map();
    ctx.store.on("changes", ({ changes, dropped }) => {
      if (dropped) this.load();
      for (const c of changes) if (c.kind === "proposal") this.put(c.data);
      this.render();
    });
    onLangChange(() => this.render());
    this.load();
    this.timer = setInterval(() => this.render(), 1000);
  }

  put(p) {
    this.proposals.set(p.id, p);
  }

  async load() {
    try {
      for (const p of await this.ctx.api.get("/api/dispatch-proposals", { status: "pending" })) this.put(p);
    } catch (e) {
      console.warn(`proposals: ${e.message}`);
    }
    this.render();
  }

  async answer(p, verb) {
    try {
      await this.ctx.api.post(`/api/dispatch-proposals/${p.id}/${verb}`);
      toast(t(`proposal.${verb}ed`, { id: p.incident_id }), { kind: "success" });
    } catch (e) {
      toast(e.message, { kind: "error", title: t("proposal.failed") });
    }
  }

  render() {
    const now = Date.now();
    const pending = [...this.proposals.values()]
      .filter((p) => p.status === "pending")
      .sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
    this.setBadge(pending.length, pending.length > 0);
    if (!pending.length) {
      fill(this.el, h("p", { class: "muted", "data-testid": "proposals-empty" }, t("proposal.none")));
      return;
    }
    fill(this.el, h("ul", { class: "proposal-list" }, pending.map((p) => {
      const left = Math.max(0, Math.round((Date.parse(p.expires_at) - now) / 1000));
      const then = p.on_timeout === "dispatch" ? t("proposal.thenDispatch") : t("proposal.thenDrop");
      return h("li", { class: "proposal", "data-testid": "proposal", "data-proposal-id": String(p.id) },
        h("div", {}, t("proposal.text", { incident: p.incident_id, drone: p.drone_id, eta: p.eta_s === null ? "–" : num(p.eta_s) })),
        h("div", { class: "proposal-countdown", "data-testid": "proposal-countdown" }, t("proposal.countdown", { s: num(left) }), " · ", then),
        this.ctx.role.canCommand && h("div", { class: "proposal-actions" },
          h("button", { type: "button", class: "btn btn-primary", "data-testid": "proposal-confirm", onclick: () => this.answer(p, "confirm") }, t("proposal.confirm")),
          h("button", { type: "button", class: "btn", "data-testid": "proposal-reject", onclick: () => this.answer(p, "reject") }, t("proposal.reject"))));
    })));
  }
}
