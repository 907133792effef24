/* The header of the staff pages: the clock, and the live tally of open
 * incidents by status (#count-<status>, #count-overdue). */
import { OPEN_STATUSES } from "./config.js";
import { setText } from "./dom.js";
import { timeFmt } from "./format.js";
import { isOpen } from "./status.js";

export function startClock(node) {
  const tick = () => { node.textContent = timeFmt.format(new Date()); };
  tick();
  setInterval(tick, 1000);
}

/* The header's counters: #count-<status> per open status, #count-overdue. */
export function countNodes() {
  const nodes = { overdue: document.getElementById("count-overdue") };
  for (const s of OPEN_STATUSES) nodes[s] = document.getElementById(`count-${s}`);
  return nodes;
}

/* Open incidents by status, and how many are overdue; kept from events
 * (one Map entry per open incident, dropped when it closes). A status
 * count changes with the event that changes it; the overdue count is
 * a matter of time, so the clock's tick recounts it. */
export class Tally {
  constructor(nodes) {
    this.nodes = nodes;
    this.open = new Map();
    this.counts = Object.fromEntries(OPEN_STATUSES.map((s) => [s, 0]));
  }
  apply(inc) {
    const was = this.open.get(inc.id);
    if (was) this.counts[was.status] -= 1;
    if (isOpen(inc.status)) {
      this.open.set(inc.id, { status: inc.status, due: inc.acknowledged_at ? Infinity : Date.parse(inc.ack_due_at) });
      this.counts[inc.status] += 1;
    } else {
      this.open.delete(inc.id);
    }
    if (was && was.status !== inc.status) this.show(was.status);
    this.show(inc.status);
  }
  show(status) {
    const node = this.nodes[status];
    if (node) setText(node, String(this.counts[status]));
  }
  render(now) {
    let overdue = 0;
    for (const r of this.open.values()) if (now >= r.due) overdue += 1;
    for (const s of OPEN_STATUSES) this.show(s);
    if (this.nodes.overdue) setText(this.nodes.overdue, String(overdue));
  }
}
