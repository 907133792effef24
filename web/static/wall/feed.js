/* "Derniers incidents": the newest incidents first, at most CAP rows, less
 * those pinned above it (one row per incident on the screen). In ?cycle
 * mode it follows the sector the map is showing (setSector), so the
 * column and the map tell the same story; the pinned section stays
 * city-wide, because an urgent incident elsewhere must not wait for its
 * sector's turn. */
import { setText } from "../shared/dom.js";
import { incidentRow, refreshRow, tickRow } from "../shared/incident-row.js";

const CAP = 24;
/* Incidents remembered for a rebuild (setSector, or an incident leaving the
 * pinned list): a rebuild shows at most CAP per sector, less the pinned, so
 * the newest CAP + PINNED_SLACK of each sector are all it can need. The
 * bound was 2,000 incidents city-wide, each with its history: in a soak at
 * 5 alerts/s that filled for half an hour (+2.7 MB/h of heap). */
const PINNED_SLACK = 6; // wall/pinned.js CAP
export const KNOWN_PER_SECTOR = CAP + PINNED_SLACK;

export class Feed {
  constructor(list, title, ctx, { pinned }) {
    this.list = list;
    this.title = title;
    this.baseTitle = title.textContent;
    this.ctx = ctx;
    this.pinned = pinned; // id -> boolean
    this.rows = new Map();
    this.known = new Map(); // id -> latest incident (remember)
    this.bySector = new Map(); // sector -> Set of the ids known
    this.sector = null;
  }

  show(inc, now = Date.now()) {
    this.remember(inc);
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

  /* known: id -> latest incident; bySector: sector -> Set of ids, at most
   * KNOWN_PER_SECTOR, the oldest (by creation) dropped first. */
  remember(inc) {
    const was = this.known.get(inc.id);
    if (was && was.sector !== inc.sector) this.bySector.get(was.sector)?.delete(inc.id);
    this.known.set(inc.id, inc);
    let ids = this.bySector.get(inc.sector);
    if (!ids) { ids = new Set(); this.bySector.set(inc.sector, ids); }
    ids.add(inc.id);
    if (ids.size <= KNOWN_PER_SECTOR) return;
    let oldest = null;
    for (const id of ids) {
      const k = this.known.get(id);
      if (!oldest || Date.parse(k.created_at) < Date.parse(oldest.created_at)
        || (k.created_at === oldest.created_at && k.id < oldest.id)) oldest = k;
    }
    ids.delete(oldest.id);
    this.known.delete(oldest.id);
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
