// Manned traffic on the map (operator and commander views alike): one aircraft icon per track of
// the socket's `traffic` frame (docs/telemetry-ws.md), rotated to its course, labelled with its
// callsign (or ICAO address) and its altitude relative to our nearest drone (+ above, − below,
// with ↑/↓ when it climbs or descends faster than 1 m/s), and a trend vector: where it will be
// in a minute at its present speed and course. Each frame replaces the whole picture.
// Other drones' broadcast Remote ID (`source` "remote_id", keyed by `uas_id`, no ICAO address)
// get a small drone marker of their own and a "drone <UAS ID>" label (its last 8 characters).
//
// A traffic alert also sounds (two tones; one for an advisory): the browser allows sound only
// after the user has interacted with the page, which every operator has by the time one comes.

import { h } from "./dom.js";
import { num, t } from "./i18n.js";
import { hasPosition } from "./status.js";

const L = window.L;
const TREND_S = 60;
const M_PER_DEG_LAT = 111195.0;

export class TrafficLayer {
  constructor(mapView, store) {
    this.map = mapView;
    this.store = store;
    this.layer = mapView.addLayer();
    this.items = new Map(); // trackKey -> {marker, el, label, trend}
    this.tracks = [];
    store.on("traffic", ({ tracks }) => this.render(tracks));
    store.on("drones", () => this._relabel());
  }

  render(tracks) {
    this.tracks = tracks;
    const keep = new Set();
    for (const tr of tracks) {
      const key = trackKey(tr);
      keep.add(key);
      let item = this.items.get(key);
      if (!item) item = this._create(tr);
      item.track = tr;
      item.marker.setLatLng([tr.lat, tr.lon]);
      const hdg = typeof tr.heading_deg === "number" ? Math.round(tr.heading_deg) : 0;
      item.arrow.style.transform = `rotate(${hdg}deg)`;
      item.trend.setLatLngs(trendLine(tr));
      this._label(item);
    }
    for (const [key, item] of this.items) {
      if (keep.has(key)) continue;
      this.layer.removeLayer(item.marker);
      this.layer.removeLayer(item.trend);
      this.items.delete(key);
    }
  }

  /** How many aircraft are drawn (tests). */
  count() {
    return this.items.size;
  }

  _relabel() {
    for (const item of this.items.values()) this._label(item);
  }

  _label(item) {
    const text = trafficLabel(item.track, [...this.store.drones.values()]);
    if (item.labelText !== text) {
      item.labelText = text;
      item.label.textContent = text;
      item.el.title = isRemoteId(item.track) ? `${t("traffic.rid_title")}: ${item.track.uas_id}` : text;
    }
  }

  _create(tr) {
    const rid = isRemoteId(tr);
    const arrow = h("span", { class: "traffic-arrow" });
    arrow.innerHTML = rid
      ? // a small multirotor seen from above, its nose (course) up
        '<svg viewBox="-12 -12 24 24" aria-hidden="true"><path d="M-7,-7 L7,7 M7,-7 L-7,7"/>' +
        '<circle cx="-7" cy="-7" r="3.2"/><circle cx="7" cy="-7" r="3.2"/><circle cx="-7" cy="7" r="3.2"/>' +
        '<circle cx="7" cy="7" r="3.2"/><path class="rid-nose" d="M0,-11 L3,-5 L-3,-5 Z"/></svg>'
      : '<svg viewBox="-12 -12 24 24" aria-hidden="true">' +
        '<path d="M0,-11 L2,-4 L10,1 L10,3 L2,1 L1.5,7 L4,9 L4,10.5 L0,9.5 L-4,10.5 L-4,9 L-1.5,7 L-2,1 L-10,3 L-10,1 L-2,-4 Z"/></svg>';
    const label = h("span", { class: "traffic-label" });
    const dataset = rid ? { uasId: tr.uas_id } : { icao: tr.icao };
    const el = h("div", { class: rid ? "traffic-marker traffic-rid" : "traffic-marker", dataset, "data-testid": "traffic-marker" }, arrow, label);
    const marker = L.marker([tr.lat, tr.lon], {
      icon: L.divIcon({ className: "traffic-icon", html: el, iconSize: [24, 24], iconAnchor: [12, 12] }),
      keyboard: false,
      interactive: false,
      zIndexOffset: 1500,
    });
    const trend = L.polyline([], { className: "traffic-trend", weight: 2, dashArray: "6 4", interactive: false });
    this.layer.addLayer(trend);
    this.layer.addLayer(marker);
    const item = { marker, el, arrow, label, trend, track: tr, labelText: "" };
    this.items.set(trackKey(tr), item);
    return item;
  }
}

