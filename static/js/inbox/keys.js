// Keyboard shortcuts: j/k next and previous conversation, r reply, e resolve, a assign to me, x select,
// / search, ? the cheat sheet. Keys typed into a field stay in the field.

function typingInField(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function press(selector) {
  const button = document.querySelector(selector);
  if (button && !button.disabled) button.click();
}

export function bindShortcuts(app) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    const actions = {
      j: () => app.step(1),
      k: () => app.step(-1),
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
