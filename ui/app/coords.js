// Positions the way the unit reads them: decimal degrees (WGS84, 6 decimals: ~0.1 m) and MGRS
// (1 m, grouped "42T WL 20136 73318"), by the mgrs library (ui/vendor/mgrs, window.mgrs).
// The map's own aids: a metric scale bar, a north arrow (Leaflet's map is always north-up), a
// search box that pans to "41.31, 69.24" (lat, lon) or an MGRS reference, or else looks the text
// up among the place names of the service's vector archive in the area shown (basemap.js
// searchPlaces; coordinates only when there is no vector archive), and a readout of the last
// clicked point's coordinates (when no click mode owns the click; over the scale bar).
// Everything typed or shown reaches the page as text (textContent), never as markup.

import { h } from "./dom.js";
import { t } from "./i18n.js";

const L = window.L;

export function formatDD(lat, lon) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return "–";
  return `${lat.toFixed(6)}, ${lon.toFixed(6)}`;
}

/** MGRS at 1 m, grouped: zone+band, 100 km square, easting, northing; "–" where undefined
 * (beyond 84° N / 80° S, the polar UPS grid) or when the library is missing. */
export function formatMGRS(lat, lon) {
  const m = window.mgrs;
  if (!m || !Number.isFinite(lat) || !Number.isFinite(lon)) return "–";
  let s;
  try {
    s = m.forward([lon, lat], 5);
  } catch {
    return "–";
  }
  const g = /^(\d{1,2}[C-X])([A-Z]{2})(\d{5})(\d{5})$/.exec(s);
  return g ? `${g[1]} ${g[2]} ${g[3]} ${g[4]}` : s;
}

/** Both forms on one line: "41.311081, 69.240562 · 42T WL 20136 73318". */
export function formatPosition(lat, lon) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return "–";
  return `${formatDD(lat, lon)} · ${formatMGRS(lat, lon)}`;
}

/**
 * A typed position: "lat, lon" / "lat lon" in decimal degrees (optional N/S/E/W suffixes), or
 * an MGRS reference (spaces allowed). Returns [lat, lon] or null.
 */
export function parsePosition(text) {
  const s = String(text || "").trim().toUpperCase();
  if (!s || s.length > 64) return null;
  const dd = /^([+-]?\d{1,2}(?:\.\d+)?)\s*°?\s*([NS])?\s*[,;\s]\s*([+-]?\d{1,3}(?:\.\d+)?)\s*°?\s*([EW])?$/.exec(s);
  if (dd) {
    let lat = Number(dd[1]);
    let lon = Number(dd[3]);
    if (dd[2] === "S") lat = -lat;
    if (dd[4] === "W") lon = -lon;
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180) return [lat, lon];
    return null;
  }
  const compact = s.replace(/\s+/g, "");
  if (/^\d{1,2}[C-X][A-Z]{2}(\d{2}|\d{4}|\d{6}|\d{8}|\d{10})?$/.test(compact) && window.mgrs) {
    try {
      const [lon, lat] = window.mgrs.toPoint(compact);
      if (Number.isFinite(lat) && Number.isFinite(lon)) return [lat, lon];
    } catch {
      return null;
    }
  }
  return null;
}

const NorthArrow = L.Control.extend({
  options: { position: "bottomright" },
  onAdd() {
    const el = h("div", {
      class: "leaflet-control north-arrow", "data-testid": "north-arrow", role: "img",
      "data-i18n-title": "map.north", title: t("map.north"), "aria-label": t("map.north"),
    });
    el.innerHTML =
      '<svg viewBox="0 0 24 32" width="24" height="32" aria-hidden="true">' +
      '<path d="M12 2 L19 22 L12 18 L5 22 Z" class="north-arrow-head"/>' +
      '<text x="12" y="31" text-anchor="middle">N</text></svg>';
    return el;
  },
});

const Search = L.Control.extend({
  options: { position: "topright" },
  onAdd() {
    const input = h("input", {
      type: "search", class: "coord-search-input", "data-testid": "coord-search",
      "data-i18n-placeholder": "map.searchPlaceholder", placeholder: t("map.searchPlaceholder"),
      "aria-label": t("map.searchPlaceholder"), maxlength: "64", autocomplete: "off",
      spellcheck: "false",
    });
    const msg = h("div", { class: "coord-search-msg", "data-testid": "coord-search-msg", role: "status" });
    const list = h("ul", { class: "coord-search-results", "data-testid": "place-results" });
    const form = h("form", { class: "leaflet-control coord-search" }, input, msg, list);
    let seq = 0;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const mine = ++seq;
      list.replaceChildren();
      msg.textContent = "";
      const text = input.value.trim();
      const at = parsePosition(text);
      if (at) {
        this.options.onFound(at);
        return;
      }
      const places = text ? await this.options.placeSearch(text) : null;
      if (mine !== seq) return;
      if (!places) {
        msg.textContent = t("map.searchNotFound");
      } else if (!places.length) {
        msg.textContent = t("map.searchNoPlace", { q: text });
      } else {
        list.replaceChildren(...places.map((p) => h("li", {}, h("button", {
          type: "button", class: "place-result", "data-testid": "place-result",
          onclick: () => this.options.onFound([p.lat, p.lon]),
        }, p.name))));
      }
    });
    L.DomEvent.disableClickPropagation(form);
    L.DomEvent.disableScrollPropagation(form);
    return form;
  },
});

const Readout = L.Control.extend({
  options: { position: "bottomleft" },
  onAdd() {
    this.dd = h("span", { class: "coord-dd", "data-testid": "coord-dd" });
    this.mgrs = h("span", { class: "coord-mgrs", "data-testid": "coord-mgrs" });
    const el = h("div", {
      class: "leaflet-control coord-readout", "data-testid": "coord-readout", hidden: true,
      "data-i18n-title": "map.clickedPoint", title: t("map.clickedPoint"),
    }, this.dd, " · ", this.mgrs);
    L.DomEvent.disableClickPropagation(el);
    return el;
  },
  show(lat, lon) {
    this.dd.textContent = formatDD(lat, lon);
    this.mgrs.textContent = formatMGRS(lat, lon);
    this.getContainer().hidden = false;
  },
});

/**
 * Add the scale bar, north arrow, coordinate search and clicked-point readout to `map` (a
 * Leaflet map). `clickModeActive()`: true while a tool owns map clicks (no readout then);
 * `placeSearch(text)`: resolves to [{name, lat, lon}], or null when there are no names.
 */
export function addMapAids(map, { clickModeActive = () => false, placeSearch = async () => null } = {}) {
  L.control.scale({ metric: true, imperial: false, position: "bottomleft", maxWidth: 160 }).addTo(map);
  new NorthArrow().addTo(map);
  const readout = new Readout().addTo(map);
  new Search({
    placeSearch,
    onFound: ([lat, lon]) => {
      map.setView([lat, lon], Math.max(map.getZoom(), 14), { animate: false });
      readout.show(lat, lon);
    },
  }).addTo(map);
  map.on("click", (e) => {
    if (!clickModeActive()) readout.show(e.latlng.lat, e.latlng.lng);
  });
  return { readout };
}
