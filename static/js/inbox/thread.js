// The open conversation: its timeline kept live item by item, its header, who else is here, typing and
// "seen" from the customer.
//
// Scrolling: a conversation opens at its newest message and stays pinned there while it grows (images that
// load late, a new message, the composer taking more room), for as long as the agent has not scrolled up.
// Once they have, nothing moves under them: new messages show a "New messages ↓" button instead.

import { fragment, getFragment } from "./http.js";
import { replaceKeepingFocus } from "./keys.js";
import { refreshTimes } from "./time.js";

const TYPING_SHOWN_MS = 5000;
const PINNED_WITHIN_PX = 40; // this close to the end counts as "at the newest message"

export class Thread {
  constructor(app) {
    this.app = app;
    this.pane = document.getElementById("thread-pane");
    this.typingTimer = null;
    this.deleted = new Set();
    this.pinned = true;
    this.watched = null;
    this.resizes = new ResizeObserver(() => {
      if (this.pinned) this.stickToEnd();
    });
    this.pane.addEventListener("click", (event) => this.clicked(event));
    this.pane.addEventListener("keydown", (event) => this.keydown(event));
    this.pane.addEventListener("submit", (event) => this.submitting(event), true);
    document.addEventListener("click", (event) => this.closeMenusOutside(event));
  }

  get timeline() {
    return document.getElementById("timeline");
  }

  async show(conversationId) {
    const html = await getFragment(`/c/${conversationId}/thread/?${this.app.list.query()}`);
    this.pane.classList.remove("show-contact");
    this.pane.replaceChildren(fragment(html));
    refreshTimes(this.pane);
    this.expireUndo();
    this.scrollToEnd();
  }

  clear() {
    this.pane.replaceChildren(fragment('<p class="empty-thread">Pick a conversation from the list.</p>'));
  }

