// Bulk generation. On the form: the reply template counted as X counts a post, for a one-letter and for
// the longest handle. On a batch's page: the progress bar follows the job's `handoff.batch.progress`
// events from the websocket; each time the socket (re)connects the page fetches the progress fragment
// once (what it missed meanwhile), and again when the job ends, which shows the rows and the download link.
// No polling.

import { LiveSocket } from "../inbox/socket.js";
import { postLength } from "./post_length.js";

const PROGRESS_EVENT = "handoff.batch.progress";
const FINISHED = new Set(["done", "failed"]);
const STATUS_TEXT = { queued: "Queued", running: "Running", done: "Done", failed: "Failed" };
const LINK_PLACEHOLDER = "https://twitter.com/messages/compose?recipient_id=1";
const AUTHOR = "{author}";

class BatchPage {
  constructor(root) {
    this.root = root;
    this.batchId = Number(root.dataset.batchId);
    this.container = root.querySelector("#batch-progress");
    this.fetching = false;
    this.again = false;
    this.socket = new LiveSocket(root.dataset.wsPath, {
      onEvent: (message) => this.received(message),
      onOpen: () => this.refresh(),
      onStatus: (status) => {
        root.dataset.connection = status;
      },
    });
  }

  start() {
    if (FINISHED.has(this.root.dataset.status)) return; // nothing will change: no socket
    this.socket.connect();
  }

  get bar() {
    return this.container.querySelector("#batch-bar");
  }

  received({ event, data }) {
    if (event !== PROGRESS_EVENT || !data || data.batch_id !== this.batchId) return;
    this.show(data);
    if (FINISHED.has(data.status)) this.refresh();
  }

  // Events can overtake the fragment fetched on connect: never move the bar back while running.
  show({ processed, total, status }) {
    const bar = this.bar;
    if (!FINISHED.has(status) && processed < Number(bar.value)) return;
    bar.max = total;
    bar.value = processed;
    bar.textContent = `${processed} of ${total}`;
    this.container.querySelector("#batch-count").textContent = `${processed} of ${total}`;
    const statusText = this.container.querySelector("#batch-status");
    if (statusText.textContent !== STATUS_TEXT[status]) statusText.textContent = STATUS_TEXT[status] ?? status;
    this.root.dataset.status = status;
    if (FINISHED.has(status)) this.container.querySelector("#batch-download").hidden = false;
  }

  // One fetch at a time; a refresh asked for meanwhile runs once the current one is done.
  async refresh() {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    try {
      do {
        this.again = false;
        await this.fetchFragment();
      } while (this.again);
    } finally {
      this.fetching = false;
    }
  }

  async fetchFragment() {
    let response;
    try {
      response = await fetch(this.root.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { "X-Fragment": "1" },
        cache: "no-store",
      });
    } catch {
      return; // offline: the socket's next connection fetches again
    }
    if (!response.ok) return;
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    const status = template.content.querySelector("[data-status]")?.dataset.status ?? "";
    const value = Number(template.content.querySelector("#batch-bar")?.getAttribute("value") ?? 0);
    if (!FINISHED.has(status) && value < Number(this.bar.value)) return; // older than what an event showed
    this.container.replaceChildren(template.content);
    this.root.dataset.status = status;
    if (FINISHED.has(status)) this.socket.suspend();
  }
}

function countTemplate(textarea, counter) {
  const text = textarea.value.trim();
  const max = Number(counter.dataset.max);
  const measure = (handle) => {
    const reply = text.replaceAll(AUTHOR, handle).trim();
    return postLength(reply ? `${reply} ${LINK_PLACEHOLDER}` : LINK_PLACEHOLDER).weighted;
  };
  const shortest = measure("@a");
  const longest = measure("@abcdefghijklmno");
  let message = `${shortest} / ${max} with the link`;
  if (longest !== shortest) message += ` · ${longest} with a 15-letter handle`;
  if (shortest > max) message += ` · ${shortest - max} over even for a one-letter handle`;
  else if (longest > max) message += " · shortened with “…” for long handles";
  counter.textContent = message;
  counter.classList.toggle("over", shortest > max);
  textarea.setAttribute("aria-invalid", String(shortest > max));
}

const root = document.querySelector("[data-batch]");
if (root) new BatchPage(root).start();

const form = document.getElementById("batch-form");
if (form) {
  const textarea = form.querySelector("textarea[name=reply_template]");
  const counter = document.getElementById("template-counter");
  textarea.addEventListener("input", () => countTemplate(textarea, counter));
  countTemplate(textarea, counter);
}
