/* The audit page: the administrator lists and filters the append-only
 * audit (GET /api/audit, newest first) and downloads it as CSV for the
 * town's DPO. Who may open it comes from GET /config (roles.audit); the
 * server checks the page and every call again. Entries are ids and names
 * only: there is no personal data to show here. */
import { api } from "../shared/api.js";
import { ROLES } from "../shared/config.js";
import { $, el } from "../shared/dom.js";
import { requireUser } from "../shared/session.js";

const me = await requireUser(ROLES.audit);
$("who").textContent = me.name || me.email;

const form = $("audit-filters");
const say = (text) => { $("audit-message").textContent = text; };

/* The filled filters as a query string; datetime-local is the browser's
 * local time, sent as an instant. */
function query() {
  const params = new URLSearchParams();
  const since = form.elements.since.value;
  if (since) params.set("since", new Date(since).toISOString());
  for (const name of ["actor", "action", "limit"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function row(e) {
  const at = new Date(e.at).toLocaleString("fr-FR");
  const cell = (v) => el("td", {}, v === null ? "—" : String(v));
  return el("tr", {}, cell(e.id), el("td", {}, el("time", { datetime: e.at }, at)),
    cell(e.actor === null ? "système" : e.actor), cell(e.action), cell(e.record_type), cell(e.record_id));
}

async function load() {
  const params = query();
  const csv = new URLSearchParams(params);
  csv.set("format", "csv");
  $("audit-csv").href = `/api/audit?${csv}`;
  try {
    const entries = await api("GET", `/api/audit?${params}`);
    $("audit-rows").replaceChildren(...entries.map(row));
    say(entries.length ? `${entries.length} entrée(s).` : "Aucune entrée.");
  } catch (e) {
    say(`Filtre refusé : ${e.message}`);
  }
  document.body.dataset.loaded = String(Date.now());
}

form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
await load();
