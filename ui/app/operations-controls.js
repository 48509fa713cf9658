// Second slice, operator controls. Loaded by main.js ONLY in the operator view (dynamic import),
// so the commander view has none of these buttons, modes or shortcuts.
//
// - add an incident by clicking the map (mode: button or `I`), with a small form; it is picked
//   for the next plan at once;
// - pick incidents for a plan: click a marker, tick a row, or shift+drag a box on the map;
// - triage / close / false alarm from the incidents list; GeoJSON import of incidents and zones;
// - the Plan tab (planning.js): plan, preview, dispatch;
// - pause / resume / recall per drone of a mission; quick dispatch (mode: button or `Q`).

import { ApiError } from "./api.js";
import { confirmDialog, h, toast } from "./dom.js";
import { onLangChange, t } from "./i18n.js";
import { isFinal } from "./data.js";
import { categoryName, INCIDENT_CATEGORIES, incidentTitle, latLon, OPEN_STATUSES } from "./format.js";
import { droneName, missionTitle } from "./missions.js";
import { PlanPanel } from "./planning.js";

const L = window.L;

function refusal(e) {
  const parts = [e.message];
  if (e instanceof ApiError && e.field) parts.push(`(${t("plan.field")}: ${e.field})`);
  return parts.join(" ");
}

export function installMissionControls(ctx) {
  const { data, mapTools } = ctx;

  ctx.panels.register({
    id: "plan",
    title: "panel.plan",
    order: 40,
    mount: (el, tab) => {
      ctx.planPanel = new PlanPanel(el, ctx, { setBadge: tab.setBadge });
    },
  });

  // ---- picking incidents -------------------------------------------------------------------
  ctx.incidentLayer.onClick = (id) => {
    const inc = data.incidents.get(id);
    if (!inc) return;
    if (isFinal(inc)) {
      ctx.incidentsPanel.reveal(id);
      return;
    }
    data.toggleSelected(id);
  };
  installBoxSelect(ctx);
  installSelectionBar(ctx);

  // ---- incidents list: pick box and status actions ------------------------------------------
  ctx.incidentsPanel.rowExtras = (inc, where) => {
    if (where === "lead") {
      return [h("input", {
        type: "checkbox",
        class: "pick",
        "data-testid": "incident-pick",
        "aria-label": t("incidents.pick", { name: incidentTitle(inc) }),
        title: t("incidents.pick", { name: incidentTitle(inc) }),
        checked: data.isSelected(inc.id),
        disabled: isFinal(inc),
        onchange: (e) => data.toggleSelected(inc.id, e.target.checked),
      })];
    }
    if (!OPEN_STATUSES.includes(inc.status)) return [];
    return [h("div", { class: "incident-actions" },
      inc.status === "new"
        ? h("button", { type: "button", class: "btn btn-small", "data-testid": "incident-triage", onclick: () => setStatus(ctx, inc, "triaged") }, t("incident.action.triage"))
        : null,
      h("button", { type: "button", class: "btn btn-small", "data-testid": "incident-close", onclick: () => closeIncident(ctx, inc, "closed") }, t("incident.action.close")),
      h("button", { type: "button", class: "btn btn-small btn-warn", "data-testid": "incident-false-alarm", onclick: () => closeIncident(ctx, inc, "false_alarm") }, t("incident.action.falseAlarm")),
    )];
  };
  ctx.incidentsPanel.rows.clear();
  ctx.incidentsPanel.list.replaceChildren();
  ctx.incidentsPanel.render();

  // ---- add an incident by clicking the map --------------------------------------------------
  mapTools.registerMode({ name: "add-incident", hint: "mode.addIncident", onClick: (ll) => addIncidentAt(ctx, ll) });
  mapTools.addButton({ id: "add-incident", label: "tool.addIncident", title: "tool.addIncident.title", toggle: true, order: 10, onClick: () => mapTools.toggleMode("add-incident") });
  ctx.shortcuts.register({ key: "i", help: "shortcut.addIncident", run: () => mapTools.toggleMode("add-incident") });

  // ---- quick dispatch -----------------------------------------------------------------------
  mapTools.registerMode({ name: "quick", hint: "mode.quick", onClick: (ll) => quickDispatch(ctx, ll) });
  mapTools.addButton({ id: "quick", label: "tool.quick", title: "tool.quick.title", toggle: true, order: 20, onClick: () => mapTools.toggleMode("quick") });
  ctx.shortcuts.register({ key: "q", help: "shortcut.quick", run: () => mapTools.toggleMode("quick") });
  ctx.shortcuts.register({ key: "x", help: "shortcut.clearPicked", run: () => data.clearSelection() });

  // ---- import -------------------------------------------------------------------------------
  ctx.incidentsPanel.addToolbar(
    h("button", { type: "button", class: "btn btn-small", "data-testid": "add-incident-button", onclick: () => { mapTools.setMode("add-incident"); } }, t("incidents.addOnMap")),
    importButton(ctx, "incidents"),
    importButton(ctx, "zones"),
  );

  // ---- mission controls ---------------------------------------------------------------------
  const mp = ctx.missionsPanel;
  mp.legExtras = (m, leg) => legControls(ctx, m, leg);
  mp.missionExtras = (m) => missionControls(ctx, m);
  mp._detailSig = null;
  mp.render();
}