/** [[lat, lon], [lat, lon] in TREND_S seconds] at the track's speed and course. */
export function trendLine(tr) {
  const speed = typeof tr.speed_mps === "number" ? tr.speed_mps : 0;
  const course = ((typeof tr.heading_deg === "number" ? tr.heading_deg : 0) * Math.PI) / 180;
  const d = speed * TREND_S;
  const dLat = (d * Math.cos(course)) / M_PER_DEG_LAT;
  const dLon = (d * Math.sin(course)) / (M_PER_DEG_LAT * Math.cos((tr.lat * Math.PI) / 180));
  return [[tr.lat, tr.lon], [tr.lat + dLat, tr.lon + dLon]];
}

/** ADS-B tracks by ICAO address, Remote ID tracks by UAS ID (the two never mix). */
export function trackKey(tr) {
  return tr.icao || `rid:${tr.uas_id}`;
}

export function isRemoteId(tr) {
  return tr.source === "remote_id";
}

/** How an operator names a track: callsign, ICAO address, or "drone <end of the UAS ID>". */
export function trafficName(tr) {
  if (tr.callsign || tr.icao) return tr.callsign || tr.icao;
  const id = String(tr.uas_id || "?");
  return t("traffic.rid_label", { id: id.length > 8 ? `…${id.slice(-8)}` : id });
}

/** "POLICE1 · +120 m ↓" : callsign (or ICAO) and altitude relative to the nearest drone. */
export function trafficLabel(tr, drones) {
  const parts = [trafficName(tr)];
  let nearest = null;
  let best = Infinity;
  for (const v of drones) {
    if (!hasPosition(v) || typeof v.alt !== "number") continue;
    const dy = (v.lat - tr.lat) * M_PER_DEG_LAT;
    const dx = (v.lon - tr.lon) * M_PER_DEG_LAT * Math.cos((tr.lat * Math.PI) / 180);
    const dist = Math.hypot(dx, dy);
    if (dist < best) {
      best = dist;
      nearest = v;
    }
  }
  const unit = t("unit.m");
  if (typeof tr.alt_amsl_m !== "number") {
    parts.push(`? ${unit}`);
  } else if (nearest) {
    const rel = Math.round(tr.alt_amsl_m - nearest.alt);
    parts.push(`${rel >= 0 ? "+" : "−"}${num(Math.abs(rel))} ${unit}`);
  } else {
    parts.push(`${num(Math.round(tr.alt_amsl_m))} ${unit} ${t("traffic.amsl")}`);
  }
  const vs = tr.vertical_rate_mps;
  if (typeof vs === "number" && Math.abs(vs) > 1) parts.push(vs > 0 ? "↑" : "↓");
  return parts.join(" · ");
}

/** Sound on traffic advisories and alerts (WebAudio: no sound file to serve). */
export function installTrafficSound(store) {
  let ctx = null;
  const tone = (freq, start, dur) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.15, ctx.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + start + dur);
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + start);
    osc.stop(ctx.currentTime + start + dur);
  };
  store.on("events", ({ events }) => {
    const kinds = events.map((e) => e.kind);
    const alert = kinds.includes("traffic_alert");
    if (!alert && !kinds.includes("traffic_advisory")) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      ctx = ctx || new Ctx();
      if (ctx.state === "suspended") ctx.resume();
      tone(880, 0, 0.25);
      if (alert) tone(660, 0.3, 0.35);
      store.trafficSounds = (store.trafficSounds || 0) + 1;
    } catch {
      // no sound device: the alerts panel still shows it
    }
  });
}
