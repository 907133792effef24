/* The flags queue: alerts that residents flagged (GET /api/moderation/flags),
 * each with every reason given, the alert flagged first first. Either
 * decision closes the alert's flags, so it leaves the queue. Hide it (h: it leaves
 * residents' lists at once), hide its text alone (t: residents keep the
 * alert, without the words, when the text names someone), keep it visible
 * or restore it and its text (d: the flags are dealt with), or suspend the
 * account that wrote it (s). Each asks for
 * the reason, which also confirms the action. */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { age, shortTime } from "../shared/format.js";
import { statusLabel } from "../shared/status.js";
import { createList } from "./list.js";
import { askReason } from "./reason.js";

const fmtDate = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short" });

/* GET /api/moderation/flags answers [{alert, flags}], the alert flagged
 * first first; a list row is keyed by the alert's id. */
const entries = (answer) => answer.map((e) => ({ id: e.alert.id, alert: e.alert, flags: e.flags }));

const author = (a) => (a.author_name ? `${a.author_name} (compte ${a.author})` : `compte ${a.author}`);

/* ctx: {categories, sectors}; onSuspended(): the suspended list changed. */
export function createFlags(ctx, { say, onSuspended }) {
  let busy = false;
  const what = (a) => {
    const cat = ctx.categories[a.category] || { label: a.category, pictogram: "•" };
    return { cat, title: `${cat.label} n° ${a.id} — ${ctx.sectors[a.sector] || a.sector || "hors secteur"}` };
  };

  function render(g) {
    $("fd-empty").hidden = !!g;
    $("fd-body").hidden = !g;
    if (!g) return;
    const a = g.alert;
    const { cat, title } = what(a);
    $("flags-detail").dataset.alert = a.id;
    $("fd-title").textContent = `Alerte n° ${a.id}`;
    $("fd-picto").textContent = cat.pictogram;
    $("fd-what").textContent = title;
    $("fd-hidden").hidden = !a.hidden;
    $("fd-text-hidden").hidden = !a.text_hidden;
    $("fd-text").textContent = a.text || "(sans texte)";
    $("fd-sector").textContent = ctx.sectors[a.sector] || a.sector || "hors secteur";
    $("fd-created").textContent = fmtDate.format(new Date(a.created_at));
    $("fd-status").textContent = statusLabel(a.status);
    $("fd-author").textContent = a.author !== undefined && a.author !== null ? author(a) : "inconnu";
    $("fd-flags").replaceChildren(...g.flags.map((f) => el("li", {},
      el("strong", { text: f.reason }),
      ` — ${shortTime.format(new Date(f.created_at))}${f.author ? ` (compte ${f.author})` : ""}`)));
    $("fd-hide").disabled = !!a.hidden;
    $("fd-hide-text").disabled = !!a.hidden || !!a.text_hidden || !a.text;
    $("fd-restore").firstChild.textContent = a.hidden || a.text_hidden ? "Rétablir… " : "Garder visible… ";
    $("fd-suspend").disabled = a.author === undefined || a.author === null;
  }

  const list = createList("flags", {
    row: (g) => {
      const { cat } = what(g.alert);
      const n = g.flags.length;
      return [
        el("span", { class: "mod-item-main" },
          el("span", { "aria-hidden": "true", text: `${cat.pictogram} ` }),
          el("strong", { text: cat.label }),
          ` — ${ctx.sectors[g.alert.sector] || g.alert.sector || "hors secteur"}`,
          g.alert.hidden ? el("span", { class: "badge badge-overdue", text: "Masquée" }) : null),
        el("span", { class: "mod-item-sub", text: g.alert.text || "(sans texte)" }),
        el("span", { class: "mod-item-age", text: `${n} signalement${n > 1 ? "s" : ""}, il y a ${age(Date.now() - Date.parse(g.flags[0].created_at))}` }),
      ];
    },
    onSelect: render,
  });

  async function load() {
    list.set(entries(await api("GET", "/api/moderation/flags")));
  }

  async function post(path, body, done) {
    busy = true;
    try {
      await api("POST", path, body);
      say(done);
      return true;
    } catch (e) {
      say(`Échec : ${e.message}`);
      return false;
    } finally {
      busy = false;
      await load();
    }
  }

  async function hide() {
    const g = list.current();
    if (!g || busy || g.alert.hidden) return;
    const reason = await askReason({
      title: `Masquer l'alerte n° ${g.id} ?`,
      text: "Elle disparaît aussitôt des listes des habitants ; le personnel la voit encore, marquée masquée.",
      confirm: "Masquer l'alerte",
      danger: true,
    });
    if (reason === null) return;
    await post(`/api/moderation/alerts/${g.id}`, { action: "hide", reason }, `Alerte n° ${g.id} masquée.`);
  }

  async function hideText() {
    const g = list.current();
    if (!g || busy || g.alert.hidden || g.alert.text_hidden || !g.alert.text) return;
    const reason = await askReason({
      title: `Masquer le texte de l'alerte n° ${g.id} ?`,
      text: "Les habitants gardent l'alerte (catégorie, secteur, cellule) sans son texte ; le personnel voit encore le texte, marqué masqué.",
      confirm: "Masquer le texte",
      danger: true,
    });
    if (reason === null) return;
    await post(`/api/moderation/alerts/${g.id}`, { action: "hide_text", reason }, `Texte de l'alerte n° ${g.id} masqué.`);
  }

  async function restore() {
    const g = list.current();
    if (!g || busy) return;
    const hidden = !!g.alert.hidden || !!g.alert.text_hidden;
    const reason = await askReason({
      title: hidden ? `Rétablir l'alerte n° ${g.id} ?` : `Garder visible l'alerte n° ${g.id} ?`,
      text: hidden ? "Elle revient dans les listes des habitants ; ses signalements sont classés." : "Ses signalements sont classés sans suite.",
      confirm: hidden ? "Rétablir l'alerte" : "Garder visible",
    });
    if (reason === null) return;
    await post(`/api/moderation/alerts/${g.id}`, { action: "restore", reason }, hidden ? `Alerte n° ${g.id} rétablie.` : `Alerte n° ${g.id} gardée visible.`);
  }

  async function suspend() {
    const g = list.current();
    if (!g || busy || g.alert.author === undefined || g.alert.author === null) return;
    const reason = await askReason({
      title: `Suspendre l'auteur de l'alerte n° ${g.id} (${author(g.alert)}) ?`,
      text: "Ses sessions prennent fin et ses connexions sont coupées aussitôt ; il ne peut plus signaler ni recevoir d'alertes jusqu'à sa réactivation.",
      hint: "La personne lira ce motif en se connectant.",
      confirm: "Suspendre le compte",
      danger: true,
    });
    if (reason === null) return;
    if (await post(`/api/moderation/accounts/${g.alert.author}`, { action: "suspend", reason }, `Compte ${g.alert.author} suspendu.`)) onSuspended();
  }

  $("fd-hide").addEventListener("click", hide);
  $("fd-hide-text").addEventListener("click", hideText);
  $("fd-restore").addEventListener("click", restore);
  $("fd-suspend").addEventListener("click", suspend);

  return { name: "flags", list, load, keys: { h: hide, t: hideText, d: restore, s: suspend } };
}
