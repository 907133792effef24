/* The desk's keyboard shortcuts (listed in the #keys dialog): j/k move in
 * the queue, Enter opens the selected incident, a acknowledges, r resolves,
 * / searches. Keys typed into a field or an open dialog are theirs, and
 * Escape leaves the field. */
import { $ } from "../shared/dom.js";

export function bindKeys(queue, detail, actions) {
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest("input, textarea, select, dialog[open]")) {
      if (ev.key === "Escape" && t.blur) t.blur();
      return;
    }
    const selected = queue.selected();
    switch (ev.key) {
      case "j": queue.move(1); break;
      case "k": queue.move(-1); break;
      case "Enter":
        if (selected !== null && (t === document.body || t.classList.contains("incident"))) detail.open(selected);
        else return;
        break;
      case "a": if (selected !== null) actions.setStatusOf(selected, "acknowledged"); break;
      case "r": if (selected !== null) actions.setStatusOf(selected, "resolved"); break;
      case "/": $("f-search").focus(); break;
      default: return;
    }
    ev.preventDefault();
  });
  $("open-keys").addEventListener("click", () => $("keys").showModal());
}
