// Public report page (/report, no login): pin a point on the map, choose a category, describe,
// optionally leave a contact, send to POST /api/intake/report. The service limits reports per
// address (429 with Retry-After) and drops submissions that fill in the hidden spam-trap field.
// Map tiles and the starting view come from config.js, as in the console. Text in the resident's
// language (Uzbek, Kazakh, Tajik, Russian, English): ui/i18n/public/ through public-i18n.js.

import config from "./config.js";

const CATEGORIES = ["drug_activity", "disturbance", "theft", "traffic", "suspicious_person",
  "suspicious_vehicle", "other"];

import { decimal, startLanguage, t } from "./public-i18n.js";

const state = { point: null, marker: null, map: null, message: null };

function setMessage(kind, key, params) {
  state.message = kind ? [kind, key, params] : null;
  const el = document.getElementById("report-message");
  el.dataset.kind = kind || "";
  el.textContent = kind ? t(key, params) : "";
}

function renderPoint() {
  const el = document.querySelector("[data-testid=report-point]");
  el.dataset.set = String(Boolean(state.point));
  el.textContent = state.point
    ? t("report.point", { lat: decimal(state.point.lat, 5), lon: decimal(state.point.lng, 5) })
    : t("report.noPoint");
}

/** The language-dependent text that data-t attributes do not cover. */
function render() {
  document.title = t("report.title");
  const select = document.getElementById("category");
  const chosen = select.value;
  select.replaceChildren(...CATEGORIES.map((c) => {
    const opt = document.createElement("option");
    opt.value = c;
    opt.textContent = t(`report.cat.${c}`);
    return opt;
  }));
  if (chosen) select.value = chosen;
  renderPoint();
  if (state.message) setMessage(...state.message);
}

function place(latlng) {
  state.point = latlng;
  if (state.marker) state.marker.setLatLng(latlng);
  else {
    state.marker = L.circleMarker(latlng, {
      radius: 10, color: "#c9363b", weight: 3, fillColor: "#ff6b6b", fillOpacity: 0.7,
    }).addTo(state.map);
  }
  renderPoint();
}

function tileUrl() {
  const q = new URLSearchParams(location.search).get("tiles");
  if (q === "none") return null;
  return q || config.tiles.url;
}

function startMap() {
  const map = L.map("map", { zoomControl: true }).setView(config.center, config.zoom);
  const url = tileUrl();
  if (url) {
    L.tileLayer(url, { maxZoom: config.tiles.maxZoom, attribution: config.tiles.attribution })
      .addTo(map);
  }
  map.on("click", (e) => place(e.latlng));
  state.map = map;
}

function errorText(body) {
  const d = body && body.detail;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  if (d && typeof d === "object") return d.message || d.error || "";
  return typeof d === "string" ? d : "";
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (!state.point) {
    setMessage("error", "report.needPoint");
    return;
  }
  const body = {
    lat: Number(state.point.lat.toFixed(7)),
    lon: Number(state.point.lng.toFixed(7)),
    category: form.category.value,
    description: form.description.value.trim(),
    contact: form.contact.value.trim() || null,
    website: form.website.value,
  };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = t("report.busy");
  try {
    let res;
    try {
      res = await fetch("/api/intake/report", {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      setMessage("error", "report.network");
      return;
    }
    if (res.ok) {
      setMessage("ok", "report.sent");
      form.description.value = "";
      form.contact.value = "";
      return;
    }
    let data = null;
    try {
      data = await res.json();
    } catch {
      // no JSON body
    }
    if (res.status === 429) {
      const s = Number(res.headers.get("Retry-After") || "3600");
      setMessage("error", "report.throttled", { n: Math.max(1, Math.ceil(s / 60)) });
    } else if (res.status === 422 || res.status === 413) {
      setMessage("error", "report.invalid", { why: errorText(data) || res.status });
    } else {
      setMessage("error", "report.failed", { status: res.status });
    }
  } finally {
    button.disabled = false;
    button.textContent = t("report.submit");
  }
}

function locate() {
  if (!navigator.geolocation) {
    setMessage("error", "report.noGeo");
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      const ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
      place(ll);
      state.map.setView(ll, Math.max(state.map.getZoom(), 16));
    },
    () => setMessage("error", "report.noGeo"),
    { enableHighAccuracy: true, timeout: 10000 },
  );
}

function start() {
  document.getElementById("report-form").addEventListener("submit", submit);
  document.getElementById("locate").addEventListener("click", locate);
  startMap();
  startLanguage(document.querySelector(".lang"), render);
  window.nazoratReport = { place: (lat, lon) => place(L.latLng(lat, lon)), state };
  document.body.dataset.ready = "true";
}

start();
