/* The desk's detail panel: one incident as GET /api/incidents/{id} gives
 * it (facts, its alerts with exact points and authors, its history in
 * words), and its point on the map. It shows what the server says, and is
 * re-read when the incident changes (the history changes too). */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { shortTime, witnesses } from "../shared/format.js";
import { isOverdue, statusLabel } from "../shared/status.js";

const fmtDate = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "medium" });

/* The panel's message line (actions report there too). */
export const say = (text) => { $("d-message").textContent = text; };

// the history's action codes (core/incident_decisions.py), in words
function historyText(h, units) {
  const unit = (id) => (units.get(id) || {}).name || `équipe ${id}`;
  const ids = (xs) => (xs || []).map((i) => `n° ${i}`).join(", ");
  switch (h.action) {
    case "opened": return `ouvert (alerte n° ${h.alert})`;
    case "grouped": return `alerte n° ${h.alert} rattachée`;
    case "status": return `statut : ${statusLabel(h.from)} → ${statusLabel(h.to)}`;
    case "assigned": return `affecté à ${unit(h.unit)}`;
    case "unassigned": return `${unit(h.unit)} retirée`;
    case "pinned": return `priorité fixée à ${h.priority}`;
    case "unpinned": return "priorité recalculée";
    case "note": return "note";
    case "merged": return `fusion de ${ids(h.incidents)}`;
    case "merged_into": return `fusionné dans n° ${h.incident}`;
    case "split": return `alertes ${ids(h.alerts)} séparées`;
    case "split_from": return `séparé de n° ${h.incident}`;
    case "escalated": return `en retard : priorité relevée (niveau ${h.level})`;
    default: return h.action;
  }
}

/* Who did it: the staff member's display name (actor_name, given with
 * each history entry), the system for escalations. */
function actorName(h) {
  if (h.actor === null || h.actor === undefined) return "système";
  return h.actor_name || `agent n° ${h.actor}`;
}

/* The acknowledgement, plainly: what is due before it, who did it after. */
export function deadline(inc) {
  if (!inc.acknowledged_at) return `À prendre en compte avant ${shortTime.format(new Date(inc.ack_due_at))}`;
  const first = (inc.history || []).find((h) => h.action === "status" && h.from === "new");
  const by = first && first.actor !== null && first.actor !== undefined ? ` par ${actorName(first)}` : "";
  return `Pris en compte à ${shortTime.format(new Date(inc.acknowledged_at))}${by}`;
}

/* units: the Map id -> unit the desk keeps current; showFocus(inc): the
 * incident's point on the map. */
export function createDetail(ctx, units, { showFocus }) {
  let detail = null; // GET /api/incidents/{id}

  async function open(id) {
    try {
      detail = await api("GET", `/api/incidents/${id}`);
    } catch (e) {
      say(`Incident ${id} introuvable.`);
      return;
    }
    render();
  }

  function render() {
    const inc = detail;
    const cat = ctx.categories[inc.category] || { label: inc.category, pictogram: "•" };
    $("detail-empty").hidden = true;
    $("detail-body").hidden = false;
    $("detail").dataset.incident = inc.id;
    $("d-picto").textContent = cat.pictogram;
    $("d-title").textContent = `${cat.label} n° ${inc.id}`;
    $("d-status").textContent = statusLabel(inc.status);
    $("d-status").dataset.status = inc.status;
    $("d-overdue").hidden = !isOverdue(inc, Date.now());
    $("d-vulnerable").hidden = !inc.vulnerable; // an alert says a vulnerable person is involved
    $("d-priority").textContent = `${Math.round(inc.priority)}${inc.pinned ? " (fixée)" : ""}`;
    $("d-sector").textContent = ctx.sectors[inc.sector] || inc.sector;
    $("d-position").textContent = `${inc.lat.toFixed(5)}, ${inc.lon.toFixed(5)}`;
    $("d-witnesses").textContent = witnesses(inc.witnesses);
    $("d-unit").textContent = inc.unit ? inc.unit.name || `n° ${inc.unit.id}` : "aucune";
    $("d-created").textContent = fmtDate.format(new Date(inc.created_at));
    $("d-due").textContent = deadline(inc);
    $("d-priority-input").value = Math.round(inc.priority);
    $("d-unit-select").value = inc.unit ? String(inc.unit.id) : "";

    $("d-alerts").replaceChildren(...(inc.alert_details || []).map((a) => {
      const box = el("input", { type: "checkbox", id: `split-${a.id}`, value: a.id });
      const who = a.author_name ? `${a.author_name} (compte ${a.author})` : `compte ${a.author}`;
      return el("li", { class: "alert-item" }, box,
        el("label", { for: `split-${a.id}` },
          el("strong", { text: `Alerte n° ${a.id}` }),
          ` — ${shortTime.format(new Date(a.created_at))} — ${who} — ${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`,
          a.text ? el("span", { class: "alert-text", text: a.text }) : null));
    }));
    $("d-history").replaceChildren(...(inc.history || []).map((h) => {
      const actor = actorName(h);
      return el("li", {}, `${shortTime.format(new Date(h.at))} — ${historyText(h, units)} (${actor})`,
        h.note ? el("span", { class: "alert-text", text: h.note }) : null);
    }));
    showFocus(inc);
  }

  return {
    open,
    /* the incident shown, or null */
    current: () => detail,
    /* its name in words ("Vol n° 12") */
    title: () => $("d-title").textContent,
    /* re-read it if it is the one shown (an update changes its history too) */
    refresh(id) { if (detail && detail.id === id) open(id); },
  };
}
