/* The statistics as charts (issue 18 §6): alerts per day by category, time
 * to acknowledge and to resolve per sector (median and 90th percentile),
 * and the share of mutual aid. Each chart sits above the table of the same
 * numbers, which screen readers read (the canvas is only a picture of it)
 * and which stays alone where Chart.js is not served: it comes from npm
 * (package.json) under /vendor/chart.js/, loaded by desk.html as a classic
 * script only when the server has it, so `window.Chart` says which. */
import { el } from "../shared/dom.js";
import { age } from "../shared/format.js";

const duration = (s) => (s === null || s === undefined ? "—" : age(s * 1000));
const minutes = (s) => (s === null || s === undefined ? null : s / 60);
// distinct on the dark panel, in the order the categories come
const PALETTE = ["#4fc3f7", "#ff9100", "#ffd600", "#ef5350", "#ab47bc", "#66bb6a", "#8d6e63", "#26c6da", "#ec407a", "#bdbdbd"];
const INK = "#e8eef5";
const GRID = "rgba(255, 255, 255, 0.15)";

/* The three series the charts draw, from GET /api/stats: per_day and
 * per_sector where the server gives them, else what `counts` and the city's
 * overall figures allow. */
export function series(s, ctx) {
  const perDay = s.per_day || s.counts;
  const days = [...new Set(perDay.map((r) => r.day))].sort();
  const cats = [...new Set(perDay.map((r) => r.category))].sort();
  const byDay = cats.map((c) => days.map((d) => perDay
    .filter((r) => r.category === c && r.day === d).reduce((n, r) => n + r.count, 0)));
  const sectors = s.per_sector || [{ sector: null, time_to_acknowledge: s.time_to_acknowledge, time_to_resolve: s.time_to_resolve }];
  return {
    days, cats, byDay,
    catLabel: (c) => (ctx.categories[c] || { label: c }).label,
    sectors,
    sectorLabel: (id) => (id === null ? "Toute la ville" : ctx.sectors[id] || id),
    share: s.solidarity_share,
  };
}

function table(caption, head, rows) {
  return el("table", { class: "table" },
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => el(i ? "td" : "th", i ? { text: c } : { scope: "row", text: c }))))));
}

function figure(id, label, tableNode) {
  const canvas = window.Chart ? el("canvas", { id, role: "img", "aria-label": label }) : null;
  return el("figure", { class: "stat-figure" }, canvas ? el("div", { class: "chart-box" }, canvas) : null, tableNode);
}

const axes = (stacked, title) => ({
  x: { stacked, ticks: { color: INK }, grid: { color: GRID } },
  y: { stacked, beginAtZero: true, ticks: { color: INK }, grid: { color: GRID }, title: title ? { display: true, text: title, color: INK } : undefined },
});

let drawn = []; // the dialog is rebuilt on each opening: the old charts go
function draw(id, config) {
  const canvas = document.getElementById(id);
  if (!canvas) return;
  // no animation: a control room reads the figure at once, and tests too
  drawn.push(new window.Chart(canvas, { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, color: INK, ...config.options } }));
}

/* The figures' nodes, to put in the dialog, then draw() once they are in
 * the document (Chart.js measures its container). */
export function statCharts(s, ctx) {
  const d = series(s, ctx);
  const nodes = [
    figure("chart-days", "Alertes par jour et par catégorie (graphique ; les nombres sont dans le tableau qui suit)",
      // one row per day and category (30 days as columns would not fit)
      table("Alertes par jour et par catégorie", ["Jour", "Catégorie", "Alertes"], d.days.flatMap((day, j) => d.cats
        .map((c, i) => [day, d.catLabel(c), d.byDay[i][j]]).filter((r) => r[2] > 0).map((r) => [r[0], r[1], String(r[2])])))),
    figure("chart-times", "Délais de prise en compte et de résolution par secteur, en minutes (graphique ; les durées sont dans le tableau qui suit)",
      table("Délais par secteur (médiane / 90 %)", ["Secteur", "Prise en compte", "Résolution"], d.sectors.map((r) => [
        d.sectorLabel(r.sector),
        `${duration(r.time_to_acknowledge.median_s)} / ${duration(r.time_to_acknowledge.p90_s)}`,
        `${duration(r.time_to_resolve.median_s)} / ${duration(r.time_to_resolve.p90_s)}`]))),
    figure("chart-share", "Part de l'entraide parmi les alertes (graphique ; le pourcentage est dans le tableau qui suit)",
      table("Part de l'entraide", ["Alertes", "Part"], d.share === null ? [] : [
        ["Entraide", `${Math.round(d.share * 100)} %`], ["Autres", `${Math.round((1 - d.share) * 100)} %`]])),
  ];
  function drawAll() {
    if (!window.Chart) return;
    for (const c of drawn) c.destroy();
    drawn = [];
    draw("chart-days", {
      type: "bar",
      data: { labels: d.days, datasets: d.cats.map((c, i) => ({ label: d.catLabel(c), data: d.byDay[i], backgroundColor: PALETTE[i % PALETTE.length] })) },
      options: { scales: axes(true, "alertes") },
    });
    const times = [
      ["Prise en compte, médiane", "time_to_acknowledge", "median_s", "#4fc3f7"],
      ["Prise en compte, 90 %", "time_to_acknowledge", "p90_s", "#0277bd"],
      ["Résolution, médiane", "time_to_resolve", "median_s", "#ffd600"],
      ["Résolution, 90 %", "time_to_resolve", "p90_s", "#ff9100"],
    ];
    draw("chart-times", {
      type: "bar",
      data: {
        labels: d.sectors.map((r) => d.sectorLabel(r.sector)),
        datasets: times.map(([label, what, q, colour]) => ({ label, data: d.sectors.map((r) => minutes(r[what][q])), backgroundColor: colour })),
      },
      options: { scales: axes(false, "minutes") },
    });
    if (d.share !== null) {
      draw("chart-share", {
        type: "doughnut",
        data: { labels: ["Entraide", "Autres"], datasets: [{ data: [d.share * 100, (1 - d.share) * 100], backgroundColor: ["#66bb6a", "#546e7a"] }] },
      });
    }
  }
  return { nodes, draw: drawAll };
}
