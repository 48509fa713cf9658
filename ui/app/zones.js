// Zones on the map: red patrol zones filled by risk level, no-fly zones hatched with a red
// outline (inactive zones dashed and faint). Hotspots (clusters of open incidents) as a layer
// the user switches on.

import { h } from "./dom.js";
import { num, onLangChange, t } from "./i18n.js";
import { categoryName, metres, riskColour } from "./format.js";

const L = window.L;

/** The SVG hatch pattern no-fly polygons are filled with (CSS: fill: url(#nofly-hatch)). */
function ensureHatch() {
  if (document.getElementById("nofly-hatch")) return;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "svg-defs");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("width", "0");
  svg.setAttribute("height", "0");
  svg.innerHTML =
    '<defs><pattern id="nofly-hatch" patternUnits="userSpaceOnUse" width="10" height="10" patternTransform="rotate(45)">' +
    '<rect width="10" height="10" fill="#dc2626" fill-opacity="0.08"/>' +
    '<line x1="0" y1="0" x2="0" y2="10" stroke="#dc2626" stroke-width="3" stroke-opacity="0.6"/></pattern></defs>';
  document.body.append(svg);
}

export function zoneText(z) {
  const kind = z.kind === "no_fly" ? t("zone.noFly") : t("zone.red");
  const parts = [`${z.name} · ${kind}`];
  if (z.kind === "red" && z.risk_level) parts.push(t("zone.risk", { n: z.risk_level }));
  if (z.min_alt_m !== null || z.max_alt_m !== null) {
    parts.push(t("zone.band", { min: num(z.min_alt_m ?? 0), max: z.max_alt_m === null ? "∞" : num(z.max_alt_m) }));
  }
  if (!z.active) parts.push(t("zone.inactive"));
  return parts.join(" · ");
}

export class ZoneLayer {
  constructor(ctx) {
    ensureHatch();
    this.ctx = ctx;
    this.layer = ctx.map.addLayer();
    ctx.store.on("zones", () => this.render());
    onLangChange(() => this.render());
  }

  render() {
    this.layer.clearLayers();
    let red = 0;
    let noFly = 0;
    for (const z of this.ctx.data.zones) {
      const rings = (z.geometry?.coordinates || []).map((ring) => ring.map(([lon, lat]) => [lat, lon]));
      if (!rings.length) continue;
      const isNoFly = z.kind === "no_fly";
      if (isNoFly) noFly += 1;
      else red += 1;
      const colour = isNoFly ? "#b91c1c" : riskColour(z.risk_level || 3);
      const poly = L.polygon(rings, {
        pane: "zones",
        color: colour,
        weight: isNoFly ? 3 : 2,
        opacity: z.active ? 0.95 : 0.45,
        dashArray: z.active ? null : "6 6",
        fillColor: colour,
        fillOpacity: isNoFly ? 1 : z.active ? 0.2 : 0.08,
        className: `zone zone-${isNoFly ? "nofly" : "red"}${z.active ? "" : " zone-inactive"}`,
        // clicks fall through to the map (adding an incident inside a zone)
        bubblingMouseEvents: true,
      });
      // an element, not a string: Leaflet puts a string tooltip in as HTML (a zone's name)
      poly.bindTooltip(h("span", { "data-testid": "zone-tooltip" }, zoneText(z)), { sticky: true });
      this.layer.addLayer(poly);
      const el = poly.getElement();
      if (el) {
        el.dataset.zoneId = String(z.id);
        el.dataset.kind = z.kind;
        el.setAttribute("data-testid", "zone");
      }
    }
    const c = this.ctx.map.map.getContainer();
    c.dataset.redZones = String(red);
    c.dataset.noFlyZones = String(noFly);
  }
}

export class HotspotLayer {
  constructor(ctx) {
    this.ctx = ctx;
    this.layer = ctx.map.addLayer();
    ctx.store.on("hotspots", () => this.render());
    ctx.store.on("incidents", () => {
      if (ctx.data.hotspotsOn) ctx.data.refreshHotspots();
    });
    onLangChange(() => this.render());
  }

  render() {
    this.layer.clearLayers();
    for (const s of this.ctx.data.hotspots) {
      const circle = L.circle([s.lat, s.lon], {
        pane: "zones",
        radius: Math.max(40, s.extent_m + 30),
        color: "#f59e0b",
        weight: 2,
        dashArray: "5 5",
        fillColor: "#f59e0b",
        fillOpacity: 0.12,
        className: "hotspot",
        bubblingMouseEvents: true,
      });
      const cats = Object.entries(s.categories || {}).map(([c, n]) => `${categoryName(c)} ${n}`).join(", ");
      circle.bindTooltip(
        h("span", {},
          `${t("hotspot.title", { rank: s.rank })} · ${t("hotspot.reports", { n: s.count })} · ${t("hotspot.priority", { p: num(s.priority, 1) })}`,
          h("br"), `${cats} · ${metres(s.extent_m)}`),
        { sticky: true },
      );
      const label = L.marker([s.lat, s.lon], {
        pane: "zones",
        interactive: false,
        keyboard: false,
        icon: L.divIcon({
          className: "hotspot-icon",
          html: h("span", { class: "hotspot-label", "data-testid": "hotspot" }, `H${s.rank} · ${s.count}`),
          iconSize: [60, 18],
          iconAnchor: [30, -8],
        }),
      });
      this.layer.addLayer(circle);
      this.layer.addLayer(label);
    }
  }
}
