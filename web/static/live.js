/* A live stream that never lies: it shows when it is down, reconnects by
 * itself with backoff, and resumes with ?since=SEQ so nothing is missed. */
"use strict";

window.LiveStream = class LiveStream {
  constructor(path, { onMessage, onState, onResync, since }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.onResync = onResync || (() => window.location.reload());
    this.seq = since || 0;
    this.delay = 500;
    this.ws = null;
    this.connect();
  }

  url() {
    const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.seq > 0 ? `?since=${this.seq}` : "";
    return `${proto}//${window.location.host}${this.path}${since}`;
  }

  connect() {
    this.onState("connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
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
        if (msg.seq <= this.seq) return;
        this.seq = msg.seq;
      }
      try { this.onMessage(msg); } catch (e) { console.warn("message handler failed", e); }
    };
    ws.onclose = () => {
      this.onState("closed");
      const wait = this.delay + Math.random() * 250;
      this.delay = Math.min(this.delay * 2, 5000);
      setTimeout(() => this.connect(), wait);
    };
  }
};

window.api = async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    const err = new Error((data && data.error && data.error.message) || resp.statusText);
    err.status = resp.status;
    err.body = data;
    throw err;
  }
  return data;
};
