/* French formatting of times and durations. */

export const timeFmt = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
export const shortTime = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit" });

/* "à l'instant", "3 min", "2 h 05" — short enough for a wall read from afar. */
export function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, "0")}`;
  return `${Math.floor(h / 24)} j`;
}

export function witnesses(n) {
  return n > 1 ? `${n} témoins` : "1 témoin";
}
