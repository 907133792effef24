/* H3 arithmetic the maps need without the H3 library: a cell's parent and
 * the resolution to draw at a zoom. Outlines come from the server
 * (dispatch/http/pages.py), which has h3-py. */

/* An H3 index is a 64-bit integer: resolution in bits 52-55, then one
 * 3-bit digit per resolution from bit 42 (res 1) down to bit 0 (res 15),
 * digits finer than the resolution all set to 7 (h3geo.org, "H3 Index
 * Representations"). So the parent is: new resolution, and the digits
 * below it set to 7. Exact, and checked against h3-py in the tests. */
export function h3Parent(cell, res) {
  let h = BigInt("0x" + cell);
  const cur = Number((h >> 52n) & 15n);
  if (res >= cur) return cell;
  h = (h & ~(15n << 52n)) | (BigInt(res) << 52n);
  for (let r = res + 1; r <= cur; r++) h |= 7n << BigInt((15 - r) * 3);
  return h.toString(16);
}

/* The resolution follows the zoom in three steps (issue 18): coarse
 * hexagons (res 7, about 2.5 km across) while the whole city is in view,
 * res 8 between, and res 9 (the resolution alerts are stored at, about
 * 350 m) at street scale. A demo-city wall fits the city at zoom 12.5-13
 * and one sector at 13.5-16, so a sector view is never drawn as coarsely
 * as the city. The first zoom at which each resolution starts: */
const RES_STEPS = [
  [15, 9],
  [13.5, 8],
];
const COARSE_RES = 7;

export function resForZoom(zoom) {
  for (const [from, res] of RES_STEPS) if (zoom >= from) return res;
  return COARSE_RES;
}
