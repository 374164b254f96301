// The agent's websocket: JSON events in (a frame holds one, or a list), actions out. Reconnects with
// jittered exponential backoff and tells the page when it is back, so the page can fetch whatever it
// missed meanwhile.
//
// Close codes (inbox/consumers.py): 4401 no valid session (logged out, deactivated, a restart that lost
// the session): reload, and the server sends the login page; 4000 what you may see changed: reconnect
// now; anything else (1013 the server's Redis is unavailable, 1011 a server error, 1006 the network or a
// restart): reconnect with backoff.

const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_RECONNECT = 4000;

export class LiveSocket {
  constructor(path, { onEvent, onOpen, onStatus }) {
    this.path = path;
    this.onEvent = onEvent;
    this.onOpen = onOpen;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.opened = false;
    this.suspended = false;
    this.ws = null;
    this.timer = null;
  }

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + window.location.host + this.path);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const reconnected = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.onStatus("open");
      this.onOpen(reconnected);
    });
    // A frame is one event, or the list of events published together, in order (inbox/realtime.py).
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      for (const message of Array.isArray(frame) ? frame : [frame]) this.onEvent(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === CLOSE_UNAUTHENTICATED) {
        window.location.reload(); // the page needs a session too: the server answers with the login page
        return;
      }
      this.onStatus("closed");
      if (event.code === CLOSE_RECONNECT) this.attempt = 0;
      if (!this.suspended) this.retryLater();
    });
  }

  retryLater() {
    const ceiling = Math.min(10000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = window.setTimeout(() => this.connect(), ceiling / 2 + Math.random() * (ceiling / 2));
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(action) {
    if (this.isOpen) this.ws.send(JSON.stringify(action));
  }

  // Drop the connection and stay offline until resume(): what a network outage does, on demand
  // (handy to see the page catch up, and used by the browser tests).
  suspend() {
    this.suspended = true;
    window.clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }

  resume() {
    this.suspended = false;
    if (!this.ws) this.connect();
  }
}
