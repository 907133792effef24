/* The desk's map: sector outlines (clickable, for the composer), the open
 * alerts as hexagons, pulses for urgent new incidents, and the exact point
 * of the incident open in the detail panel. */
import { baseMap, sectorLayer } from "../map/basemap.js";
import { HexLayer } from "../map/hexes.js";
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

  function showFocus(inc) {
    focus.clearLayers();
    L.circleMarker([inc.lat, inc.lon], { radius: 10, color: "#ffffff", weight: 3, fillColor: "#ff1744", fillOpacity: 0.9, interactive: false }).addTo(focus);
  }

  /* alert.created / alert.updated; data-last-alert says how current the map is. */
  function onAlert(a) {
    hexes.upsert(a);
    box.dataset.lastAlert = hexes.lastAlert;
  }

  return { map, sectors, hexes, pulses, showFocus, onAlert };
}
