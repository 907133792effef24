/* A resident account that is not validated (pending, rejected or
 * suspended) may log in and read GET /api/me, and nothing else: instead of
 * the report form and the lists, the page says plainly where the account
 * stands, with the moderator's reason if there is one. The words for each
 * status are in the template (resident.html, [data-account-status]) and
 * the status's name comes from GET /config (a block may name several
 * statuses, space-separated). While pending, it asks again
 * every minute, and reloads into the live page once validated. */
import { api } from "../shared/api.js";
import { ACCOUNTS } from "../shared/config.js";
import { $ } from "../shared/dom.js";
import { shortTime } from "../shared/format.js";
import { isValidated } from "../shared/session.js";

const POLL_MS = 60 * 1000;

function render(me) {
  const section = $("account");
  section.dataset.status = me.status;
  $("account-label").textContent = ACCOUNTS.labels[me.status] || me.status;
  for (const block of section.querySelectorAll("[data-account-status]")) {
    block.hidden = !block.dataset.accountStatus.split(" ").includes(me.status);
  }
  const reason = me.reason || "";
  $("account-reason").textContent = reason;
  $("account-reason-line").hidden = !reason;
}

/* justJoined: the account was made on this page a moment ago. */
export function showAccount(me, { justJoined = false } = {}) {
  $("live").hidden = true;
  $("light").hidden = true; // no stream to be connected to
  $("account").hidden = false;
  $("account-just-sent").hidden = !justJoined;
  render(me);
  $("account-title").focus();

  const message = $("account-message");
  let timer = null;
  async function refresh(byHand) {
    clearTimeout(timer);
    try {
      const now = await api("GET", "/session");
      if (now === null || isValidated(now)) { window.location.reload(); return; }
      render(now);
      if (byHand) message.textContent = `État vérifié à ${shortTime.format(new Date())} : ${ACCOUNTS.labels[now.status] || now.status}.`;
    } catch (e) {
      if (byHand) message.textContent = "Vérification impossible pour l'instant, réessayez.";
    }
    timer = setTimeout(() => refresh(false), POLL_MS);
  }
  timer = setTimeout(() => refresh(false), POLL_MS);
  $("account-refresh").addEventListener("click", () => refresh(true));
  $("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/api/auth/logout");
      window.location.reload();
    } catch (e) {
      message.textContent = "Déconnexion impossible pour l'instant, réessayez.";
    }
  });
}
