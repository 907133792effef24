/* The moderators' page: the queue of residents waiting for their proof of
 * address to be checked, the alerts residents flagged, and the suspended
 * accounts; keyboard-driven like the desk. Who may open it, and who may
 * also see proofs and decide, come from GET /config (roles.moderation,
 * roles.moderator); the server checks every call again. The queues are
 * read again every 30 s and after every action (no stream carries them). */
import { api } from "./shared/api.js";
import { ROLES } from "./shared/config.js";
import { categoriesById, sectorNames } from "./shared/context.js";
import { $ } from "./shared/dom.js";
import { startClock } from "./shared/header.js";
import { requireUser } from "./shared/session.js";
import { createFlags } from "./moderation/flags.js";
import { createResidents } from "./moderation/residents.js";
import { createSuspended } from "./moderation/suspended.js";
import { bindTabs } from "./moderation/tabs.js";

const REFRESH_MS = 30 * 1000;

const me = await requireUser(ROLES.moderation);
const isModerator = ROLES.moderator.includes(me.role);
startClock($("clock"));
$("who").textContent = me.name || me.email;

const sectorsGeo = await api("GET", "/api/sectors");
const ctx = { categories: categoriesById, sectors: sectorNames(sectorsGeo), sectorsGeo };
const say = (text) => { $("mod-message").textContent = text; };

const residents = createResidents(ctx, { canDecide: isModerator, say });
const suspended = createSuspended({ say });
const flags = createFlags(ctx, { say, onSuspended: () => suspended.load() });
// the flags are the moderators' alone (GET /api/moderation/flags): an
// admin's page has two queues
const queues = isModerator ? [residents, flags, suspended] : [residents, suspended];
$("tab-flags").hidden = !isModerator;

async function loadAll() {
  const results = await Promise.allSettled(queues.map((q) => q.load()));
  const failed = results.filter((r) => r.status === "rejected");
  if (failed.length) say(`Actualisation impossible : ${failed[0].reason.message}`);
  document.body.dataset.loaded = String(Date.now());
}

const tabs = bindTabs(queues);
await loadAll();
tabs.show(0);
setInterval(loadAll, REFRESH_MS);
$("reload").addEventListener("click", async () => { await loadAll(); say("Files actualisées."); });
