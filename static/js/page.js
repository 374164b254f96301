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

  // The top bar's "Menu" button: below 960 px (app.css), or wherever the links do not fit on one line (many
  // links for an admin, a long name), the bar keeps the bell and the button, which opens and closes the rest;
  // Escape or a click elsewhere closes it.
  const menu = () => {
    const bar = document.querySelector(".topbar");
    const toggle = bar?.querySelector(".menu-toggle");
    const nav = bar?.querySelector("nav");
    if (!toggle || !nav) return;
    const setOpen = (open) => {
      bar.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", String(open));
    };
    const narrow = window.matchMedia("(max-width: 960px)");
    const fit = () => {
      if (bar.classList.contains("open")) setOpen(false);
      bar.classList.remove("collapsed");
      if (narrow.matches) return;
      bar.classList.add("measuring"); // one line, no wrapping: does it overflow?
      const overflows = nav.scrollWidth > nav.clientWidth + 1 || bar.scrollWidth > bar.clientWidth + 1;
      bar.classList.remove("measuring");
      bar.classList.toggle("collapsed", overflows);
    };
    fit();
    window.addEventListener("resize", fit);
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

  // A table wider than the screen scrolls inside itself (app.css); the keyboard must reach it to scroll it.
  const scrollableTables = () => {
    for (const table of document.querySelectorAll("main table")) {
      const scrolls = getComputedStyle(table).overflowX === "auto" && table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) table.tabIndex = 0;
      else if (!scrolls && table.tabIndex === 0 && !table.closest("[data-keep-tabindex]")) table.removeAttribute("tabindex");
    }
  };

  const start = () => {
    sweep();
    menu();
    scrollableTables();
    window.addEventListener("resize", scrollableTables);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
