/* The base map of every page: Leaflet (the global L, a classic script
 * loaded before the modules), tiles that may be offline, sector outlines. */

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

/* The tile URL and its credit come from the page (data-tile-url and
 * data-attribution on <body>, rendered from the settings). */
export function baseMap(id, { interactive = true } = {}) {
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

/* Sector names go in a pane of their own, above the hexagons (overlay
 * pane, 400) and their counts (hexes.js "counts", 640): a dispatcher
 * must always be able to read which sector a cluster is in (issue 18:
 * count labels used to hide every sector name). */
export const LABELS_PANE = "sectorLabels";

export function sectorLayer(map, geojson, { labels = true, interactive = false } = {}) {
  const layer = L.geoJSON(geojson, {
    interactive,
    style: { color: "#4fc3f7", weight: 2, opacity: 0.9, fillColor: "#4fc3f7", fillOpacity: 0.04 },
  }).addTo(map);
  if (labels) {
    if (!map.getPane(LABELS_PANE)) map.createPane(LABELS_PANE).classList.add("labels-pane");
    layer.eachLayer((l) => l.bindTooltip(l.feature.properties.name, {
      permanent: true, direction: "center", className: "sector-label", interactive: false, pane: LABELS_PANE,
    }));
  }
  return layer;
}
