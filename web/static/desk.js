/* Supervisor's desk: the live map, the queue of incidents (priority, then
 * age), filters, a detail panel with the actions, keyboard shortcuts, the
 * broadcast composer, statistics and hand-over. Every change goes through
 * the API; what the other screens see comes back through /ws/ops, here too
 * (the page never edits its own state optimistically, so all screens agree). */
"use strict";

(async function () {
  const D = window.Dispatch;
  const { el, api } = D;
  const STAFF = ["dispatcher", "supervisor", "moderator", "admin"];
  const QUEUE_CAP = 300;
  const $ = (id) => document.getElementById(id);

  const me = await D.requireUser(STAFF);
  const canAct = me.role === "dispatcher" || me.role === "supervisor";
  D.startClock($("clock"));
  const light = $("light");
  D.showLight(light, "connecting");

  const [sectorsGeo, categoryList, unitList] = await Promise.all([
    api("GET", "/api/sectors"), api("GET", "/api/categories"), api("GET", "/api/units"),
  ]);
  const ctx = { categories: {}, sectors: {} };
  for (const c of categoryList) ctx.categories[c.id] = c;
  for (const f of sectorsGeo.features) ctx.sectors[f.properties.id] = f.properties.name;
  const units = new Map(unitList.map((u) => [u.id, u]));

  for (const [id, name] of Object.entries(ctx.sectors)) {
    $("f-sector").append(el("option", { value: id, text: name }));
    $("h-sector").append(el("option", { value: id, text: name }));
  }
  for (const c of categoryList) $("f-category").append(el("option", { value: c.id, text: `${c.pictogram} ${c.label}` }));

  /* -- map ------------------------------------------------------------- */
  const map = D.baseMap("map");
  const sectorLayer = D.sectorLayer(map, sectorsGeo, { interactive: true });
  map.fitBounds(sectorLayer.getBounds(), { padding: [10, 10] });
  const hexes = new D.HexLayer(map);
  const pulses = new D.PulseLayer(map, { cap: 10 });
  const focus = L.layerGroup().addTo(map); // the open incident's exact point
  map.getContainer().dataset.lastAlert = "0";

  /* -- queue ----------------------------------------------------------- */
  const queue = $("queue");
  const rows = new Map(); // incident id -> li
  let selected = null; // incident id
  const filters = $("filters");

  function filterState() {
    const f = filters.elements;
    return {
      status: f.status.value, sector: f.sector.value, category: f.category.value,
      window: Number(f.window.value) || 0, search: f.search.value.trim().toLowerCase(),
    };
  }

  function matches(inc, f) {
    if (f.status === "open" ? !D.OPEN_STATUSES.includes(inc.status) : f.status !== "all" && inc.status !== f.status) return false;
    if (f.sector && inc.sector !== f.sector) return false;
    if (f.category && inc.category !== f.category) return false;
    if (f.window && Date.parse(inc.created_at) < Date.now() - f.window * 1000) return false;
    if (f.search) {
      const cat = ctx.categories[inc.category] || {};
      const hay = `#${inc.id} ${cat.label || ""} ${ctx.sectors[inc.sector] || ""} ${inc.unit ? inc.unit.name : ""}`.toLowerCase();
      if (!hay.includes(f.search)) return false;
    }
    return true;
  }

  // priority first, then the oldest first: the longest wait at equal priority
  function before(a, b) {
    if (a.priority !== b.priority) return a.priority > b.priority;
    const ta = Date.parse(a.created_at), tb = Date.parse(b.created_at);
    return ta !== tb ? ta < tb : a.id < b.id;
  }

  function place(inc) {
    let row = rows.get(inc.id);
    if (row) {
      D.refreshRow(row, inc, Date.now());
      row.remove();
    } else {
      row = D.incidentRow(inc, ctx);
      row.tabIndex = -1;
      row.id = `inc-${inc.id}`;
      row.addEventListener("click", () => { select(inc.id); openDetail(inc.id); });
      rows.set(inc.id, row);
    }
    let next = null;
    for (const r of queue.children) {
      if (before(inc, r._inc)) { next = r; break; }
    }
    queue.insertBefore(row, next);
    while (queue.children.length > QUEUE_CAP) drop(queue.lastElementChild._inc.id);
    if (inc.id === selected) row.classList.add("selected");
  }

  function drop(id) {
    const row = rows.get(id);
    if (!row) return;
    row.remove();
    rows.delete(id);
  }

  function countLabel() {
    $("queue-count").textContent = `(${queue.children.length})`;
  }

  let loading = 0;
  async function loadQueue() {
    const f = filterState();
    const q = new URLSearchParams({ status: f.status, limit: String(QUEUE_CAP) });
    if (f.sector) q.set("sector", f.sector);
    if (f.category) q.set("category", f.category);
    if (f.window) q.set("since", new Date(Date.now() - f.window * 1000).toISOString());
    const mine = ++loading;
    const list = await api("GET", "/api/incidents?" + q);
    if (mine !== loading) return; // a newer filter change won
    queue.replaceChildren();
    rows.clear();
    for (const inc of list) if (matches(inc, f)) place(inc);
    countLabel();
    if (selected !== null && rows.has(selected)) rows.get(selected).classList.add("selected");
  }

  filters.addEventListener("input", (ev) => {
    if (ev.target.name === "search") {
      // the search narrows what is listed without a round trip
      const f = filterState();
      for (const row of queue.children) row.hidden = !matches(row._inc, f);
    } else {
      loadQueue();
    }
  });
  filters.addEventListener("submit", (ev) => ev.preventDefault());

  function visibleRows() {
    return [...queue.children].filter((r) => !r.hidden);
  }

  function select(id) {
    if (selected !== null && rows.has(selected)) rows.get(selected).classList.remove("selected");
    selected = id;
    const row = rows.get(id);
    if (row) {
      row.classList.add("selected");
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    const list = visibleRows();
    if (!list.length) return;
    let i = list.findIndex((r) => r._inc.id === selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(list.length - 1, i + step));
    select(list[i]._inc.id);
  }

  /* -- detail and actions -------------------------------------------------- */
  let detail = null; // GET /api/incidents/{id}
  const fmtDate = new Intl.DateTimeFormat("fr-FR", { dateStyle: "short", timeStyle: "medium" });
  const say = (text) => { $("d-message").textContent = text; };

  async function openDetail(id) {
    try {
      detail = await api("GET", `/api/incidents/${id}`);
    } catch (e) {
      say(`Incident ${id} introuvable.`);
      return;
    }
    renderDetail();
  }

  function renderDetail() {
    const inc = detail;
    const cat = ctx.categories[inc.category] || { label: inc.category, pictogram: "•" };
    $("detail-empty").hidden = true;
    $("detail-body").hidden = false;
    $("detail").dataset.incident = inc.id;
    $("d-picto").textContent = cat.pictogram;
    $("d-title").textContent = `${cat.label} n° ${inc.id}`;
    $("d-status").textContent = D.STATUS_LABELS[inc.status] || inc.status;
    $("d-status").dataset.status = inc.status;
    $("d-overdue").hidden = !D.isOverdue(inc, Date.now());
    $("d-priority").textContent = `${Math.round(inc.priority)}${inc.pinned ? " (fixée)" : ""}`;
    $("d-sector").textContent = ctx.sectors[inc.sector] || inc.sector;
    $("d-position").textContent = `${inc.lat.toFixed(5)}, ${inc.lon.toFixed(5)}`;
    $("d-witnesses").textContent = D.witnesses(inc.witnesses);
    $("d-unit").textContent = inc.unit ? inc.unit.name || `n° ${inc.unit.id}` : "aucune";
    $("d-created").textContent = fmtDate.format(new Date(inc.created_at));
    $("d-due").textContent = inc.acknowledged_at ? `pris en compte à ${fmtDate.format(new Date(inc.acknowledged_at))}` : fmtDate.format(new Date(inc.ack_due_at));
    $("d-priority-input").value = Math.round(inc.priority);
    $("d-unit-select").value = inc.unit ? String(inc.unit.id) : "";

    const alerts = $("d-alerts");
    alerts.replaceChildren(...(inc.alert_details || []).map((a) => {
      const box = el("input", { type: "checkbox", id: `split-${a.id}`, value: a.id });
      const who = a.author_name ? `${a.author_name} (compte ${a.author})` : `compte ${a.author}`;
      return el("li", { class: "alert-item" }, box,
        el("label", { for: `split-${a.id}` },
          el("strong", { text: `Alerte n° ${a.id}` }),
          ` — ${D.shortTime.format(new Date(a.created_at))} — ${who} — ${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`,
          a.text ? el("span", { class: "alert-text", text: a.text }) : null));
    }));
    $("d-history").replaceChildren(...(inc.history || []).map((h) => {
      const actor = h.actor === null || h.actor === undefined ? "système" : `compte ${h.actor}`;
      return el("li", {}, `${D.shortTime.format(new Date(h.at))} — ${historyText(h)} (${actor})`,
        h.note ? el("span", { class: "alert-text", text: h.note }) : null);
    }));
    focus.clearLayers();
    L.circleMarker([inc.lat, inc.lon], { radius: 10, color: "#ffffff", weight: 3, fillColor: "#ff1744", fillOpacity: 0.9, interactive: false }).addTo(focus);
  }

  // the history's action codes (core/incident_ops.py), in words
  function historyText(h) {
    const st = (x) => D.STATUS_LABELS[x] || x;
    const unit = (id) => (units.get(id) || {}).name || `équipe ${id}`;
    const ids = (xs) => (xs || []).map((i) => `n° ${i}`).join(", ");
    switch (h.action) {
      case "opened": return `ouvert (alerte n° ${h.alert})`;
      case "grouped": return `alerte n° ${h.alert} rattachée`;
      case "status": return `statut : ${st(h.from)} → ${st(h.to)}`;
      case "assigned": return `affecté à ${unit(h.unit)}`;
      case "unassigned": return `${unit(h.unit)} retirée`;
      case "pinned": return `priorité fixée à ${h.priority}`;
      case "unpinned": return "priorité recalculée";
      case "note": return "note";
      case "merged": return `fusion de ${ids(h.incidents)}`;
      case "merged_into": return `fusionné dans n° ${h.incident}`;
      case "split": return `alertes ${ids(h.alerts)} séparées`;
      case "split_from": return `séparé de n° ${h.incident}`;
      case "escalated": return `en retard : priorité relevée (niveau ${h.level})`;
      default: return h.action;
    }
  }

  async function act(body, done) {
    if (!detail) return;
    if (!canAct) { say("Votre rôle ne permet pas d'agir sur les incidents."); return; }
    const note = $("d-note").value.trim();
    if (note && body.status) body.note = note;
    try {
      await api("PATCH", `/api/incidents/${detail.id}`, body);
      $("d-note").value = "";
      say(done);
    } catch (e) {
      say(e.status === 409 ? `Impossible : ${e.message}` : `Échec : ${e.message}`);
    }
  }

  const STATUS_DONE = {
    acknowledged: "Incident pris en compte.", in_progress: "Incident en cours.",
    resolved: "Incident résolu.", dismissed: "Incident classé infondé.",
  };
  for (const b of document.querySelectorAll("[data-status]")) {
    if (b.tagName !== "BUTTON") continue;
    b.addEventListener("click", () => act({ status: b.dataset.status }, STATUS_DONE[b.dataset.status]));
  }
  function fillUnits() {
    const sel = $("d-unit-select");
    const keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: "— aucune équipe —" }),
      ...[...units.values()].map((u) => el("option", {
        value: u.id, text: `${u.name} (${{ available: "disponible", busy: "occupée", off_duty: "hors service" }[u.status] || u.status})`,
      })));
    sel.value = keep;
  }
  fillUnits();
  $("d-assign").addEventListener("click", () => {
    const v = $("d-unit-select").value;
    act({ unit: v ? Number(v) : null }, v ? "Équipe affectée." : "Équipe retirée.");
  });
  $("d-pin").addEventListener("click", () => act({ priority: Number($("d-priority-input").value) }, "Priorité fixée."));
  $("d-unpin").addEventListener("click", () => act({ unpin: true }, "Priorité recalculée."));
  $("d-merge-go").addEventListener("click", async () => {
    const ids = $("d-merge").value.split(/[\s,;]+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
    if (!detail || !ids.length) return;
    try {
      await api("POST", `/api/incidents/${detail.id}/merge`, { incidents: ids });
      $("d-merge").value = "";
      say(`Fusionné : ${ids.map((i) => "n° " + i).join(", ")}.`);
    } catch (e) { say(`Échec de la fusion : ${e.message}`); }
  });
  $("d-split").addEventListener("click", async () => {
    const ids = [...document.querySelectorAll("#d-alerts input:checked")].map((b) => Number(b.value));
    if (!detail || !ids.length) return;
    try {
      const fresh = await api("POST", `/api/incidents/${detail.id}/split`, { alerts: ids });
      say(`Nouvel incident n° ${fresh.id}.`);
    } catch (e) { say(`Échec de la séparation : ${e.message}`); }
  });

  /* -- keyboard -------------------------------------------------------------- */
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest("input, textarea, select, dialog[open]")) {
      if (ev.key === "Escape" && t.blur) t.blur();
      return;
    }
    switch (ev.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter":
        if (selected !== null && (t === document.body || t.classList.contains("incident"))) openDetail(selected);
        else return;
        break;
      case "a": if (selected !== null) openThen(selected, { status: "acknowledged" }); break;
      case "r": if (selected !== null) openThen(selected, { status: "resolved" }); break;
      case "/": $("f-search").focus(); break;
      default: return;
    }
    ev.preventDefault();
  });
  // a and r act on the selected row, opening it first if another is open
  async function openThen(id, body) {
    if (!detail || detail.id !== id) await openDetail(id);
    await act(body, STATUS_DONE[body.status]);
  }

  /* -- broadcast composer ------------------------------------------------------ */
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
    sectorLayer.eachLayer((l) => l.setStyle(chosen.has(l.feature.properties.id)
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
      try {
        const { recipients } = await api("POST", "/api/broadcasts/preview", q);
        if (mine !== previewed) return;
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
  sectorLayer.on("click", (ev) => {
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

  /* -- statistics and hand-over --------------------------------------------- */
  const duration = (s) => (s === null || s === undefined ? "—" : D.age(s * 1000));
  $("open-stats").addEventListener("click", async () => {
    const box = $("stats-body");
    box.replaceChildren(el("p", { text: "Chargement…" }));
    $("stats").showModal();
    try {
      const s = await api("GET", "/api/stats");
      const bySector = new Map();
      for (const c of s.counts) bySector.set(c.sector, (bySector.get(c.sector) || 0) + c.count);
      box.replaceChildren(
        el("dl", { class: "facts" },
          el("dt", { text: "Alertes" }), el("dd", { text: String(s.alerts) }),
          el("dt", { text: "Incidents" }), el("dd", { text: String(s.incidents) }),
          el("dt", { text: "Prise en compte (médiane / 90 %)" }),
          el("dd", { text: `${duration(s.time_to_acknowledge.median_s)} / ${duration(s.time_to_acknowledge.p90_s)}` }),
          el("dt", { text: "Résolution (médiane / 90 %)" }),
          el("dd", { text: `${duration(s.time_to_resolve.median_s)} / ${duration(s.time_to_resolve.p90_s)}` }),
          el("dt", { text: "Part de l'entraide" }),
          el("dd", { text: s.solidarity_share === null ? "—" : `${Math.round(s.solidarity_share * 100)} %` })),
        el("table", { class: "table" },
          el("caption", { text: "Alertes par secteur" }),
          el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Secteur" }), el("th", { scope: "col", text: "Alertes" }))),
          el("tbody", {}, ...[...bySector].map(([sec, n]) => el("tr", {}, el("td", { text: ctx.sectors[sec] || sec }), el("td", { text: String(n) }))))));
    } catch (e) {
      box.replaceChildren(el("p", { text: `Statistiques indisponibles : ${e.message}` }));
    }
  });

  async function loadHandover() {
    const box = $("handover-body");
    const sector = $("h-sector").value;
    try {
      const h = await api("GET", "/api/handover" + (sector ? `?sector=${encodeURIComponent(sector)}` : ""));
      const list = (title, items) => el("section", {},
        el("h3", { text: `${title} (${items.length})` }),
        el("ul", { class: "handover-list" }, ...items.map((inc) => {
          const cat = ctx.categories[inc.category] || { label: inc.category, pictogram: "" };
          const last = (inc.history || []).filter((x) => x.note).map((x) => x.note).pop();
          return el("li", {}, `${cat.pictogram} ${cat.label} n° ${inc.id} — ${ctx.sectors[inc.sector] || inc.sector} — ${D.STATUS_LABELS[inc.status] || inc.status} — ${D.age(inc.age_s * 1000)}`,
            last ? el("span", { class: "alert-text", text: last }) : null);
        })));
      box.replaceChildren(list("En cours", h.open), list("Traités", h.done));
    } catch (e) {
      box.replaceChildren(el("p", { text: `Relève indisponible : ${e.message}` }));
    }
  }
  $("open-handover").addEventListener("click", () => { $("handover").showModal(); loadHandover(); });
  $("h-sector").addEventListener("change", loadHandover);
  $("open-keys").addEventListener("click", () => $("keys").showModal());

  /* -- live ------------------------------------------------------------------- */
  const tally = new D.Tally({
    new: $("count-new"), acknowledged: $("count-acknowledged"), assigned: $("count-assigned"),
    in_progress: $("count-in_progress"), overdue: $("count-overdue"),
  });

  function onIncident(inc, live) {
    tally.apply(inc);
    if (matches(inc, filterState())) place(inc);
    else drop(inc.id);
    countLabel();
    if (live && D.band(inc.priority) === "crit") pulses.add(inc.id, inc.lat, inc.lon);
    if (detail && detail.id === inc.id) openDetail(inc.id); // history changed too
  }

  const snapshot = await api("GET", `/ops/hexagons?res=${hexes.res}`);
  hexes.load(snapshot);
  for (const inc of await api("GET", "/api/incidents?status=open&limit=5000")) tally.apply(inc);
  tally.render(Date.now());
  await loadQueue();
  if (queue.firstElementChild) select(queue.firstElementChild._inc.id);

  setInterval(() => {
    const now = Date.now();
    const f = filterState();
    for (const r of [...queue.children]) {
      // a time window slides: rows age out of it without any event
      if (f.window && Date.parse(r._inc.created_at) < now - f.window * 1000) drop(r._inc.id);
      else D.tickRow(r, now);
    }
    countLabel();
    tally.render(now);
  }, 1000);

  new D.LiveStream("/ws/ops", {
    since: snapshot.seq,
    onMessage(msg) {
      switch (msg.type) {
        case "alert.created":
        case "alert.updated":
          hexes.upsert(msg.data);
          map.getContainer().dataset.lastAlert = hexes.lastAlert;
          break;
        case "incident.created":
        case "incident.updated":
          onIncident(msg.data, msg.type === "incident.created");
          break;
        case "unit.updated":
          units.set(msg.data.id, msg.data);
          fillUnits();
          break;
        default:
          break;
      }
    },
    onState(state) { D.showLight(light, state); },
  });
})();