// ---- incidents ------------------------------------------------------------------------------

async function addIncidentAt(ctx, latlng) {
  const pending = L.marker(latlng, {
    interactive: false,
    keyboard: false,
    icon: L.divIcon({ className: "incident-icon", html: '<div class="incident-marker pending">+</div>', iconSize: [24, 24], iconAnchor: [12, 12] }),
  }).addTo(ctx.map.map);
  const category = h("select", { id: "new-category", class: "select", "data-testid": "new-incident-category" },
    ...INCIDENT_CATEGORIES.map((c) => h("option", { value: c }, categoryName(c))));
  const severity = h("select", { id: "new-severity", class: "select", "data-testid": "new-incident-severity" },
    ...[1, 2, 3, 4, 5].map((s) => h("option", { value: String(s), selected: s === 3 }, t(`incident.severity.${s}`))));
  const description = h("textarea", { id: "new-description", rows: "3", maxlength: "4000", "data-testid": "new-incident-description", placeholder: t("incident.descriptionPlaceholder") });
  const body = h("div", { class: "form-grid", "data-testid": "new-incident-form" },
    h("p", { class: "muted" }, `${t("incident.where")}: ${latLon(latlng.lat, latlng.lng)}`),
    h("label", { class: "field", for: "new-category" }, h("span", {}, t("incident.category")), category),
    h("label", { class: "field", for: "new-severity" }, h("span", {}, t("incident.severity")), severity),
    h("label", { class: "field field-block", for: "new-description" }, h("span", {}, t("incident.description")), description),
  );
  const asked = confirmDialog({ title: t("incident.newTitle"), body, confirmLabel: t("incident.add"), danger: false });
  category.focus();
  const ok = await asked;
  pending.remove();
  if (!ok) return;
  try {
    const inc = await ctx.api.post("/api/incidents", {
      lat: Number(latlng.lat.toFixed(7)),
      lon: Number(latlng.lng.toFixed(7)),
      category: category.value,
      severity: Number(severity.value),
      source: "operator",
      description: description.value.trim(),
    });
    ctx.data.putIncident(inc);
    // the incident just reported is the one most likely to be patrolled next
    ctx.data.toggleSelected(inc.id, true);
    toast(t("incident.added", { name: incidentTitle(inc) }), { kind: "success" });
  } catch (e) {
    toast(refusal(e), { kind: "error", title: t("incident.addFailed") });
  }
}

async function setStatus(ctx, inc, status) {
  try {
    const updated = await ctx.api.patch(`/api/incidents/${inc.id}`, { status });
    ctx.data.putIncident(updated);
  } catch (e) {
    toast(refusal(e), { kind: "error", title: t("incident.changeFailed", { name: incidentTitle(inc) }) });
    ctx.data.refreshIncidents();
  }
}

async function closeIncident(ctx, inc, resolution) {
  const note = h("input", { type: "text", id: "close-note", maxlength: "1000", class: "wide", "data-testid": "close-note", autocomplete: "off" });
  const body = h("div", {},
    h("p", {}, t(`incident.${resolution}.body`, { name: incidentTitle(inc) })),
    h("label", { class: "field field-block", for: "close-note" }, h("span", {}, t("incident.note")), note));
  const ok = await confirmDialog({
    title: t(`incident.${resolution}.title`, { name: incidentTitle(inc) }),
    body,
    confirmLabel: t(resolution === "closed" ? "incident.action.close" : "incident.action.falseAlarm"),
    danger: false,
  });
  if (!ok) return;
  try {
    const updated = await ctx.api.post(`/api/incidents/${inc.id}/close`, { resolution, note: note.value.trim() });
    ctx.data.putIncident(updated);
    toast(t(`incident.${resolution}.done`, { name: incidentTitle(inc) }), { kind: "success" });
  } catch (e) {
    toast(refusal(e), { kind: "error", title: t("incident.changeFailed", { name: incidentTitle(inc) }) });
    ctx.data.refreshIncidents();
  }
}

