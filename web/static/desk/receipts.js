/* Delivery receipts on the desk (issue 19): for each of the KEEP latest
 * broadcasts (those of GET /api/broadcasts when the desk opens, then each
 * broadcast.sent of /ws/ops), how many recipients it
 * reached on each channel: queued, sent, delivered, failed. The counts come
 * from GET /api/broadcasts/{id}/receipts, then live from the receipts
 * message of /ws/ops (RECEIPTS_TYPE), which carries the same shape; the
 * table is redrawn from whatever arrived last, never counted here.
 *
 * Also the composer's SMS line: how many residents the message would reach
 * by SMS, and in how many segments each (the preview's "sms"). */
import { api } from "../shared/api.js";
import { CHANNELS, LEVELS } from "../shared/config.js";
import { $, el, setText } from "../shared/dom.js";
import { shortTime } from "../shared/format.js";

export const RECEIPTS_TYPE = "broadcast.receipts";
const STATES = [["queued", "en attente"], ["sent", "envoyés"], ["delivered", "remis"], ["failed", "échecs"]];
const KEEP = 10; // broadcasts shown; older ones leave the list

export function showSmsPreview(sms) {
  const out = $("c-preview-sms");
  if (!sms) { out.textContent = "—"; out.dataset.recipients = ""; out.dataset.segments = ""; return; }
  const who = `${sms.recipients} résident${sms.recipients > 1 ? "s" : ""}`;
  out.textContent = `${who}, ${sms.segments} segment${sms.segments > 1 ? "s" : ""} chacun`;
  out.dataset.recipients = sms.recipients;
  out.dataset.segments = sms.segments;
}

function table(id) {
  const head = el("tr", {}, el("th", { scope: "col", text: "Canal" }), ...STATES.map(([, word]) => el("th", { scope: "col", text: word })));
  const rows = CHANNELS.map(({ id: ch, label }) => el("tr", { dataset: { channel: ch } },
    el("th", { scope: "row", text: label }),
    ...STATES.map(([state]) => el("td", { dataset: { state }, text: "—" }))));
  return el("table", { class: "receipts-table", "aria-describedby": `r-title-${id}` }, el("thead", {}, head), el("tbody", {}, ...rows));
}

export function createReceipts() {
  const list = $("receipts");
  const items = new Map(); // broadcast id -> <li>

  function fill(id, receipts) {
    const item = items.get(id);
    if (!item || !receipts) return;
    for (const row of item.querySelectorAll("tr[data-channel]")) {
      const counts = receipts[row.dataset.channel] || {};
      for (const cell of row.querySelectorAll("td[data-state]")) {
        const n = counts[cell.dataset.state];
        setText(cell, n === undefined ? "—" : String(n));
      }
    }
  }

  async function load(id) {
    try {
      fill(id, await api("GET", `/api/broadcasts/${id}/receipts`));
    } catch (e) { /* the live message will bring them */ }
  }

  function add(b) {
    if (items.has(b.id)) return;
    const level = (LEVELS.find((l) => l.id === b.level) || { label: b.level }).label;
    const when = b.created_at ? shortTime.format(new Date(b.created_at)) : "";
    const item = el("li", { class: "receipt", dataset: { broadcast: b.id } },
      el("p", { id: `r-title-${b.id}`, class: "receipt-title" }, el("strong", { text: `${level} n°${b.id}` }), ` ${when} — ${b.text || ""}`),
      table(b.id));
    list.prepend(item);
    items.set(b.id, item);
    while (items.size > KEEP) {
      const last = list.lastElementChild;
      items.delete(Number(last.dataset.broadcast));
      last.remove();
    }
    $("receipts-empty").hidden = true;
    load(b.id);
  }

  // the latest ones sent before this desk opened (newest first from the API;
  // add() puts each on top, so oldest first here)
  api("GET", "/api/broadcasts")
    .then((past) => { for (const b of past.slice(0, KEEP).reverse()) add(b); })
    .catch(() => { /* the list fills from the live stream */ });

  return {
    onMessage(msg) {
      if (msg.type === "broadcast.sent") add(msg.data);
      else if (msg.type === RECEIPTS_TYPE) fill(msg.data.id, msg.data.receipts);
    },
  };
}
