/* Lookups every page builds from the server's data: categories by id (from
 * the config) and sector names by id (from GET /api/sectors' GeoJSON). */
import { CATEGORIES } from "./config.js";

export const categoriesById = Object.fromEntries(CATEGORIES.map((c) => [c.id, c]));

export function sectorNames(sectorsGeo) {
  const names = {};
  for (const f of sectorsGeo.features) names[f.properties.id] = f.properties.name;
  return names;
}
