/* What a status or a priority means on screen, from the server's config:
 * open or not, its word, its priority band, overdue or not. */
import { BANDS, OPEN_STATUSES, STATUS_LABELS } from "./config.js";

export const isOpen = (status) => OPEN_STATUSES.includes(status);

export const statusLabel = (status) => STATUS_LABELS[status] || status;

/* The band of a priority (maps, lists, legends: app.css .band-<id>): the
 * first whose lower bound it reaches, else the last. */
export function band(priority) {
  for (const b of BANDS) if (priority >= b.min) return b.id;
  return BANDS[BANDS.length - 1].id;
}

/* In the most urgent band: such an item pulses on the maps. */
export const isCritical = (priority) => band(priority) === BANDS[0].id;

export function isOverdue(inc, now) {
  return !inc.acknowledged_at && isOpen(inc.status) && now >= Date.parse(inc.ack_due_at);
}
