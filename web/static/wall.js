/* Wall screen: the city map, sector outlines, and each new alert as it
 * arrives on /ws/ops. No clicks, no reload. */
"use strict";

(async function () {
  const body = document.body;
  const light = document.getElementById("light");
  const feed = document.getElementById("feed");
  const FEED_CAP = 50;
  const MARKER_CAP = 500;

  const clock = document.getElementById("clock");
  const tick = () => { clock.textContent = new Date().toLocaleTimeString("fr-FR"); };
  tick();
  setInterval(tick, 1000);

  const map = L.map("map", { zoomControl: false, attributionControl: true });
  L.tileLayer(body.dataset.tileUrl, { attribution: body.dataset.attribution, maxZoom: 19 }).addTo(map);

  const sectors = await api("GET", "/api/sectors");
  const outlines = L.geoJSON(sectors, { style: { color: "#4fc3f7", weight: 2, fillOpacity: 0.05 } }).addTo(map);
  map.fitBounds(outlines.getBounds());
  outlines.eachLayer((layer) => layer.bindTooltip(layer.feature.properties.name, { permanent: true, direction: "center", className: "sector-label" }));

  const categories = {};
  for (const c of await api("GET", "/api/categories")) categories[c.id] = c;

  const markers = new Map();
  const markerLayer = L.layerGroup().addTo(map);

  function showAlert(a) {
    if (markers.has(a.id)) return;
    const m = L.circleMarker([a.lat, a.lon], { radius: 8, color: "#ff5252", weight: 2, fillOpacity: 0.8 });
    m.bindTooltip(`${(categories[a.category] || {}).label || a.category}`);
    m.addTo(markerLayer);
    markers.set(a.id, m);
    if (markers.size > MARKER_CAP) {
      const [oldId, old] = markers.entries().next().value;
      markerLayer.removeLayer(old);
      markers.delete(oldId);
    }
    const li = document.createElement("li");
    li.className = "feed-item";
    li.dataset.alertId = a.id;
    const cat = categories[a.category] || { label: a.category, pictogram: "" };
    li.textContent = `${cat.pictogram} ${cat.label} — ${a.sector} — ${new Date(a.created_at).toLocaleTimeString("fr-FR")}`;
    feed.prepend(li);
    while (feed.children.length > FEED_CAP) feed.lastElementChild.remove();
  }

  let head = 0;
  try {
    head = (await api("GET", "/healthz")).seq || 0;
    const open = await api("GET", "/api/alerts?limit=200");
    open.reverse().forEach(showAlert);
  } catch (e) {
    console.warn("initial load failed", e);
  }

  new LiveStream("/ws/ops", {
    since: head,
    onMessage(msg) {
      if (msg.type === "alert.created") showAlert(msg.data);
    },
    onState(state) {
      light.className = "light " + (state === "open" ? "light-on" : "light-off");
      light.textContent = state === "open" ? "En direct" : "Connexion perdue — reconnexion…";
    },
    onResync() { window.location.reload(); },
  });
})();