function importButton(ctx, kind) {
  const input = h("input", {
    type: "file",
    accept: kind === "incidents" ? ".geojson,.json,.csv,application/geo+json,application/json,text/csv" : ".geojson,.json,application/geo+json,application/json",
    hidden: true,
    "data-testid": `import-${kind}-file`,
    onchange: async (e) => {
      const file = e.target.files?.[0];
      e.target.value = "";
      if (file) await importFile(ctx, kind, file);
    },
  });
  const btn = h("button", { type: "button", class: "btn btn-small", "data-testid": `import-${kind}`, onclick: () => input.click() }, t(`import.${kind}`));
  return h("span", { class: "import" }, btn, input);
}

async function importFile(ctx, kind, file) {
  const panel = ctx.incidentsPanel;
  panel.showImportErrors(null);
  const csv = /\.csv$/i.test(file.name);
  let text;
  try {
    text = await file.text();
  } catch (e) {
    panel.showImportErrors(t("import.unreadable", { name: file.name }), [{ message: e.message }]);
    return;
  }
  try {
    const res = kind === "incidents"
      ? await ctx.api.postRaw("/api/incidents/import", text, csv ? "text/csv" : "application/geo+json", { format: csv ? "csv" : "geojson" })
      : await ctx.api.postRaw("/api/zones/import", text, "application/geo+json");
    toast(t(`import.done.${kind}`, { n: res.imported, name: file.name }), { kind: "success" });
    if (kind === "zones") await ctx.data.refreshZones();
    else await ctx.data.refreshIncidents();
  } catch (e) {
    const detail = e instanceof ApiError ? e.body?.detail : null;
    const rows = detail && Array.isArray(detail.errors) ? detail.errors
      : e instanceof ApiError && e.field ? [{ field: e.field, message: detail?.message || e.message }]
        : [{ message: e.message }];
    panel.showImportErrors(t("import.failed", { name: file.name, reason: detail?.message || e.message }), rows);
    ctx.panels.show("incidents");
  }
}

// ---- picking on the map ---------------------------------------------------------------------

/** Shift+drag on the map draws a box; the open incidents inside it are picked for the plan. */
function installBoxSelect(ctx) {
  const map = ctx.map.map;
  const container = map.getContainer();
  map.boxZoom.disable();
  container.parentElement.addEventListener("mousedown", (e) => {
    if (!e.shiftKey || e.button !== 0 || !container.contains(e.target)) return;
    if (e.target.closest(".leaflet-control")) return;
    e.preventDefault();
    e.stopPropagation();
    const rect = container.getBoundingClientRect();
    const x0 = e.clientX - rect.left;
    const y0 = e.clientY - rect.top;
    const box = h("div", { class: "select-box", "data-testid": "select-box" });
    container.append(box);
    const place = (x1, y1) => {
      Object.assign(box.style, {
        left: `${Math.min(x0, x1)}px`,
        top: `${Math.min(y0, y1)}px`,
        width: `${Math.abs(x1 - x0)}px`,
        height: `${Math.abs(y1 - y0)}px`,
      });
    };
    place(x0, y0);
    const move = (ev) => place(ev.clientX - rect.left, ev.clientY - rect.top);
    const up = (ev) => {
      document.removeEventListener("mousemove", move);
      document.removeEventListener("mouseup", up, true);
      box.remove();
      // the click that ends the drag (same task as this mouseup) must not reach the map: in
      // "add incident" mode it would add one
      const swallow = (c) => {
        c.stopPropagation();
        c.preventDefault();
      };
      window.addEventListener("click", swallow, { capture: true, once: true });
      setTimeout(() => window.removeEventListener("click", swallow, true), 0);
      const x1 = ev.clientX - rect.left;
      const y1 = ev.clientY - rect.top;
      if (Math.abs(x1 - x0) < 5 && Math.abs(y1 - y0) < 5) return;
      const bounds = L.latLngBounds(map.containerPointToLatLng([x0, y0]), map.containerPointToLatLng([x1, y1]));
      const ids = ctx.incidentLayer.idsWithin(bounds);
      const added = ctx.data.selectMany(ids);
      toast(t("plan.boxPicked", { n: added, total: ctx.data.selected.size }), { kind: "info" });
    };
    document.addEventListener("mousemove", move);
    document.addEventListener("mouseup", up, true);
  }, true);
}

