/* A live stream that never lies: it shows when it is down, reconnects by
 * itself with backoff, and resumes with ?since=SEQ so nothing is missed.
 * Handlers must be idempotent: a resumed stream may replay an event the page
 * already got from its HTTP snapshot. */
import { checkSession } from "./session.js";

// docs/reference.md, close codes: the session was ended (logged out
// elsewhere), or the account suspended; the page asks at once what now
const SESSION_CLOSES = [4001, 4003];

export class LiveStream {
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
    ws.onclose = (ev) => {
      this.failures += 1;
      this.onState("closed");
      // a session that expired would fail every handshake: after a few
      // failures, ask the HTTP API, which can tell "logged out" from "down";
      // an ended session or a suspended account: ask at once
      if (this.failures === 3 || SESSION_CLOSES.includes(ev.code)) checkSession();
      const wait = this.delay + Math.random() * 250;
      this.delay = Math.min(this.delay * 2, 5000);
      setTimeout(() => this.connect(), wait);
    };
  }
}
