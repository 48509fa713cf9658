// Incidents, zones, hotspots and missions as the service last reported them. While the telemetry
// socket is open, missions and incidents come pushed on it ("changes" frames, ws.js), so they are
// fetched only when it (re)opens, to catch up on what was missed, and when the server says this
// console lost changes; zones and hotspots are looked at every `liveMs`. While it is closed,
// everything is polled as before: every `fastMs` while a mission is in flight (incidents turn
// "observed" as drones reach them), every `slowMs` otherwise.
//
// Emits on the store: "incidents", "zones", "hotspots", "missions" (each with no detail, when
// something changed), "missionsPolled" (after every fetch of the missions), "missionChanged"
// {ids} (missions pushed: their timelines grew), and "incidentSelection" {ids} for the
// incidents picked for planning (operator view).

import { ACTIVE_MISSION, OPEN_STATUSES } from "./format.js";

export class MissionData {
  constructor(api, store, { fastMs = 2000, slowMs = 10000, liveMs = 60000, missionLimit = 30 } = {}) {
    this.api = api;
    this.store = store;
    this.fastMs = fastMs;
    this.slowMs = slowMs;
    this.liveMs = liveMs;
    this.missionLimit = missionLimit;
    /** The socket is open: missions and incidents come pushed, not polled. */
    this.live = false;
    /** "kind:id" -> {kind, seq, data}: the latest push of an object (newer than a fetch begun earlier) */
    this._pushed = new Map();
    this._pushes = 0;
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
    this.store.on("connection", ({ state }) => this.setLive(state === "open"));
    this.store.on("changes", (c) => this.applyChanges(c));
    this.live = this.store.connection?.state === "open";
    this.refreshAll();
  }

  /** Fetch everything now and reschedule (after a change this console made). */
  async refreshAll({ fast = false } = {}) {
    if (fast) this.fastUntil = Date.now() + 15000;
    clearTimeout(this._timer);
    await Promise.all([
      this.refreshIncidents(),
      this.refreshMissions(),
      this._refreshSlow(),
    ]);
    this._schedule();
  }

  _refreshSlow() {
    return Promise.all([
      // zones change rarely (and mostly from this console, which reloads them then)
      this.loaded.zones && Date.now() - this.zonesAt < 60000 ? null : this.refreshZones(),
      this.hotspotsOn ? this.refreshHotspots() : null,
    ]);
  }

  _schedule() {
    clearTimeout(this._timer);
    if (this.live) {
      // missions and incidents come pushed; only zones and hotspots are looked at
      this._timer = setTimeout(async () => {
        await this._refreshSlow();
        this._schedule();
      }, this.liveMs);
      return;
    }
    const fast = this.activeMissions().length > 0 || Date.now() < this.fastUntil;
    this._timer = setTimeout(() => this.refreshAll(), fast ? this.fastMs : this.slowMs);
  }

  /**
   * The socket opened (catch up on what was missed, then stop polling) or closed (poll, from
   * now: what changes while it is away is not pushed).
   */
  setLive(on) {
    if (on === this.live) return;
    this.live = on;
    this.refreshAll();
  }

  /** A "changes" frame: put each pushed mission and incident; fetch afresh when some were lost. */
  applyChanges({ changes, dropped }) {
    if (dropped) {
      this.refreshAll();
      return;
    }
    const missions = [];
    let incidents = false;
    for (const c of changes) {
      if (c.kind === "incident") {
        this._pushed.set(`incident:${c.id}`, { kind: "incident", seq: ++this._pushes, data: c.data });
        this._putIncident(c.data);
        incidents = true;
      } else if (c.kind === "mission") {
        this._pushed.set(`mission:${c.id}`, { kind: "mission", seq: ++this._pushes, data: c.data });
        this._putMission(c.data);
        missions.push(c.id);
      }
    }
    if (incidents) this.store.emit("incidents", {});
    if (missions.length) {
      this._missionSig = null;
      this.store.emit("missions", {});
      this.store.emit("missionChanged", { ids: missions });
    }
    if (incidents && this.hotspotsOn) this._hotspotsSoon();
  }

  /** Hotspots follow the incidents: looked at again a second after a burst of changes. */
  _hotspotsSoon() {
    if (this._hotspotsTimer) return;
    this._hotspotsTimer = setTimeout(() => {
      this._hotspotsTimer = null;
      if (this.hotspotsOn) this.refreshHotspots();
    }, 1000);
  }

  /**
   * A fetched list with the objects pushed since the fetch began in their pushed form (they
   * are newer than what it read), added when it did not have them. Pushes the fetch has seen
   * are forgotten.
   */
  _withPushed(kind, fetched, since) {
    const byId = new Map(fetched.map((x) => [x.id, x]));
    for (const [key, p] of this._pushed) {
      if (p.kind !== kind) continue;
      if (p.seq > since) byId.set(p.data.id, p.data);
      else this._pushed.delete(key);
    }
    return [...byId.values()];
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
      const since = this._pushes;
      const q = this.statusQuery();
      const fetched = await this.api.get("/api/incidents", { status: q, limit: 2000 });
      const list = this._withPushed("incident", fetched, since).filter((i) => !q || q.includes(i.status));
      list.sort(newestReported);
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
      const since = this._pushes;
      const fetched = await this.api.get("/api/missions", { limit: this.missionLimit });
      const list = this._withPushed("mission", fetched, since).sort((a, b) => b.id - a.id).slice(0, this.missionLimit);
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
    this._putIncident(inc);
    this.store.emit("incidents", {});
  }

  _putIncident(inc) {
    const q = this.statusQuery();
    if (q && !q.includes(inc.status)) this.incidents.delete(inc.id);
    else if (this.incidents.has(inc.id)) this.incidents.set(inc.id, inc);
    else {
      // a new one goes where GET /api/incidents would list it
      const list = [...this.incidents.values(), inc].sort(newestReported);
      this.incidents = new Map(list.map((i) => [i.id, i]));
    }
    if (isFinal(inc) && this.selected.delete(inc.id)) this._selectionChanged();
  }

  putMission(m) {
    this._putMission(m);
    this._missionSig = null;
    this.store.emit("missions", {});
  }

  /** Newest first, as GET /api/missions lists them, and no more of them than it lists. */
  _putMission(m) {
    const i = this.missions.findIndex((x) => x.id === m.id);
    if (i >= 0) {
      this.missions[i] = m;
      return;
    }
    const at = this.missions.findIndex((x) => x.id < m.id);
    if (at < 0) this.missions.push(m);
    else this.missions.splice(at, 0, m);
    if (this.missions.length > this.missionLimit) this.missions.length = this.missionLimit;
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

/** The order of GET /api/incidents: most recently reported first, then the higher id. */
function newestReported(a, b) {
  if (a.reported_at !== b.reported_at) return a.reported_at < b.reported_at ? 1 : -1;
  return b.id - a.id;
}

function signature(map) {
  let s = "";
  for (const [id, i] of map) s += `${id}:${i.updated_at}:${i.status};`;
  return s;
}
