/* Shared by every page: the live stream, the JSON API helper, the login
 * gate, and French formatting. No framework: a few globals under `Dispatch`. */
"use strict";

/* A live stream that never lies: it shows when it is down, reconnects by
 * itself with backoff, and resumes with ?since=SEQ so nothing is missed.
 * Handlers must be idempotent: a resumed stream may replay an event the page
 * already got from its HTTP snapshot. */
class LiveStream {
  constructor(path, { onMessage, onState, onResync, since }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.onResync = onResync || (() => window.location.reload());
    // null: no snapshot to resume from, live only. 0 is a real position (an
    // empty event log): resuming from it must still replay what follows.
    this.seq = since === undefined ? null : since;
    this.delay = 500;
    this.failures = 0;
    this.ws = null;
    this.connect();
  }

  url() {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.seq !== null ? `?since=${this.seq}` : "";
    return `${proto}//${window.location.host}${this.path}${since}`;
  }

  connect() {
    this.onState("connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.failures = 0;
      this.onState("open");
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "resync") {
        this.seq = msg.seq;
        this.onResync(msg);
        return;
      }
      if (typeof msg.seq === "number") {
        if (this.seq !== null && msg.seq <= this.seq) return;
        this.seq = msg.seq;
      }
      try { this.onMessage(msg); } catch (e) { console.warn("message handler failed", e); }
    };
    ws.onclose = () => {
      this.failures += 1;
      this.onState("closed");
      // a session that expired would fail every handshake: after a few
      // failures, ask the HTTP API, which can tell "logged out" from "down"
      if (this.failures === 3) Dispatch.checkSession();
      const wait = this.delay + Math.random() * 250;
      this.delay = Math.min(this.delay * 2, 5000);
      setTimeout(() => this.connect(), wait);
    };
  }
}

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!resp.ok) {
    const msg = (data && data.error && data.error.message) || resp.statusText;
    throw new ApiError(msg, resp.status, data);
  }
  return data;
}

/* The login gate: every page starts hidden behind it. GET /session (that
 * is /api/me) answers null when there is no session; the form logs in (the server sets the
 * HttpOnly cookie that HTTP and WebSocket then use) and the page goes on
 * without a reload. */
