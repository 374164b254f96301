// The conversation list: rows rendered by the server, kept live by fetching one row when it changes.

import { fragment, getFragment } from "./http.js";

function activity(row) {
  return [Number(row.dataset.activity || 0), Number(row.dataset.conversationId)];
}

function newer(a, b) {
  const [at, id] = activity(a);
  const [bt, bid] = activity(b);
  return at > bt || (at === bt && id > bid);
}

export class ConversationList {
  constructor(app) {
    this.app = app;
    this.element = document.getElementById("conversation-list");
    this.queues = document.getElementById("queues");
    this.countsTimer = null;
    this.fetching = new Map();
    this.element.addEventListener("click", (event) => this.clicked(event));
  }

  query(extra = {}) {
    const params = new URLSearchParams();
    if (this.app.view) params.set("view", this.app.view);
    if (this.app.search) params.set("q", this.app.search);
    for (const [key, value] of Object.entries(extra)) params.set(key, value);
    return params.toString();
  }

  rows() {
    return [...this.element.querySelectorAll("li.row")];
  }

  clicked(event) {
    const more = event.target.closest(".load-more a");
    if (more) {
      event.preventDefault();
      this.loadMore(more);
      return;
    }
    const link = event.target.closest("a.row-link");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    this.app.openConversation(Number(link.closest("li.row").dataset.conversationId));
  }

  async loadMore(link) {
    const html = await getFragment(`/list/?${this.query({ before: link.dataset.before })}`);
    link.closest("li").replaceWith(fragment(html));
    this.highlight();
  }

  // Fetch the row of one conversation and put it where it belongs, or take it out of this view.
  // One fetch per row at a time: a change announced while one is in flight fetches once more after it,
  // so the last row drawn is always one the server rendered after the last change (answers that come
  // back out of order, or a fetch that failed, cannot leave a stale row behind).
  upsert(conversationId) {
    const id = Number(conversationId);
    const inFlight = this.fetching.get(id);
    if (inFlight) {
      inFlight.again = true;
      return inFlight.done;
    }
    const entry = { again: false };
    entry.done = (async () => {
      try {
        let failures = 0;
        do {
          entry.again = false;
          try {
            await this.draw(id);
          } catch (failure) {
            failures += 1;
            if (failures > 2) throw failure;
            entry.again = true;
            await new Promise((resolve) => window.setTimeout(resolve, 300 * failures));
          }
        } while (entry.again);
      } finally {
        this.fetching.delete(id);
      }
    })();
    this.fetching.set(id, entry);
    return entry.done;
  }

  async draw(conversationId) {
    const query = this.query();
    const html = await getFragment(`/list/${conversationId}/?${query}`);
    if (query !== this.query()) return; // the agent switched views meanwhile; the new list has its own rows
    const existing = document.getElementById(`row-${conversationId}`);
    if (html === null) {
      existing?.remove();
      this.highlight();
      return;
    }
    const row = fragment(html).querySelector("li.row");
    const hadFocus = existing?.contains(document.activeElement); // a redrawn row keeps the keyboard focus
    existing?.remove();
    const rows = this.rows();
    const after = rows.find((other) => newer(row, other));
    const more = this.element.querySelector(".load-more");
    if (after) this.element.insertBefore(row, after);
    else if (!more) this.element.appendChild(row);
    else {
      this.highlight();
      return; // older than everything loaded: it will come with "Load more"
    }
    this.element.querySelector(".list-empty")?.remove();
    this.highlight();
    if (hadFocus) row.querySelector("a.row-link")?.focus({ preventScroll: true });
  }

  async reload() {
    const html = await getFragment(`/list/?${this.query()}`);
    this.element.replaceChildren(fragment(html));
    this.highlight();
  }

  refreshCounts() {
    window.clearTimeout(this.countsTimer);
    this.countsTimer = window.setTimeout(async () => {
      const html = await getFragment(`/counts/?${this.query()}`);
      this.queues.replaceChildren(fragment(html));
    }, 250);
  }

  highlight() {
    for (const row of this.rows()) {
      const selected = Number(row.dataset.conversationId) === this.app.conversationId;
      row.classList.toggle("selected", selected);
      const link = row.querySelector("a.row-link");
      if (selected) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    this.app.bulk?.sync();
  }

  // The conversation `step` rows away from the open one (or the first row when none is open).
  neighbour(step) {
    const rows = this.rows();
    if (rows.length === 0) return null;
    const index = rows.findIndex((row) => Number(row.dataset.conversationId) === this.app.conversationId);
    const next = index === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, index + step));
    return Number(rows[next].dataset.conversationId);
  }
}
