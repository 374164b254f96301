// Fetching server-rendered fragments and posting forms. Every request says it wants a fragment, so the
// server answers with a piece of HTML (or a plain-text reason) instead of a redirect.

export class RequestFailed extends Error {
  constructor(status, detail) {
    super(detail || `The server answered ${status}.`);
    this.status = status;
  }
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

async function send(url, options) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...options });
  } catch (error) {
    throw new RequestFailed(0, "The server could not be reached; check your connection and try again.");
  }
  if (response.redirected && new URL(response.url).pathname.startsWith("/accounts/login/")) {
    window.location.assign(response.url); // the session ended: log in again
    throw new RequestFailed(401, "Your session ended; log in again.");
  }
  const text = await response.text();
  if (!response.ok) {
    throw new RequestFailed(response.status, text.length < 500 ? text : "");
  }
  return response.status === 204 ? null : text;
}

export function getFragment(url) {
  return send(url, { headers: { "X-Fragment": "1" } });
}

export function postForm(url, formData) {
  // An empty FormData goes out as a multipart body with no parts, which Django refuses (400); send an
  // empty urlencoded body instead.
  const empty = formData instanceof FormData && formData.entries().next().done;
  return send(url, {
    method: "POST",
    body: empty ? new URLSearchParams() : formData,
    headers: { "X-Fragment": "1", "X-CSRFToken": csrfToken() },
  });
}

export function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = (html || "").trim();
  return template.content;
}
