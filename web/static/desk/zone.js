/* A zone drawn on the desk map, vertex by vertex, for a broadcast to a
 * shape (a closed road, a flood, a fire perimeter: FR-Alert targets drawn
 * zones too). A click on the map adds a vertex; Enter or "Fermer" closes
 * the shape, Backspace or "Retirer" removes the last vertex, Escape or
 * "Effacer" starts again. Without a mouse: pan the map with the arrows and
 * "Ajouter le centre de la carte" adds its centre. Every change is
 * reported (onChange), so the composer previews the count live.
 *
 * geometry() is the GeoJSON Polygon the API takes (lon/lat, ring closed)
 * once there are three vertices, closed or not: the count is shown while
 * the shape is still being drawn. */
import { $ } from "../shared/dom.js";

const STYLE = { color: "#e040fb", weight: 3, fillOpacity: 0.15, interactive: false };

export function createZone(map, { active, onChange }) {
  const layer = L.layerGroup().addTo(map);
  let points = []; // L.LatLng
  let closed = false;
  const box = map.getContainer();

  function redraw() {
    layer.clearLayers();
    if (points.length >= 3) L.polygon(points, { ...STYLE, dashArray: closed ? null : "6 6" }).addTo(layer);
    else if (points.length === 2) L.polyline(points, STYLE).addTo(layer);
    for (const p of points) L.circleMarker(p, { radius: 5, color: "#e040fb", weight: 2, fillColor: "#ffffff", fillOpacity: 1, interactive: false }).addTo(layer);
    box.dataset.vertices = points.length;
    box.dataset.zone = closed ? "closed" : points.length ? "drawing" : "empty";
    const n = points.length;
    $("c-zone-state").textContent = closed ? `zone fermée, ${n} sommets`
      : n ? `${n} sommet${n > 1 ? "s" : ""}${n < 3 ? " (3 au moins)" : ""} : cliquez pour en ajouter` : "cliquez sur la carte pour placer le premier sommet";
    $("c-zone-close").disabled = closed || n < 3;
    $("c-zone-undo").disabled = n === 0;
    $("c-zone-clear").disabled = n === 0;
    $("c-zone-centre").disabled = closed;
    onChange();
  }

  function add(latlng) {
    if (closed) return;
    points.push(latlng);
    redraw();
  }
  function close() {
    if (points.length < 3 || closed) return;
    closed = true;
    redraw();
  }
  function undo() {
    if (!points.length) return;
    if (closed) closed = false;
    else points.pop();
    redraw();
  }
  function clear() {
    points = [];
    closed = false;
    redraw();
  }

  map.on("click", (ev) => { if (active()) add(ev.latlng); });
  $("c-zone-close").addEventListener("click", close);
  $("c-zone-undo").addEventListener("click", undo);
  $("c-zone-clear").addEventListener("click", clear);
  $("c-zone-centre").addEventListener("click", () => add(map.getCenter()));
  // while drawing, these keys are the zone's (before the desk's own: Enter
  // would open the queue's incident), except in a text field or a dialog
  document.addEventListener("keydown", (ev) => {
    if (!active() || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest("input[type=text], input[type=number], input[type=search], textarea, select, dialog[open]")) return;
    if (t.closest && t.closest("button") && ev.key === "Enter") return; // a button's own Enter
    const keys = { Enter: close, Backspace: undo, Escape: clear };
    if (!keys[ev.key] || !points.length) return;
    keys[ev.key]();
    ev.preventDefault();
    ev.stopPropagation();
  }, true);

  return {
    show(on) {
      if (on) { if (!map.hasLayer(layer)) layer.addTo(map); }
      else map.removeLayer(layer);
      redraw();
    },
    geometry() {
      if (points.length < 3) return null;
      const ring = points.map((p) => [p.lng, p.lat]);
      return { type: "Polygon", coordinates: [[...ring, ring[0]]] };
    },
  };
}
