/* The login gate: every page starts hidden behind it. GET /session (that
 * is /api/me) answers null when there is no session; the form logs in (the
 * server sets the HttpOnly cookie that HTTP and WebSocket then use) and the
 * page goes on without a reload. */
import { api } from "./api.js";

export function requireUser(roles) {
  const gate = document.getElementById("login");
  const app = document.getElementById("app");
  const form = gate.querySelector("form");
  const error = gate.querySelector(".login-error");
  return new Promise((resolve) => {
    const enter = (me) => {
      if (roles && !roles.includes(me.role)) {
        gate.hidden = false;
        form.hidden = false;
        error.textContent = "Ce compte n'a pas accès à cette page.";
        return;
      }
      gate.hidden = true;
      app.hidden = false;
      resolve(me);
    };
    // a page may log in by other means: the resident page's sign-up logs
    // the new account in, then hands its /session answer here
    document.addEventListener("dispatch:session", (ev) => enter(ev.detail));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      try {
        await api("POST", "/api/auth/login", { email, password });
        enter(await api("GET", "/session"));
      } catch (e) {
        error.textContent = e.status === 401 ? "Adresse ou mot de passe incorrect." : "Connexion impossible, réessayez.";
      }
    });
    // /session is /api/me answering null instead of 401 (dispatch/http/pages.py)
    const ask = () => api("GET", "/session").then((me) => {
      if (me) { enter(me); return; }
      gate.hidden = false;
      form.elements.email.focus();
    }, (e) => {
      console.warn("GET /session failed; retrying", e);
      setTimeout(ask, 5000);
    });
    ask();
  });
}

/* An account that is not (or no longer) validated, e.g. suspended: GET
 * /api/me says so in `status` (absent on servers that predate it). */
export const isValidated = (me) => !me.status || me.status === "validated";

export async function checkSession() {
  try {
    // logged out for good (expired session), or suspended: the page starts
    // again, on its login form or on the account's status
    const me = await api("GET", "/session");
    if (me === null || !isValidated(me)) window.location.reload();
  } catch (e) { /* the server is down: the stream keeps retrying */ }
}
