// The social managers' link page: the public reply counted live as X counts a post (the link counts 23),
// the link made without leaving the page (and added to "Recent links" at once), and "Copy reply and link"
// by click or the c key.

import { postLength } from "./post_length.js";

const LINK_PLACEHOLDER = "https://twitter.com/messages/compose?recipient_id=1";

function csrfToken(form) {
  return form.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

function countReply(textarea, counter) {
  const text = textarea.value.trim();
  const { weighted } = postLength(text ? `${text} ${LINK_PLACEHOLDER}` : LINK_PLACEHOLDER);
  const max = Number(counter.dataset.max);
  const left = max - weighted;
  counter.textContent = `${weighted} / ${max} with the link · ${left < 0 ? `${-left} over` : `${left} left`}`;
  counter.classList.toggle("over", left < 0);
  textarea.setAttribute("aria-invalid", String(left < 0));
}

async function copy(button) {
  const source = document.querySelector(button.dataset.copy);
  const status = document.getElementById("copy-status");
  try {
    await navigator.clipboard.writeText(source.value);
    if (status) status.textContent = "Copied.";
  } catch {
    source.select(); // the browser refused the clipboard: leave the text selected for Ctrl+C
    if (status) status.textContent = "Press Ctrl+C to copy the selected text.";
  }
}

async function create(form, output) {
  const response = await fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { "X-Fragment": "1", "X-CSRFToken": csrfToken(form) },
    credentials: "same-origin",
  });
  const text = await response.text();
  if (!response.ok) {
    output.innerHTML = "";
    const alert = document.createElement("p");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    alert.textContent = text || `The server answered ${response.status}.`;
    output.appendChild(alert);
    return;
  }
  output.innerHTML = text;
  // The answer also carries "Recent links" with the new link in it: it replaces the list on the page.
  const update = output.querySelector("template#recent-links-update");
  const recent = document.getElementById("recent-links");
  if (update && recent) recent.replaceChildren(update.content.cloneNode(true));
  update?.remove();
  output.querySelector("#copy-reply")?.focus();
}

function typingInField(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

const form = document.getElementById("handoff-form");
if (form) {
  const textarea = form.querySelector("textarea[name=reply_text]");
  const counter = document.getElementById("reply-counter");
  textarea.addEventListener("input", () => countReply(textarea, counter));
  countReply(textarea, counter);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    create(form, document.getElementById("handoff-output"));
  });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (button) copy(button);
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "c" || event.ctrlKey || event.metaKey || event.altKey || typingInField(event.target)) return;
  const button = document.getElementById("copy-reply");
  if (button) {
    event.preventDefault();
    copy(button);
  }
});
