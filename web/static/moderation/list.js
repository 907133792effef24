/* A list of the moderation page that the keyboard walks (j/k): one row per
 * item, one selected row (aria-current, focus), kept selected across
 * reloads by its id; when it is gone (decided, here or by another
 * moderator), the row that took its place is selected. */
import { $, el } from "../shared/dom.js";

/* name: the list's prefix in the page (#NAME-list, #NAME-empty,
 * #count-NAME); row(item): the row's content; onSelect(item | null). */
export function createList(name, { row, onSelect }) {
  const list = $(`${name}-list`);
  let items = [];
  let selected = null; // the selected item's id
  const rows = new Map();

  function select(id, { focus = true } = {}) {
    const before = selected;
    if (before !== null && rows.has(before)) rows.get(before).removeAttribute("aria-current");
    selected = id;
    const r = id === null ? null : rows.get(id);
    if (r) {
      r.setAttribute("aria-current", "true");
      if (focus) r.focus({ preventScroll: true });
      r.scrollIntoView({ block: "nearest" });
    }
    if (before !== id || !r) onSelect(current());
  }

  function current() {
    return items.find((it) => it.id === selected) || null;
  }

  /* A fresh answer from the API: rows rebuilt, the selection kept. */
  function set(fresh) {
    const index = Math.max(0, items.findIndex((it) => it.id === selected));
    const hadFocus = list.contains(document.activeElement);
    items = fresh;
    rows.clear();
    list.replaceChildren(...items.map((it) => {
      const r = el("li", { class: "mod-item", tabindex: "-1", id: `${name}-item-${it.id}`, dataset: { id: it.id } }, ...row(it));
      r.addEventListener("click", () => select(it.id));
      rows.set(it.id, r);
      return r;
    }));
    $(`${name}-empty`).hidden = items.length > 0;
    $(`count-${name}`).textContent = String(items.length);
    const keep = rows.has(selected) ? selected : items.length ? items[Math.min(index, items.length - 1)].id : null;
    if (keep !== null) rows.get(keep).setAttribute("aria-current", "true");
    const changed = keep !== selected;
    selected = keep;
    if (hadFocus && keep !== null) rows.get(keep).focus({ preventScroll: true });
    if (changed || keep === null) onSelect(current());
    else onSelect(current(), { refreshed: true });
  }

  function move(step) {
    if (!items.length) return;
    const i = items.findIndex((it) => it.id === selected);
    const next = i < 0 ? 0 : Math.max(0, Math.min(items.length - 1, i + step));
    select(items[next].id);
  }

  function focus() {
    if (selected !== null && rows.has(selected)) rows.get(selected).focus({ preventScroll: true });
    else if (items.length) select(items[0].id);
    else return false;
    return true;
  }

  return { set, select, move, focus, current, size: () => items.length };
}
