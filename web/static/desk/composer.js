/* The broadcast composer: a message to residents of chosen sectors (ticked
 * in the list or clicked on the map), of the whole city, within a circle
 * (centre clicked on the map) or within a polygon drawn on the map vertex
 * by vertex (desk/zone.js), with a live count of who would receive it
 * (POST /api/broadcasts/preview, debounced, the latest answer wins). An
 * urgent or city-wide message is sent only once the supervisor has seen,
 * in a confirmation, how many residents it reaches. */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { confirmAction } from "./confirm.js";
import { showSmsPreview } from "./receipts.js"; // issue 19
import { createZone } from "./zone.js";

const residents = (n) => `${n} résident${n > 1 ? "s" : ""}`;

/* deskMap: desk/map.js (the map and its clickable sector outlines). */
export function createComposer(ctx, { map, sectors }) {
  const composer = $("composer");
  const picks = $("c-sectors");
  for (const [id, name] of Object.entries(ctx.sectors)) {
    picks.append(el("label", {}, el("input", { type: "checkbox", name: "sector", value: id }), ` ${name}`));
  }
  let centre = null;
  const circleLayer = L.layerGroup().addTo(map);
  const target = () => composer.elements.target.value;
  const zone = createZone(map, { active: () => target() === "polygon", onChange: () => preview() });

  function chosenSectors() {
    return [...picks.querySelectorAll("input:checked")].map((b) => b.value);
  }
  function highlightSectors() {
    const chosen = new Set(target() === "sectors" ? chosenSectors() : []);
    sectors.eachLayer((l) => l.setStyle(chosen.has(l.feature.properties.id)
      ? { fillOpacity: 0.3, weight: 4 } : { fillOpacity: 0.04, weight: 2 }));
  }
  function drawCircle() {
    circleLayer.clearLayers();
    if (target() !== "circle" || !centre) return;
    L.circle(centre, { radius: Number(composer.elements.radius.value) || 0, color: "#e040fb", weight: 3, fillOpacity: 0.15, interactive: false }).addTo(circleLayer);
  }
  /* The target alone (what the preview takes), or null while incomplete. */
  function targetBody() {
    const t = target();
    if (t === "all") return { sectors: "all" };
    if (t === "circle") return centre ? { circle: { lat: centre.lat, lon: centre.lng, radius_m: Number(composer.elements.radius.value) } } : null;
    if (t === "polygon") { const polygon = zone.geometry(); return polygon ? { polygon } : null; }
    const chosen = chosenSectors();
    return chosen.length ? { sectors: chosen } : null;
  }

  async function previewOf(t) {
    const q = { ...t, level: composer.elements.level.value };
    const text = composer.elements.text.value.trim();
    if (text) q.text = text; // issue 19: the SMS segments depend on it
    return api("POST", "/api/broadcasts/preview", q);
  }

  async function count(t) {
    return (await previewOf(t)).recipients;
  }

  let previewTimer = null;
  let previewed = 0;
  function preview() {
    clearTimeout(previewTimer);
    const out = $("c-preview");
    const mine = ++previewed;
    previewTimer = setTimeout(async () => {
      const t = targetBody();
      if (!t) { out.textContent = "—"; out.dataset.count = ""; return; }
      try {
        const answer = await previewOf(t);
        const { recipients } = answer;
        if (mine !== previewed) return;
        showSmsPreview(answer.sms); // issue 19
        out.textContent = residents(recipients);
        out.dataset.count = recipients;
      } catch (e) {
        if (mine !== previewed) return;
        out.textContent = e.code === "area_too_small" ? "zone trop petite" : "indisponible";
        out.dataset.count = "";
      }
    }, 250);
  }

  composer.addEventListener("change", () => {
    $("c-circle").hidden = target() !== "circle";
    $("c-polygon").hidden = target() !== "polygon";
    picks.hidden = target() !== "sectors";
    zone.show(target() === "polygon");
    highlightSectors();
    drawCircle();
    preview();
  });
  composer.elements.radius.addEventListener("input", () => { drawCircle(); preview(); });
  composer.elements.text.addEventListener("input", preview); // issue 19: segments follow the text
  sectors.on("click", (ev) => {
    if (target() !== "sectors") return;
    const box = picks.querySelector(`input[value="${CSS.escape(ev.layer.feature.properties.id)}"]`);
    box.checked = !box.checked;
    composer.dispatchEvent(new Event("change"));
  });
  map.on("click", (ev) => {
    if (target() !== "circle") return;
    centre = ev.latlng;
    $("c-centre").textContent = `centre : ${centre.lat.toFixed(5)}, ${centre.lng.toFixed(5)}`;
    drawCircle();
    preview();
  });

  /* Urgent, or the whole city: say to how many, and ask. The count is
   * asked again now, so it is the one the send will reach. */
  async function confirmed(t, level) {
    if (level !== "urgent" && t.sectors !== "all") return true;
    let n;
    try { n = await count(t); } catch (e) { n = null; }
    $("confirm-action").dataset.count = n === null ? "" : n;
    const whom = n === null ? "un nombre inconnu de résidents" : residents(n);
    const where = t.sectors === "all" ? " dans toute la ville" : "";
    return confirmAction({
      title: level === "urgent" ? "Envoyer ce message urgent ?" : "Envoyer à toute la ville ?",
      text: `Le message sera envoyé à ${whom}${where}.`,
      yes: `Envoyer à ${whom}`,
    });
  }

  composer.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const t = targetBody();
    const result = $("c-result");
    const text = composer.elements.text.value.trim();
    const level = composer.elements.level.value;
    if (!t) { result.textContent = "Choisissez les destinataires."; return; }
    if (!text) { result.textContent = "Écrivez le message."; return; }
    if (!(await confirmed(t, level))) { result.textContent = "Envoi annulé."; return; }
    try {
      const r = await api("POST", "/api/broadcasts", { ...t, text, level });
      result.textContent = `Message envoyé à ${residents(r.recipients)}.`;
      result.dataset.recipients = r.recipients;
      composer.elements.text.value = "";
    } catch (e) {
      result.textContent = e.code === "area_too_small" ? "Zone trop petite : elle désignerait trop peu de foyers." : `Échec de l'envoi : ${e.message}`;
    }
  });
}
