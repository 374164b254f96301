// Keyboard shortcuts: j/k next and previous conversation, r reply, e resolve, a assign to me, x select,
// / search, ? the cheat sheet. Keys typed into a field stay in the field.

function typingInField(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function press(selector) {
  const button = document.querySelector(selector);
  if (button && !button.disabled) button.click();
}

// j/k open the next or previous conversation; when the keyboard focus is in the list, it moves along to the
// row now open, so that Tab and Enter go on from there.
function stepThroughList(app, direction) {
  const inList = document.activeElement?.closest("#conversation-list");
  app.step(direction);
  if (inList) document.querySelector("#conversation-list li.row.selected a.row-link")?.focus();
}

export function bindShortcuts(app) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    const actions = {
      j: () => stepThroughList(app, 1),
      k: () => stepThroughList(app, -1),
      r: () => app.composer.focus(),
      e: () => press('#thread-header [data-shortcut="e"]'),
      a: () => press('#thread-header [data-shortcut="a"]'),
      x: () => app.bulk.toggleOpen(),
      "/": () => document.getElementById("search").focus(),
      "?": () => document.getElementById("cheatsheet").showModal(),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
}

// A redrawn part of the page (the thread's header after Assign, Resolve…) keeps the keyboard focus: the control
// that was focused, or the one doing the same thing in the new markup (Assign to me → Unassign me), or the
// control at the same place, so that a keyboard user is not sent back to the top of the page.
const FOCUSABLE = "a[href], button, select, textarea, input:not([type=hidden]), summary";

function controlKey(element) {
  const form = element.closest("form");
  const status = form?.querySelector("input[name=status]")?.value ?? "";
  return [element.tagName, element.id, form?.dataset.action ?? "", form?.className ?? "", status].join("|");
}

// Call just before ``current`` is swapped for ``next`` (an element or a fragment) in the same task: if the focus
// is in ``current``, it moves to the same control in ``next`` once the swap is done.
export function focusFollows(current, next) {
  const active = document.activeElement;
  if (!current || !active || !current.contains(active)) return;
  const index = [...current.querySelectorAll(FOCUSABLE)].indexOf(active);
  const key = controlKey(active);
  const after = [...next.querySelectorAll(FOCUSABLE)].filter((element) => !element.disabled);
  const target = after.find((element) => controlKey(element) === key) ?? after[Math.min(index, after.length - 1)];
  if (target) window.queueMicrotask(() => target.focus({ preventScroll: true }));
}

export function replaceKeepingFocus(current, next) {
  focusFollows(current, next);
  current.replaceWith(next);
}
