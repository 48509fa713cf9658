// Public report page (/report, no login): pin a point on the map, choose a category, describe,
// optionally leave a contact, send to POST /api/intake/report. The service limits reports per
// address (429 with Retry-After) and drops submissions that fill in the hidden spam-trap field.
// Map tiles and the starting view come from config.js, as in the console.

import config from "./config.js";

const CATEGORIES = ["drug_activity", "disturbance", "theft", "traffic", "suspicious_person",
  "suspicious_vehicle", "other"];

import { initialLanguage, rememberLanguage } from "./lang-choice.js";

const STRINGS = {
  en: {
    title: "Report an incident",
    mapHint: "Click the map where it happens.",
    locate: "Use my location",
    category: "What is happening?",
    description: "Description",
    contact: "Contact (optional: phone or e-mail)",
    privacy: "Your contact is seen only by the police operators handling reports.",
    submit: "Send report",
    busy: "Sending…",
    noPoint: "No place chosen yet: click the map.",
    point: "Place: {lat}, {lon}",
    needPoint: "Choose the place on the map first.",
    sent: "Thank you. Your report was received.",
    throttled: "Too many reports from here. Try again in {min} min.",
    invalid: "Please check the form: {why}",
    failed: "The report could not be sent ({status}). Try again later.",
    network: "The service cannot be reached. Try again later.",
    noGeo: "Your location is not available.",
    "cat.drug_activity": "Drug activity",
    "cat.disturbance": "Disturbance, fight, noise",
    "cat.theft": "Theft",
    "cat.traffic": "Traffic",
    "cat.suspicious_person": "Suspicious person",
    "cat.suspicious_vehicle": "Suspicious vehicle",
    "cat.other": "Other",
  },
  ru: {
    title: "Сообщить о происшествии",
    mapHint: "Нажмите на карте место происшествия.",
    locate: "Моё местоположение",
    category: "Что происходит?",
    description: "Описание",
    contact: "Контакт (необязательно: телефон или e-mail)",
    privacy: "Ваш контакт видят только операторы полиции, разбирающие сообщения.",
    submit: "Отправить",
    busy: "Отправка…",
    noPoint: "Место не выбрано: нажмите на карту.",
    point: "Место: {lat}, {lon}",
    needPoint: "Сначала выберите место на карте.",
    sent: "Спасибо. Ваше сообщение получено.",
    throttled: "Слишком много сообщений отсюда. Повторите через {min} мин.",
    invalid: "Проверьте форму: {why}",
    failed: "Не удалось отправить сообщение ({status}). Повторите позже.",
    network: "Сервис недоступен. Повторите позже.",
    noGeo: "Местоположение недоступно.",
    "cat.drug_activity": "Наркотики",
    "cat.disturbance": "Нарушение порядка, драка, шум",
    "cat.theft": "Кража",
    "cat.traffic": "Дорожное движение",
    "cat.suspicious_person": "Подозрительный человек",
    "cat.suspicious_vehicle": "Подозрительный автомобиль",
    "cat.other": "Другое",
  },
};
const state = { lang: initialLanguage(), point: null, marker: null, map: null, message: null };

function t(key, params = {}) {
  const s = STRINGS[state.lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

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
    ? t("point", { lat: state.point.lat.toFixed(5), lon: state.point.lng.toFixed(5) })
    : t("noPoint");
}

function render() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const btn of document.querySelectorAll("[data-lang]")) {
    btn.setAttribute("aria-pressed", String(btn.dataset.lang === state.lang));
  }
  const select = document.getElementById("category");
  const chosen = select.value;
  select.replaceChildren(...CATEGORIES.map((c) => {
    const opt = document.createElement("option");
    opt.value = c;
    opt.textContent = t(`cat.${c}`);
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
  return config.tiles.url; // never from the page's address: it would get the citizen's location
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
    setMessage("error", "needPoint");
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
  button.textContent = t("busy");
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
      setMessage("error", "network");
      return;
    }
    if (res.ok) {
      setMessage("ok", "sent");
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
      setMessage("error", "throttled", { min: Math.max(1, Math.ceil(s / 60)) });
    } else if (res.status === 422 || res.status === 413) {
      setMessage("error", "invalid", { why: errorText(data) || res.status });
    } else {
      setMessage("error", "failed", { status: res.status });
    }
  } finally {
    button.disabled = false;
    button.textContent = t("submit");
  }
}

function locate() {
  if (!navigator.geolocation) {
    setMessage("error", "noGeo");
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      const ll = L.latLng(pos.coords.latitude, pos.coords.longitude);
      place(ll);
      state.map.setView(ll, Math.max(state.map.getZoom(), 16));
    },
    () => setMessage("error", "noGeo"),
    { enableHighAccuracy: true, timeout: 10000 },
  );
}

function start() {
  for (const btn of document.querySelectorAll("[data-lang]")) {
    btn.addEventListener("click", () => {
      state.lang = btn.dataset.lang;
      rememberLanguage(state.lang);
      render();
    });
  }
  document.getElementById("report-form").addEventListener("submit", submit);
  document.getElementById("locate").addEventListener("click", locate);
  startMap();
  render();
  window.nazoratReport = { place: (lat, lon) => place(L.latLng(lat, lon)), state };
  document.body.dataset.ready = "true";
}

start();
