/* Wall screen: read from across the room, left alone for days.
 * Map of open alerts as H3 hexagons, and a column: first what must be
 * handled (urgent or overdue, not yet acknowledged: wall/pinned.js), then
 * the newest incidents (wall/feed.js); counts, the sound control and a
 * connection light in the header. A new urgent incident chimes
 * (wall/sound.js) and flashes. Every event touches one hexagon and one
 * row; the column and the pulse markers are capped, so the page does not
 * grow however long it runs. */
import { api } from "./shared/api.js";
import { ROLES } from "./shared/config.js";
import { categoriesById, sectorNames } from "./shared/context.js";
import { $ } from "./shared/dom.js";
import { countNodes, startClock, Tally } from "./shared/header.js";
import { showLight } from "./shared/light.js";
import { requireUser } from "./shared/session.js";
import { isCritical, isOpen } from "./shared/status.js";
import { LiveStream } from "./shared/stream.js";
import { baseMap, sectorLayer as sectorOutlines } from "./map/basemap.js";
import { HexLayer } from "./map/hexes.js";
import { PulseLayer } from "./map/pulses.js";
import { Feed } from "./wall/feed.js";
import { PinnedList } from "./wall/pinned.js";
import { createSound } from "./wall/sound.js";

await requireUser(ROLES.ops, { wall: true });
startClock($("clock"));
const light = $("light");
showLight(light, "connecting");
const sound = createSound($("sound"), $("sound-arm"));

const sectorsGeo = await api("GET", "/api/sectors");
const ctx = { categories: categoriesById, sectors: sectorNames(sectorsGeo) };

const map = baseMap("map", { interactive: false });
const sectorLayer = sectorOutlines(map, sectorsGeo);
const cityBounds = sectorLayer.getBounds();
map.fitBounds(cityBounds, { padding: [20, 20] });
const mapBox = map.getContainer();

const hexes = new HexLayer(map);
const pulses = new PulseLayer(map, { cap: 20 });

const open = new Map(); // id -> incident, every open one
const pinned = new PinnedList($("pinned"), { more: $("pinned-more"), empty: $("pinned-empty") }, ctx);
const feed = new Feed($("feed"), $("feed-title"), ctx, { pinned: (id) => pinned.has(id) });
const tally = new Tally(countNodes());

/* Re-pin, then move what changed side between the two lists. */
function repin(now) {
  const moved = pinned.update(open, now);
  for (const id of [...moved.added, ...moved.removed]) {
    const inc = open.get(id) || feed.known.get(id);
    if (inc) feed.show(inc, now);
  }
  return moved;
}

function flash(id) {
  const row = pinned.row(id) || feed.row(id);
  if (row) row.classList.add("pulse");
}

function onIncident(inc, live) {
  const now = Date.now();
  tally.apply(inc);
  if (isOpen(inc.status)) open.set(inc.id, inc);
  else open.delete(inc.id);
  const { fresh } = repin(now);
  feed.show(inc, now);
  if (!live) return;
  // a new urgent incident, or one that just became urgent: heard and seen
  if (fresh.includes(inc.id) && isCritical(inc.priority)) {
    flash(inc.id);
    if (sound.chime()) document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
  }
  if (isCritical(inc.priority) && isOpen(inc.status)) pulses.add(inc.id, inc.lat, inc.lon);
}

function onAlert(a) {
  hexes.upsert(a);
  // for the people (and tests) checking that the wall is current
  mapBox.dataset.lastAlert = hexes.lastAlert;
}

const snapshot = await api("GET", `/ops/hexagons?res=${hexes.res}`);
hexes.load(snapshot);
mapBox.dataset.lastAlert = hexes.lastAlert;
const start = await api("GET", "/api/incidents?status=open&limit=5000");
start.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
for (const inc of start) {
  tally.apply(inc);
  open.set(inc.id, inc);
}
pinned.update(open, Date.now());
start.forEach((inc) => feed.show(inc));
tally.render(Date.now());

setInterval(() => {
  const now = Date.now();
  for (const id of repin(now).fresh) flash(id); // overdue by the clock: seen, not heard
  pinned.tick(now);
  feed.tick(now);
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
        onIncident(msg.data, msg.type === "incident.created" || msg.type === "incident.updated");
        break;
      default:
        break;
    }
  },
  onState(state) { showLight(light, state); },
});

/* ?cycle=30: show each sector in turn for 30 s, then the whole city; the
 * feed follows the sector shown. */
const cycle = Number(new URLSearchParams(window.location.search).get("cycle"));
if (cycle >= 5) {
  const views = [{ bounds: cityBounds, sector: null }];
  sectorLayer.eachLayer((l) => views.push({ bounds: l.getBounds(), sector: l.feature.properties.id }));
  let i = 0;
  setInterval(() => {
    i = (i + 1) % views.length;
    const v = views[i];
    map.fitBounds(v.bounds, { padding: [20, 20] });
    mapBox.dataset.view = v.sector || "";
    feed.setSector(v.sector, v.sector ? ctx.sectors[v.sector] : "");
  }, cycle * 1000);
}
