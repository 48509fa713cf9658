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

const NATURAL_EARTH_REACH = 20;
// Closer in than this the 1:10m outlines show nothing but one country's land, yet Leaflet
// reprojects and clips all their points at every zoom: at 12-15 that took seconds of the page's
// main thread (24 s on a loaded machine). Past it the map is the plain land colour.
export const NATURAL_EARTH_MAX_ZOOM = 10;

/** [[west, south], [east, north]] of a GeoJSON (Multi)Polygon. */
function bbox(geometry) {
  let w = 180, s = 90, e = -180, n = -90;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  for (const poly of polygons) for (const [x, y] of poly[0]) {
    if (x < w) w = x;
    if (x > e) e = x;
    if (y < s) s = y;
    if (y > n) n = y;
  }
  return [[w, s], [e, n]];
}

/**
 * Natural Earth's countries near the map's starting view (within 20 degrees: for Tashkent
 * Central Asia, Iran, Afghanistan, Pakistan, western China, southern Russia) as a Leaflet layer
 * (canvas, in its own pane under any tiles), coloured for `theme`; resolves to null when the file or topojson-client is missing.
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
  // only the countries within NATURAL_EARTH_REACH degrees of where the map starts (the unit's
  // area): Leaflet reprojects every point at each zoom, ~0.4 s for the whole world at 1:10m
  const at = map.getCenter();
  const near = (f) => {
    const [[w, s], [e, n]] = bbox(f.geometry);
    return s <= at.lat + NATURAL_EARTH_REACH && n >= at.lat - NATURAL_EARTH_REACH &&
      w <= at.lng + NATURAL_EARTH_REACH && e >= at.lng - NATURAL_EARTH_REACH;
  };
  const all = topojson.feature(topo, topo.objects.countries);
  const layer = L.geoJSON({ type: "FeatureCollection", features: all.features.filter(near) }, {
    pane: "naturalEarth",
    renderer: L.canvas({ pane: "naturalEarth", padding: 0.2 }),
    interactive: false,
    attribution: NATURAL_EARTH_CREDIT,
    style: () => ({
      color: colours.border, weight: 1, opacity: 0.9,
      fillColor: colours.land, fillOpacity: 1, smoothFactor: 1.5,
    }),
  });
  const fit = () => {
    const near = map.getZoom() <= NATURAL_EARTH_MAX_ZOOM;
    map.getContainer().style.setProperty("--map-plain", near ? colours.sea : colours.land);
    if (near && !map.hasLayer(layer)) layer.addTo(map);
    else if (!near && map.hasLayer(layer)) map.removeLayer(layer);
  };
  map.on("zoomend", fit);
  fit();
  return layer;
}

/**
 * Add the base map to `map`; `watch(layer)` is called with each layer shown (for the
 * "Base map unavailable" notice). Resolves to
 * {source: "service"|"online"|"naturalEarth"|"none", layers, archives?}; layers.naturalEarth is set when
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
    return { source: "service", layers, archives };
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

const MAX_NAME_TILES = 16;

/**
 * Place names matching `query` in the service's vector archives, over the area shown: the
 * `places` (Protomaps) or `place` (OpenMapTiles) layer of the tiles covering the view at the
 * map's zoom (within the archive's zoom range; at most 16 tiles, the browser's cache serves
 * those already drawn). Resolves to null when no vector archive is installed (no names to
 * search: coordinates only), else up to 8 {name, lat, lon}, nearest the centre first.
 */
export async function searchPlaces(map, archives, query) {
  const P = window.protomapsL;
  const vector = (archives || []).filter((a) => a.type === "vector");
  if (!P || !vector.length) return null;
  const q = String(query).trim().toLowerCase();
  const centre = map.getCenter();
  const found = new Map();
  for (const a of vector) {
    const z = Math.max(a.minzoom, Math.min(a.maxzoom, Math.round(map.getZoom())));
    const b = map.getBounds();
    const nw = map.project(b.getNorthWest(), z).divideBy(256).floor();
    const se = map.project(b.getSouthEast(), z).divideBy(256).floor();
    const mid = map.project(centre, z).divideBy(256);
    const tiles = [];
    for (let x = nw.x; x <= se.x; x += 1) for (let y = nw.y; y <= se.y; y += 1) tiles.push([x, y]);
    tiles.sort((s, t) => Math.hypot(s[0] + 0.5 - mid.x, s[1] + 0.5 - mid.y) -
      Math.hypot(t[0] + 0.5 - mid.x, t[1] + 0.5 - mid.y));
    const source = new P.ZxySource(a.url, false);
    const n = 1 << z;
    for (const [x, y] of tiles.slice(0, MAX_NAME_TILES)) {
      if (y < 0 || y >= n) continue;
      let layers;
      try {
        layers = await source.get({ z, x: ((x % n) + n) % n, y }, 256);
      } catch {
        continue;
      }
      for (const f of [...(layers.get("places") || []), ...(layers.get("place") || [])]) {
        const name = f.props && (f.props.name || f.props["name:en"] || f.props["name:latin"]);
        const pt = f.geom && f.geom[0] && f.geom[0][0];
        if (typeof name !== "string" || !pt || !name.toLowerCase().includes(q)) continue;
        const ll = map.unproject([x * 256 + pt.x, y * 256 + pt.y], z);
        const key = `${name}|${ll.lat.toFixed(4)}|${ll.lng.toFixed(4)}`;
        if (!found.has(key)) found.set(key, { name, lat: ll.lat, lon: ll.lng, d: centre.distanceTo(ll) });
      }
    }
  }
  return [...found.values()].sort((s, t) => s.d - t.d).slice(0, 8)
    .map(({ name, lat, lon }) => ({ name, lat, lon }));
}
