/* The desk's queue of incidents: highest priority first, then the longest
 * wait; the filters (a status, sector, category or time window reloads it
 * from the API, the search only hides rows), and the selected row that the
 * keyboard moves (j/k) and acts on. Capped at QUEUE_CAP rows. */
import { api } from "../shared/api.js";
import { CATEGORIES } from "../shared/config.js";
import { $, el, setText } from "../shared/dom.js";
import { incidentRow, refreshRow, tickRow } from "../shared/incident-row.js";
import { isOpen } from "../shared/status.js";

const QUEUE_CAP = 300;

// priority first, then the oldest first: the longest wait at equal priority
function before(a, b) {
  if (a.priority !== b.priority) return a.priority > b.priority;
  const ta = Date.parse(a.created_at), tb = Date.parse(b.created_at);
  return ta !== tb ? ta < tb : a.id < b.id;
}

/* onOpen(id): a row was clicked, open its detail; openCount(): how many
 * incidents are open in the city; onShown(incidents, filtered): the rows
 * now shown, and whether any filter or search narrows them. */
export function createQueue(ctx, { onOpen, openCount, onShown }) {
  const queue = $("queue");
  const filters = $("filters");
  const rows = new Map(); // incident id -> li
  let selected = null; // incident id

  for (const [id, name] of Object.entries(ctx.sectors)) $("f-sector").append(el("option", { value: id, text: name }));
  for (const c of CATEGORIES) $("f-category").append(el("option", { value: c.id, text: `${c.pictogram} ${c.label}` }));

  function filterState() {
    const f = filters.elements;
    return {
      status: f.status.value, sector: f.sector.value, category: f.category.value,
      window: Number(f.window.value) || 0, search: f.search.value.trim().toLowerCase(),
    };
  }

  /* The filters that reload the queue; the search only hides rows. */
  function matches(inc, f) {
    if (f.status === "open" ? !isOpen(inc.status) : f.status !== "all" && inc.status !== f.status) return false;
    if (f.sector && inc.sector !== f.sector) return false;
    if (f.category && inc.category !== f.category) return false;
    if (f.window && Date.parse(inc.created_at) < Date.now() - f.window * 1000) return false;
    return true;
  }
  function found(inc, f) {
    if (!f.search) return true;
    const cat = ctx.categories[inc.category] || {};
    const hay = `#${inc.id} ${cat.label || ""} ${ctx.sectors[inc.sector] || ""} ${inc.unit ? inc.unit.name : ""}`.toLowerCase();
    return hay.includes(f.search);
  }
  /* Anything but the default view (every open incident, no search). */
  const filtered = (f) => f.status !== "open" || !!(f.sector || f.category || f.window || f.search);

  function place(inc) {
    let row = rows.get(inc.id);
    if (row) {
      refreshRow(row, inc, Date.now());
      row.remove();
    } else {
      row = incidentRow(inc, ctx);
      row.tabIndex = -1;
      row.id = `inc-${inc.id}`;
      row.addEventListener("click", () => { select(inc.id); onOpen(inc.id); });
      rows.set(inc.id, row);
    }
    let next = null;
    for (const r of queue.children) {
      if (before(inc, r._inc)) { next = r; break; }
    }
    row.hidden = !found(inc, filterState());
    queue.insertBefore(row, next);
    while (queue.children.length > QUEUE_CAP) drop(queue.lastElementChild._inc.id);
    if (inc.id === selected) row.classList.add("selected");
  }

  function drop(id) {
    const row = rows.get(id);
    if (!row) return;
    row.remove();
    rows.delete(id);
  }

  /* "shown / total": the rows the filters and search leave, out of every
   * open incident; and the map shows the same rows (onShown). */
  function countLabel() {
    const shown = [...queue.children].filter((r) => !r.hidden);
    const total = openCount();
    const node = $("queue-count");
    node.dataset.shown = shown.length;
    node.dataset.total = total;
    setText(node, `${shown.length} affiché${shown.length > 1 ? "s" : ""} / ${total} ouvert${total > 1 ? "s" : ""}`);
    const f = filterState();
    onShown(shown.map((r) => r._inc), filtered(f), f.sector);
  }

  let loading = 0;
  async function load() {
    const f = filterState();
    const q = new URLSearchParams({ status: f.status, limit: String(QUEUE_CAP) });
    if (f.sector) q.set("sector", f.sector);
    if (f.category) q.set("category", f.category);
    if (f.window) q.set("since", new Date(Date.now() - f.window * 1000).toISOString());
    const mine = ++loading;
    const list = await api("GET", "/api/incidents?" + q);
    if (mine !== loading) return; // a newer filter change won
    queue.replaceChildren();
    rows.clear();
    for (const inc of list) if (matches(inc, f)) place(inc);
    countLabel();
    if (selected !== null && rows.has(selected)) rows.get(selected).classList.add("selected");
  }

  filters.addEventListener("input", (ev) => {
    if (ev.target.name === "search") {
      // the search narrows what is listed without a round trip
      const f = filterState();
      for (const row of queue.children) row.hidden = !found(row._inc, f);
      countLabel();
    } else {
      load();
    }
  });
  filters.addEventListener("submit", (ev) => ev.preventDefault());

  function select(id) {
    if (selected !== null && rows.has(selected)) rows.get(selected).classList.remove("selected");
    selected = id;
    const row = rows.get(id);
    if (row) {
      row.classList.add("selected");
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    const list = [...queue.children].filter((r) => !r.hidden);
    if (!list.length) return;
    let i = list.findIndex((r) => r._inc.id === selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(list.length - 1, i + step));
    select(list[i]._inc.id);
  }

  /* incident.created / incident.updated: in, moved, or out of the queue. */
  function update(inc) {
    if (matches(inc, filterState())) place(inc);
    else drop(inc.id);
    countLabel();
  }

  /* Every second: ages and overdue flags; a time window slides, so rows
   * age out of it without any event. */
  function tick(now) {
    const f = filterState();
    for (const r of [...queue.children]) {
      if (f.window && Date.parse(r._inc.created_at) < now - f.window * 1000) drop(r._inc.id);
      else tickRow(r, now);
    }
    countLabel();
  }

  function selectFirst() {
    if (queue.firstElementChild) select(queue.firstElementChild._inc.id);
  }

  return { load, update, tick, move, select, selectFirst, selected: () => selected };
}
