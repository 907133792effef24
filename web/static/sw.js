/* The residents' service worker (issue 19): a page that is closed still
 * rings when the police send a message. Served as /sw.js from the site's
 * root (dispatch/http/pages.py, service_worker), so its scope is the whole
 * site; a classic script under the pages' strict CSP (it fetches nothing
 * but /config from its own origin).
 *
 * On `push` (a Web Push message, RFC 8030, decrypted by the browser; its
 * payload is the JSON the server's outbox sends, {"id", "level", "text"}),
 * it shows a notification titled with the level's French word (from
 * GET /config, as every page takes its words) and the message as its body,
 * then tells the open pages what it showed (a "push.shown" message: the
 * page announces it, and the browser tests read it). A click on the
 * notification focuses an open page of the site, or opens /. */

let levelWords = null;

async function levelLabel(level) {
  if (levelWords === null) {
    try {
      const resp = await fetch("/config", { credentials: "same-origin" });
      const levels = resp.ok ? (await resp.json()).levels || [] : [];
      levelWords = Object.fromEntries(levels.map((l) => [l.id, l.label]));
    } catch (e) {
      levelWords = {}; // offline: the level's own name will do
    }
  }
  return levelWords[level] || level || "Message";
}

function payload(data) {
  if (!data) return {};
  try {
    const body = data.json();
    return body && typeof body === "object" ? body : { text: String(body) };
  } catch (e) {
    return { text: data.text() };
  }
}

async function show(message) {
  const word = await levelLabel(message.level);
  const title = `${word} — police municipale`;
  const body = message.text || "";
  await self.registration.showNotification(title, {
    body,
    lang: "fr",
    icon: "/static/favicon.svg",
    // one notification per broadcast: a retried push replaces, never repeats
    tag: message.id !== undefined ? `broadcast-${message.id}` : undefined,
    // an urgent message stays on screen until the resident acts on it
    requireInteraction: message.level === "urgent",
    data: { id: message.id, level: message.level },
  });
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) {
    page.postMessage({ type: "push.shown", title, body, level: message.level, id: message.id });
  }
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (ev) => ev.waitUntil(self.clients.claim()));
self.addEventListener("push", (ev) => ev.waitUntil(show(payload(ev.data))));

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  ev.waitUntil((async () => {
    const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = pages.find((p) => new URL(p.url).pathname === "/");
    if (open) return open.focus();
    return self.clients.openWindow("/");
  })());
});
