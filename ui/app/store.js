// The console's live model of the fleet, fed by the telemetry socket. Views subscribe with
// store.on(type, fn) and read store.drones; nothing else holds drone state.
//
// Emits: "drones" {changed: id[], removed: id[]}, "events" {events: EVENT[], dropped}
// (docs/telemetry-ws.md),
// "selection" {id}, "connection" {state, retryInS}.

import { hasPosition } from "./status.js";

const EARTH_M_PER_DEG = 111_320;

export function metresBetween(a, b) {
  const dy = (a[0] - b[0]) * EARTH_M_PER_DEG;
  const dx = (a[1] - b[1]) * EARTH_M_PER_DEG * Math.cos((a[0] * Math.PI) / 180);
  return Math.hypot(dx, dy);
}

export class Store {
  constructor({ trailPoints = 400, trailMinMetres = 1 } = {}) {
    this.trailPoints = trailPoints;
    this.trailMinMetres = trailMinMetres;
    /** id -> VEHICLE as sent by /ws/telemetry (plus `_seen`: local receive time, ms). */
    this.drones = new Map();
    /** id -> [[lat, lon], ...], oldest first, at most trailPoints long. */
    this.trails = new Map();
    this.selectedId = null;
    this.connection = { state: "connecting", retryInS: null };
    this.serverTimeOffsetS = 0; // server clock minus ours, from frame `t`
    this._target = new EventTarget();
    /** Commands this console sent: [{id, name, at (ms)}], newest last, bounded. */
    this.commandLog = [];
  }

  noteCommand(id, name) {
    this.commandLog.push({ id, name, at: Date.now() });
    if (this.commandLog.length > 200) this.commandLog.splice(0, this.commandLog.length - 200);
  }

  /** Did this console send one of `names` to drone `id` in the last `seconds`? */
  commandedRecently(id, names, seconds) {
    const since = Date.now() - seconds * 1000;
    return this.commandLog.some((c) => c.id === id && c.at >= since && names.includes(c.name));
  }

  on(type, fn) {
    const handler = (e) => fn(e.detail);
    this._target.addEventListener(type, handler);
    return () => this._target.removeEventListener(type, handler);
  }

  emit(type, detail) {
    this._target.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Drones ordered by id. */
  list() {
    return [...this.drones.values()].sort((a, b) => a.id - b.id);
  }

  get(id) {
    return this.drones.get(id);
  }

  noteServerTime(t) {
    if (typeof t === "number") this.serverTimeOffsetS = t - Date.now() / 1000;
  }

  /** Server-clock "now" in Unix seconds (for ages such as "last heartbeat 4 s ago"). */
  serverNow() {
    return Date.now() / 1000 + this.serverTimeOffsetS;
  }

  /** A snapshot frame: the full set of followed drones (drones not in it are gone). */
  replaceAll(vehicles) {
    const keep = new Set(vehicles.map((v) => v.id));
    const removed = [...this.drones.keys()].filter((id) => !keep.has(id));
    for (const id of removed) this._forget(id);
    this._apply(vehicles, removed);
  }

  update(vehicles) {
    this._apply(vehicles, []);
  }

  remove(ids) {
    const removed = ids.filter((id) => this.drones.has(id));
    for (const id of removed) this._forget(id);
    if (removed.length) this.emit("drones", { changed: [], removed });
  }

  events(events, dropped = 0) {
    if (events.length || dropped) this.emit("events", { events, dropped });
  }

  select(id) {
    const next = id === null || id === undefined || !this.drones.has(id) ? null : id;
    if (next === this.selectedId) return;
    this.selectedId = next;
    this.emit("selection", { id: next });
  }

  setConnection(state, retryInS = null) {
    this.connection = { state, retryInS };
    this.emit("connection", this.connection);
  }

  /** Older positions (e.g. the recorded track) in front of the live trail. */
  prependTrail(id, points) {
    const trail = this.trails.get(id) || [];
    const merged = [...points, ...trail].slice(-this.trailPoints);
    this.trails.set(id, merged);
    this.emit("drones", { changed: [id], removed: [] });
  }

  _apply(vehicles, removed) {
    const now = Date.now();
    for (const v of vehicles) {
      v._seen = now;
      this.drones.set(v.id, v);
      if (hasPosition(v)) this._extendTrail(v.id, [v.lat, v.lon]);
    }
    this.emit("drones", { changed: vehicles.map((v) => v.id), removed });
  }

  _extendTrail(id, point) {
    let trail = this.trails.get(id);
    if (!trail) this.trails.set(id, (trail = []));
    const last = trail[trail.length - 1];
    if (last && metresBetween(last, point) < this.trailMinMetres) return;
    trail.push(point);
    if (trail.length > this.trailPoints) trail.splice(0, trail.length - this.trailPoints);
  }

  _forget(id) {
    this.drones.delete(id);
    this.trails.delete(id);
    if (this.selectedId === id) {
      this.selectedId = null;
      this.emit("selection", { id: null });
    }
  }
}
