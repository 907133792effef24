/* The desk's one confirmation dialog (#confirm-action), for what cannot be
 * taken back: closing an incident (resolved, dismissed: a closed incident
 * stays closed, core/lifecycle.py, so an undo could not reopen it) and an
 * urgent or city-wide broadcast. From the keyboard: Enter or y confirms,
 * Escape or n cancels; focus goes to the confirm button, and back to where
 * it was once the dialog closes. */
import { $ } from "../shared/dom.js";

/* Resolves true (confirmed) or false. */
export function confirmAction({ title, text, yes }) {
  const dialog = $("confirm-action");
  const back = document.activeElement;
  $("ca-title").textContent = title;
  $("ca-text").textContent = text;
  $("ca-yes-label").textContent = yes;
  return new Promise((resolve) => {
    const done = (ok) => {
      dialog.removeEventListener("keydown", onKey);
      dialog.removeEventListener("close", onClose);
      $("ca-yes").removeEventListener("click", onYes);
      $("ca-no").removeEventListener("click", onNo);
      if (dialog.open) dialog.close();
      if (back && back.focus && document.contains(back)) back.focus({ preventScroll: true });
      resolve(ok);
    };
    const onYes = () => done(true);
    const onNo = () => done(false);
    const onClose = () => done(false); // Escape (the dialog's own cancel)
    const onKey = (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "y" || ev.key === "o" || (ev.key === "Enter" && ev.target === dialog)) { ev.preventDefault(); done(true); }
      else if (ev.key === "n") { ev.preventDefault(); done(false); }
    };
    dialog.addEventListener("keydown", onKey);
    dialog.addEventListener("close", onClose);
    $("ca-yes").addEventListener("click", onYes);
    $("ca-no").addEventListener("click", onNo);
    dialog.showModal();
    $("ca-yes").focus();
  });
}
