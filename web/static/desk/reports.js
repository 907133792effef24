/* The desk's two report dialogs: statistics of the last 30 days
 * (GET /api/stats, with its CSV beside it) and the hand-over of the last
 * 12 hours (GET /api/handover, the whole city or one sector). */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { age } from "../shared/format.js";
import { statusLabel } from "../shared/status.js";
import { statCharts } from "./charts.js";

const duration = (s) => (s === null || s === undefined ? "—" : age(s * 1000));

export function bindReports(ctx) {
  for (const [id, name] of Object.entries(ctx.sectors)) $("h-sector").append(el("option", { value: id, text: name }));

  $("open-stats").addEventListener("click", async () => {
    const box = $("stats-body");
    box.replaceChildren(el("p", { text: "Chargement…" }));
    delete box.dataset.ready;
    $("stats").showModal();
    try {
      const s = await api("GET", "/api/stats");
      const bySector = new Map();
      for (const c of s.counts) bySector.set(c.sector, (bySector.get(c.sector) || 0) + c.count);
      const charts = statCharts(s, ctx);
      box.replaceChildren(
        el("dl", { class: "facts" },
          el("dt", { text: "Alertes" }), el("dd", { text: String(s.alerts) }),
          el("dt", { text: "Incidents" }), el("dd", { text: String(s.incidents) }),
          el("dt", { text: "Prise en compte (médiane / 90 %)" }),
          el("dd", { text: `${duration(s.time_to_acknowledge.median_s)} / ${duration(s.time_to_acknowledge.p90_s)}` }),
          el("dt", { text: "Résolution (médiane / 90 %)" }),
          el("dd", { text: `${duration(s.time_to_resolve.median_s)} / ${duration(s.time_to_resolve.p90_s)}` }),
          el("dt", { text: "Part de l'entraide" }),
          el("dd", { text: s.solidarity_share === null ? "—" : `${Math.round(s.solidarity_share * 100)} %` })),
        ...charts.nodes,
        el("table", { class: "table" },
          el("caption", { text: "Alertes par secteur" }),
          el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Secteur" }), el("th", { scope: "col", text: "Alertes" }))),
          el("tbody", {}, ...[...bySector].map(([sec, n]) => el("tr", {}, el("td", { text: ctx.sectors[sec] || sec }), el("td", { text: String(n) }))))));
      charts.draw();
      box.dataset.ready = "1";
    } catch (e) {
      box.replaceChildren(el("p", { text: `Statistiques indisponibles : ${e.message}` }));
    }
  });

  async function loadHandover() {
    const box = $("handover-body");
    const sector = $("h-sector").value;
    try {
      const h = await api("GET", "/api/handover" + (sector ? `?sector=${encodeURIComponent(sector)}` : ""));
      const list = (title, items) => el("section", {},
        el("h3", { text: `${title} (${items.length})` }),
        el("ul", { class: "handover-list" }, ...items.map((inc) => {
          const cat = ctx.categories[inc.category] || { label: inc.category, pictogram: "" };
          const last = (inc.history || []).filter((x) => x.note).map((x) => x.note).pop();
          return el("li", {}, `${cat.pictogram} ${cat.label} n° ${inc.id} — ${ctx.sectors[inc.sector] || inc.sector} — ${statusLabel(inc.status)} — ${age(inc.age_s * 1000)}`,
            last ? el("span", { class: "alert-text", text: last }) : null);
        })));
      box.replaceChildren(list("En cours", h.open), list("Traités", h.done));
    } catch (e) {
      box.replaceChildren(el("p", { text: `Relève indisponible : ${e.message}` }));
    }
  }
  $("open-handover").addEventListener("click", () => { $("handover").showModal(); loadHandover(); });
  $("h-sector").addEventListener("change", loadHandover);
}
