/* The layer of open alerts bucketed into H3 hexagons (wall and desk maps),
 * and the cache of exact hexagon outlines it draws them with. */
import { api } from "../shared/api.js";
import { band, isOpen } from "../shared/status.js";
import { h3Parent, resForZoom } from "./h3.js";
import { explainLegend, rankTiers, shrink, sizeFactor, TIER_STYLE } from "./scales.js";

// Colours of the priority bands on a dark map (fill and outline); the
// legend in the page uses the same names (app.css .band-*).
export const BAND_COLOURS = { crit: "#ff1744", high: "#ff9100", med: "#ffd600", low: "#40c4ff" };

// Count labels on every hexagon from this resolution on; coarser, only on
// the strongest tier (the rest say their count by their size), so that
// labels do not carpet a city-wide view.
const ALL_COUNTS_RES = 8;

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

/* Open alerts as H3 hexagons: colour = highest priority inside, strength =
 * rank among hexagons, size = count (map/scales.js). State is one small
 * record per open alert (id -> res-9 cell, priority, status, sector,
 * category) so a zoom change or a filter re-buckets locally; an event
 * touches one hexagon, then the ranking is redone once per batch. Each
 * hexagon's path carries data-cell, data-count, data-band and data-tier. */
export class HexLayer {
  constructor(map, { onChange, legend } = {}) {
    this.map = map;
    // counts below the sector names (map/basemap.js labels pane): a name
    // must always be readable, a count is also told by the size
    if (!map.getPane("counts")) map.createPane("counts").classList.add("counts-pane");
    this.group = L.layerGroup().addTo(map);
    this.alerts = new Map(); // id -> {cell, priority, status, sector, category}
    this.hexes = new Map(); // cell at this.res -> {key, ids: Map(id -> priority), ring, poly, label, tier}
    this.res = resForZoom(map.getZoom());
    this.keep = () => true;
    this.onChange = onChange || (() => {});
    this.lastAlert = 0;
    this.ranking = null;
    explainLegend(legend || map.getContainer().parentElement.querySelector(".legend"));
    map.on("zoomend", () => {
      const res = resForZoom(map.getZoom());
      if (res !== this.res) this.rebuild(res);
    });
  }

  /* Snapshot from GET /ops/hexagons: [[id, cell, priority, status, sector?, category?], ...]. */
  load(snapshot) {
    for (const [id, cell, priority, status, sector, category] of snapshot.alerts) {
      this.alerts.set(id, { cell, priority, status, sector, category });
      this.lastAlert = Math.max(this.lastAlert, id);
    }
    for (const f of snapshot.features) {
      const ring = f.geometry.coordinates[0].slice(0, -1).map(([lon, lat]) => [lat, lon]);
      if (snapshot.res === this.res) outlines.set(f.properties.cell, Promise.resolve(ring));
    }
    this.rebuild(this.res);
  }

  /* Show only the alerts for which keep(record) is true (the desk's filters). */
  setFilter(keep) {
    this.keep = keep || (() => true);
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
      const rec = { cell: a.cell, priority: a.priority, status: a.status, sector: a.sector, category: a.category };
      this.alerts.set(a.id, rec);
      this.place(a.id, rec);
    } else {
      this.alerts.delete(a.id);
    }
    this.onChange(a, known);
  }

  place(id, a) {
    if (!this.keep(a)) return;
    const key = h3Parent(a.cell, this.res);
    let hex = this.hexes.get(key);
    if (!hex) {
      hex = { ids: new Map(), poly: null, label: null, key, tier: "rest" };
      this.hexes.set(key, hex);
      this.draw(hex);
    }
    hex.ids.set(id, a.priority);
    this.paint(hex);
    this.rerank();
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
    this.rerank();
  }

  async draw(hex) {
    const res = this.res;
    const ring = await outline(hex.key);
    // the hexagon may have emptied, or the zoom changed, while we waited
    if (!ring || this.res !== res || this.hexes.get(hex.key) !== hex) return;
    hex.ring = ring;
    hex.poly = L.polygon(ring, { interactive: false, className: "hex" }).addTo(this.group);
    hex.label = L.marker(hex.poly.getBounds().getCenter(), {
      pane: "counts",
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "hex-count", html: "", iconSize: [48, 28] }),
    });
    hex.painted = null;
    this.paint(hex);
  }

  /* The ranking changes with every event; redo it once per batch of them. */
  rerank() {
    if (this.ranking) return;
    this.ranking = setTimeout(() => {
      this.ranking = null;
      const all = [...this.hexes.values()];
      for (const h of all) {
        h.top = -Infinity;
        for (const p of h.ids.values()) if (p > h.top) h.top = p;
        h.n = h.ids.size;
      }
      rankTiers(all);
      for (const h of all) this.paint(h);
      this.map.getContainer().dataset.ranked = String(all.length);
    }, 50);
  }

  paint(hex) {
    if (!hex.poly) return;
    let top = -Infinity;
    for (const p of hex.ids.values()) if (p > top) top = p;
    const b = band(top);
    const n = hex.ids.size;
    const look = `${b} ${hex.tier} ${n} ${top}`;
    if (hex.painted !== look) {
      hex.poly.setStyle({ color: BAND_COLOURS[b], fillColor: BAND_COLOURS[b], ...TIER_STYLE[hex.tier] });
      hex.poly.setLatLngs(shrink(hex.ring, sizeFactor(n)));
      const path = hex.poly.getElement();
      if (path) Object.assign(path.dataset, { cell: hex.key, count: n, band: b, tier: hex.tier, top });
      hex.painted = look;
    }
    this.label(hex, b, n);
  }

  label(hex, b, n) {
    const shown = this.res >= ALL_COUNTS_RES || hex.tier === "top";
    if (shown !== this.group.hasLayer(hex.label)) {
      if (shown) hex.label.addTo(this.group);
      else this.group.removeLayer(hex.label);
    }
    const node = hex.label.getElement();
    if (shown && node) {
      node.textContent = String(n);
      node.dataset.cell = hex.key;
      node.dataset.band = b;
    }
  }

  count(cell) {
    const hex = this.hexes.get(h3Parent(cell, this.res));
    return hex ? hex.ids.size : 0;
  }
}
