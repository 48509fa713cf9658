// The base map under the live map. In order of preference:
// 1. the service's own archives (GET /tiles: NAZORAT_TILES and the data directory's tiles/),
//    so that a centre with no internet has streets, and no tile request leaves the service;
//    several archives (a street map, imagery) get a layer switcher;
// 2. config.tiles.url, the deployment's XYZ tile server (the long-standing online default);
// 3. nothing: a plain background (`?tiles=none` asks for that), with a notice when (2) fails.
//
// Raster archives are Leaflet tile layers; vector (MVT) archives are drawn in the browser by
// protomaps-leaflet (ui/vendor, window.protomapsL), in its "dark" style for an operations room
// and "light" for daylight: both are offered in the switcher, the default from
// config.tiles.theme ("dark", "light", or "auto": the system's colour scheme).

import { t } from "./i18n.js";

const L = window.L;

/** Attribution text from an archive's metadata: markup dropped (Leaflet sets it as HTML). */
export function plainAttribution(html) {
  const text = new DOMParser().parseFromString(String(html || ""), "text/html").body.textContent;
  const span = document.createElement("span");
  span.textContent = text || "";
  return span.innerHTML;
}

function preferredTheme(config) {
  const theme = (config.tiles && config.tiles.theme) || "auto";
  if (theme === "dark" || theme === "light") return theme;
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches
    ? "dark" : "light";
}

function archiveBounds(a) {
  const [w, s, e, n] = a.bounds;
  return L.latLngBounds([s, w], [n, e]);
}

/** Leaflet layers for one archive of GET /tiles: [label, layer] pairs. */
export function archiveLayers(a, theme) {
  const common = {
    attribution: plainAttribution(a.attribution),
    bounds: archiveBounds(a),
    maxZoom: 21,
  };
  if (a.type === "raster") {
    return [[a.name, L.tileLayer(a.url, { ...common, maxNativeZoom: a.maxzoom, crossOrigin: false })]];
  }
  const P = window.protomapsL;
  if (!P) return [];
  const flavors = theme === "dark" ? ["dark", "light"] : ["light", "dark"];
  const styleName = { dark: t("map.styleDark"), light: t("map.styleLight") };
  return flavors.map((flavor) => [`${a.name} · ${styleName[flavor]}`, P.leafletLayer({
    ...common, url: a.url, flavor, lang: document.documentElement.lang || "en",
    maxDataZoom: a.maxzoom,
  })]);
}

/** The service's archives (an empty list when there are none or the call fails). */
export async function fetchArchives(fetchFn = window.fetch.bind(window)) {
  try {
    const r = await fetchFn("/tiles", { credentials: "same-origin" });
    if (!r.ok) return [];
    const body = await r.json();
    return Array.isArray(body.archives) ? body.archives : [];
  } catch {
    return [];
  }
}

/**
 * Add the base map to `map`; `watch(layer)` is called with each layer shown (for the
 * "Base map unavailable" notice). Resolves to {source: "service"|"online"|"none", layers}.
 */
export async function addBaseMap(map, config, tileSettings, watch) {
  if (tileSettings === null && new URLSearchParams(location.search).get("tiles") === "none") {
    return { source: "none", layers: {} };
  }
  const archives = await fetchArchives();
  const theme = preferredTheme(config);
  const layers = {};
  for (const a of archives) for (const [label, layer] of archiveLayers(a, theme)) layers[label] = layer;
  const labels = Object.keys(layers);
  if (labels.length) {
    for (const layer of Object.values(layers)) watch(layer);
    layers[labels[0]].addTo(map);
    if (labels.length > 1) L.control.layers(layers, {}, { position: "topright" }).addTo(map);
    return { source: "service", layers };
  }
  if (!tileSettings) return { source: "none", layers: {} };
  const online = L.tileLayer(tileSettings.url, {
    maxZoom: tileSettings.maxZoom || 19,
    attribution: tileSettings.attribution || "",
    crossOrigin: false,
  });
  watch(online);
  online.addTo(map);
  return { source: "online", layers: { online } };
}
