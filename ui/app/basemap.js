// The base map under the live map. In order of preference:
// 1. the service's own archives (GET /tiles: NAZORAT_TILES and the data directory's tiles/),
//    so that a centre with no internet has streets, and no tile request leaves the service;
//    several archives (a street map, imagery) get a layer switcher;
// 2. config.tiles.url, the deployment's XYZ tile server (the long-standing online default);
// 3. under (2), or alone when (2) fails or is not configured: Natural Earth's 1:10m countries
//    (public domain; the npm package world-atlas, vendored by `make ui` into ui/vendor), drawn
//    by Leaflet from the service's own files. Small-scale data only: land, sea and country
//    borders (for Tashkent the Uzbekistan-Kazakhstan border north of the city), no streets, no
//    rivers, no place names: nothing is invented for a real place;
//    `?tiles=none` turns tiles off (archives and online): Natural Earth alone;
// 4. nothing: a plain background, when even Natural Earth is missing (no `make ui`).
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

export const NATURAL_EARTH_URL = "vendor/world-atlas/countries-10m.json";
const NATURAL_EARTH_CREDIT = "Natural Earth (public domain), via world-atlas";
const NATURAL_EARTH_STYLE = {
  dark: { sea: "#0e1a24", land: "#22313d", border: "#6b8193" },
  light: { sea: "#b9d3e6", land: "#eeebe1", border: "#8d8272" },
};

/**
 * Natural Earth's countries as a Leaflet layer (canvas, in its own pane under any tiles),
 * coloured for `theme`; resolves to null when the file or topojson-client is missing.
 */
export async function naturalEarthLayer(map, theme, fetchFn = window.fetch.bind(window)) {
  const topojson = window.topojson;
  if (!topojson) return null;
  let topo;
  try {
    const r = await fetchFn(NATURAL_EARTH_URL, { credentials: "same-origin" });
    if (!r.ok) return null;
    topo = await r.json();
  } catch {
    return null;
  }
  const colours = NATURAL_EARTH_STYLE[theme] || NATURAL_EARTH_STYLE.light;
  if (!map.getPane("naturalEarth")) {
    const pane = map.createPane("naturalEarth");
    pane.style.zIndex = "150"; // under the tile pane (200): online tiles draw over it
    pane.style.pointerEvents = "none";
  }
  map.getContainer().style.setProperty("--map-plain", colours.sea);
  const layer = L.geoJSON(topojson.feature(topo, topo.objects.countries), {
    pane: "naturalEarth",
    renderer: L.canvas({ pane: "naturalEarth", padding: 0.2 }),
    interactive: false,
    attribution: NATURAL_EARTH_CREDIT,
    style: () => ({
      color: colours.border, weight: 1, opacity: 0.9,
      fillColor: colours.land, fillOpacity: 1, smoothFactor: 1.5,
    }),
  });
  layer.addTo(map);
  return layer;
}

/**
 * Add the base map to `map`; `watch(layer)` is called with each layer shown (for the
 * "Base map unavailable" notice). Resolves to
 * {source: "service"|"online"|"naturalEarth"|"none", layers}; layers.naturalEarth is set when
 * Natural Earth is drawn (under the online tiles or alone).
 */
export async function addBaseMap(map, config, tileSettings, watch) {
  const theme = preferredTheme(config);
  if (tileSettings === null && new URLSearchParams(location.search).get("tiles") === "none") {
    // no tiles at all; Natural Earth comes from the service's own files, so it still draws
    const naturalEarth = await naturalEarthLayer(map, theme);
    return naturalEarth
      ? { source: "naturalEarth", layers: { naturalEarth } } : { source: "none", layers: {} };
  }
  const archives = await fetchArchives();
  const layers = {};
  for (const a of archives) for (const [label, layer] of archiveLayers(a, theme)) layers[label] = layer;
  const labels = Object.keys(layers);
  if (labels.length) {
    for (const layer of Object.values(layers)) watch(layer);
    layers[labels[0]].addTo(map);
    if (labels.length > 1) L.control.layers(layers, {}, { position: "topright" }).addTo(map);
    return { source: "service", layers };
  }
  const naturalEarth = await naturalEarthLayer(map, theme);
  if (!tileSettings) {
    return naturalEarth
      ? { source: "naturalEarth", layers: { naturalEarth } } : { source: "none", layers: {} };
  }
  const online = L.tileLayer(tileSettings.url, {
    maxZoom: tileSettings.maxZoom || 19,
    attribution: tileSettings.attribution || "",
    crossOrigin: false,
  });
  watch(online);
  online.addTo(map);
  return { source: "online", layers: naturalEarth ? { online, naturalEarth } : { online } };
}
