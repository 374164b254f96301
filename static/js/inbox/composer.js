// The reply box: a draft per conversation that survives navigation and reloads, X's length limit,
// one image or GIF, Enter to send. A draft carries its own one-time token, so sending it twice (a
// double press, a retry after a lost answer) sends one message. A reply the server could not be reached
// for stays in the box, marked not sent, and goes out by itself once the connection is back.

import { RequestFailed, fragment, getFragment, postForm } from "./http.js";
import { refreshTimes } from "./time.js";

const DRAFTS = "backchannel.draft.";
const REPLYING_EVERY_MS = 5000;
// Counts in the page's language, with thousands separators on both sides: "10,001 / 10,000".
const COUNT_FORMAT = new Intl.NumberFormat(document.documentElement.lang || undefined);
const formatCount = (n) => COUNT_FORMAT.format(n);

function newToken() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function loadDraft(conversationId) {
  try {
    return JSON.parse(window.localStorage.getItem(DRAFTS + conversationId)) || null;
  } catch {
    return null;
  }
}

export class Composer {
  constructor(app) {
    this.app = app;
    this.form = null;
    this.lastReplying = 0;
  }

  attach() {
    this.form = document.getElementById("composer");
    if (!this.form) return;
    const conversationId = Number(this.form.dataset.conversationId);
    this.conversationId = conversationId;
    this.text = this.form.querySelector("textarea");
    this.file = this.form.querySelector('input[type="file"]');
    this.max = Number(this.text.dataset.max);
    const draft = loadDraft(conversationId);
    this.token = draft?.token || newToken();
    if (draft?.text) this.text.value = draft.text;
    this.unsent = Boolean(draft?.unsent && draft?.text);
    this.text.addEventListener("input", () => this.changed());
    this.text.addEventListener("keydown", (event) => this.keydown(event));
    this.file.addEventListener("change", () => this.fileChosen());
    this.seenUpTo = this.app.thread.latestMessageId();
    this.sendAnyway = false;
    const held = document.getElementById("collision");
    held.querySelector("[data-send-anyway]").addEventListener("click", () => {
      this.sendAnyway = true;
      held.hidden = true;
      this.send();
    });
    held.querySelector("[data-cancel]").addEventListener("click", () => {
      held.hidden = true;
      this.seenUpTo = this.app.thread.latestMessageId(); // the agent has now seen what came in
      this.focus();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.updateCounter();
    this.refreshBudget();
    this.form.dataset.ready = "1"; // Enter sends from now on (before this, it is a newline as in any textarea)
  }

  // "@AcmeSupport: 187 of 200 left this 15 minutes · …", from the X channel's rate limiter.
  async refreshBudget() {
    const line = document.getElementById("budget");
    if (!line) return;
    try {
      line.replaceChildren(fragment(await getFragment(line.dataset.url)));
      refreshTimes(line);
    } catch (failure) {
      if (!(failure instanceof RequestFailed)) throw failure;
      line.textContent = failure.status === 404 ? "" : "The sending budget could not be loaded.";
    }
  }

  saveDraft() {
    const key = DRAFTS + this.conversationId;
    const draft = { text: this.text.value, token: this.token, unsent: this.unsent };
    if (this.text.value) window.localStorage.setItem(key, JSON.stringify(draft));
    else window.localStorage.removeItem(key);
  }

  // The connection is back (the page calls this once it has caught up): a reply that could not be sent goes
  // now, with the token it had, so the server takes it once even if the first try did reach it.
  sendUnsent() {
    if (this.form && this.unsent && !this.sending) this.send();
  }

  changed() {
    this.saveDraft();
    this.updateCounter();
    window.clearTimeout(this.suggestTimer);
    this.suggestTimer = window.setTimeout(() => this.suggest().catch(() => this.closeSuggestions()), 120);
    const now = Date.now();
    if (this.text.value && now - this.lastReplying > REPLYING_EVERY_MS) {
      this.lastReplying = now;
      this.app.announce("replying");
    }
  }

  updateCounter() {
    const length = [...this.text.value].length;
    const counter = document.getElementById("composer-counter");
    counter.querySelector("[data-count]").textContent = formatCount(length);
    counter.querySelector("[data-max]").textContent = formatCount(this.max);
    const over = length > this.max;
    counter.classList.toggle("over", over);
    this.form.querySelector('button[type="submit"]').disabled = over;
    // Only the length message is this function's to clear: a reason a send failed must stay on screen.
    if (over) {
      this.error(`X allows ${formatCount(this.max)} characters in a DM; remove ${formatCount(length - this.max)}.`);
    } else if (this.showsLengthError) {
      this.error("");
    }
    this.showsLengthError = over;
  }

  // "/ref" at the caret: the canned responses whose shortcut starts with "ref", filled in by the server.
  async suggest() {
    const before = this.text.value.slice(0, this.text.selectionStart);
    const match = before.match(/(?:^|\s)\/([\w-]*)$/);
    if (!match) {
      this.closeSuggestions();
      return;
    }
    const url = `${this.text.dataset.cannedUrl}?q=${encodeURIComponent(match[1])}`;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const { suggestions } = await response.json();
    this.suggestions = suggestions;
    this.chosen = 0;
    this.renderSuggestions(match[1].length + 1);
  }

  renderSuggestions(typed) {
    const list = document.getElementById("canned-list");
    list.replaceChildren();
    this.typed = typed;
    this.suggestions.forEach((suggestion, index) => {
      const item = document.createElement("li");
      item.id = `canned-${index}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", String(index === this.chosen));
      const shortcut = document.createElement("strong");
      shortcut.textContent = `/${suggestion.shortcut}`;
      const text = document.createElement("span");
      text.dir = "auto"; // a canned response may be written in Hebrew or Arabic
      text.textContent = ` ${suggestion.title}: ${suggestion.text}`;
      item.append(shortcut, text);
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        this.pick(index);
      });
      list.appendChild(item);
    });
    list.hidden = this.suggestions.length === 0;
    if (list.hidden) this.text.removeAttribute("aria-activedescendant");
    else this.text.setAttribute("aria-activedescendant", `canned-${this.chosen}`);
  }

  closeSuggestions() {
    this.suggestions = [];
    const list = document.getElementById("canned-list");
    if (list) list.hidden = true;
    this.text?.removeAttribute("aria-activedescendant");
  }

  pick(index) {
    const suggestion = this.suggestions[index];
    if (!suggestion) return;
    const caret = this.text.selectionStart;
    // What is typed now, not when the list was asked for: "/ref" typed fast replaces all of "/ref",
    // even while the list shown is still the answer for "/".
    const typing = this.text.value.slice(0, caret).match(/(?:^|\s)(\/[\w-]*)$/);
    const start = caret - (typing ? typing[1].length : this.typed);
    this.text.value = this.text.value.slice(0, start) + suggestion.text + this.text.value.slice(caret);
    const end = start + suggestion.text.length;
    this.text.setSelectionRange(end, end);
    this.closeSuggestions();
    this.changed();
  }

  suggestionKey(event) {
    if (!this.suggestions?.length) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.chosen = (this.chosen + step + this.suggestions.length) % this.suggestions.length;
      this.renderSuggestions(this.typed);
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.pick(this.chosen);
    } else if (event.key === "Escape") {
      this.closeSuggestions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  keydown(event) {
    if (this.suggestionKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    } else if (event.key === "Escape") {
      this.text.blur();
    }
  }

  fileChosen() {
    const label = document.getElementById("composer-attachment");
    const chosen = this.file.files[0];
    label.hidden = !chosen;
    label.textContent = chosen ? `Attached: ${chosen.name}` : "";
  }

  error(message) {
    document.getElementById("composer-error").textContent = message;
  }

  focus() {
    this.text?.focus();
  }

  // An undone reply comes back into the box (unless the agent already started another one).
  restore(text) {
    if (!this.text || this.text.value.trim()) return;
    this.text.value = text;
    this.changed();
    this.focus();
  }

  async send() {
    if (!this.form || this.sending) return;
    const hasFile = this.file.files.length > 0;
    if (!this.text.value.trim() && !hasFile) {
      this.error("Write a reply or attach an image first.");
      return;
    }
    const data = new FormData(this.form);
    data.set("client_token", this.token);
    data.set("seen_up_to", String(this.seenUpTo));
    if (this.sendAnyway) data.set("send_anyway", "1");
    this.sending = true;
    const button = this.form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const html = await postForm(this.form.action, data);
      this.app.thread.merge(html, { reveal: true }); // the agent's own reply: show it
      this.text.value = "";
      this.file.value = "";
      this.fileChosen();
      this.token = newToken();
      this.unsent = false;
      this.saveDraft();
      this.sendAnyway = false;
      this.seenUpTo = this.app.thread.latestMessageId();
      this.error("");
      this.app.announce("viewing");
      this.refreshBudget();
    } catch (failure) {
      if (failure.status === 409) {
        // held: something new arrived since the agent opened the conversation
        const held = document.getElementById("collision");
        held.querySelector("[data-text]").textContent = failure.message;
        held.hidden = false;
        held.querySelector("[data-send-anyway]").focus();
        return;
      }
      if (failure.status === 0 || failure.status >= 502) {
        // The server is down or restarting: say so, keep the reply, and send it when the connection is back.
        this.unsent = true;
        this.saveDraft();
        this.error("Not sent: the server cannot be reached. Your reply is kept here and goes out as soon as the connection is back.");
        return;
      }
      this.error(failure.message); // the draft stays, with its token: sending again cannot send twice
    } finally {
      this.sending = false;
      button.disabled = false;
      this.updateCounter();
    }
  }
}