function requireUser(roles) {
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
    // /session is /api/me answering null instead of 401 (dispatch/pages.py)
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

async function checkSession() {
  try {
    // logged out for good (expired session): the login form is the only way on
    if ((await api("GET", "/session")) === null) window.location.reload();
  } catch (e) { /* the server is down: the stream keeps retrying */ }
}

const timeFmt = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const shortTime = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit" });

/* "à l'instant", "3 min", "2 h 05" — short enough for a wall read from afar. */
function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, "0")}`;
  return `${Math.floor(h / 24)} j`;
}

const STATUS_LABELS = {
  new: "Nouveau",
  acknowledged: "Pris en compte",
  assigned: "Équipe affectée",
  in_progress: "En cours",
  resolved: "Résolu",
  dismissed: "Infondé",
  duplicate: "Doublon",
};
const OPEN_STATUSES = ["new", "acknowledged", "assigned", "in_progress"];

/* Priority bands shared by maps, lists and legends (core/triage.py: 10 x
 * severity, plus witnesses, vulnerability and overdue escalation). */
function band(priority) {
  if (priority >= 50) return "crit";
  if (priority >= 40) return "high";
  if (priority >= 30) return "med";
  return "low";
}
const BAND_LABELS = { crit: "Urgent", high: "Élevée", med: "Moyenne", low: "Faible" };

/* Build an element: el("li", {class: "x", dataset: {id: 1}}, "text", child). */
function el(tag, attrs, ...children) {
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

function startClock(node) {
  const tick = () => { node.textContent = timeFmt.format(new Date()); };
  tick();
  setInterval(tick, 1000);
}

/* The connection light: colour AND words, so it reads without colour too. */
function showLight(node, state) {
  const open = state === "open";
  node.classList.toggle("light-on", open);
  node.classList.toggle("light-off", !open);
  node.dataset.state = open ? "on" : "off";
  node.textContent = open ? "En direct" : state === "connecting" ? "Connexion…" : "Flux coupé — reconnexion…";
}

window.Dispatch = {
  LiveStream, ApiError, api, requireUser, checkSession, age, timeFmt, shortTime,
  STATUS_LABELS, OPEN_STATUSES, band, BAND_LABELS, el, startClock, showLight,
};

/* Staff pages: what an incident looks like in a list, and the live tally
 * of open incidents by status. */
(function () {
  const { el, age, STATUS_LABELS, OPEN_STATUSES, band } = window.Dispatch;

  function isOverdue(inc, now) {
    return !inc.acknowledged_at && OPEN_STATUSES.includes(inc.status) && now >= Date.parse(inc.ack_due_at);
  }

  function witnesses(n) {
    return n > 1 ? `${n} témoins` : "1 témoin";
  }

  /* One row of the wall's column or the desk's queue. `refresh` rewrites
   * only what an update can change (status, witnesses, priority, age). */
  function incidentRow(inc, ctx, tag = "li") {
    const cat = ctx.categories[inc.category] || { label: inc.category, pictogram: "•" };
    const row = el(tag, { class: "incident", dataset: { incident: inc.id } },
      el("span", { class: "picto", "aria-hidden": "true", text: cat.pictogram }),
      el("span", { class: "inc-main" },
        el("span", { class: "inc-cat", text: cat.label }),
        el("span", { class: "inc-sector", text: ctx.sectors[inc.sector] || inc.sector })),
      el("span", { class: "inc-meta" },
        el("span", { class: "inc-witnesses" }),
        el("span", { class: "inc-age" })),
      el("span", { class: "inc-flags" },
        el("span", { class: "inc-status" }),
        el("span", { class: "inc-overdue", text: "En retard" })));
    row._inc = inc;
    refreshRow(row, inc, Date.now());
    return row;
  }

  function refreshRow(row, inc, now) {
    row._inc = inc;
    const b = band(inc.priority);
    if (row.dataset.band !== b) {
      if (row.dataset.band) row.classList.remove("band-" + row.dataset.band);
      row.classList.add("band-" + b);
      row.dataset.band = b;
    }
    const open = OPEN_STATUSES.includes(inc.status);
    row.classList.toggle("closed", !open);
    row.dataset.status = inc.status;
    setText(row.querySelector(".inc-status"), STATUS_LABELS[inc.status] || inc.status);
    setText(row.querySelector(".inc-witnesses"), witnesses(inc.witnesses));
    tickRow(row, now);
  }

  function tickRow(row, now) {
    const inc = row._inc;
    setText(row.querySelector(".inc-age"), age(now - Date.parse(inc.created_at)));
    const late = isOverdue(inc, now);
    if (row.classList.contains("overdue") !== late) row.classList.toggle("overdue", late);
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /* Open incidents by status, and how many are overdue; kept from events
   * (one Map entry per open incident, dropped when it closes). A status
   * count changes with the event that changes it; the overdue count is
   * a matter of time, so the clock's tick recounts it. */
  class Tally {
    constructor(nodes) {
      this.nodes = nodes;
      this.open = new Map();
      this.counts = { new: 0, acknowledged: 0, assigned: 0, in_progress: 0 };
    }
    apply(inc) {
      const was = this.open.get(inc.id);
      if (was) this.counts[was.status] -= 1;
      if (OPEN_STATUSES.includes(inc.status)) {
        this.open.set(inc.id, { status: inc.status, due: inc.acknowledged_at ? Infinity : Date.parse(inc.ack_due_at) });
        this.counts[inc.status] += 1;
      } else {
        this.open.delete(inc.id);
      }
      if (was && was.status !== inc.status) this.show(was.status);
      this.show(inc.status);
    }
    show(status) {
      const node = this.nodes[status];
      if (node) setText(node, String(this.counts[status]));
    }
    render(now) {
      let overdue = 0;
      for (const r of this.open.values()) if (now >= r.due) overdue += 1;
      for (const s of OPEN_STATUSES) this.show(s);
      if (this.nodes.overdue) setText(this.nodes.overdue, String(overdue));
    }
  }

  Object.assign(window.Dispatch, { isOverdue, witnesses, incidentRow, refreshRow, tickRow, setText, Tally });
})();
