// Bulk actions on the conversation list: tick rows (or press x on the open one), pick an action, apply.
// The selection is what the agent sees: a row that leaves the view leaves the selection too.

import { postForm } from "./http.js";

export class BulkActions {
  constructor(app) {
    this.app = app;
    this.selected = new Set();
    this.form = document.getElementById("bulk-form");
    if (!this.form) return;
    this.all = document.getElementById("bulk-all");
    this.count = document.getElementById("bulk-count");
    app.list.element.addEventListener("change", (event) => {
      if (event.target.matches(".row-select")) this.toggle(Number(event.target.value), event.target.checked);
    });
    this.all.addEventListener("change", () => this.selectShown(this.all.checked));
    this.form.addEventListener("submit", (event) => this.submit(event));
    this.sync();
  }

  boxes() {
    return [...this.app.list.element.querySelectorAll(".row-select")];
  }

  toggle(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.sync();
  }

  toggleOpen() {
    const id = this.app.conversationId;
    if (this.form && id && document.getElementById(`row-${id}`)) this.toggle(id, !this.selected.has(id));
  }

  selectShown(on) {
    for (const box of this.boxes()) {
      if (on) this.selected.add(Number(box.value));
      else this.selected.delete(Number(box.value));
    }
    this.sync();
  }

  // Called whenever rows are drawn: checkboxes follow the selection, and the bar its size.
  sync() {
    if (!this.form) return;
    const boxes = this.boxes();
    const shown = new Set(boxes.map((box) => Number(box.value)));
    for (const id of this.selected) if (!shown.has(id)) this.selected.delete(id);
    for (const box of boxes) {
      box.checked = this.selected.has(Number(box.value));
      box.closest("li.row").classList.toggle("checked", box.checked);
    }
    const size = this.selected.size;
    this.count.textContent = size ? `${size} selected` : "Select conversations";
    this.all.checked = size > 0 && size === boxes.length;
    this.all.indeterminate = size > 0 && size < boxes.length;
    this.form.classList.toggle("idle", size === 0);
  }

  async submit(event) {
    event.preventDefault();
    if (this.selected.size === 0) return;
    const data = new FormData(this.form);
    data.delete("conversation");
    for (const id of this.selected) data.append("conversation", String(id));
    let outcome;
    try {
      outcome = JSON.parse(await postForm(this.form.action, data));
    } catch (failure) {
      this.app.toast(failure.message);
      return;
    }
    this.app.toast(outcome.summary, Object.keys(outcome.refused).length ? "error" : "info");
    this.selected.clear();
    this.form.reset();
    this.sync();
    this.app.list.refreshCounts();
    await Promise.all(outcome.changed.map((id) => this.app.list.upsert(id)));
  }
}
