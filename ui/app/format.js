// Formatting and colours shared by the incident, zone and mission views.

import { num, t, time } from "./i18n.js";

/** Distinct, map-legible colours for drone routes; a drone keeps its colour everywhere. */
// (not blue: drone trails are blue; not orange/red/yellow: incident severities)
const DRONE_COLOURS = ["#c026d3", "#0d9488", "#7c3aed", "#4d7c0f", "#db2777", "#0e7490", "#92400e", "#334155"];

export function droneColour(id) {
  const n = Number(id) || 0;
  return DRONE_COLOURS[((n - 1) % DRONE_COLOURS.length + DRONE_COLOURS.length) % DRONE_COLOURS.length];
}

/** Severity 1 (minor) .. 5 (most severe): yellow to dark red. */
export const SEVERITY_COLOURS = { 1: "#fde047", 2: "#fbbf24", 3: "#f97316", 4: "#dc2626", 5: "#7f1d1d" };

export function severityColour(sev) {
  return SEVERITY_COLOURS[sev] || SEVERITY_COLOURS[3];
}

/** Red-zone risk 1..5 uses the severity scale. */
export const riskColour = severityColour;

export const INCIDENT_STATUSES = ["new", "triaged", "assigned", "observed", "closed", "false_alarm"];
export const OPEN_STATUSES = ["new", "triaged", "assigned", "observed"];
export const INCIDENT_CATEGORIES = [
  "drug_activity",
  "disturbance",
  "theft",
  "traffic",
  "suspicious_person",
  "suspicious_vehicle",
  "other",
];

export const ACTIVE_MISSION = ["dispatching", "active"];
export const FINAL_MISSION = ["completed", "aborted", "failed"];

export function metres(m) {
  if (typeof m !== "number" || !Number.isFinite(m)) return "–";
  if (Math.abs(m) < 1000) return `${num(m)} ${t("unit.m")}`;
  return `${num(m / 1000, 1)} ${t("unit.km")}`;
}

export function duration(s) {
  if (typeof s !== "number" || !Number.isFinite(s)) return "–";
  const total = Math.max(0, Math.round(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h) return `${h} ${t("unit.h")} ${String(m).padStart(2, "0")} ${t("unit.min")}`;
  if (m) return `${m} ${t("unit.min")} ${String(sec).padStart(2, "0")} ${t("unit.s")}`;
  return `${sec} ${t("unit.s")}`;
}

export function pct(p) {
  return typeof p === "number" && Number.isFinite(p) ? `${num(p)}%` : "–";
}

/** Unix seconds of an ISO 8601 time from the API (null stays null). */
export function unix(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

export function clock(iso) {
  const s = unix(iso);
  return s === null ? "–" : time(s);
}

export function latLon(lat, lon) {
  return `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}

export function categoryName(c) {
  return t(`incident.category.${c}`);
}

export function statusName(s) {
  return t(`incident.status.${s}`);
}

/** "#12 Theft" */
export function incidentTitle(inc) {
  return `#${inc.id} ${categoryName(inc.category)}`;
}
