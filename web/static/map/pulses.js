/* A pulsing marker for an urgent item, removed after `ttl` ms; at most
 * `cap` on the map at once (oldest first out), so a wall left running for
 * days does not pile them up. */
export class PulseLayer {
  constructor(map, { cap = 20, ttl = 5 * 60 * 1000 } = {}) {
    this.group = L.layerGroup().addTo(map);
    this.cap = cap;
    this.ttl = ttl;
    this.items = new Map();
  }

  add(id, lat, lon) {
    if (this.items.has(id) || lat == null || lon == null) return;
    const m = L.marker([lat, lon], {
      interactive: false,
      keyboard: false,
      icon: L.divIcon({ className: "pulse", html: "", iconSize: [28, 28] }),
    }).addTo(this.group);
    const timer = setTimeout(() => this.remove(id), this.ttl);
    this.items.set(id, { m, timer });
    while (this.items.size > this.cap) this.remove(this.items.keys().next().value);
  }

  remove(id) {
    const it = this.items.get(id);
    if (!it) return;
    clearTimeout(it.timer);
    this.group.removeLayer(it.m);
    this.items.delete(id);
  }
}