/** A bar over the map while incidents are picked: how many, and the way to the Plan tab. */
function installSelectionBar(ctx) {
  const count = h("span", { "data-testid": "selection-count" });
  const bar = h("div", { class: "selection-bar", hidden: true, "data-testid": "selection-bar", role: "status" },
    count,
    h("button", { type: "button", class: "btn btn-small btn-primary", "data-testid": "selection-plan", onclick: () => ctx.panels.show("plan") }, ""),
    h("button", { type: "button", class: "btn btn-small", "data-testid": "selection-clear", onclick: () => ctx.data.clearSelection() }, ""));
  ctx.mapTools.stack.insertBefore(bar, ctx.mapTools.hint);
  const render = () => {
    const n = ctx.data.selected.size;
    bar.hidden = n === 0;
    count.textContent = t("plan.picked", { n });
    bar.children[1].textContent = t("plan.goPlan");
    bar.children[2].textContent = t("plan.clear");
  };
  ctx.store.on("incidentSelection", () => render());
  onLangChange(render);
  render();
}

// ---- quick dispatch -------------------------------------------------------------------------

async function quickDispatch(ctx, latlng) {
  const ok = await confirmDialog({
    title: t("quick.title"),
    body: t("quick.body", { where: latLon(latlng.lat, latlng.lng) }),
    confirmLabel: t("quick.go"),
  });
  if (!ok) return;
  ctx.mapTools.setMode(null);
  try {
    const m = await ctx.api.post("/api/missions/quick", { lat: Number(latlng.lat.toFixed(7)), lon: Number(latlng.lng.toFixed(7)) });
    ctx.data.putMission(m);
    const names = m.legs.map((l) => droneName(ctx, l.drone_id)).join(", ");
    toast(t("quick.ok", { id: m.id, names }), { kind: "success" });
    ctx.missionsPanel.show(m.id);
    ctx.data.refreshAll({ fast: true });
  } catch (e) {
    toast(refusal(e), { kind: "error", title: t("quick.refused") });
  }
}

// ---- mission controls -----------------------------------------------------------------------

function legControls(ctx, m, leg) {
  if (!["dispatching", "active"].includes(m.status)) return [];
  const out = [];
  const btn = (action, label, cls = "") => h("button", {
    type: "button",
    class: `btn btn-small ${cls}`,
    "data-testid": `leg-${action}`,
    dataset: { droneId: String(leg.drone_id) },
    onclick: () => missionControl(ctx, m, action, leg.drone_id),
  }, t(label));
  if (leg.status === "flying") out.push(btn("pause", "cmd.pause"));
  if (leg.status === "paused") out.push(btn("resume", "cmd.resume"));
  if (["dispatching", "flying", "paused"].includes(leg.status)) out.push(btn("recall", "missions.recall", "btn-warn"));
  return out;
}

function missionControls(ctx, m) {
  if (m.status === "planned") {
    return [h("button", { type: "button", class: "btn btn-small btn-danger", "data-testid": "mission-dispatch", onclick: () => ctx.planPanel.dispatch(m) }, t("plan.dispatch"))];
  }
  if (!["dispatching", "active"].includes(m.status)) return [];
  return [h("button", { type: "button", class: "btn btn-small btn-danger", "data-testid": "mission-recall", onclick: () => missionControl(ctx, m, "recall", null) }, t("missions.recallAll"))];
}

async function missionControl(ctx, m, action, droneId) {
  const who = droneId === null ? t("missions.allDrones") : droneName(ctx, droneId);
  if (action !== "pause") {
    const ok = await confirmDialog({
      title: t(`mission.${action}.title`, { name: who, mission: missionTitle(m) }),
      body: t(`mission.${action}.body`, { name: who }),
      confirmLabel: t(action === "recall" ? "missions.recall" : "cmd.resume"),
      danger: action === "recall",
    });
    if (!ok) return;
  }
  try {
    const res = await ctx.api.post(`/api/missions/${m.id}/${action}`, { drone_id: droneId });
    if (res?.mission) ctx.data.putMission(res.mission);
    toast(t(`mission.${action}.ok`, { name: who }), { kind: "success" });
  } catch (e) {
    const body = e instanceof ApiError ? e.body : null;
    if (body?.mission) ctx.data.putMission(body.mission);
    const reasons = (body?.results || []).filter((r) => !r.ok).map((r) => `${droneName(ctx, r.drone_id)}: ${r.reason}`);
    toast(reasons.length ? reasons.join("; ") : refusal(e), { kind: "error", title: t(`mission.${action}.failed`, { name: who }) });
  }
  await ctx.data.refreshAll({ fast: true });
  if (ctx.missionsPanel.selectedId === m.id) ctx.missionsPanel.reloadLog();
}
