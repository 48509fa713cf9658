// Operator command controls. Loaded by main.js ONLY in the operator view (dynamic import), so
// the commander view has none of this code running and none of these elements in its page.
//
// Flight-critical commands ask for confirmation first. A command that fails shows the
// autopilot's own reason (the API's `reason`: PreArm/Arm text, MISSION_ACK or COMMAND_ACK).

import { ApiError } from "./api.js";
import { confirmDialog, h, toast } from "./dom.js";
import { has, onLangChange, t } from "./i18n.js";
import { isAirborne } from "./status.js";

/**
 * Command buttons of the detail panel, in order. `confirm`: ask first. `enabled(v)`: whether the
 * button makes sense in the drone's current state (the autopilot still has the last word).
 */
export const DRONE_COMMANDS = [
  { name: "arm", label: "cmd.arm", confirm: true, enabled: (v) => !v.armed },
  { name: "takeoff", label: "cmd.takeoff", confirm: true, enabled: (v) => !isAirborne(v) || v.landed === "on_ground" },
  { name: "pause", label: "cmd.pause", confirm: false, key: "p", enabled: (v) => Boolean(v.armed) },
  { name: "resume", label: "cmd.resume", confirm: true, key: "u", enabled: (v) => Boolean(v.armed) },
  { name: "return_to_launch", label: "cmd.rtl", confirm: true, key: "r", danger: true, enabled: (v) => Boolean(v.armed) },
  { name: "land", label: "cmd.land", confirm: true, key: "l", danger: true, enabled: (v) => Boolean(v.armed) },
  { name: "disarm", label: "cmd.disarm", confirm: true, danger: true, enabled: (v) => Boolean(v.armed) },
];

const BY_NAME = Object.fromEntries(DRONE_COMMANDS.map((c) => [c.name, c]));

function failedTitle(command, step) {
  const label = t(BY_NAME[command]?.label || "cmd.generic");
  return t("cmd.failed", { command: label }) + (step ? ` (${t("cmd.step")}: ${step})` : "");
}
const DEFAULT_TAKEOFF_ALT = 10;

export class CommandControls {
  constructor(ctx) {
    this.ctx = ctx;
    this.pending = new Map(); // `${id}:${name}` -> true
    this.errors = new Map(); // drone id -> {command, reason, outcome, step, status}
    this.buttons = new Map();
    this.current = null;
  }

  // ---- detail panel section -----------------------------------------------------------------

  mount(container) {
    this.container = container;
    this.box = h("div", { class: "command-grid", role: "group", "data-testid": "command-controls" });
    for (const c of DRONE_COMMANDS) {
      const btn = h("button", {
        type: "button",
        class: `btn cmd-btn${c.danger ? " btn-warn" : ""}`,
        dataset: { command: c.name },
        onclick: () => this.request(this.current?.id, c.name),
      });
      if (c.key) btn.setAttribute("aria-keyshortcuts", c.key);
      this.buttons.set(c.name, btn);
      this.box.append(btn);
    }
    this.errorBox = h("div", { class: "command-error", role: "alert", hidden: true, "data-testid": "command-error" });
    this.hint = h("p", { class: "hint", hidden: true });
    container.append(this.box, this.hint, this.errorBox);
    this._labels();
    onLangChange(() => {
      this._labels();
      if (this.current) this.update(this.current);
    });
  }

  update(v) {
    this.current = v;
    const linkUp = v.link === "up";
    for (const c of DRONE_COMMANDS) {
      const btn = this.buttons.get(c.name);
      const busy = this.pending.has(`${v.id}:${c.name}`);
      btn.disabled = busy || !linkUp || !c.enabled(v);
      btn.classList.toggle("busy", busy);
      btn.setAttribute("aria-busy", String(busy));
    }
    this.hint.hidden = linkUp;
    this.hint.textContent = linkUp ? "" : t(v.link === "lost" ? "cmd.hintLinkLost" : "cmd.hintConnecting");
    this._showError(v.id);
  }

  _labels() {
    for (const c of DRONE_COMMANDS) {
      const btn = this.buttons.get(c.name);
      btn.textContent = t(c.label) + (c.key ? ` (${c.key.toUpperCase()})` : "");
      btn.title = has(`${c.label}.hint`) ? t(`${c.label}.hint`) : t(c.label);
    }
  }

  _showError(id) {
    const err = this.errors.get(id);
    this.errorBox.hidden = !err;
    if (!err) return;
    const title = failedTitle(err.command, err.step);
    this.errorBox.replaceChildren(
      h("strong", {}, title),
      h("span", { class: "reason", "data-testid": "command-error-reason" }, err.reason),
      err.outcome ? h("span", { class: "outcome" }, has(`outcome.${err.outcome}`) ? t(`outcome.${err.outcome}`) : err.outcome) : null,
      h("button", {
        type: "button",
        class: "icon-btn",
        "aria-label": t("common.close"),
        onclick: () => {
          this.errors.delete(id);
          this._showError(id);
        },
      }, "×"),
    );
  }

  _refresh() {
    const v = this.current && this.ctx.store.get(this.current.id);
    if (v) this.update(v);
  }

  // ---- running commands ---------------------------------------------------------------------

