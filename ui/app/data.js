// Incidents, zones, hotspots and missions as the service last reported them. The telemetry
// socket carries only vehicle frames, so these are polled: every `fastMs` while a mission is in
// flight (incidents turn "observed" as drones reach them), every `slowMs` otherwise.
//
// Emits on the store: "incidents", "zones", "hotspots", "missions" (each with no detail, when
// something changed), "missionsPolled" (after every poll of the missions), and
// "incidentSelection" {ids} for the incidents picked for planning (operator view).

import { ACTIVE_MISSION, OPEN_STATUSES } from "./format.js";

export class MissionData {
  constructor(api, store, { fastMs = 2000, slowMs = 10000 } = {}) {
    this.api = api;
    this.store = store;
    this.fastMs = fastMs;
    this.slowMs = slowMs;
    /** id -> incident (the current filter's set) */
    this.incidents = new Map();
    /** "open" | "all" | one status */
    this.incidentFilter = "open";
    this.zones = [];
    this.zonesAt = 0;
    this.hotspots = [];
    this.hotspotsOn = false;
    /** Newest first, as GET /api/missions returns them. */
    this.missions = [];
    /** Incidents picked for a plan (operator view). */
    this.selected = new Set();
    this.fastUntil = 0;
    this._timer = null;
    this._failing = false;
    this.loaded = { incidents: false, missions: false, zones: false };
  }

  start() {
    this.refreshAll();
  }

  /** Fetch everything now and reschedule (after a change this console made). */
  async refreshAll({ fast = false } = {}) {
    if (fast) this.fastUntil = Date.now() + 15000;
    clearTimeout(this._timer);
    await Promise.all([
      this.refreshIncidents(),
      this.refreshMissions(),
      // zones change rarely (and mostly from this console, which reloads them then)
      this.loaded.zones && Date.now() - this.zonesAt < 60000 ? null : this.refreshZones(),
      this.hotspotsOn ? this.refreshHotspots() : null,
    ]);
    this._schedule();
  }

  _schedule() {
    clearTimeout(this._timer);
    const fast = this.activeMissions().length > 0 || Date.now() < this.fastUntil;
    this._timer = setTimeout(() => this.refreshAll(), fast ? this.fastMs : this.slowMs);
  }

  async _guard(what, fn) {
    try {
      await fn();
      this._failing = false;
    } catch (e) {
      // One warning per outage; the connection banner tells the user.
      if (!this._failing) console.warn(`${what} not refreshed: ${e.message}`);
      this._failing = true;
    }
  }

  statusQuery() {
    if (this.incidentFilter === "all") return null;
    if (this.incidentFilter === "open") return OPEN_STATUSES;
    return [this.incidentFilter];
  }

  refreshIncidents() {
    return this._guard("incidents", async () => {
      const list = await this.api.get("/api/incidents", { status: this.statusQuery(), limit: 2000 });
      const next = new Map(list.map((i) => [i.id, i]));
      const changed = signature(this.incidents) !== signature(next);
      this.incidents = next;
      this.loaded.incidents = true;
      if (changed) this.store.emit("incidents", {});
      // a picked incident that left the set (closed elsewhere) is no longer picked
      const gone = [...this.selected].filter((id) => !next.has(id) || isFinal(next.get(id)));
      if (gone.length) {
        for (const id of gone) this.selected.delete(id);
        this._selectionChanged();
      }
    });
  }

  refreshMissions() {
    return this._guard("missions", async () => {
      const list = await this.api.get("/api/missions", { limit: 30 });
      const sig = list.map((m) => `${m.id}:${m.updated_at}:${m.status}:${m.legs.map((l) => `${l.status}${l.current_seq}`).join(",")}:${m.targets.filter((x) => x.observed_at).length}`).join("|");
      const changed = sig !== this._missionSig;
      this._missionSig = sig;
      this.missions = list;
      this.loaded.missions = true;
      if (changed) this.store.emit("missions", {});
      this.store.emit("missionsPolled", {});
    });
  }

  refreshZones() {
    return this._guard("zones", async () => {
      this.zonesAt = Date.now();
      const zones = await this.api.get("/api/zones");
      const sig = zones.map((z) => `${z.id}:${z.updated_at}`).join("|");
      this.loaded.zones = true;
      if (sig === this._zoneSig) return;
      this._zoneSig = sig;
      this.zones = zones;
      this.store.emit("zones", {});
    });
  }

  refreshHotspots() {
    return this._guard("hotspots", async () => {
      const res = await this.api.get("/api/hotspots");
      this.hotspots = res.hotspots || [];
      this.store.emit("hotspots", {});
    });
  }

  setHotspots(on) {
    this.hotspotsOn = on;
    if (on) this.refreshHotspots();
    else {
      this.hotspots = [];
      this.store.emit("hotspots", {});
    }
  }

  setIncidentFilter(filter) {
    this.incidentFilter = filter;
    return this.refreshIncidents();
  }

  /** Put one incident as the API returned it (after a change made here). */
  putIncident(inc) {
    const q = this.statusQuery();
    if (q && !q.includes(inc.status)) this.incidents.delete(inc.id);
    else this.incidents.set(inc.id, inc);
    if (isFinal(inc) && this.selected.delete(inc.id)) this._selectionChanged();
    this.store.emit("incidents", {});
  }

  putMission(m) {
    const i = this.missions.findIndex((x) => x.id === m.id);
    if (i >= 0) this.missions[i] = m;
    else this.missions.unshift(m);
    this._missionSig = null;
    this.store.emit("missions", {});
  }

  mission(id) {
    return this.missions.find((m) => m.id === id) || null;
  }

  activeMissions() {
    return this.missions.filter((m) => ACTIVE_MISSION.includes(m.status));
  }

  /** drone id -> id of the active mission it flies */
  busyDrones() {
    const busy = new Map();
    for (const m of this.activeMissions()) {
      for (const leg of m.legs) {
        if (!["completed", "aborted", "failed"].includes(leg.status)) busy.set(leg.drone_id, m.id);
      }
    }
    return busy;
  }

  // ---- planning selection ----------------------------------------------------------------

  isSelected(id) {
    return this.selected.has(id);
  }

  toggleSelected(id, on = !this.selected.has(id)) {
    const inc = this.incidents.get(id);
    if (on && (!inc || isFinal(inc))) return;
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this._selectionChanged();
  }

  selectMany(ids) {
    let n = 0;
    for (const id of ids) {
      const inc = this.incidents.get(id);
      if (inc && !isFinal(inc) && !this.selected.has(id)) {
        this.selected.add(id);
        n += 1;
      }
    }
    if (n) this._selectionChanged();
    return n;
  }

  clearSelection() {
    if (!this.selected.size) return;
    this.selected.clear();
    this._selectionChanged();
  }

  selectedIncidents() {
    return [...this.selected].map((id) => this.incidents.get(id)).filter(Boolean);
  }

  _selectionChanged() {
    this.store.emit("incidentSelection", { ids: [...this.selected] });
  }
}

export function isFinal(inc) {
  return inc.status === "closed" || inc.status === "false_alarm";
}

function signature(map) {
  let s = "";
  for (const [id, i] of map) s += `${id}:${i.updated_at}:${i.status};`;
  return s;
}
