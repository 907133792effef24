/* The three queues as tabs (the ARIA tabs pattern: one tab in the Tab
 * order, arrows move between tabs), and the page's keyboard: 1/2/3 pick a
 * queue, j/k walk it, each queue's own letters act on its selected item
 * (v/r, h/d/s, a), ? lists them. Keys typed into a field or an open dialog
 * are theirs, and Escape leaves the field. */
import { $ } from "../shared/dom.js";

/* queues: [{name, list, keys}], in the order of the tabs. */
export function bindTabs(queues) {
  const tabs = queues.map((q) => $(`tab-${q.name}`));
  let current = 0;

  function show(i, { focusTab = false } = {}) {
    current = i;
    queues.forEach((q, j) => {
      tabs[j].setAttribute("aria-selected", String(i === j));
      tabs[j].tabIndex = i === j ? 0 : -1;
      $(`panel-${q.name}`).hidden = i !== j;
    });
    document.body.dataset.queue = queues[i].name;
    if (focusTab) tabs[i].focus();
    else if (!queues[i].list.focus()) tabs[i].focus();
  }

  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => show(i, { focusTab: true }));
    tab.addEventListener("keydown", (ev) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (step) show((i + step + tabs.length) % tabs.length, { focusTab: true });
      else if (ev.key === "Home") show(0, { focusTab: true });
      else if (ev.key === "End") show(tabs.length - 1, { focusTab: true });
      else return;
      ev.preventDefault();
      ev.stopPropagation();
    });
  });

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest("input, textarea, select, dialog[open]")) {
      if (ev.key === "Escape" && t.blur && !t.closest("dialog[open]")) t.blur();
      return;
    }
    const q = queues[current];
    const index = tabs.findIndex((tab) => tab.dataset.key === ev.key); // the digit its tab shows
    if (index >= 0) show(index);
    else if (ev.key === "j") q.list.move(1);
    else if (ev.key === "k") q.list.move(-1);
    else if (ev.key === "?") $("keys").showModal();
    else if (q.keys[ev.key]) q.keys[ev.key]();
    else return;
    ev.preventDefault();
  });
  $("open-keys").addEventListener("click", () => $("keys").showModal());

  return { show, current: () => queues[current] };
}
