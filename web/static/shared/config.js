/* The facts the pages share with the server, from GET /config
 * (dispatch/http/pages.py, page_config): roles, statuses, priority bands,
 * categories, and the words for statuses and bands. Python is the only
 * source; no script here copies any of them.
 *
 * Fetched once, with a top-level await, so every module that imports this
 * one runs with the config in hand. The route is public (the login gate
 * needs the roles); a server that is down when the page loads is asked
 * again every 5 s, as the login gate does for /session. */

async function load() {
  for (;;) {
    try {
      const resp = await fetch("/config", { credentials: "same-origin" });
      if (resp.ok) return await resp.json();
      console.warn(`GET /config answered ${resp.status}; retrying`);
    } catch (e) {
      console.warn("GET /config failed; retrying", e);
    }
    await new Promise((r) => setTimeout(r, 5000));
  }
}

function freeze(x) {
  if (x && typeof x === "object") {
    for (const v of Object.values(x)) freeze(v);
    Object.freeze(x);
  }
  return x;
}

const config = freeze(await load());

/* Who may open which page, and who may act on incidents. */
export const ROLES = config.roles;
/* Status codes, open ones first in lifecycle order, and their words. */
export const OPEN_STATUSES = config.statuses.open;
export const CLOSED_STATUSES = config.statuses.closed;
export const STATUS_LABELS = config.statuses.labels;
/* [{id, min, label}], most urgent first (core/scoring.py PRIORITY_BANDS). */
export const BANDS = config.bands;
/* [{id, label, pictogram, severity, ack_target_min}] (core/categories.py). */
export const CATEGORIES = config.categories;
/* What residents read for each status of their own alerts: {of: staff
 * status -> resident status, labels: resident status -> words}, the same
 * state the desk shows in resident-friendly words (core/lifecycle.py). */
export const RESIDENT_STATUSES = config.resident_statuses;
/* Resident accounts' standing: {statuses, labels} (GET /api/me `status`). */
export const ACCOUNTS = config.accounts;
/* What a proof of address may be: {types, max_bytes}. */
export const PROOF = config.proof;
/* Broadcast levels and delivery channels, each [{id, label}] (issue 19). */
export const LEVELS = config.levels;
export const CHANNELS = config.channels;
