/* The detail panel's actions: status buttons, assign a unit, pin or unpin
 * the priority, merge other incidents in, split checked alerts out. Each
 * is one API call; the result comes back through the live stream like any
 * other screen's change (nothing is applied optimistically here). Only the
 * operator roles may change an incident (the server checks too). */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { confirmAction } from "./confirm.js";
import { say } from "./detail.js";

const UNIT_STATUS = { available: "disponible", busy: "occupée", off_duty: "hors service" };

// closing an incident is final (core/lifecycle.py): asked first, by name
const CONFIRM = {
  resolved: (what) => ({ title: "Résoudre l'incident ?", text: `${what} sera clos comme résolu ; un incident clos ne se rouvre pas.`, yes: "Résoudre" }),
  dismissed: (what) => ({ title: "Classer l'incident infondé ?", text: `${what} sera clos comme infondé ; un incident clos ne se rouvre pas.`, yes: "Classer infondé" }),
};

/* detail: the panel (desk/detail.js); units: the Map id -> unit kept
 * current by the desk; canAct: the user's role is an operator role. */
export function createActions(detail, units, { canAct }) {
  async function act(body, done) {
    const inc = detail.current();
    if (!inc) return;
    if (!canAct) { say("Votre rôle ne permet pas d'agir sur les incidents."); return; }
    if (CONFIRM[body.status] && !(await confirmAction(CONFIRM[body.status](detail.title())))) {
      say("Action annulée.");
      return;
    }
    const note = $("d-note").value.trim();
    if (note && body.status) body.note = note;
    try {
      await api("PATCH", `/api/incidents/${inc.id}`, body);
      $("d-note").value = "";
      say(done);
    } catch (e) {
      say(e.status === 409 ? `Impossible : ${e.message}` : `Échec : ${e.message}`);
    }
  }

  // the status buttons (desk.html), each with what to say once it is done
  const statusButtons = new Map();
  for (const b of document.querySelectorAll("button[data-status]")) statusButtons.set(b.dataset.status, b);
  const doneText = (status) => statusButtons.get(status)?.dataset.done;

  /* The keyboard's a and r: on the selected incident, opened first if
   * another one is shown. */
  async function setStatusOf(id, status) {
    const inc = detail.current();
    if (!inc || inc.id !== id) await detail.open(id);
    await act({ status }, doneText(status));
  }

  function fillUnits() {
    const sel = $("d-unit-select");
    const keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: "— aucune équipe —" }),
      ...[...units.values()].map((u) => el("option", {
        value: u.id, text: `${u.name} (${UNIT_STATUS[u.status] || u.status})`,
      })));
    sel.value = keep;
  }

  for (const [status, b] of statusButtons) b.addEventListener("click", () => act({ status }, b.dataset.done));
  fillUnits();
  $("d-assign").addEventListener("click", () => {
    const v = $("d-unit-select").value;
    act({ unit: v ? Number(v) : null }, v ? "Équipe affectée." : "Équipe retirée.");
  });
  $("d-pin").addEventListener("click", () => act({ priority: Number($("d-priority-input").value) }, "Priorité fixée."));
  $("d-unpin").addEventListener("click", () => act({ unpin: true }, "Priorité recalculée."));
  $("d-merge-go").addEventListener("click", async () => {
    const ids = $("d-merge").value.split(/[\s,;]+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
    const inc = detail.current();
    if (!inc || !ids.length) return;
    try {
      await api("POST", `/api/incidents/${inc.id}/merge`, { incidents: ids });
      $("d-merge").value = "";
      say(`Fusionné : ${ids.map((i) => "n° " + i).join(", ")}.`);
    } catch (e) { say(`Échec de la fusion : ${e.message}`); }
  });
  $("d-split").addEventListener("click", async () => {
    const ids = [...document.querySelectorAll("#d-alerts input:checked")].map((b) => Number(b.value));
    const inc = detail.current();
    if (!inc || !ids.length) return;
    try {
      const fresh = await api("POST", `/api/incidents/${inc.id}/split`, { alerts: ids });
      say(`Nouvel incident n° ${fresh.id}.`);
    } catch (e) { say(`Échec de la séparation : ${e.message}`); }
  });

  return { setStatusOf, fillUnits };
}
