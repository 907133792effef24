/* The suspended accounts (GET /api/moderation/residents?status=suspended),
 * each with the reason it was suspended for; reinstate one with a reason
 * (a). Open to admins as well as moderators, as the API is. */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { createList } from "./list.js";
import { askReason } from "./reason.js";

const fmtDate = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short" });

export function createSuspended({ say }) {
  let busy = false;

  function render(r) {
    $("sd-empty").hidden = !!r;
    $("sd-body").hidden = !r;
    if (!r) return;
    $("suspended-detail").dataset.account = r.id;
    $("sd-title").textContent = `Compte de ${r.name || r.email}`;
    $("sd-name").textContent = r.name || "—";
    $("sd-email").textContent = r.email;
    $("sd-address").textContent = r.address || "—";
    $("sd-reason").textContent = r.reason || "—";
    $("sd-since").textContent = fmtDate.format(new Date(r.created_at));
  }

  const list = createList("suspended", {
    row: (r) => [
      el("span", { class: "mod-item-main" }, el("strong", { text: r.name || r.email })),
      el("span", { class: "mod-item-sub", text: r.reason || r.email }),
    ],
    onSelect: render,
  });

  async function load() {
    list.set(await api("GET", "/api/moderation/residents?status=suspended"));
  }

  async function reinstate() {
    const r = list.current();
    if (!r || busy) return;
    const reason = await askReason({
      title: `Réactiver le compte de ${r.name || r.email} ?`,
      text: "Il pourra de nouveau se connecter, signaler et recevoir les alertes.",
      confirm: "Réactiver le compte",
    });
    if (reason === null) return;
    busy = true;
    try {
      await api("POST", `/api/moderation/accounts/${r.id}`, { action: "reinstate", reason });
      say(`Compte de ${r.name || r.email} réactivé.`);
    } catch (e) {
      say(`Échec : ${e.message}`);
    } finally {
      busy = false;
    }
    await load();
  }

  $("sd-reinstate").addEventListener("click", reinstate);

  return { name: "suspended", list, load, keys: { a: reinstate } };
}
