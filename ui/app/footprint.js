// Where each drone's camera looks: its footprint on the ground (the `fp` of the live stream,
// computed by the service from CAMERA_FOV_STATUS or the gimbal's attitude: docs/telemetry-ws.md)
// as a polygon, and the image centre as a small ring. Both views; nothing to click.

import { batched } from "./batch.js";

const L = window.L;

export class FootprintLayer {
  constructor(mapView, store) {
    this.store = store;
    this.layer = mapView.addLayer();
    this.items = new Map(); // drone id -> {poly, centre, key}
    const render = batched((ids) => this.render(ids), 100);
    store.on("drones", ({ changed, removed }) => {
      for (const id of removed) this._drop(id);
      render(changed);
    });
  }

  render(ids) {
    const list = ids ? [...ids].map((id) => this.store.get(id)).filter(Boolean) : this.store.list();
    for (const v of list) this._renderOne(v);
  }

  /** The polygon's corners as drawn, [[lat, lon] x4], or null (tests). */
  corners(id) {
    const item = this.items.get(id);
    return item ? item.poly.getLatLngs()[0].map((p) => [p.lat, p.lng]) : null;
  }

  /** The image centre as drawn, [lat, lon], or null (tests). */
  centre(id) {
    const item = this.items.get(id);
    if (!item || !this.layer.hasLayer(item.centre)) return null;
    const p = item.centre.getLatLng();
    return [p.lat, p.lng];
  }

  _renderOne(v) {
    const fp = v.fp;
    if (!fp || !Array.isArray(fp.c) || fp.c.length < 3) {
      this._drop(v.id);
      return;
    }
    let item = this.items.get(v.id);
    if (!item) {
      const poly = L.polygon(fp.c, { className: "footprint", weight: 1.5, fillOpacity: 0.12, interactive: false });
      const centre = L.circleMarker([0, 0], { className: "footprint-centre", radius: 5, weight: 2, fillOpacity: 0, interactive: false });
      item = { poly, centre, key: "" };
      this.items.set(v.id, item);
      this.layer.addLayer(poly);
      poly.getElement()?.setAttribute("data-drone-id", String(v.id));
    }
    const key = JSON.stringify(fp);
    if (item.key === key) return; // write the DOM only when the footprint moved
    item.key = key;
    item.poly.setLatLngs(fp.c);
    item.poly.getElement()?.classList.toggle("footprint-clipped", Boolean(fp.clip));
    if (fp.ctr) {
      item.centre.setLatLng(fp.ctr);
      if (!this.layer.hasLayer(item.centre)) this.layer.addLayer(item.centre);
    } else if (this.layer.hasLayer(item.centre)) {
      this.layer.removeLayer(item.centre);
    }
  }

  _drop(id) {
    const item = this.items.get(id);
    if (!item) return;
    this.layer.removeLayer(item.poly);
    this.layer.removeLayer(item.centre);
    this.items.delete(id);
  }
}
