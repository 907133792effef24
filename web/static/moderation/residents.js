/* The validation queue: residents waiting, oldest first
 * (GET /api/moderation/residents?status=pending), each with what they
 * declared (name, e-mail, phone, address, the point on the map, the person
 * they register for) beside the proof of address itself, shown inline from
 * the audited route: an <img> for a photo, an <iframe> for a PDF (the one
 * response the page may frame, dispatch/http/pages.py). Validate (v), or
 * reject with a reason the resident will read (r).
 *
 * Every fetch of a proof is audited, so the proof is fetched once per
 * selection, after the selection has rested a moment (walking the queue
 * with j/k does not fetch every proof on the way), and never by the
 * periodic refresh. Validating needs the proof to have been shown. */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { age } from "../shared/format.js";
import { baseMap, sectorLayer } from "../map/basemap.js";
import { createList } from "./list.js";
import { askReason } from "./reason.js";

const PROOF_DELAY_MS = 300;
const fmtDate = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "short" });
const REJECT_REASONS = [
  "Justificatif illisible",
  "Le justificatif ne correspond pas à l'adresse déclarée",
  "Le nom ne correspond pas au justificatif",
  "Adresse hors de la commune",
  "Justificatif trop ancien",
];

export const proofUrl = (id) => `/api/moderation/residents/${id}/proof`;

/* The proof's media type, as the queue gives it (judged by the server
 * from the file's content). */
const proofType = (r) => (r.proof && r.proof.media_type) || "";

/* ctx: {sectors, sectorsGeo}; canDecide: the role may see proofs and
 * decide; say(text): the page's status line. */
export function createResidents(ctx, { canDecide, say }) {
  let map = null;
  let marker = null;
  let proofTimer = null;
  let proofShown = null; // id of the resident whose proof is on screen
  let busy = false;

  $("rd-actions").hidden = !canDecide;
  $("rd-no-decide").hidden = canDecide;
  $("rd-proof-panel").hidden = !canDecide;

  function showPoint(r) {
    const home = r.home;
    if (!map) {
      map = baseMap("rd-map");
      sectorLayer(map, ctx.sectorsGeo, { labels: false });
    }
    if (marker) marker.remove();
    marker = L.circleMarker([home.lat, home.lon], { radius: 8, color: "#ffea00", weight: 3, fillColor: "#ff6f00", fillOpacity: 0.9, interactive: false }).addTo(map);
    map.setView([home.lat, home.lon], 16);
  }

  function showProof(r) {
    clearTimeout(proofTimer);
    proofShown = null;
    const box = $("rd-proof");
    const link = $("rd-proof-link");
    box.replaceChildren(el("p", { class: "muted", text: "Chargement du justificatif…" }));
    link.hidden = true;
    proofTimer = setTimeout(() => {
      const url = proofUrl(r.id);
      const label = `Justificatif de domicile de ${r.name}`;
      const type = proofType(r);
      // a photo as an image; a PDF, or a type the queue does not give, in a
      // frame (Chromium shows images and PDFs alike there)
      const media = type.startsWith("image/")
        ? el("img", { src: url, alt: label, class: "proof-image" })
        : el("iframe", { src: url, title: label, class: "proof-frame" });
      media.addEventListener("load", () => { proofShown = r.id; box.dataset.shown = r.id; });
      media.addEventListener("error", () => {
        box.replaceChildren(el("p", { class: "field-error", text: "Justificatif introuvable ou illisible." }));
      });
      box.dataset.shown = "";
      box.replaceChildren(media);
      link.href = url;
      link.hidden = false;
    }, PROOF_DELAY_MS);
  }

  function render(r, opts = {}) {
    $("rd-empty").hidden = !!r;
    $("rd-body").hidden = !r;
    if (!r) {
      clearTimeout(proofTimer);
      proofShown = null;
      $("rd-proof").replaceChildren();
      $("rd-proof-link").hidden = true;
      return;
    }
    $("residents-detail").dataset.resident = r.id;
    $("rd-title").textContent = `Inscription de ${r.name}`;
    $("rd-name").textContent = r.name;
    $("rd-behalf").textContent = r.on_behalf_of ? `${r.on_behalf_of} (inscrit par un proche)` : "lui-même ou elle-même";
    $("rd-email").textContent = r.email;
    $("rd-phone").textContent = r.phone || "non donné";
    $("rd-address").textContent = r.address;
    const home = r.home;
    $("rd-point").textContent = `${Number(home.lat).toFixed(5)}, ${Number(home.lon).toFixed(5)}`;
    const sector = home.sector;
    $("rd-sector").textContent = sector ? ctx.sectors[sector] || sector : "hors secteur";
    $("rd-created").textContent = `${fmtDate.format(new Date(r.created_at))} (il y a ${age(Date.now() - Date.parse(r.created_at))})`;
    // a refresh of the same selection leaves the map where the moderator
    // put it, and the proof as it is (fetching it again is audited again)
    if (opts.refreshed) return;
    showPoint(r);
    if (canDecide) showProof(r);
  }

  const list = createList("residents", {
    row: (r) => [
      el("span", { class: "mod-item-main" },
        el("strong", { text: r.name }),
        r.on_behalf_of ? el("span", { class: "muted", text: ` pour ${r.on_behalf_of}` }) : null),
      el("span", { class: "mod-item-sub", text: r.address }),
      el("span", { class: "mod-item-age", text: `il y a ${age(Date.now() - Date.parse(r.created_at))}` }),
    ],
    onSelect: render,
  });

  async function load() {
    const pending = await api("GET", "/api/moderation/residents?status=pending");
    list.set(pending);
  }

  async function decide(r, body, done) {
    busy = true;
    try {
      await api("POST", `/api/moderation/residents/${r.id}`, body);
      say(done);
    } catch (e) {
      say(e.status === 409 ? `Déjà traitée : ${e.message}` : `Échec : ${e.message}`);
    } finally {
      busy = false;
    }
    await load();
  }

  async function validate() {
    const r = list.current();
    if (!r || busy || !canDecide) return;
    if (proofShown !== r.id) { say("Affichez le justificatif avant de valider."); return; }
    await decide(r, { decision: "validate" }, `Inscription de ${r.name} validée.`);
  }

  async function reject() {
    const r = list.current();
    if (!r || busy || !canDecide) return;
    const reason = await askReason({
      title: `Refuser l'inscription de ${r.name} ?`,
      text: "Le compte ne pourra ni signaler ni recevoir d'alertes.",
      hint: "La personne lira ce motif en se connectant.",
      confirm: "Refuser l'inscription",
      danger: true,
      suggestions: REJECT_REASONS,
    });
    if (reason === null) return;
    await decide(r, { decision: "reject", reason }, `Inscription de ${r.name} refusée.`);
  }

  $("rd-validate").addEventListener("click", validate);
  $("rd-reject").addEventListener("click", reject);

  return { name: "residents", list, load, keys: { v: validate, r: reject } };
}
