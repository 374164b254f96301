// Settings → Canned responses: the preview follows the text as it is typed (the server fills the
// placeholders, as the composer's suggestions do, and names those it does not know).

const WAIT_MS = 250;

function csrfToken(form) {
  return form.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

function watch(form) {
  const output = document.getElementById("canned-preview");
  const body = form.querySelector("textarea[name=body]");
  const inbox = form.querySelector("select[name=inbox]");
  if (!output || !body) return;
  let timer = 0;
  let asked = 0;

  async function refresh() {
    const mine = ++asked;
    const data = new FormData();
    data.set("body", body.value);
    data.set("inbox", inbox?.value ?? "");
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        body: data,
        headers: { "X-Fragment": "1", "X-CSRFToken": csrfToken(form) },
        credentials: "same-origin",
      });
      const text = await response.text();
      if (mine !== asked) return; // a later keystroke's answer is on its way
      if (response.ok) output.innerHTML = text;
      else output.textContent = text || `The preview failed (${response.status}).`;
    } catch {
      if (mine === asked) output.textContent = "The preview is not available right now.";
    }
  }

  const later = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, WAIT_MS);
  };
  body.addEventListener("input", later);
  inbox?.addEventListener("change", later);
}

const form = document.getElementById("canned-form");
if (form) watch(form);
