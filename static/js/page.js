// What every page does, inbox or not: the top bar's menu on a narrow screen, and initials instead of a
// broken-image icon when an avatar cannot be loaded.

(() => {
  // An avatar whose image failed: remove the image, the initials under it show (templates/inbox/_avatar.html).
  // Listened for on the document, in the capture phase (error events do not bubble), for avatars added later
  // too; images that failed before this script ran are found by their state.
  const dropBroken = (image) => image.remove();
  document.addEventListener(
    "error",
    (event) => {
      if (event.target instanceof HTMLImageElement && event.target.matches("img[data-avatar]")) dropBroken(event.target);
    },
    true,
  );
  const sweep = () => {
    for (const image of document.querySelectorAll("img[data-avatar]")) {
      if (image.complete && image.naturalWidth === 0 && image.getAttribute("src")) dropBroken(image);
    }
  };

  // The top bar's "Menu" button (shown on narrow screens only): opens and closes the account links; Escape
  // or a click elsewhere closes it.
  const menu = () => {
    const bar = document.querySelector(".topbar");
    const toggle = bar?.querySelector(".menu-toggle");
    if (!toggle) return;
    const setOpen = (open) => {
      bar.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", String(open));
    };
    toggle.addEventListener("click", () => setOpen(!bar.classList.contains("open")));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && bar.classList.contains("open")) {
        setOpen(false);
        toggle.focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (bar.classList.contains("open") && !bar.contains(event.target)) setOpen(false);
    });
  };

  const start = () => {
    sweep();
    menu();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
