/* The page of a validated resident, phone first: report something
 * (pictogram, point, text), then follow live what happens nearby, what
 * became of one's own reports, and the police's messages to one's sector.
 * It only ever receives the anonymised view (the H3 cell, never an exact
 * point or an author), and draws other people's alerts as that cell. A
 * nearby alert can be flagged to the moderators; one they hide leaves the
 * lists at once (alert.removed), a text they hide goes blank at once
 * (alert.text). */
import { api } from "../shared/api.js";
import { CATEGORIES, RESIDENT_STATUSES } from "../shared/config.js";
import { categoriesById as categories, sectorNames } from "../shared/context.js";
import { $, el } from "../shared/dom.js";
import { shortTime } from "../shared/format.js";
import { showLight } from "../shared/light.js";
import { LiveStream } from "../shared/stream.js";
import { baseMap, sectorLayer } from "../map/basemap.js";
import { createFlagger } from "./flags.js";

const LIST_CAP = 50;

/* The home sector, outlined and named: drawn from GET /api/sectors, so it
 * shows with the tiles offline too (the map is then a plain background). */
function homeSector(map, sectorsGeo, home) {
  const f = sectorsGeo.features.find((x) => x.properties.id === home.sector);
  if (!f) return;
  const layer = L.geoJSON(f, { interactive: false, style: { className: "home-sector", color: "#0d47a1", weight: 4, opacity: 1, fillColor: "#0d47a1", fillOpacity: 0.06 } }).addTo(map);
  layer.eachLayer((l) => l.bindTooltip(`Votre secteur : ${f.properties.name}`, {
    permanent: true, direction: "center", className: "sector-label home-sector-label", interactive: false,
  }));
  map.fitBounds(layer.getBounds(), { padding: [8, 8] });
  map.getContainer().dataset.homeSector = home.sector;
}

