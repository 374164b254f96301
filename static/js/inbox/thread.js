// The open conversation: its timeline kept live item by item, its header, who else is here, typing and
// "seen" from the customer.

import { fragment, getFragment } from "./http.js";
import { replaceKeepingFocus } from "./keys.js";
import { refreshTimes } from "./time.js";

const TYPING_SHOWN_MS = 5000;

export class Thread {
  constructor(app) {
    this.app = app;
    this.pane = document.getElementById("thread-pane");
    this.typingTimer = null;
    this.deleted = new Set();
    this.pane.addEventListener("click", (event) => this.clicked(event));
  }

  get timeline() {
    return document.getElementById("timeline");
  }

  async show(conversationId) {
    const html = await getFragment(`/c/${conversationId}/thread/?${this.app.list.query()}`);
    this.pane.replaceChildren(fragment(html));
    refreshTimes(this.pane);
    this.expireUndo();
    this.scrollToEnd();
  }

  clear() {
    this.pane.replaceChildren(fragment('<p class="empty-thread">Pick a conversation from the list.</p>'));
  }

  clicked(event) {
    const earlier = event.target.closest("li.earlier button");
    if (earlier) {
      this.loadEarlier(earlier);
      return;
    }
    const media = event.target.closest("[data-lightbox]");
    if (media) {
      const dialog = document.getElementById("lightbox");
      document.getElementById("lightbox-image").src = media.dataset.lightbox;
      document.getElementById("lightbox-image").alt = media.querySelector("img")?.alt ?? "";
      dialog.showModal();
    }
  }

  nearEnd() {
    const timeline = this.timeline;
    return !timeline || timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 120;
  }

  scrollToEnd() {
    const timeline = this.timeline;
    if (timeline) timeline.scrollTop = timeline.scrollHeight;
  }

  // Put each item of `html` in its place by its sort key, replacing an older copy of the same item.
  merge(html) {
    const timeline = this.timeline;
    if (!timeline) return;
    const follow = this.nearEnd();
    for (const item of [...fragment(html).querySelectorAll("li.item")]) {
      if (this.deleted.has(item.id)) continue; // a fetch that started before it was deleted
      document.getElementById(item.id)?.remove();
      const later = [...timeline.querySelectorAll("li.item")].find((other) => other.dataset.key > item.dataset.key);
      if (later) timeline.insertBefore(item, later);
      else timeline.appendChild(item);
    }
    timeline.querySelector(".timeline-empty")?.remove();
    refreshTimes(timeline);
    this.expireUndo();
    if (follow) this.scrollToEnd();
  }

  remove(itemId) {
    this.deleted.add(itemId);
    document.getElementById(itemId)?.remove();
  }

  // An Undo button lasts as long as the server still accepts the undo.
  expireUndo() {
    for (const form of this.pane.querySelectorAll("form.undo[data-until]:not([data-timed])")) {
      form.dataset.timed = "true";
      const left = new Date(form.dataset.until) - Date.now();
      window.setTimeout(() => form.remove(), Math.max(0, left));
    }
  }

  // The newest message on the page (its id): what the agent has seen when they start a reply.
  latestMessageId() {
    const ids = [...this.pane.querySelectorAll("li.item[id^='message-']")].map((item) => Number(item.id.slice(8)));
    return ids.length ? Math.max(...ids) : 0;
  }

  async message(conversationId, messageId) {
    this.merge(await getFragment(`/c/${conversationId}/messages/${messageId}/`));
    this.hideTyping();
  }

  async note(conversationId, noteId) {
    this.merge(await getFragment(`/c/${conversationId}/notes/${noteId}/`));
  }

  async refreshHeader(conversationId) {
    const html = await getFragment(`/c/${conversationId}/header/?${this.app.list.query()}`);
    this.replaceHeader(html);
  }

  // A new header (someone changed the conversation), keeping the menus the agent has open and what they
  // ticked in them: a live update must not undo a choice the agent is about to save.
  replaceHeader(html) {
    const current = document.getElementById("thread-header");
    if (!current) return;
    const open = new Map([...current.querySelectorAll("details[open]")].map((menu) => [menu.className, menu]));
    const next = fragment(html);
    for (const menu of next.querySelectorAll("details")) {
      const before = open.get(menu.className);
      if (!before) continue;
      menu.open = true;
      for (const box of before.querySelectorAll("input[type=checkbox]")) {
        const same = [...menu.querySelectorAll("input[type=checkbox]")].find(
          (other) => other.name === box.name && other.value === box.value,
        );
        if (same) same.checked = box.checked;
      }
    }
    replaceKeepingFocus(current, next);
  }

  // After a lost connection: the latest window again (new items, changed delivery states), and the header.
  async resync(conversationId) {
    this.merge(await getFragment(`/c/${conversationId}/timeline/`));
    await this.refreshHeader(conversationId);
  }

  async loadEarlier(button) {
    const timeline = this.timeline;
    const fromEnd = timeline.scrollHeight - timeline.scrollTop;
    const html = await getFragment(`/c/${this.app.conversationId}/timeline/?before=${button.dataset.before}`);
    button.closest("li").replaceWith(fragment(html));
    timeline.scrollTop = timeline.scrollHeight - fromEnd;
  }

  typing() {
    const line = document.getElementById("typing");
    if (!line) return;
    line.hidden = false;
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(() => this.hideTyping(), TYPING_SHOWN_MS);
  }

  hideTyping() {
    const line = document.getElementById("typing");
    if (line) line.hidden = true;
  }

  // X told us the customer read up to `lastReadEventId`: mark our messages up to it as seen.
  seen(lastReadEventId) {
    if (!/^\d+$/.test(lastReadEventId || "")) return;
    const readUpTo = BigInt(lastReadEventId);
    for (const item of this.pane.querySelectorAll("li.message.outbound[data-x-sequence]")) {
      const sequence = item.dataset.xSequence;
      if (!sequence || BigInt(sequence) > readUpTo || item.querySelector(".state.seen")) continue;
      const mark = document.createElement("span");
      mark.className = "state seen";
      mark.textContent = "Seen";
      item.querySelector(".message-meta")?.appendChild(mark);
    }
  }

  // Other agents here: "Alice is replying · Bob is viewing".
  presence(agents) {
    const line = document.getElementById("presence");
    if (!line) return;
    const others = agents.filter((agent) => agent.id !== this.app.userId);
    line.textContent = others
      .map((agent) => `${agent.name} is ${agent.state === "replying" ? "replying" : "viewing"}`)
      .join(" · ");
    line.classList.toggle("replying", others.some((agent) => agent.state === "replying"));
  }
}
