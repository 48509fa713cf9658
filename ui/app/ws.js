// /ws/telemetry client (schema v2, docs/telemetry-ws.md): feeds the store (vehicles, events, and
// "changes" {changes, dropped} of missions and incidents for data.js), reconnects with
// exponential backoff plus jitter, and reports the connection state for the banner.

export const SCHEMA_VERSION = 3;

export class TelemetrySocket {
  constructor(store, { rateHz = 5, minDelayS = 0.5, maxDelayS = 10, onSchemaMismatch, onUnauthenticated } = {}) {
    this.store = store;
    this.rateHz = rateHz;
    this.minDelayS = minDelayS;
    this.maxDelayS = maxDelayS;
    this.onSchemaMismatch = onSchemaMismatch;
    this.onUnauthenticated = onUnauthenticated;
    this.failures = 0;
    this.socket = null;
    this.stopped = false;
    this._timer = null;
    this._countdown = null;
    this.framesReceived = 0;
    /** Vehicle states received in update frames (benchmarks/bench_console.py reads it). */
    this.vehiclesReceived = 0;
    this.snapshots = 0;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/telemetry?rate=${encodeURIComponent(this.rateHz)}`;
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this._timer);
    clearInterval(this._countdown);
    if (this.socket) this.socket.close(1000, "console closed");
  }

  _connect() {
    clearInterval(this._countdown);
    this.store.setConnection(this.failures ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this._scheduleRetry();
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      this.failures = 0;
    };
    ws.onmessage = (msg) => this._frame(msg.data);
    ws.onclose = (e) => {
      if (this.socket !== ws) return;
      this.socket = null;
      if (this.stopped) return;
      // 4401: no session, or it expired or was revoked (docs/telemetry-ws.md): sign in again.
      if (e.code === 4401 && this.onUnauthenticated) {
        this.stopped = true;
        this.onUnauthenticated();
        return;
      }
      if (e.code === 1008 || e.code === 4403) console.warn(`telemetry socket refused: ${e.reason}`);
      this._scheduleRetry();
    };
    // onerror is always followed by onclose; nothing to do here.
    ws.onerror = () => {};
  }

  _scheduleRetry() {
    this.failures += 1;
    const base = Math.min(this.maxDelayS, this.minDelayS * 2 ** (this.failures - 1));
    const delayS = base * (0.75 + Math.random() * 0.5);
    const due = Date.now() + delayS * 1000;
    const tick = () => this.store.setConnection("lost", Math.max(0, Math.ceil((due - Date.now()) / 1000)));
    tick();
    this._countdown = setInterval(tick, 1000);
    this._timer = setTimeout(() => this._connect(), delayS * 1000);
  }

  _frame(text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      console.warn("telemetry: frame is not JSON");
      return;
    }
    if (f.v !== SCHEMA_VERSION) {
      if (this.onSchemaMismatch) this.onSchemaMismatch(f.v);
      return;
    }
    this.framesReceived += 1;
    this.store.noteServerTime(f.t);
    switch (f.type) {
      case "snapshot":
        this.snapshots += 1;
        this.store.replaceAll(f.vehicles || []);
        this.store.setConnection("open");
        break;
      case "update":
        this.vehiclesReceived += (f.vehicles || []).length;
        this.store.update(f.vehicles || []);
        break;
      case "events":
        this.store.events(f.events || [], f.dropped || 0);
        break;
      case "removed":
        this.store.remove(f.ids || []);
        break;
      case "traffic":
        this.store.emit("traffic", { tracks: f.tracks || [], t: f.t });
        break;
      case "changes":
        this.store.emit("changes", { changes: f.changes || [], dropped: f.dropped || 0 });
        break;
      case "error":
        console.warn(`telemetry: server says ${f.message}`);
        break;
      default:
        break; // unknown frame types are ignored (forward compatible within v3)
    }
  }
}
