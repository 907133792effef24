/* The resident's settings (issue 19): how to be reached when the page is
 * closed. Which channels (GET /config `channels`: the app itself is always
 * on, e-mail, SMS, push on this device), for police messages of which
 * levels (`levels`), and for nearby alerts of which categories
 * (`categories`); the mobile phone SMS go to (and the number the SMS
 * intake knows the resident by). GET and PUT /api/me/notifications.
 *
 * Push: the page registers the service worker (/sw.js, scope /) as soon as
 * a validated resident opens it, so a message can ring later; permission is
 * asked only on a click ("Activer les notifications", as browsers require a
 * user gesture), then the browser subscribes with the server's VAPID key
 * (GET /api/push/key) and the subscription is POSTed to
 * /api/me/push-subscriptions. What the worker showed comes back as a
 * "push.shown" message, announced here. */
import { api } from "../shared/api.js";
import { CATEGORIES, CHANNELS, LEVELS } from "../shared/config.js";
import { $, el } from "../shared/dom.js";

const ALWAYS = "app"; // the page itself: every message is in it, whatever the settings
const PUSH = "push";

/* base64url (RFC 4648 §5) -> bytes, the form applicationServerKey takes. */
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function boxes(fieldset, name, items) {
  for (const { id, label } of items) {
    const input = el("input", { type: "checkbox", name, value: id, id: `s-${name}-${id}` });
    fieldset.append(el("label", { class: "check", for: input.id }, input, ` ${label}`));
  }
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((b) => b.value);
}

function tick(form, name, values) {
  const on = new Set(values || []);
  for (const b of form.querySelectorAll(`input[name="${name}"]`)) if (!b.disabled) b.checked = on.has(b.value);
}

const pushSupported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

export async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (e) {
    console.warn("service worker not registered", e);
    return null;
  }
}

function createPush(form) {
  const state = $("s-push-state");
  const button = $("s-push-enable");
  function say(text, offer) {
    state.textContent = text;
    button.hidden = !offer;
  }
  async function refresh() {
    if (!pushSupported()) return say("Ce navigateur ne sait pas recevoir de notifications.", false);
    if (Notification.permission === "denied") return say("Les notifications sont bloquées pour ce site dans les réglages du navigateur.", false);
    const reg = await navigator.serviceWorker.ready;
    const sub = await reg.pushManager.getSubscription().catch(() => null);
    if (sub && Notification.permission === "granted") return say("Cet appareil reçoit les notifications.", false);
    return say("Cet appareil ne reçoit pas encore les notifications.", true);
  }
  async function enable() {
    button.disabled = true;
    try {
      if (await Notification.requestPermission() !== "granted") { await refresh(); return; }
      const reg = await navigator.serviceWorker.ready;
      const { public_key: key } = await api("GET", "/api/push/key");
      const sub = (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) })).toJSON();
      await api("POST", "/api/me/push-subscriptions", { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth } });
      const box = form.querySelector(`input[name="channels"][value="${PUSH}"]`);
      if (box) box.checked = true;
      say("Cet appareil reçoit les notifications. Enregistrez vos réglages pour les garder.", false);
    } catch (e) {
      say(`Activation impossible pour l'instant (${e.message}). Réessayez plus tard.`, true);
    } finally {
      button.disabled = false;
    }
  }
  button.addEventListener("click", enable);
  return { refresh };
}

export async function startSettings() {
  const form = $("settings-form");
  const result = $("settings-result");
  boxes($("s-channels"), "channels", CHANNELS);
  const always = form.querySelector(`input[name="channels"][value="${ALWAYS}"]`);
  if (always) { always.checked = true; always.disabled = true; }
  boxes($("s-levels"), "levels", LEVELS);
  boxes($("s-categories"), "categories", CATEGORIES.map((c) => ({ id: c.id, label: `${c.pictogram} ${c.label}` })));

  const push = createPush(form);
  await registerWorker();
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", (ev) => {
      if (ev.data && ev.data.type === "push.shown") result.textContent = `Notification affichée : ${ev.data.title}.`;
    });
  }
  push.refresh().catch(() => {});

  try {
    const now = await api("GET", "/api/me/notifications");
    tick(form, "channels", now.channels);
    tick(form, "levels", now.levels);
    tick(form, "categories", now.categories);
    $("s-phone").value = now.phone || "";
  } catch (e) {
    result.textContent = "Réglages indisponibles pour l'instant.";
  }

  // the link every e-mail carries (List-Unsubscribe) opens the page here
  if (window.location.hash === "#notifications") {
    $("settings").scrollIntoView();
    $("settings-title").focus();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const phone = $("s-phone").value.trim();
    const body = {
      channels: [...new Set([ALWAYS, ...checked(form, "channels")])],
      levels: checked(form, "levels"),
      categories: checked(form, "categories"),
      phone: phone || null,
    };
    $("s-phone-error").textContent = "";
    $("s-phone").removeAttribute("aria-invalid");
    try {
      const saved = await api("PUT", "/api/me/notifications", body);
      $("s-phone").value = saved.phone || "";
      result.textContent = "Réglages enregistrés.";
    } catch (e) {
      if (e.field === "phone") {
        $("s-phone-error").textContent = e.code === "missing_field"
          ? "Indiquez un numéro de portable pour recevoir des SMS."
          : "Ce numéro n'est pas un numéro de portable valable.";
        $("s-phone").setAttribute("aria-invalid", "true");
        $("s-phone").focus();
      }
      result.textContent = `Enregistrement impossible : ${e.message}`;
    }
  });
}