  clicked(event) {
    if (event.target.closest("#new-messages")) {
      this.scrollToEnd();
      return;
    }
    const contact = event.target.closest("[data-contact-toggle]");
    if (contact) {
      this.toggleContact(contact);
      return;
    }
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

  // Follow the open timeline: its scrolling (is the agent at the end?) and the size of it and of each item
  // (an image that loads, the composer growing), to keep the end in view while pinned.
  watch() {
    const timeline = this.timeline;
    if (!timeline || timeline === this.watched) return;
    this.resizes.disconnect();
    this.watched = timeline;
    this.resizes.observe(timeline);
    for (const item of timeline.children) this.resizes.observe(item);
    timeline.addEventListener("scroll", () => this.scrolled(), { passive: true });
    timeline.addEventListener("load", () => this.pinned && this.stickToEnd(), true); // images, in case
  }

  distanceFromEnd() {
    const timeline = this.timeline;
    return timeline ? timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight : 0;
  }

  scrolled() {
    this.pinned = this.distanceFromEnd() <= PINNED_WITHIN_PX;
    if (this.pinned) this.showNewMessages(false);
  }

  stickToEnd() {
    const timeline = this.timeline;
    if (timeline) timeline.scrollTop = timeline.scrollHeight;
  }

  // To the newest message, and stay there.
  scrollToEnd() {
    this.watch();
    this.pinned = true;
    this.stickToEnd();
    this.showNewMessages(false);
  }

  showNewMessages(shown) {
    const pill = document.getElementById("new-messages");
    if (pill) pill.hidden = !shown;
  }

  // Put each item of `html` in its place by its sort key, replacing an older copy of the same item. With
  // `reveal` (the agent's own reply or note) the timeline goes to its end; otherwise it follows only when
  // pinned there, and a new message below what the agent is reading shows the "New messages" button.
  merge(html, { reveal = false } = {}) {
    const timeline = this.timeline;
    if (!timeline) return;
    this.watch();
    const added = [];
    for (const item of [...fragment(html).querySelectorAll("li.item")]) {
      if (this.deleted.has(item.id)) continue; // a fetch that started before it was deleted
      const before = document.getElementById(item.id);
      before?.remove();
      const later = [...timeline.querySelectorAll("li.item")].find((other) => other.dataset.key > item.dataset.key);
      if (later) timeline.insertBefore(item, later);
      else timeline.appendChild(item);
      this.resizes.observe(item);
      if (!before && item.matches(".message, .note")) added.push(item);
    }
    timeline.querySelector(".timeline-empty")?.remove();
    this.markSeen();
    refreshTimes(timeline);
    this.expireUndo();
    if (reveal || this.pinned) this.scrollToEnd();
    else if (added.some((item) => item.offsetTop >= timeline.scrollTop + timeline.clientHeight)) this.showNewMessages(true);
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
    const closing = this.ownAction === "status" || this.ownAction === "assign"; // done: the menu closes
    this.ownAction = null;
    const open = new Map(
      [...current.querySelectorAll("details[open]")]
        .filter((menu) => !(closing && menu.classList.contains("thread-more")))
        .map((menu) => [menu.className, menu]),
    );
    const focused = current.contains(document.activeElement) ? document.activeElement : null;
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
    const nextHeader = next.querySelector("#thread-header");
    nextHeader
      ?.querySelector("[data-contact-toggle]")
      ?.setAttribute("aria-expanded", String(this.pane.classList.contains("show-contact")));
    replaceKeepingFocus(current, next);
    this.refocus(focused, nextHeader);
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
    const earlierItems = fragment(html);
    const added = [...earlierItems.querySelectorAll("li")];
    button.closest("li").replaceWith(earlierItems);
    for (const item of added) this.resizes.observe(item);
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

  // X told us the customer read `conversationId` up to `lastReadEventId`: mark our messages up to it as
  // seen, now and in what is merged later (a message fetched before the receipt was stored comes without
  // its "Seen"; events are handled side by side, so that fetch may land after this).
  seen(conversationId, lastReadEventId) {
    if (!/^\d+$/.test(lastReadEventId || "")) return;
    const value = BigInt(lastReadEventId);
    const known = this.readUpTo;
    if (!known || known.conversationId !== conversationId || value > known.value) {
      this.readUpTo = { conversationId, value };
    }
    this.markSeen();
  }

  markSeen() {
    const read = this.readUpTo;
    if (!read || read.conversationId !== this.app.conversationId) return;
    for (const item of this.pane.querySelectorAll("li.message.outbound[data-x-sequence]")) {
      const sequence = item.dataset.xSequence;
      if (!sequence || BigInt(sequence) > read.value || item.querySelector(".state.seen")) continue;
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

  // replaceKeepingFocus (keys.js) puts the focus on the same control in the new header; when that control is
  // gone or hidden (a status chosen in the now closed "More" menu), it goes to the menu's button, or the
  // first action.
  refocus(focused, header) {
    if (!focused || !header || header.contains(document.activeElement)) return;
    const fallback = focused.closest(".thread-more")
      ? header.querySelector(".thread-more > summary")
      : header.querySelector(".thread-actions button");
    fallback?.focus({ preventScroll: true });
  }

  // A form of the header posted by the agent (main.js posts it): remembered so that the new header it
  // brings back closes the "More" menu after a status or an assignment.
  submitting(event) {
    const form = event.target.closest("#thread-header form[data-action]");
    if (form) this.ownAction = form.dataset.action;
  }

  // Escape closes the open "More" menu (focus back on its button), or the contact panel over the thread.
  keydown(event) {
    if (event.key !== "Escape") return;
    const menu = event.target.closest?.("details.thread-more[open]");
    if (menu) {
      event.preventDefault();
      menu.open = false;
      menu.querySelector("summary").focus();
    } else if (this.pane.classList.contains("show-contact") && event.target.closest?.("#sidebar")) {
      event.preventDefault();
      this.toggleContact(this.pane.querySelector(".contact-close"));
    }
  }

  closeMenusOutside(event) {
    for (const menu of this.pane.querySelectorAll("details.thread-more[open]")) {
      if (!menu.contains(event.target)) menu.open = false;
    }
  }

  // Narrow screens: the contact panel over the thread, opened from the header and closed from itself.
  toggleContact(button) {
    const shown = this.pane.classList.toggle("show-contact");
    for (const toggle of this.pane.querySelectorAll("[data-contact-toggle][aria-expanded]")) {
      toggle.setAttribute("aria-expanded", String(shown));
    }
    if (shown) document.getElementById("sidebar")?.focus();
    else if (!button.hasAttribute("aria-expanded")) this.pane.querySelector("#thread-header [data-contact-toggle]")?.focus();
  }
}
