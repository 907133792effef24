/* The desk's map: sector outlines (clickable, for the composer), the open
 * alerts as hexagons, pulses for urgent new incidents, and the exact point
 * of the incident open in the detail panel. While a filter or the search
 * narrows the queue, the map shows what the queue shows: the hexagons of
 * every open alert give way to the queue's incidents, each at its point in
 * its priority band's colour, and a sector filter frames that sector. */
import { band } from "../shared/status.js";
import { baseMap, sectorLayer } from "../map/basemap.js";
import { BAND_COLOURS, HexLayer } from "../map/hexes.js";
import { PulseLayer } from "../map/pulses.js";

export function createDeskMap(sectorsGeo) {
  const map = baseMap("map");
  const sectors = sectorLayer(map, sectorsGeo, { interactive: true });
  map.fitBounds(sectors.getBounds(), { padding: [10, 10] });
  const hexes = new HexLayer(map);
  const pulses = new PulseLayer(map, { cap: 10 });
  const focus = L.layerGroup().addTo(map); // the open incident's exact point
  const box = map.getContainer();
  box.dataset.lastAlert = "0";
  box.dataset.filtered = "0";

  function showFocus(inc) {
    focus.clearLayers();
    L.circleMarker([inc.lat, inc.lon], { radius: 10, color: "#ffffff", weight: 3, fillColor: "#ff1744", fillOpacity: 0.9, interactive: false }).addTo(focus);
  }

  /* alert.created / alert.updated; data-last-alert says how current the map is. */
  function onAlert(a) {
    hexes.upsert(a);
    box.dataset.lastAlert = hexes.lastAlert;
  }

  const shownLayer = L.layerGroup();
  let shownKey = "";
  let framed = "";
  /* The queue's rows (desk/queue.js onShown); called every second, so it
   * redraws only when what is shown changed. */
  function showQueue(incidents, filtered, sector) {
    const key = filtered ? incidents.map((i) => `${i.id}:${band(i.priority)}`).join(",") : "";
    if (key === shownKey && map.hasLayer(hexes.group) === !filtered) return;
    shownKey = key;
    box.dataset.filtered = filtered ? "1" : "0";
    box.dataset.shown = filtered ? incidents.map((i) => i.id).join(",") : "";
    if (!filtered) {
      map.removeLayer(shownLayer);
      if (!map.hasLayer(hexes.group)) hexes.group.addTo(map);
    } else {
      map.removeLayer(hexes.group);
      shownLayer.clearLayers();
      for (const i of incidents) {
        const c = BAND_COLOURS[band(i.priority)];
        L.circleMarker([i.lat, i.lon], { radius: 8, color: "#ffffff", weight: 2, fillColor: c, fillOpacity: 0.9, interactive: false }).addTo(shownLayer);
      }
      if (!map.hasLayer(shownLayer)) shownLayer.addTo(map);
    }
    if ((sector || "") !== framed) {
      framed = sector || "";
      let bounds = sectors.getBounds();
      sectors.eachLayer((l) => { if (l.feature.properties.id === framed) bounds = l.getBounds(); });
      map.fitBounds(bounds, { padding: [10, 10] });
    }
  }

  return { map, sectors, hexes, pulses, showFocus, onAlert, showQueue };
}
