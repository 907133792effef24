/* A live stream that never lies: it shows when it is down, reconnects by
 * itself with backoff, and resumes with ?since=SEQ so nothing is missed.
 * Handlers must be idempotent: a resumed stream may replay an event the page
 * already got from its HTTP snapshot. */
import { checkSession } from "./session.js";

// docs/reference.md, close codes: the session was ended (logged out
// elsewhere), or the account suspended; the page asks at once what now
const SESSION_CLOSES = [4001, 4003];
// first retry within 1 s, then doubling up to 10 s: the light shows the gap,
// and a wall is never more than 10 s from trying again
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 10000;

export class LiveStream {
  constructor(path, { onMessage, onState, onResync, since }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.onResync = onResync || (() => window.location.reload());
    // null: no snapshot to resume from, live only. 0 is a real position (an
    // empty event log): resuming from it must still replay what follows.
    this.seq = since === undefined ? null : since;
    this.delay = BACKOFF_BASE_MS;
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
      this.delay = BACKOFF_BASE_MS;
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
    ws.onclose = (ev) => {
      this.failures += 1;
      this.onState("closed");
      // a session that expired would fail every handshake: after a few
      // failures, ask the HTTP API, which can tell "logged out" from "down";
      // an ended session or a suspended account: ask at once
      if (this.failures === 3 || SESSION_CLOSES.includes(ev.code)) checkSession();
      // exponential backoff with full jitter (AWS Architecture Blog,
      // "Exponential Backoff And Jitter"): after a worker restart (1012) its
      // thousands of clients spread over the window instead of arriving together
      const wait = Math.random() * this.delay;
      this.delay = Math.min(this.delay * 2, BACKOFF_CAP_MS);
      setTimeout(() => this.connect(), wait);
    };
  }
}
