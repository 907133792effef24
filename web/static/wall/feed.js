/* "Derniers incidents": the newest incidents first, at most CAP rows, less
 * those pinned above it (one row per incident on the screen). In ?cycle
 * mode it follows the sector the map is showing (setSector), so the
 * column and the map tell the same story; the pinned section stays
 * city-wide, because an urgent incident elsewhere must not wait for its
 * sector's turn. */
import { setText } from "../shared/dom.js";
import { incidentRow, refreshRow, tickRow } from "../shared/incident-row.js";

const CAP = 24;
const KNOWN_CAP = 2000; // incidents remembered for a rebuild; the oldest go first

export class Feed {
  constructor(list, title, ctx, { pinned }) {
    this.list = list;
    this.title = title;
    this.baseTitle = title.textContent;
    this.ctx = ctx;
    this.pinned = pinned; // id -> boolean
    this.rows = new Map();
    this.known = new Map(); // id -> latest incident, insertion order
    this.sector = null;
  }

  show(inc, now = Date.now()) {
    this.known.delete(inc.id);
    this.known.set(inc.id, inc);
    if (this.known.size > KNOWN_CAP) this.known.delete(this.known.keys().next().value);
    const row = this.rows.get(inc.id);
    if (this.pinned(inc.id) || (this.sector && inc.sector !== this.sector)) {
      if (row) { row.remove(); this.rows.delete(inc.id); }
      return;
    }
    if (row) {
      refreshRow(row, inc, now);
      return;
    }
    this.insert(inc);
  }

  insert(inc) {
    const created = Date.parse(inc.created_at);
    let before = null;
    for (const r of this.list.children) {
      const t = Date.parse(r._inc.created_at);
      if (t < created || (t === created && r._inc.id < inc.id)) { before = r; break; }
    }
    if (!before && this.list.children.length >= CAP) return null; // older than everything shown
    const fresh = incidentRow(inc, this.ctx);
    this.list.insertBefore(fresh, before);
    this.rows.set(inc.id, fresh);
    while (this.list.children.length > CAP) {
      const last = this.list.lastElementChild;
      this.rows.delete(last._inc.id);
      last.remove();
    }
    return fresh;
  }

  row(id) { return this.rows.get(id); }

  /* sector id, or null for the whole city: the column is redrawn from the
   * incidents known to the page. */
  setSector(sector, name) {
    this.sector = sector;
    this.list.dataset.sector = sector || "";
    setText(this.title, sector ? `${this.baseTitle} — ${name}` : this.baseTitle);
    this.list.replaceChildren();
    this.rows.clear();
    const newest = [...this.known.values()]
      .filter((inc) => !this.pinned(inc.id) && (!sector || inc.sector === sector))
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
    newest.slice(0, CAP).forEach((inc) => this.insert(inc));
  }

  tick(now) { for (const r of this.list.children) tickRow(r, now); }
}
