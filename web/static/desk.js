/* Supervisor's desk: the live map, the queue of incidents (priority, then
 * age), filters, a detail panel with the actions, keyboard shortcuts, the
 * broadcast composer, statistics and hand-over. Every change goes through
 * the API; what the other screens see comes back through /ws/ops, here too
 * (the page never edits its own state optimistically, so all screens agree).
 *
 * This module logs in, loads what every part needs, wires the parts
 * (desk/*.js, one concern each) and feeds them the snapshot, then the
 * stream. */
import { api } from "./shared/api.js";
import { ROLES } from "./shared/config.js";
import { categoriesById, sectorNames } from "./shared/context.js";
import { $ } from "./shared/dom.js";
import { countNodes, startClock, Tally } from "./shared/header.js";
import { showLight } from "./shared/light.js";
import { requireUser } from "./shared/session.js";
import { isCritical } from "./shared/status.js";
import { LiveStream } from "./shared/stream.js";
import { createActions } from "./desk/actions.js";
import { createComposer } from "./desk/composer.js";
import { createDetail } from "./desk/detail.js";
import { bindKeys } from "./desk/keys.js";
import { createDeskMap } from "./desk/map.js";
import { createQueue } from "./desk/queue.js";
import { createReceipts } from "./desk/receipts.js"; // issue 19
import { bindReports } from "./desk/reports.js";

const me = await requireUser(ROLES.ops);
const canAct = ROLES.operator.includes(me.role);
startClock($("clock"));
const light = $("light");
showLight(light, "connecting");

const [sectorsGeo, unitList] = await Promise.all([api("GET", "/api/sectors"), api("GET", "/api/units")]);
const ctx = { categories: categoriesById, sectors: sectorNames(sectorsGeo) };
const units = new Map(unitList.map((u) => [u.id, u])); // kept current by unit.updated

const deskMap = createDeskMap(sectorsGeo);
const detail = createDetail(ctx, units, deskMap);
const tally = new Tally(countNodes());
const queue = createQueue(ctx, { onOpen: detail.open, openCount: () => tally.open.size, onShown: deskMap.showQueue });
const actions = createActions(detail, units, { canAct });
bindKeys(queue, detail, actions);
createComposer(ctx, deskMap);
bindReports(ctx);
const receipts = createReceipts(); // issue 19: delivery per channel

/* -- snapshot, then live ----------------------------------------------------- */

function onIncident(inc, live) {
  tally.apply(inc);
  queue.update(inc);
  if (live && isCritical(inc.priority)) deskMap.pulses.add(inc.id, inc.lat, inc.lon);
  detail.refresh(inc.id); // history changed too
}

const snapshot = await api("GET", `/ops/hexagons?res=${deskMap.hexes.res}`);
deskMap.hexes.load(snapshot);
for (const inc of await api("GET", "/api/incidents?status=open&limit=5000")) tally.apply(inc);
tally.render(Date.now());
await queue.load();
queue.selectFirst();

setInterval(() => {
  const now = Date.now();
  queue.tick(now);
  tally.render(now);
}, 1000);

new LiveStream("/ws/ops", {
  since: snapshot.seq,
  onMessage(msg) {
    receipts.onMessage(msg); // issue 19: broadcast.sent and receipts
    switch (msg.type) {
      case "alert.created":
      case "alert.updated":
        deskMap.onAlert(msg.data);
        break;
      case "incident.created":
      case "incident.updated":
        onIncident(msg.data, msg.type === "incident.created");
        break;
      case "unit.updated":
        units.set(msg.data.id, msg.data);
        actions.fillUnits();
        break;
      default:
        break;
    }
  },
  onState(state) { showLight(light, state); },
});
