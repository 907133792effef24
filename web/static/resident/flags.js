/* Flagging a nearby alert to the moderators (POST /api/alerts/{id}/flags):
 * a dialog asks what is wrong (a reason from a short list, details
 * required for "other"), and the alert's button then reads that it was
 * flagged. A second flag of the same alert is refused by the server (409),
 * which the page reads as "already flagged". */
import { api } from "../shared/api.js";
import { $ } from "../shared/dom.js";

const OTHER = "Autre";

/* describe(alert): the words that name an alert in the dialog. */
export function createFlagger(describe) {
  const dialog = $("flag-dialog");
  const form = $("flag-form");
  const error = $("flag-error");
  const result = $("flag-result");
  let current = null; // {alert, button}

  function done(button, text) {
    button.disabled = true;
    button.textContent = text;
    button.removeAttribute("aria-label");
  }

  function open(alert, button) {
    current = { alert, button };
    form.reset();
    error.textContent = "";
    $("flag-what").textContent = describe(alert);
    dialog.showModal();
    form.querySelector('input[name="flag-reason"]').focus();
  }

  function close() {
    const back = current && current.button.isConnected ? current.button : null;
    dialog.close();
    current = null;
    if (back) back.focus();
  }

  function reason() {
    const choice = form.querySelector('input[name="flag-reason"]:checked');
    const details = $("flag-details").value.trim();
    if (!choice) return { error: "Choisissez ce qui ne va pas." };
    if (choice.value === OTHER && !details) return { error: "Précisez ce qui ne va pas." };
    return { text: details ? `${choice.value} : ${details}` : choice.value };
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const r = reason();
    if (r.error) {
      error.textContent = r.error;
      return;
    }
    const { alert, button } = current;
    $("flag-send").disabled = true;
    try {
      await api("POST", `/api/alerts/${alert.id}/flags`, { reason: r.text });
      done(button, "Signalé aux modérateurs");
      close();
      result.textContent = "Merci : un modérateur va examiner cette alerte.";
    } catch (e) {
      if (e.status === 409) {
        done(button, "Déjà signalé");
        close();
        result.textContent = "Vous avez déjà signalé cette alerte.";
      } else if (e.status === 429) {
        const minutes = e.retryAfter ? Math.ceil(e.retryAfter / 60) : null;
        error.textContent = `Trop de signalements en peu de temps : réessayez ${minutes ? `dans ${minutes} min` : "plus tard"}.`;
      } else if (e.status === 404) {
        close();
        result.textContent = "Cette alerte n'est plus visible.";
      } else {
        error.textContent = `Envoi impossible : ${e.message}`;
      }
    } finally {
      $("flag-send").disabled = false;
    }
  });
  $("flag-cancel").addEventListener("click", close);
  dialog.addEventListener("cancel", (ev) => { ev.preventDefault(); close(); }); // Escape

  return {
    open,
    /* the alert left the page: a dialog open on it has nothing to flag */
    forget(id) {
      if (current && current.alert.id === id) {
        dialog.close();
        current = null;
        result.textContent = "Cette alerte a été retirée par un modérateur.";
      }
    },
  };
}