  /** Ask (if flight-critical), then run command `name` on drone `id`. */
  async request(id, name) {
    const v = this.ctx.store.get(id);
    if (!v) return;
    const spec = BY_NAME[name];
    if (name === "takeoff") {
      const alt = await this._askTakeoff(v);
      if (alt === null) return;
      return this._takeoff(v, alt);
    }
    if (spec.confirm) {
      const ok = await confirmDialog({
        title: t(`confirm.${name}.title`, { name: v.name }),
        body: t(`confirm.${name}.body`, { name: v.name }),
        confirmLabel: t(spec.label),
        danger: Boolean(spec.danger),
      });
      if (!ok) return;
    }
    return this._run(v, name, undefined);
  }

  async _askTakeoff(v) {
    const input = h("input", {
      type: "number",
      min: "1",
      max: "120",
      step: "1",
      value: String(DEFAULT_TAKEOFF_ALT),
      id: "takeoff-alt",
      "data-testid": "takeoff-alt",
      required: true,
    });
    const body = h(
      "div",
      {},
      h("p", {}, t("confirm.takeoff.body", { name: v.name })),
      h("label", { for: "takeoff-alt", class: "field" }, h("span", {}, t("confirm.takeoff.alt")), input),
    );
    const ok = await confirmDialog({
      title: t("confirm.takeoff.title", { name: v.name }),
      body,
      confirmLabel: t("cmd.takeoff"),
    });
    if (!ok) return null;
    const alt = Number(input.value);
    if (!(alt > 0 && alt <= 500)) {
      toast(t("cmd.badAlt"), { kind: "error" });
      return null;
    }
    return alt;
  }

  /** GUIDED (if needed), arm (if needed), then NAV_TAKEOFF; stops at the first refusal. */
  async _takeoff(v, alt) {
    const steps = [];
    if (v.mode !== "GUIDED") steps.push(["set_mode", { mode: "GUIDED" }]);
    if (!v.armed) steps.push(["arm", undefined]);
    steps.push(["takeoff", { alt }]);
    return this._run(v, "takeoff", undefined, steps);
  }

  async _run(v, name, params, steps = [[name, params]]) {
    const key = `${v.id}:${name}`;
    this.pending.set(key, true);
    this.errors.delete(v.id);
    this._refresh();
    try {
      for (const [stepName, stepParams] of steps) {
        this.ctx.store.noteCommand(v.id, stepName);
        try {
          await this.ctx.api.command(v.id, stepName, stepParams);
        } catch (e) {
          if (e instanceof ApiError && steps.length > 1 && !e.step) e.step = stepName;
          throw e;
        }
      }
      toast(t("cmd.accepted", { command: t(BY_NAME[name].label), name: v.name }), { kind: "success" });
      return true;
    } catch (e) {
      const err = {
        command: name,
        reason: e.reason || e.message,
        outcome: e.outcome || null,
        step: e.step || null,
        status: e.status ?? null,
      };
      this.errors.set(v.id, err);
      toast(err.reason, { kind: "error", title: `${failedTitle(name, err.step)} — ${v.name}` });
      return false;
    } finally {
      this.pending.delete(key);
      this._refresh();
    }
  }

  // ---- recall all ---------------------------------------------------------------------------

  async recallAll() {
    const targets = this.ctx.store.list().filter((v) => v.armed);
    if (!targets.length) {
      toast(t("recall.none"), { kind: "info" });
      return;
    }
    const ok = await confirmDialog({
      title: t("recall.title"),
      body: t("recall.body", { n: targets.length, names: targets.map((v) => v.name).join(", ") }),
      confirmLabel: t("recall.button"),
    });
    if (!ok) return;
    const results = await Promise.all(
      targets.map(async (v) => {
        this.ctx.store.noteCommand(v.id, "return_to_launch");
        try {
          await this.ctx.api.command(v.id, "return_to_launch");
          return null;
        } catch (e) {
          this.errors.set(v.id, { command: "return_to_launch", reason: e.reason || e.message, outcome: e.outcome || null });
          return [v, e];
        }
      }),
    );
    const failed = results.filter(Boolean);
    const accepted = targets.length - failed.length;
    toast(t("recall.summary", { ok: accepted, failed: failed.length }), { kind: failed.length ? "error" : "success" });
    for (const [v, e] of failed) toast(e.reason || e.message, { kind: "error", title: `${t("cmd.rtl")} — ${v.name}` });
    this._refresh();
  }
}

/** Operator-only parts of the console: detail controls, top-bar actions, shortcuts. */
export function installOperatorControls(ctx) {
  const controls = new CommandControls(ctx);
  ctx.detail.setControls(controls);
  ctx.commands = controls;

  const bar = document.getElementById("topbar-actions");
  const recall = h("button", {
    type: "button",
    class: "btn btn-danger recall-btn",
    dataset: { command: "recall_all" },
    "data-testid": "recall-all",
    "data-i18n": "recall.button",
    onclick: () => controls.recallAll(),
  });
  bar.append(recall);

  const selected = () => ctx.store.selectedId;
  for (const c of DRONE_COMMANDS.filter((c) => c.key)) {
    ctx.shortcuts.register({
      key: c.key,
      help: `shortcut.${c.name}`,
      run: () => {
        const v = ctx.store.get(selected());
        if (!v) {
          toast(t("shortcut.selectFirst"), { kind: "info" });
          return;
        }
        controls.request(v.id, c.name);
      },
    });
  }
  return controls;
}
