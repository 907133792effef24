/* Shared map parts: the base map (tiles that may be offline), sector
 * outlines, and the layer of open alerts bucketed into H3 hexagons. */
"use strict";

(function () {
  const { api, band } = window.Dispatch;

  // Colours of the priority bands on a dark map (fill and outline); the
  // legend in the page uses the same names (app.css .band-*).
  const BAND_COLOURS = { crit: "#ff1744", high: "#ff9100", med: "#ffd600", low: "#40c4ff" };

  /* Tiles come from the configured tile server, which may be unreachable
   * (offline control room, or no internet at all, as in CI). A failed image
   * is reported by Chromium as a console error and a tile layer retries
   * every tile it shows, so a wall left for days would pile up errors.
   * Instead: probe ONE tile first; add the tile layer only if it loads; if
   * the layer later fails repeatedly, remove it. Either way the map stays
   * usable on a plain background (sectors, hexagons and markers are
   * vectors), and one probe is retried with a growing delay (1 min up to
   * 30 min) so tiles come back by themselves when the network does. */
  function tiles(map, url, attribution) {
    const box = map.getContainer();
    box.classList.add("tiles-off");
    if (!url) return;
    let delay = 60 * 1000;
    let layer = null;
    const retry = () => {
      box.classList.add("tiles-off");
      box.dataset.tiles = "off";
      setTimeout(probe, delay);
      delay = Math.min(delay * 2, 30 * 60 * 1000);
    };
    const add = () => {
      delay = 60 * 1000;
      layer = L.tileLayer(url, { attribution, maxZoom: 19 });
      let failures = 0;
      layer.on("tileload", () => { failures = 0; });
      layer.on("tileerror", () => {
        failures += 1;
        if (failures === 3 && layer) {
          map.removeLayer(layer);
          layer = null;
          retry();
        }
      });
      layer.addTo(map);
      box.classList.remove("tiles-off");
      box.dataset.tiles = "on";
    };
    const probe = () => {
      const z = Math.round(map.getZoom());
      const p = map.project(map.getCenter(), z).divideBy(256).floor();
      const img = new Image();
      img.onload = add;
      img.onerror = retry;
      img.src = L.Util.template(url, { s: "a", x: p.x, y: p.y, z, r: "" });
    };
    map.whenReady(probe);
  }

  function baseMap(id, { interactive = true } = {}) {
    const body = document.body;
    const map = L.map(id, {
      zoomControl: interactive,
      dragging: interactive,
      scrollWheelZoom: interactive,
      doubleClickZoom: interactive,
      boxZoom: interactive,
      keyboard: interactive,
      touchZoom: interactive,
      zoomSnap: 0.25,
      attributionControl: true,
    });
    // Leaflet's own credit link carries an SVG flag; keep the tile credit only
    map.attributionControl.setPrefix(false);
    map.setView([46.6, 2.4], 6); // France, until the city is known
    // Leaflet caches its container's size: a page whose layout moves (a
    // scrollbar appears, a panel opens) would draw vectors off by that much
    if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize({ pan: false })).observe(map.getContainer());
    tiles(map, body.dataset.tileUrl, body.dataset.attribution);
    return map;
  }

  function sectorLayer(map, geojson, { labels = true, interactive = false } = {}) {
    const layer = L.geoJSON(geojson, {
      interactive,
      style: { color: "#4fc3f7", weight: 2, opacity: 0.9, fillColor: "#4fc3f7", fillOpacity: 0.04 },
    }).addTo(map);
    if (labels) {
      layer.eachLayer((l) => l.bindTooltip(l.feature.properties.name, {
        permanent: true, direction: "center", className: "sector-label", interactive: false,
      }));
    }
    return layer;
  }

  /* An H3 index is a 64-bit integer: resolution in bits 52-55, then one
   * 3-bit digit per resolution from bit 42 (res 1) down to bit 0 (res 15),
   * digits finer than the resolution all set to 7 (h3geo.org, "H3 Index
   * Representations"). So the parent is: new resolution, and the digits
   * below it set to 7. Exact, and checked against h3-py in the tests. */
  function h3Parent(cell, res) {
    let h = BigInt("0x" + cell);
    const cur = Number((h >> 52n) & 15n);
    if (res >= cur) return cell;
    h = (h & ~(15n << 52n)) | (BigInt(res) << 52n);
    for (let r = res + 1; r <= cur; r++) h |= 7n << BigInt((15 - r) * 3);
    return h.toString(16);
  }

  /* Hexagons about 30-60 px across whatever the zoom. */
  function resForZoom(zoom) {
    return Math.max(6, Math.min(9, Math.round(zoom) - 5));
  }

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
  class HexLayer {
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
      const open = window.Dispatch.OPEN_STATUSES.includes(a.status);
      const known = this.alerts.get(a.id);
      if (a.id > this.lastAlert) this.lastAlert = a.id;
      if (known) this.unplace(a.id, known);
      if (open) {
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

  /* A pulsing marker for an urgent item, removed after `ttl` ms; at most
   * `cap` on the map at once (oldest first out). */
  class PulseLayer {
    constructor(map, { cap = 20, ttl = 5 * 60 * 1000 } = {}) {
      this.group = L.layerGroup().addTo(map);
      this.cap = cap;
      this.ttl = ttl;
      this.items = new Map();
    }

    add(id, lat, lon) {
      if (this.items.has(id) || lat == null || lon == null) return;
      const m = L.marker([lat, lon], {
        interactive: false,
        keyboard: false,
        icon: L.divIcon({ className: "pulse", html: "", iconSize: [28, 28] }),
      }).addTo(this.group);
      const timer = setTimeout(() => this.remove(id), this.ttl);
      this.items.set(id, { m, timer });
      while (this.items.size > this.cap) this.remove(this.items.keys().next().value);
    }

    remove(id) {
      const it = this.items.get(id);
      if (!it) return;
      clearTimeout(it.timer);
      this.group.removeLayer(it.m);
      this.items.delete(id);
    }
  }

  Object.assign(window.Dispatch, { baseMap, sectorLayer, h3Parent, resForZoom, HexLayer, PulseLayer, BAND_COLOURS });
})();
