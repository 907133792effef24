/* The broadcast composer: a message to residents of chosen sectors (ticked
 * in the list or clicked on the map), of the whole city, or within a circle
 * (centre clicked on the map), with a live count of who would receive it
 * (POST /api/broadcasts/preview, debounced, the latest answer wins). */
import { api } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { showSmsPreview } from "./receipts.js"; // issue 19

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
  function body() {
    const out = { text: composer.elements.text.value.trim(), level: composer.elements.level.value };
    const t = target();
    if (t === "all") out.sectors = "all";
    else if (t === "circle") out.circle = centre ? { lat: centre.lat, lon: centre.lng, radius_m: Number(composer.elements.radius.value) } : null;
    else out.sectors = chosenSectors();
    return out;
  }
  function ready(b) {
    return b.sectors === "all" || (Array.isArray(b.sectors) && b.sectors.length > 0) || !!b.circle;
  }

  let previewTimer = null;
  let previewed = 0;
  function preview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const b = body();
      const out = $("c-preview");
      const mine = ++previewed;
      if (!ready(b)) { out.textContent = "—"; out.dataset.count = ""; return; }
      const q = { level: b.level };
      if (b.circle) q.circle = b.circle; else q.sectors = b.sectors;
      if (b.text) q.text = b.text; // issue 19: the SMS segments depend on it
      try {
        const answer = await api("POST", "/api/broadcasts/preview", q);
        const { recipients } = answer;
        if (mine !== previewed) return;
        showSmsPreview(answer.sms); // issue 19
        out.textContent = `${recipients} résident${recipients > 1 ? "s" : ""}`;
        out.dataset.count = recipients;
      } catch (e) {
        out.textContent = "indisponible";
        out.dataset.count = "";
      }
    }, 250);
  }

  composer.addEventListener("change", () => {
    $("c-circle").hidden = target() !== "circle";
    picks.hidden = target() !== "sectors";
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
  composer.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const b = body();
    const result = $("c-result");
    if (!ready(b)) { result.textContent = "Choisissez les destinataires."; return; }
    if (!b.text) { result.textContent = "Écrivez le message."; return; }
    if (b.circle === null) delete b.circle;
    try {
      const r = await api("POST", "/api/broadcasts", b);
      result.textContent = `Message envoyé à ${r.recipients} résident${r.recipients > 1 ? "s" : ""}.`;
      result.dataset.recipients = r.recipients;
      composer.elements.text.value = "";
    } catch (e) {
      result.textContent = `Échec de l'envoi : ${e.message}`;
    }
  });
}
