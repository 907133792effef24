/* Small DOM helpers: an element builder and a write that skips no-ops (a
 * wall left for days rewrites the same text every second otherwise). */

export const $ = (id) => document.getElementById(id);

/* Build an element: el("li", {class: "x", dataset: {id: 1}}, "text", child). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