export async function startLive(me) {
  $("live").hidden = false;
  const light = $("light");
  showLight(light, "connecting");

  const sectorsGeo = await api("GET", "/api/sectors");
  const sectors = sectorNames(sectorsGeo);
  // the categories where danger to people is likeliest stand out
  const urgentCategory = (id) => (categories[id] || {}).severity >= 4;
  const describe = (a) => `${(categories[a.category] || { label: a.category }).label} — ${sectors[a.sector] || a.sector || ""}, ${shortTime.format(new Date(a.created_at))}`;
  const flagger = createFlagger(describe);

  /* -- the report form ------------------------------------------------------ */
  const grid = $("categories");
  for (const c of CATEGORIES) {
    const id = `cat-${c.id}`;
    grid.append(el("div", { class: "picto-choice" },
      el("input", { type: "radio", name: "category", id, value: c.id }),
      el("label", { for: id }, el("span", { class: "picto", "aria-hidden": "true", text: c.pictogram }), el("span", { text: c.label }))));
  }

  const map = baseMap("map");
  sectorLayer(map, sectorsGeo, { labels: false });
  const home = me.home;
  if (home) {
    map.setView([home.lat, home.lon], 15);
    homeSector(map, sectorsGeo, home);
    L.circleMarker([home.lat, home.lon], { radius: 6, color: "#0d47a1", weight: 2, fillColor: "#ffffff", fillOpacity: 1, interactive: false }).addTo(map);
  }
  const cellsLayer = L.layerGroup().addTo(map);
  let point = null;
  const pointLayer = L.layerGroup().addTo(map);
  const form = $("report");
  const result = $("report-result");

  function setPoint(lat, lon, how) {
    point = { lat, lon };
    pointLayer.clearLayers();
    L.circleMarker([lat, lon], { radius: 9, color: "#b71c1c", weight: 3, fillColor: "#ff5252", fillOpacity: 0.9, interactive: false }).addTo(pointLayer);
    $("where").textContent = `Point choisi ${how}.`;
  }
  map.on("click", (ev) => setPoint(ev.latlng.lat, ev.latlng.lng, "sur la carte"));
  $("locate").addEventListener("click", () => {
    if (!navigator.geolocation) { $("where").textContent = "Localisation indisponible : touchez la carte."; return; }
    $("where").textContent = "Localisation…";
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setPoint(pos.coords.latitude, pos.coords.longitude, "par localisation");
        map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 15));
      },
      () => { $("where").textContent = "Localisation refusée ou impossible : touchez la carte."; },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  });

  // one id per report, kept across retries, so a retried send never
  // creates a second alert (the API deduplicates on client_id)
  let clientId = null;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const category = form.elements.category.value;
    if (!category) { result.textContent = "Choisissez ce qui se passe."; return; }
    if (!point) { result.textContent = "Indiquez où : votre position ou un point sur la carte."; return; }
    result.textContent = "";
    clientId = clientId || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
    $("confirm").hidden = false;
    $("confirm-send").focus();
  });
  $("confirm-cancel").addEventListener("click", () => { $("confirm").hidden = true; $("send").focus(); });
  $("confirm-send").addEventListener("click", async () => {
    const body = { category: form.elements.category.value, lat: point.lat, lon: point.lon, client_id: clientId };
    const text = form.elements.text.value.trim();
    if (text) body.text = text;
    $("confirm-send").disabled = true;
    try {
      const alert = await api("POST", "/api/alerts", body);
      $("confirm").hidden = true;
      result.textContent = "Signalement envoyé. Merci.";
      clientId = null;
      form.reset();
      point = null;
      pointLayer.clearLayers();
      $("where").textContent = "Aucun point choisi.";
      showMine({ id: alert.id, category: alert.category, sector: alert.sector, status: alert.status, created_at: alert.created_at, text: alert.text });
    } catch (e) {
      result.textContent = e.code === "outside_city" ? "Ce point est en dehors de la commune." : `Envoi impossible : ${e.message}`;
    } finally {
      $("confirm-send").disabled = false;
    }
  });

  /* -- lists ----------------------------------------------------------------- */
  // what a resident is told of their report: the desk's state, in words
  // for residents (GET /config resident_statuses)
  function reportStatus(status) {
    const own = RESIDENT_STATUSES.of[status] || status;
    return RESIDENT_STATUSES.labels[own] || own;
  }

  const mineRows = new Map();
  const nearbyRows = new Map();

  function card(a, extra) {
    const cat = categories[a.category] || { label: a.category, pictogram: "•" };
    return el("li", { class: "card" + (urgentCategory(a.category) ? " urgent" : ""), dataset: { alert: a.id } },
      el("span", { class: "picto", "aria-hidden": "true", text: cat.pictogram }),
      el("div", { class: "card-body" },
        el("p", { class: "card-title" }, el("strong", { text: cat.label }), ` — ${sectors[a.sector] || a.sector || ""}`),
        el("p", { class: "card-meta", text: shortTime.format(new Date(a.created_at)) }),
        a.text ? el("p", { class: "card-text", text: a.text }) : null,
        extra || null));
  }

  function cap(list, rowsMap, onDrop) {
    while (list.children.length > LIST_CAP) {
      const last = list.lastElementChild;
      rowsMap.delete(Number(last.dataset.alert || last.dataset.broadcast));
      if (onDrop) onDrop(last);
      last.remove();
    }
  }

  function showEmpty() {
    $("mine-empty").hidden = mineRows.size > 0;
    $("nearby-empty").hidden = nearbyRows.size > 0;
  }

  function showMine(a) {
    if (mineRows.has(a.id)) return;
    dropNearby(a.id); // one's own report may also have come in as "nearby"
    const status = el("span", { class: "badge", text: reportStatus(a.status) });
    const row = card(a, el("p", {}, "Statut : ", status));
    row._status = status;
    $("mine").prepend(row);
    mineRows.set(a.id, row);
    cap($("mine"), mineRows);
    showEmpty();
  }

  function setMineStatus(s) {
    const row = mineRows.get(s.id);
    if (!row) return;
    row._status.textContent = reportStatus(s.status);
    row.dataset.status = s.status;
  }

  const hexOf = new Map(); // alert id -> polygon
  async function drawCell(a) {
    try {
      const { cells } = await api("GET", "/map/cells?ids=" + encodeURIComponent(a.cell));
      if (!nearbyRows.has(a.id)) return;
      const urgent = urgentCategory(a.category);
      const poly = L.polygon(cells[a.cell], {
        interactive: false, weight: 2, color: urgent ? "#c62828" : "#ef6c00", fillColor: urgent ? "#ff1744" : "#ff9100", fillOpacity: 0.35,
      }).addTo(cellsLayer);
      hexOf.set(a.id, poly);
    } catch (e) { /* the list still shows it */ }
  }

  function showNearby(a, live) {
    if (nearbyRows.has(a.id) || mineRows.has(a.id)) return;
    const flag = el("button", { type: "button", class: "flag-button", "aria-label": `Signaler un abus : ${describe(a)}`, text: "Signaler un abus" });
    flag.addEventListener("click", () => flagger.open(a, flag));
    const row = card(a, el("p", { class: "card-actions" }, flag));
    if (live && urgentCategory(a.category)) row.classList.add("pulse");
    $("nearby").prepend(row);
    nearbyRows.set(a.id, row);
    cap($("nearby"), nearbyRows, (r) => dropHex(Number(r.dataset.alert)));
    showEmpty();
    drawCell(a);
  }

  function dropHex(id) {
    const poly = hexOf.get(id);
    if (poly) { cellsLayer.removeLayer(poly); hexOf.delete(id); }
  }

  function dropNearby(id) {
    const row = nearbyRows.get(id);
    if (!row) return;
    if (row.contains(document.activeElement)) $("nearby-title").focus();
    row.remove();
    nearbyRows.delete(id);
    dropHex(id);
  }

  /* A moderator hid it: it leaves every list of this page, and a flag
   * dialog open on it closes. */
  function removeAlert(id) {
    dropNearby(id);
    const mine = mineRows.get(id);
    if (mine) { mine.remove(); mineRows.delete(id); }
    flagger.forget(id);
    showEmpty();
  }

  /* A moderator hid its text (an empty one) or showed it again. */
  function setText(a) {
    for (const row of [nearbyRows.get(a.id), mineRows.get(a.id)]) {
      if (!row) continue;
      const body = row.querySelector(".card-body");
      const old = body.querySelector(".card-text");
      const text = a.text ? el("p", { class: "card-text", text: a.text }) : null;
      if (old && text) old.replaceWith(text);
      else if (old) old.remove();
      else if (text) body.querySelector(".card-meta").after(text);
    }
  }

  const messageRows = new Map();
  function showMessage(b, live = true) {
    if (messageRows.has(b.id)) return;
    const urgent = b.level === "urgent";
    const levels = { info: "Information", warning: "Vigilance", urgent: "Urgent" };
    // an old message, loaded with the page, neither pulses nor interrupts
    const loud = urgent && live;
    const row = el("li", { class: `card message-${b.level}` + (urgent ? " urgent" : "") + (loud ? " pulse" : ""), dataset: { broadcast: b.id } },
      el("span", { class: "picto", "aria-hidden": "true", text: urgent ? "⚠" : "📢" }),
      // the alert role inside the item: a list holds only list items
      el("div", { class: "card-body", role: loud ? "alert" : null },
        el("p", { class: "card-title" }, el("strong", { text: levels[b.level] || b.level }), ` — ${shortTime.format(new Date(b.created_at))}`),
        el("p", { class: "card-text", text: b.text })));
    $("messages").prepend(row);
    messageRows.set(b.id, row);
    cap($("messages"), messageRows);
    $("messages-empty").hidden = true;
  }

  /* -- snapshot, then live ------------------------------------------------------ */
  /* What happened before the page opened (or while a resync says the
   * stream cannot replay): the alerts the resident may see, and the
   * messages that reached them (GET /api/broadcasts, newest first). Both
   * lists skip what they already show, so live and loaded never double. */
  async function loadKnown() {
    // the messages are a bonus to the live page: one that cannot load them
    // still shows the alerts, and the live ones
    const history = api("GET", "/api/broadcasts").catch((e) => { console.warn("past messages unavailable", e); return []; });
    const [known, messages] = await Promise.all([api("GET", "/api/alerts?limit=200"), history]);
    known.reverse(); // oldest first, so prepend leaves the newest on top
    for (const a of known) {
      if (a.mine) { showMine(a); setMineStatus(a); } else showNearby(a, false);
    }
    for (const b of [...messages].reverse()) showMessage(b, false);
  }
  // the head of the event sequence: where the stream resumes from
  const head = (await api("GET", "/api/me")).seq || 0;
  await loadKnown();

  new LiveStream("/ws/resident", {
    since: head,
    onResync() { loadKnown().catch((e) => console.warn("reload after resync failed", e)); },
    onMessage(msg) {
      if (msg.type === "alert.nearby") showNearby(msg.data, true);
      else if (msg.type === "alert.status") setMineStatus(msg.data);
      else if (msg.type === "alert.removed") removeAlert(msg.data.id);
      else if (msg.type === "alert.text") setText(msg.data);
      else if (msg.type === "broadcast") showMessage(msg.data, true);
    },
    onState(state) { showLight(light, state); },
  });
}
