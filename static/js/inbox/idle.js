// The agent's presence follows the page (accounts/presence.py): Online while the inbox is open and in
// use, Away once nobody has touched it (keyboard, mouse, touch, focus) for PRESENCE_AWAY_AFTER seconds,
// Online again at the next touch. This tells the server over the websocket
// ({"action": "activity", "idle": true|false}) and shows the state the server announces (agent.status)
// in the top bar. A new socket starts as in use, so after a reconnect an idle page says so again.

const ACTIVITY = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "focus"];
const CHECK_MS = 5000;

export class IdleWatch {
  constructor(socket, awayAfterMs) {
    this.socket = socket;
    this.awayAfterMs = awayAfterMs;
    this.last = Date.now();
    this.idle = false;
  }

  start() {
    const touched = () => this.touched();
    for (const name of ACTIVITY) window.addEventListener(name, touched, { capture: true, passive: true });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.touched();
    });
    window.setInterval(() => this.check(), Math.min(CHECK_MS, this.awayAfterMs));
  }

  touched() {
    this.last = Date.now();
    if (this.idle) {
      this.idle = false;
      this.report();
    }
  }

  check() {
    if (!this.idle && Date.now() - this.last >= this.awayAfterMs) {
      this.idle = true;
      this.report();
    }
  }

  report() {
    this.socket.send({ action: "activity", idle: this.idle });
  }

  // The socket (re)opened: the server counts it as in use until told otherwise.
  opened() {
    if (this.idle) this.report();
  }
}

// The top bar's badge and choice, from an agent.status event.
export function showStatus(data) {
  const badge = document.getElementById("my-presence-state");
  if (badge) {
    badge.textContent = data.label;
    badge.className = `status agent-presence-${data.presence}`;
  }
  const select = document.getElementById("my-presence");
  if (select && data.choice) select.value = data.choice;
}

// Start watching for the inbox page `app`. The socket's callbacks are main.js's; they are chained here,
// so the page's own handling stays as it is.
export function watchIdle(app) {
  const seconds = Number(document.getElementById("presence-form")?.dataset.awayAfter) || 600;
  const watch = new IdleWatch(app.socket, seconds * 1000);
  // ?status=1: this socket also gets the agent's own agent.status events (inbox/consumers.py).
  app.socket.path += (app.socket.path.includes("?") ? "&" : "?") + "status=1";
  const { onOpen, onEvent } = app.socket;
  app.socket.onOpen = (reconnected) => {
    onOpen(reconnected);
    watch.opened();
  };
  app.socket.onEvent = (message) => {
    if (message?.event === "agent.status" && message.data) showStatus(message.data);
    onEvent(message);
  };
  watch.start();
  window.backchannelIdle = watch; // for the browser tests and for a look from the console
  return watch;
}
