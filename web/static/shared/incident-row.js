/* One incident as a row of the wall's column or the desk's queue.
 * `refreshRow` rewrites only what an update can change (status, witnesses,
 * priority band, unit, vulnerable person), `tickRow` only what time
 * changes (age, overdue). The row keeps its incident as `row._inc`. */
import { el, setText } from "./dom.js";
import { age, witnesses } from "./format.js";
import { band, isOpen, isOverdue, statusLabel } from "./status.js";

/* Unit names by id, as last seen: an incident event raised by a new alert
 * names its unit by id only ({"id", "name": null}), the assignment that
 * preceded it carried the name. */
const unitNames = new Map();

export function unitName(unit) {
  if (!unit) return null;
  if (unit.name) unitNames.set(unit.id, unit.name);
  return unit.name || unitNames.get(unit.id) || `n° ${unit.id}`;
}

/* ctx: {categories: id -> category, sectors: id -> name}. Mutual aid
 * (a category with the solidarity flag) is marked .aid: the pages draw it
 * with less weight than incidents that need the police (issue 18). */
export function incidentRow(inc, ctx, tag = "li") {
  const cat = ctx.categories[inc.category] || { label: inc.category, pictogram: "•" };
  const row = el(tag, { class: cat.solidarity ? "incident aid" : "incident", dataset: { incident: inc.id } },
    el("span", { class: "picto", "aria-hidden": "true", text: cat.pictogram }),
    el("span", { class: "inc-main" },
      el("span", { class: "inc-cat", text: cat.label }),
      el("span", { class: "inc-sector", text: ctx.sectors[inc.sector] || inc.sector })),
    el("span", { class: "inc-meta" },
      el("span", { class: "inc-witnesses" }),
      el("span", { class: "inc-age" })),
    el("span", { class: "inc-flags" },
      el("span", { class: "inc-status" }),
      el("span", { class: "inc-unit", hidden: true }),
      // an icon AND words, not a colour alone (WCAG 1.4.1)
      el("span", { class: "inc-vulnerable", hidden: true },
        el("span", { class: "vuln-icon", "aria-hidden": "true", text: "⚠" }), "Personne vulnérable"),
      el("span", { class: "inc-overdue", text: "En retard" })));
  row._inc = inc;
  refreshRow(row, inc, Date.now());
  return row;
}

export function refreshRow(row, inc, now) {
  row._inc = inc;
  const b = band(inc.priority);
  if (row.dataset.band !== b) {
    if (row.dataset.band) row.classList.remove("band-" + row.dataset.band);
    row.classList.add("band-" + b);
    row.dataset.band = b;
  }
  row.classList.toggle("closed", !isOpen(inc.status));
  row.dataset.status = inc.status;
  setText(row.querySelector(".inc-status"), statusLabel(inc.status));
  setText(row.querySelector(".inc-witnesses"), witnesses(inc.witnesses));
  const unit = row.querySelector(".inc-unit");
  unit.hidden = !inc.unit;
  setText(unit, inc.unit ? `Équipe : ${unitName(inc.unit)}` : "");
  row.querySelector(".inc-vulnerable").hidden = !inc.vulnerable;
  row.classList.toggle("vulnerable", Boolean(inc.vulnerable));
  tickRow(row, now);
}

export function tickRow(row, now) {
  const inc = row._inc;
  setText(row.querySelector(".inc-age"), age(now - Date.parse(inc.created_at)));
  const late = isOverdue(inc, now);
  if (row.classList.contains("overdue") !== late) row.classList.toggle("overdue", late);
}
