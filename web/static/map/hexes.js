/* The layer of open alerts bucketed into H3 hexagons (wall and desk maps),
 * and the cache of exact hexagon outlines it draws them with. */
import { api } from "../shared/api.js";
import { band, isOpen } from "../shared/status.js";
import { h3Parent, resForZoom } from "./h3.js";

// Colours of the priority bands on a dark map (fill and outline); the
// legend in the page uses the same names (app.css .band-*).
export const BAND_COLOURS = { crit: "#ff1744", high: "#ff9100", med: "#ffd600", low: "#40c4ff" };

/* Exact outlines from the server (h3-py), one request per batch of cells
 * first seen in the same tick, cached: the cells of one city are few. */
const outlines = new Map();
let wanted = null;
function outline(cell) {
  const known = outlines.get(cell);
  if (known) return known;
  if (!wanted) {
    wanted = new Map();
    setTimeout(async () => {
      const batch = wanted;
      wanted = null;
      const ids = [...batch.keys()];
      try {
        for (let i = 0; i < ids.length; i += 200) {
          const part = ids.slice(i, i + 200);
          const { cells } = await api("GET", "/map/cells?ids=" + part.join(","));
          for (const id of part) batch.get(id).resolve(cells[id]);
        }
      } catch (e) {
        for (const id of ids) { outlines.delete(id); batch.get(id).resolve(null); }
      }
    }, 0);
  }
  let resolve;
  const p = new Promise((r) => { resolve = r; });
  wanted.set(cell, { resolve });
  outlines.set(cell, p);
  return p;
}

/* Open alerts as H3 hexagons: colour = highest priority inside, label =
 * count. State is one small record per open alert (id -> res-9 cell,
 * priority, status) so a zoom change re-buckets locally; an event touches
 * exactly one hexagon (two if an alert changed cell, which never happens). */
export class HexLayer {
  constructor(map, { onChange } = {}) {
    this.map = map;
    // counts above the sector names: when they overlap, the count matters more
    if (!map.getPane("counts")) map.createPane("counts").classList.add("counts-pane");
    this.group = L.layerGroup().addTo(map);
    this.alerts = new Map(); // id -> {cell, priority, status}
    this.hexes = new Map(); // cell at this.res -> {ids: Map(id -> priority), poly, label}
    this.res = resForZoom(map.getZoom());
    this.onChange = onChange || (() => {});
    this.lastAlert = 0;
    map.on("zoomend", () => {
      const res = resForZoom(map.getZoom());
      if (res !== this.res) this.rebuild(res);
    });
  }

  /* Snapshot from GET /ops/hexagons: [[id, cell, priority, status], ...]. */
  load(snapshot) {
    for (const [id, cell, priority, status] of snapshot.alerts) {
      this.alerts.set(id, { cell, priority, status });
      this.lastAlert = Math.max(this.lastAlert, id);
    }
    for (const f of snapshot.features) {
      const ring = f.geometry.coordinates[0].slice(0, -1).map(([lon, lat]) => [lat, lon]);
      if (snapshot.res === this.res) outlines.set(f.properties.cell, Promise.resolve(ring));
    }
    this.rebuild(this.res);
  }

  rebuild(res) {
    this.res = res;
    this.map.getContainer().dataset.res = res;
    this.group.clearLayers();
    this.hexes.clear();
    for (const [id, a] of this.alerts) this.place(id, a);
  }

  /* alert.created / alert.updated (staff alert JSON). Idempotent. */
  upsert(a) {
    const known = this.alerts.get(a.id);
    if (a.id > this.lastAlert) this.lastAlert = a.id;
    if (known) this.unplace(a.id, known);
    if (isOpen(a.status)) {
      const rec = { cell: a.cell, priority: a.priority, status: a.status };
      this.alerts.set(a.id, rec);
      this.place(a.id, rec);
    } else {
      this.alerts.delete(a.id);
    }
    this.onChange(a, known);
  }

  place(id, a) {
    const key = h3Parent(a.cell, this.res);
    let hex = this.hexes.get(key);
    if (!hex) {
      hex = { ids: new Map(), poly: null, label: null, key };
      this.hexes.set(key, hex);
      this.draw(hex);
    }
    hex.ids.set(id, a.priority);
    this.paint(hex);
  }

  unplace(id, a) {
    const key = h3Parent(a.cell, this.res);
    const hex = this.hexes.get(key);
    if (!hex || !hex.ids.delete(id)) return;
    if (hex.ids.size === 0) {
      if (hex.poly) this.group.removeLayer(hex.poly);
      if (hex.label) this.group.removeLayer(hex.label);
      this.hexes.delete(key);
    } else {
      this.paint(hex);
    }
  }

  async draw(hex) {
    const res = this.res;
    const ring = await outline(hex.key);
    // the hexagon may have emptied, or the zoom changed, while we waited
    if (!ring || this.res !== res || this.hexes.get(hex.key) !== hex) return;
    hex.poly = L.polygon(ring, { interactive: false, weight: 2, opacity: 0.95, fillOpacity: 0.45 });
    const centre = hex.poly.getBounds().getCenter();
    hex.label = L.marker(centre, {
      pane: "counts",
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "hex-count", html: "", iconSize: [48, 28] }),
    });
    hex.poly.addTo(this.group);
    hex.label.addTo(this.group);
    hex.painted = null;
    this.paint(hex);
  }

  paint(hex) {
    if (!hex.poly) return;
    let top = -Infinity;
    for (const p of hex.ids.values()) if (p > top) top = p;
    const b = band(top);
    if (hex.painted !== b) {
      hex.poly.setStyle({ color: BAND_COLOURS[b], fillColor: BAND_COLOURS[b] });
      hex.painted = b;
    }
    const node = hex.label.getElement();
    if (node) {
      node.textContent = String(hex.ids.size);
      node.dataset.cell = hex.key;
      node.dataset.band = b;
    }
  }

  count(cell) {
    const hex = this.hexes.get(h3Parent(cell, this.res));
    return hex ? hex.ids.size : 0;
  }
}
