/* Wall screen: read from across the room, left alone for days.
 * Map of open alerts as H3 hexagons, the newest incidents in a column,
 * counts and a connection light in the header. Every event touches one
 * hexagon and one row; the column and the pulse markers are capped, so
 * the page does not grow however long it runs. */
import { api } from "./shared/api.js";
import { ROLES } from "./shared/config.js";
import { categoriesById, sectorNames } from "./shared/context.js";
import { countNodes, startClock, Tally } from "./shared/header.js";
import { incidentRow, refreshRow, tickRow } from "./shared/incident-row.js";
import { showLight } from "./shared/light.js";
import { requireUser } from "./shared/session.js";
import { isCritical, isOpen } from "./shared/status.js";
import { LiveStream } from "./shared/stream.js";
import { baseMap, sectorLayer as sectorOutlines } from "./map/basemap.js";
import { HexLayer } from "./map/hexes.js";
import { PulseLayer } from "./map/pulses.js";

const FEED_CAP = 24;

await requireUser(ROLES.ops, { wall: true });
startClock(document.getElementById("clock"));
const light = document.getElementById("light");
showLight(light, "connecting");

const sectorsGeo = await api("GET", "/api/sectors");
const ctx = { categories: categoriesById, sectors: sectorNames(sectorsGeo) };

const map = baseMap("map", { interactive: false });
const sectorLayer = sectorOutlines(map, sectorsGeo);
const cityBounds = sectorLayer.getBounds();
map.fitBounds(cityBounds, { padding: [20, 20] });
const mapBox = map.getContainer();

const hexes = new HexLayer(map);
const pulses = new PulseLayer(map, { cap: 20 });

/* The column: newest incidents first, at most FEED_CAP rows. */
const feed = document.getElementById("feed");
const rows = new Map();
function showIncident(inc, live) {
  const row = rows.get(inc.id);
  if (row) {
    refreshRow(row, inc, Date.now());
    return;
  }
  const created = Date.parse(inc.created_at);
  let before = null;
  for (const r of feed.children) {
    if (Date.parse(r._inc.created_at) < created) { before = r; break; }
  }
  if (!before && feed.children.length >= FEED_CAP) return; // older than everything shown
  const fresh = incidentRow(inc, ctx);
  if (live && isCritical(inc.priority)) fresh.classList.add("pulse");
  feed.insertBefore(fresh, before);
  rows.set(inc.id, fresh);
  while (feed.children.length > FEED_CAP) {
    const last = feed.lastElementChild;
    rows.delete(last._inc.id);
    last.remove();
  }
}

const tally = new Tally(countNodes());

function onIncident(inc, live) {
  tally.apply(inc);
  showIncident(inc, live);
  if (live && isCritical(inc.priority) && isOpen(inc.status)) pulses.add(inc.id, inc.lat, inc.lon);
}

function onAlert(a) {
  hexes.upsert(a);
  // for the people (and tests) checking that the wall is current
  mapBox.dataset.lastAlert = hexes.lastAlert;
}

const snapshot = await api("GET", `/ops/hexagons?res=${hexes.res}`);
hexes.load(snapshot);
mapBox.dataset.lastAlert = hexes.lastAlert;
const open = await api("GET", "/api/incidents?status=open&limit=5000");
open.forEach((inc) => tally.apply(inc));
open.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
open.slice(0, FEED_CAP).forEach((inc) => showIncident(inc, false));
tally.render(Date.now());

setInterval(() => {
  const now = Date.now();
  for (const r of feed.children) tickRow(r, now);
  tally.render(now);
}, 1000);

new LiveStream("/ws/ops", {
  since: snapshot.seq,
  onMessage(msg) {
    switch (msg.type) {
      case "alert.created":
      case "alert.updated":
        onAlert(msg.data);
        break;
      case "incident.created":
      case "incident.updated":
        onIncident(msg.data, msg.type === "incident.created");
        break;
      default:
        break;
    }
  },
  onState(state) { showLight(light, state); },
});

/* ?cycle=30: show each sector in turn for 30 s, then the whole city. */
const cycle = Number(new URLSearchParams(window.location.search).get("cycle"));
if (cycle >= 5) {
  const views = [cityBounds];
  sectorLayer.eachLayer((l) => views.push(l.getBounds()));
  let i = 0;
  setInterval(() => {
    i = (i + 1) % views.length;
    map.fitBounds(views[i], { padding: [20, 20] });
  }, cycle * 1000);
}
