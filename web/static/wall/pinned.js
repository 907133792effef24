/* "À traiter d'abord": the open incidents that are urgent (the most urgent
 * priority band) or overdue, and not yet acknowledged, pinned above the
 * feed in priority order (then oldest first), so a fire cannot scroll out
 * of sight behind newer, smaller reports (issue 18). Acknowledging it
 * unpins it: from then on someone owns it, and it returns to the feed.
 *
 * Overdue is a matter of time, so the set is recomputed on every clock
 * tick as well as on every event; the DOM is touched only when it
 * changes. At most CAP rows; the rest are counted in a line below. */
import { setText } from "../shared/dom.js";
import { incidentRow, refreshRow, tickRow } from "../shared/incident-row.js";
import { isCritical, isOpen, isOverdue } from "../shared/status.js";

const CAP = 6;

export function needsPin(inc, now) {
  return isOpen(inc.status) && !inc.acknowledged_at && (isCritical(inc.priority) || isOverdue(inc, now));
}

const worstFirst = (a, b) => b.priority - a.priority || Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id;

export class PinnedList {
  constructor(list, { more, empty }, ctx) {
    this.list = list;
    this.more = more;
    this.empty = empty;
    this.ctx = ctx;
    this.rows = new Map(); // id -> row, the pinned ones shown
    this.ids = new Set(); // every pinned id, shown or not
  }

  /* open: Map id -> incident. Returns {added, removed}: the ids that this
   * update put in, or took out of, the rows shown (the feed shows the
   * others), and {fresh}: the ids pinned now and not before. */
  update(open, now) {
    const pinned = [...open.values()].filter((inc) => needsPin(inc, now)).sort(worstFirst);
    const fresh = pinned.filter((inc) => !this.ids.has(inc.id)).map((inc) => inc.id);
    this.ids = new Set(pinned.map((inc) => inc.id));
    const shown = pinned.slice(0, CAP);
    const keep = new Set(shown.map((inc) => inc.id));
    const added = shown.filter((inc) => !this.rows.has(inc.id)).map((inc) => inc.id);
    const removed = [];
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) { row.remove(); this.rows.delete(id); removed.push(id); }
    }
    shown.forEach((inc, i) => {
      let row = this.rows.get(inc.id);
      if (row) {
        if (row._inc !== inc) refreshRow(row, inc, now);
      } else {
        row = incidentRow(inc, this.ctx);
        this.rows.set(inc.id, row);
      }
      if (this.list.children[i] !== row) this.list.insertBefore(row, this.list.children[i] || null);
    });
    const rest = pinned.length - shown.length;
    this.more.hidden = rest === 0;
    this.empty.hidden = pinned.length > 0;
    setText(this.more, rest ? `+ ${rest} autre${rest > 1 ? "s" : ""} à traiter, dans la liste ci-dessous` : "");
    this.list.dataset.count = String(pinned.length);
    return { added, removed, fresh };
  }

  /* shown here (an incident pinned beyond CAP stays in the feed) */
  has(id) { return this.rows.has(id); }

  row(id) { return this.rows.get(id); }

  tick(now) { for (const r of this.rows.values()) tickRow(r, now); }
}
