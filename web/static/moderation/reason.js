/* The one dialog that asks for a reason, and so confirms the action: the
 * API wants a reason for every moderation decision but validating, and
 * the dialog names what is about to happen before anything is sent.
 * Destructive actions (reject, hide, suspend) get a red button. */
import { $, el } from "../shared/dom.js";

const dialog = $("reason");
const input = $("reason-input");
const error = $("reason-error");
let settle = null;

function finish(value) {
  const done = settle;
  settle = null;
  if (dialog.open) dialog.close();
  if (done) done(value);
}

$("reason-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const reason = input.value.trim();
  if (!reason) {
    error.textContent = "Le motif est obligatoire.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  finish(reason);
});
$("reason-cancel").addEventListener("click", () => finish(null));
dialog.addEventListener("close", () => finish(null)); // Escape, or closed otherwise
input.addEventListener("input", () => { error.textContent = ""; input.removeAttribute("aria-invalid"); });

/* -> the reason typed, or null when cancelled. Focus returns where it was. */
export function askReason({ title, text, hint = "", confirm, danger = false, suggestions = [] }) {
  if (settle) finish(null);
  const back = document.activeElement;
  $("reason-title").textContent = title;
  $("reason-text").textContent = text;
  $("reason-hint").textContent = hint;
  const button = $("reason-confirm");
  button.textContent = confirm;
  button.classList.toggle("danger", danger);
  const box = $("reason-suggestions");
  box.hidden = !suggestions.length;
  box.querySelector(".buttons").replaceChildren(...suggestions.map((s) => {
    const b = el("button", { type: "button", class: "secondary", text: s });
    b.addEventListener("click", () => { input.value = s; input.dispatchEvent(new Event("input")); input.focus(); });
    return b;
  }));
  input.value = "";
  error.textContent = "";
  input.removeAttribute("aria-invalid");
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    settle = (value) => {
      if (back && back.isConnected) back.focus({ preventScroll: true });
      resolve(value);
    };
  });
}
