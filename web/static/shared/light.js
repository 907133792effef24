/* The connection light: colour AND words, so it reads without colour too. */
export function showLight(node, state) {
  const open = state === "open";
  node.classList.toggle("light-on", open);
  node.classList.toggle("light-off", !open);
  node.dataset.state = open ? "on" : "off";
  node.textContent = open ? "En direct" : state === "connecting" ? "Connexion…" : "Flux coupé — reconnexion…";
}
