// The agent inbox page: wires the list, the open thread, the composer and the websocket together.
// Everything shown is rendered by the server; live events only say what changed, and the page fetches
// the changed piece. After a lost connection it fetches the list, the counts and the thread again.

import { Alerts } from "./alerts.js";
import { BulkActions } from "./bulk.js";
import { Composer } from "./composer.js";
import { postForm } from "./http.js";
import { watchIdle } from "./idle.js";
import { bindShortcuts } from "./keys.js";
import { ConversationList } from "./list.js";
import { LiveSocket } from "./socket.js";
import { Thread } from "./thread.js";
import { refreshTimes } from "./time.js";

const HEARTBEAT_MS = 20000;

class InboxApp {
  constructor(root) {
    this.root = root;
    this.userId = Number(root.dataset.userId);
    this.view = root.dataset.view;
    this.search = root.dataset.search;
    this.conversationId = Number(root.dataset.conversationId) || null;
    this.presenceState = "viewing";
    this.list = new ConversationList(this);
    this.thread = new Thread(this);
    this.composer = new Composer(this);
    this.bulk = new BulkActions(this);
    this.alerts = new Alerts(this);
    this.socket = new LiveSocket(root.dataset.wsPath, {
      onEvent: (message) => this.received(message).catch((error) => console.warn(error)),
      onOpen: (reconnected) => this.connected(reconnected),
      onStatus: (status) => this.connectionStatus(status),
    });
  }

