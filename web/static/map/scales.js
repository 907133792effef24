/* How a hexagon's style says how bad it is, in a way that stays readable
 * under a backlog (issue 18: after 15 min of untriaged demo traffic, 144 of
 * 178 hexagons were urgent red, because unacknowledged incidents escalate
 * by themselves, so "the most urgent band" alone no longer picks anything
 * out).
 *
 * - Colour: the priority band of the worst alert inside (what the band
 *   legend says), unchanged.
 * - Strength: by RANK, not by value. Hexagons are ordered worst first
 *   (highest priority inside, then most alerts); only the first tenth
 *   (at least TOP_MIN, at most TOP_MAX) are drawn in full colour, the next
 *   fifth half-strength, the rest pale. However many are red, the handful
 *   that are the worst still stand out; with few hexagons, all are full.
 * - Size: the number of open alerts, on a log scale capped at SIZE_CAP:
 *   one alert is a hexagon shrunk to 55 % of its cell, SIZE_CAP or more
 *   fill it, so one street with 40 reports does not dwarf everything and
 *   a single report is still visible. */

export const TOP_MIN = 5;
export const TOP_MAX = 12;
const TOP_SHARE = 0.1;
const MID_SHARE = 0.2;
export const SIZE_CAP = 25;
const SIZE_MIN = 0.55;

/* Drawing per tier: outline weight and opacity, fill opacity. */
export const TIER_STYLE = {
  top: { weight: 3, opacity: 1, fillOpacity: 0.62 },
  mid: { weight: 2, opacity: 0.8, fillOpacity: 0.32 },
  rest: { weight: 1, opacity: 0.55, fillOpacity: 0.12 },
};

/* hexes: [{top, n}] -> the same objects with .tier set. */
export function rankTiers(hexes) {
  const order = [...hexes].sort((a, b) => b.top - a.top || b.n - a.n);
  const total = order.length;
  const top = Math.min(TOP_MAX, Math.max(TOP_MIN, Math.ceil(total * TOP_SHARE)));
  const mid = top + Math.ceil(total * MID_SHARE);
  order.forEach((h, i) => { h.tier = i < top ? "top" : i < mid ? "mid" : "rest"; });
  return order;
}

/* The share of its cell a hexagon of n alerts fills (linear measure). */
export function sizeFactor(n) {
  if (n <= 1) return SIZE_MIN;
  return SIZE_MIN + (1 - SIZE_MIN) * Math.min(1, Math.log(n) / Math.log(SIZE_CAP));
}

/* The ring [[lat, lon], ...] shrunk towards its centre by `f`. */
export function shrink(ring, f) {
  let lat = 0;
  let lon = 0;
  for (const [a, b] of ring) { lat += a; lon += b; }
  lat /= ring.length;
  lon /= ring.length;
  return ring.map(([a, b]) => [lat + (a - lat) * f, lon + (b - lon) * f]);
}

/* The legend's explanation of strength and size, added once to the
 * page's band legend (.legend beside the map) by every hexagon layer,
 * so the wall and the desk say the same thing. */
export function explainLegend(legend) {
  if (!legend || legend.querySelector("[data-legend-scale]")) return;
  const item = (cls, text) => {
    const li = document.createElement("li");
    li.className = "legend-note";
    li.dataset.legendScale = cls;
    const mark = document.createElement("span");
    mark.className = `legend-mark legend-${cls}`;
    mark.setAttribute("aria-hidden", "true");
    li.append(mark, text);
    return li;
  };
  legend.append(
    item("strength", `couleur pleine : les ${TOP_MIN} à ${TOP_MAX} hexagones les plus graves, pâle : les autres`),
    item("size", `taille : nombre d'alertes ouvertes (pleine à ${SIZE_CAP} et plus)`),
  );
}