  start() {
    this.composer.attach();
    this.list.highlight();
    this.thread.expireUndo();
    refreshTimes(this.root);
    this.thread.scrollToEnd();
    bindShortcuts(this);
    this.root.addEventListener("submit", (event) => this.submitted(event));
    this.root.addEventListener("change", (event) => {
      if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
    });
    window.addEventListener("popstate", () => this.followLocation());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.markRead();
    });
    window.setInterval(() => this.announce(this.presenceState), HEARTBEAT_MS);
    window.setInterval(() => refreshTimes(this.root), 60000);
    watchIdle(this);
    this.socket.connect();
    this.markRead();
    this.alerts.start();
    this.root.dataset.ready = "true";
  }

  async received({ event, data }) {
    if (!data) return;
    const here = data.conversation_id === this.conversationId;
    switch (event) {
      case "message.created":
      case "message.updated":
        if (here) await this.thread.message(data.conversation_id, data.message_id);
        if (here && data.direction === "outbound") this.composer.refreshBudget();
        if (here && event === "message.created") await this.markRead();
        await this.list.upsert(data.conversation_id);
        break;
      case "conversation.created":
      case "conversation.updated":
        this.list.refreshCounts();
        await this.list.upsert(data.conversation_id);
        if (here) await this.thread.resync(data.conversation_id); // the header and the activity log
        break;
      case "message.deleted": // X's echo stored before our send was recorded, now folded into the reply
        this.thread.remove(`message-${data.message_id}`);
        break;
      case "note.created":
        if (here) await this.thread.note(data.conversation_id, data.note_id);
        break;
      case "customer.typing":
        if (here) this.thread.typing();
        break;
      case "customer.seen":
        if (here) this.thread.seen(data.conversation_id, data.last_read_event_id);
        break;
      case "notification.created":
        this.notified(data);
        break;
      case "agent.presence":
        if (here) this.thread.presence(data.agents);
        break;
      default:
        break;
    }
    this.alerts.received(event, data); // after the open conversation was marked read
  }

  async connected(reconnected) {
    this.announce(this.presenceState);
    if (this.conversationId) this.socket.send({ action: "presence_query", conversation_id: this.conversationId });
    if (!reconnected) {
      this.composer.sendUnsent(); // a reply left unsent before a reload
      return;
    }
    this.list.refreshCounts();
    this.alerts.refresh();
    await this.list.reload();
    if (this.conversationId) await this.thread.resync(this.conversationId);
    this.composer.sendUnsent();
  }

  connectionStatus(status) {
    const banner = document.getElementById("connection");
    banner.hidden = status === "open";
    banner.textContent = status === "open" ? "" : "Connection lost. Reconnecting…";
    this.root.dataset.connection = status;
  }

  announce(state) {
    this.presenceState = state;
    if (this.conversationId) {
      this.socket.send({ action: "presence", conversation_id: this.conversationId, state });
    }
  }

  async openConversation(conversationId, { push = true } = {}) {
    if (this.conversationId && this.conversationId !== conversationId) {
      this.socket.send({ action: "presence", conversation_id: this.conversationId, state: "left" });
    }
    this.conversationId = conversationId;
    this.root.dataset.conversationId = String(conversationId);
    this.root.classList.add("has-thread");
    if (push) window.history.pushState({}, "", `/c/${conversationId}/?${this.list.query()}`);
    this.list.highlight();
    await this.thread.show(conversationId);
    this.composer.attach();
    this.announce("viewing");
    this.socket.send({ action: "presence_query", conversation_id: conversationId });
    await this.markRead();
  }

  closeConversation() {
    if (this.conversationId) {
      this.socket.send({ action: "presence", conversation_id: this.conversationId, state: "left" });
    }
    this.conversationId = null;
    this.root.dataset.conversationId = "";
    this.root.classList.remove("has-thread");
    this.thread.clear();
    this.list.highlight();
  }

  followLocation() {
    const match = window.location.pathname.match(/^\/c\/(\d+)\/$/);
    if (match) this.openConversation(Number(match[1]), { push: false });
    else this.closeConversation();
  }

  step(direction) {
    const next = this.list.neighbour(direction);
    if (next !== null && next !== this.conversationId) {
      this.openConversation(next).then(() => document.getElementById(`row-${next}`)?.scrollIntoView({ block: "nearest" }));
    }
  }

  async markRead() {
    if (!this.conversationId || document.hidden) return;
    const id = this.conversationId;
    await postForm(`/c/${id}/read/`, new FormData());
    const row = document.getElementById(`row-${id}`);
    if (row?.classList.contains("unread")) await this.list.upsert(id);
    this.alerts.refresh();
  }

  // Assign, status, retry and note forms: posted in place, the answer swapped in.
  async submitted(event) {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    const action = form.dataset.action;
    try {
      const html = await postForm(form.action, new FormData(form));
      if (action === "undo") {
        const item = form.closest("li.item");
        if (item) this.thread.remove(item.id);
        this.composer.restore(form.dataset.text || "");
      } else if (["assign", "team", "status", "priority", "labels"].includes(action)) {
        this.thread.replaceHeader(html);
        this.list.refreshCounts();
        await this.list.upsert(this.conversationId);
      } else {
        this.thread.merge(html, { reveal: action === "note" });
        if (action === "note") form.reset();
      }
    } catch (failure) {
      this.toast(failure.message);
    }
  }

  // A mention or an assignment for this agent: the bell counts it, a toast says it, and the desktop too
  // when the agent allowed notifications.
  notified(data) {
    const count = document.getElementById("bell-count");
    if (count) {
      count.textContent = String(Number(count.textContent || 0) + 1);
      count.hidden = false;
      document.getElementById("bell")?.setAttribute("aria-label", `Notifications: ${count.textContent} unread`);
    }
    this.toast(data.text, "info");
    if ("Notification" in window && window.Notification.permission === "granted") {
      new window.Notification("Backchannel", { body: data.text, dir: "auto" });
    }
  }

  toast(message, kind = "error") {
    let box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("p");
      box.id = "toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = message;
    box.classList.toggle("info", kind === "info");
    box.hidden = false;
    window.clearTimeout(this.toastTimer);
    this.toastTimer = window.setTimeout(() => {
      box.hidden = true;
    }, 6000);
  }
}

const root = document.querySelector("[data-inbox]");
if (root) {
  window.backchannel = new InboxApp(root);
  window.backchannel.start();
}
